"""Scene notes to the fields of a world description: keyword rules and per-field classifiers (no bpy).

The classifiers are multinomial logistic regressions on the MiniLM embedding of the notes
(model_runtime.world.text.embed_notes), one per field the generator's captions speak of (setting, time of
day, weather, camera move, height, lens, speed), trained on the generator's own captions and labels
(`train_reader.py`), with a `none` class learnt from captions that leave the field out. Their weights are
JSON (`reader_weights.json`), never pickle. Keyword rules read the words of the vocabulary (the captions'
words and a few synonyms) and the fields captions never mention (streets, blocks, trees, people,
vehicles, lights, direction). A field is:

- `notes` when a vocabulary phrase names it (the rules win: an exact word is the surest reading);
- `nearest` when no phrase does but the classifier reads a value with probability >= NEAREST_P;
- unset otherwise (`describe.py` lets the seed choose it).

Deterministic: the embedding and the arithmetic run in float32/float64 on CPU, no sampling.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from model_runtime.data.captions import MOVE_WORDS, TIME_WORDS, WEATHER_NIGHT_CLEAR_WORDS, WEATHER_WORDS
from oyster_blender.core.world_description import MAX_NOTES, PLACES, WorldError

WEIGHTS = Path(__file__).with_name("reader_weights.json")
CLASSIFIED = ("setting", "time_of_day", "weather", "camera_move", "camera_height", "lens", "camera_speed")
NONE = "none"
NEAREST_P = 0.5
LONG_NOTES = 1500  # characters; MiniLM reads 256 word pieces (about 200 words)


def _phrases() -> list[tuple[str, list[tuple[str, str]]]]:
    """(phrase, [(field, value), ...]) of the vocabulary; a phrase may set several fields."""
    table: dict[str, list[tuple[str, str]]] = {}

    def add(phrase: str, name: str, value: str) -> None:
        entry = table.setdefault(phrase.lower(), [])
        if (name, value) not in entry:
            entry.append((name, value))

    for setting, places in PLACES.items():
        for place in places:
            add(place, "setting", setting)
            add(place, "place", place)
    for word, setting in {"city": "street", "avenue": "street", "boulevard": "street", "downtown": "street",
                          "town": "street", "alley": "street", "road": "street", "village": "street",
                          "plaza": "street", "square": "street",
                          "coast": "coast", "coastal": "coast", "shore": "coast", "sea": "coast", "ocean": "coast",
                          "hills": "hills", "hill": "hills", "hilly": "hills", "mountain": "valley",
                          "mountains": "valley", "valleys": "valley", "field": "field", "fields": "field",
                          "meadow": "field", "farm": "field", "prairie": "field", "apartment": "room",
                          "living room": "room", "bedroom": "room", "kitchen": "room", "interior": "room",
                          "hall": "corridor", "hallways": "corridor", "corridors": "corridor"}.items():
        add(word, "setting", setting)
    for value, words in TIME_WORDS.items():
        for w in words:
            add(w, "time_of_day", value)
            add(w.removeprefix("at ").removeprefix("in the ").removeprefix("in ").removeprefix("by "),
                "time_of_day", value)
    for word, value in {"morning": "dawn", "daybreak": "dawn", "day": "day", "daytime": "day", "noon": "day",
                        "afternoon": "day", "twilight": "dusk", "golden hour": "dusk", "nightfall": "dusk",
                        "dark": "night", "midnight": "night", "nighttime": "night", "night-time": "night"}.items():
        add(word, "time_of_day", value)
    for value, words in WEATHER_WORDS.items():
        for w in words:
            add(w, "weather", value)
    for w in WEATHER_NIGHT_CLEAR_WORDS:
        if w != "quiet":
            add(w, "weather", "clear")
    for word, value in {"sun": "clear", "fog": "fog", "mist": "fog", "haze": "fog", "hazy": "fog",
                        "rain": "rain", "raining": "rain", "drizzle": "rain", "storm": "rain", "stormy": "rain",
                        "gray": "overcast", "clouds": "overcast", "overcast sky": "overcast"}.items():
        add(word, "weather", value)
    for kind, words in MOVE_WORDS.items():
        for w in words:
            for side in ("left", "right"):
                for updown in ("up", "down"):
                    phrase = w.format(side=side, updown=updown)
                    add(phrase, "camera_move", kind)
                    if "{side}" in w:
                        add(phrase, "camera_direction", side)
                    if "{updown}" in w:
                        add(phrase, "camera_direction", updown)
            base = w.replace(" {side}", "").replace(" {updown}", "")
            add(base, "camera_move", kind)
    for word, kind in {"push-in": "dolly_in", "dolly": "dolly_in", "orbit": "orbit", "orbiting": "orbit",
                       "arc": "orbit", "circle around": "orbit", "crane": "crane_up", "jib up": "crane_up",
                       "rising": "crane_up", "whip": "whip_pan", "whip-pan": "whip_pan", "swish pan": "whip_pan",
                       "tracking": "truck", "track": "truck", "handheld": "handheld", "hand-held": "handheld",
                       "shaky": "handheld", "static": "static", "locked off": "static", "still camera": "static",
                       "zoom": "push_in_zoom", "pan": "pan", "tilt": "tilt", "pull out": "dolly_out"}.items():
        add(word, "camera_move", kind)
    for word, value in {"slow": "slow", "slowly": "slow", "gentle": "slow", "gently": "slow", "steady": "steady",
                        "fast": "fast", "quick": "fast", "rapid": "fast", "speedy": "fast"}.items():
        add(word, "camera_speed", value)
    for word in ("left", "right", "up", "down"):
        add(word, "camera_direction", word)
    for word, value in {"low camera": "low camera", "low angle": "low camera", "ground level": "low camera",
                        "low": "low camera", "eye level": "eye level", "eye-level": "eye level",
                        "high camera": "high camera", "high angle": "high camera", "high": "high camera",
                        "aerial view": "aerial view", "aerial": "aerial view", "drone": "aerial view",
                        "bird's eye": "aerial view", "birds eye": "aerial view"}.items():
        add(word, "camera_height", value)
    for word, value in {"ultra wide lens": "ultra wide lens", "ultra wide": "ultra wide lens",
                        "ultra-wide": "ultra wide lens", "fisheye": "ultra wide lens", "wide lens": "wide lens",
                        "wide angle": "wide lens", "wide-angle": "wide lens", "wide": "wide lens",
                        "normal lens": "normal lens", "telephoto": "telephoto", "long lens": "long telephoto lens",
                        "long telephoto lens": "long telephoto lens", "long telephoto": "long telephoto lens"}.items():
        add(word, "lens", value)
    for word, value in {"lights on": "on", "lit": "on", "lamps on": "on", "lights off": "off",
                        "lights out": "off", "unlit": "off"}.items():
        add(word, "lights", value)
    for word, value in {"narrow street": "narrow", "narrow": "narrow", "alley": "narrow", "lane": "narrow",
                        "wide boulevard": "wide", "boulevard": "wide", "avenue": "wide", "wide street": "wide",
                        "downtown avenue": "wide"}.items():
        add(word, "streets", value)
    for word, value in {"downtown": "downtown", "skyscrapers": "downtown", "high-rise": "downtown",
                        "tall buildings": "downtown", "towers": "downtown", "town": "low-rise",
                        "low-rise": "low-rise", "village": "low-rise", "small town": "low-rise",
                        "houses": "low-rise", "town street": "low-rise"}.items():
        add(word, "blocks", value)
    for word, value in {"no trees": "none", "treeless": "none", "trees": "some", "tree": "some",
                        "tree-lined": "some", "forest": "many", "woods": "many", "wooded": "many",
                        "many trees": "many"}.items():
        add(word, "trees", value)
    for word, value in {"no people": "none", "nobody": "none", "deserted": "none", "empty": "none",
                        "people": "some", "pedestrians": "some", "walkers": "some", "person": "some",
                        "figures": "some", "crowd": "many", "crowded": "many", "bustling": "many",
                        "busy": "many", "many people": "many"}.items():
        add(word, "people", value)
    for word, value in {"no cars": "none", "no traffic": "none", "car-free": "none", "empty": "none",
                        "deserted": "none", "car": "some", "cars": "some", "vehicles": "some", "traffic": "some",
                        "parked cars": "some", "vans": "some", "heavy traffic": "many", "many cars": "many",
                        "busy": "many"}.items():
        add(word, "vehicles", value)
    return sorted(table.items(), key=lambda item: -len(item[0]))


PHRASES = _phrases()
_PATTERNS = [(re.compile(r"(?<![\w'-])" + re.escape(p) + r"(?![\w'-])"), p, sets) for p, sets in PHRASES]
STOP_WORDS = set("""a an the of on in at to with and from by over under into through for is are be some very
small big large little its it this that there here as up down onto towards toward our their we i camera shot
lens view angle scene slightly quite just then while around between under across along near far""".split())
KNOWN_WORDS = STOP_WORDS | {w for p, _ in PHRASES for w in re.findall(r"[\w'-]+", p)}


@dataclass
class Reading:
    """What the notes say: per field (value, source, words), source 'notes' or 'nearest'; absent: unset."""

    fields: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)
    unknown_words: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    probabilities: dict[str, dict[str, float]] = field(default_factory=dict)


def check_notes(notes: str) -> None:
    """WorldError for notes no world can be read from: empty, over 10,000 characters, NUL, broken Unicode."""
    if not notes.strip():
        raise WorldError("the notes are empty: describe the world first (e.g. 'foggy coastal road at dusk, "
                         "slow push in')")
    if len(notes) > MAX_NOTES:
        raise WorldError(f"the notes are {len(notes):,} characters long; at most {MAX_NOTES:,} (shorten them)")
    if "\x00" in notes:
        raise WorldError(f"the notes contain a NUL character at position {notes.index(chr(0))}")
    try:
        notes.encode("utf-8")
    except UnicodeEncodeError as error:
        raise WorldError(f"the notes contain an invalid Unicode character at position {error.start}") from None


def latin_share(notes: str) -> tuple[float, str]:
    """The share of the notes' letters that are Latin, and the script of the most frequent other letters."""
    letters = [c for c in notes if c.isalpha()]
    if not letters:
        return 0.0, ""
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    others: dict[str, int] = {}
    for c in letters:
        name = unicodedata.name(c, "")
        if "LATIN" not in name and name:
            script = name.split()[0]
            others[script] = others.get(script, 0) + 1
    return latin / len(letters), max(others, key=others.get) if others else ""


def rule_matches(notes: str) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """field -> [(value, phrase), ...] in order of appearance, longest phrases first (a phrase's span is
    consumed, so 'coastal road' is not also 'road'); and the words left that the vocabulary does not know."""
    text = unicodedata.normalize("NFKC", notes).lower().replace("’", "'")
    taken = np.zeros(len(text), bool)
    found: list[tuple[int, str, str, str]] = []
    for pattern, phrase, sets in _PATTERNS:
        for match in pattern.finditer(text):
            a, b = match.span()
            if taken[a:b].any():
                continue
            taken[a:b] = True
            found.extend((a, name, value, phrase) for name, value in sets)
    matches: dict[str, list[tuple[str, str]]] = {}
    for _, name, value, phrase in sorted(found):
        matches.setdefault(name, []).append((value, phrase))
    unknown: list[str] = []
    for word in re.findall(r"[^\W\d_][\w'-]*", text):
        if word not in KNOWN_WORDS and word.strip("'-") not in KNOWN_WORDS and word not in unknown:
            unknown.append(word)
    return matches, unknown


@lru_cache(maxsize=1)
def load_weights(path: Path = WEIGHTS) -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """field -> (classes, W (C, 384), b (C,)) from the JSON the trainer wrote."""
    if not path.is_file():
        raise WorldError(f"the notes reader's weights {path} are missing: run "
                         "`python -m model_runtime.worldgen.train_reader`")
    data = json.loads(path.read_text())
    return {name: (f["classes"], np.array(f["coef"], np.float64), np.array(f["intercept"], np.float64))
            for name, f in data["fields"].items()}


def classify(embeddings: np.ndarray, weights=None) -> dict[str, np.ndarray]:
    """field -> (N, C) class probabilities (softmax of the logistic regression)."""
    weights = weights or load_weights()
    out = {}
    for name, (_, w, b) in weights.items():
        logits = embeddings.astype(np.float64) @ w.T + b
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        out[name] = p / p.sum(1, keepdims=True)
    return out


def read_notes(notes: str, use_rules: bool = True, use_classifier: bool = True) -> Reading:
    """The fields the notes set (see the module doc); WorldError for notes refused by `check_notes`."""
    check_notes(notes)
    reading = Reading()
    matches, unknown = rule_matches(notes)
    reading.unknown_words = unknown[:50]
    if len(unknown) > 50:
        reading.messages.append(f"{len(unknown) - 50} more words not understood")
    share, script = latin_share(notes)
    foreign = share < 0.5
    if foreign:
        reading.messages.append(
            f"the notes are written mostly in {script.title() or 'another'} script: the reader knows English "
            "words of the generator's vocabulary only, so the seed chose the world")
    elif not matches:
        reading.messages.append("the notes name nothing of the vocabulary (settings, time of day, weather, "
                                "camera moves: see docs/world_from_notes.md); the world is the nearest reading "
                                "of them, or the seed's")
    if len(notes) > LONG_NOTES:
        reading.messages.append(f"the notes are {len(notes):,} characters long: the keyword rules read all of "
                                "them, the classifier about their first 200 words")
    if use_rules:
        for name, found in matches.items():
            values = list(dict.fromkeys(v for v, _ in found))
            value = values[0]
            words = [p for v, p in found if v == value]
            if len(values) > 1:
                others = "; ".join(f"'{p}' ({v})" for v, p in found if v != value)
                reading.messages.append(f"{name.replace('_', ' ')}: the notes say '{words[0]}' ({value}) first, "
                                        f"also {others}; the first is used")
            reading.fields[name] = (value, "notes", words)
    if use_classifier and not foreign:
        from model_runtime.world.text import embed_notes

        probs = classify(embed_notes([notes]))
        weights = load_weights()
        for name in CLASSIFIED:
            classes = weights[name][0]
            p = probs[name][0]
            reading.probabilities[name] = {c: round(float(v), 4) for c, v in zip(classes, p)}
            best = int(p.argmax())
            if name in reading.fields or classes[best] == NONE or p[best] < NEAREST_P:
                continue
            reading.fields[name] = (classes[best], "nearest", [])
    return reading
