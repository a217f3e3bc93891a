"""The world description: what a world built from scene notes holds, as versioned JSON (standard library only).

    {"format": "oyster-world", "version": 1, "notes": "...", "seed": 7, "layout_seed": 3000000448,
     "move_try": 0,      "fields": {"setting": {"value": "street", "source": "notes", "words": ["street"]}, ...},
     "camera_from_notes": true, "unknown_words": ["neon"], "messages": ["..."]}

Every field of `FIELDS` is present with a `value` from its vocabulary (the data generator's, model_runtime/data/
layout.py, moves.py and captions.py), a `source` and the notes' `words` that set it:

- `notes`: a word of the vocabulary in the notes named it;
- `nearest`: no vocabulary word, the notes reader's classifier took the nearest value to the notes;
- `seed`: the notes say nothing of it, the seed chose it;
- `derived`: it follows from another field (an interior has no weather, a street no terrain).

`layout_seed` is the generator's scene seed the world is built from (model_runtime/worldgen/describe.py), so
the description alone rebuilds the same world; `move_try` the try of the camera move that has the notes'
speed, direction and lens (model_runtime.data.moves.sample_move with rng [layout_seed, 0xCA3, move_try]). docs/world_from_notes.md documents the format.
"""
from __future__ import annotations

import json
from typing import Any

from .errors import OysterError

FORMAT = "oyster-world"
VERSION = 1

SETTINGS = ("street", "coast", "hills", "valley", "field", "room", "corridor")
INTERIORS = ("room", "corridor")
# the caption phrases of each setting's places (layout.py's `extras["place"]`)
PLACES = {"street": ("city street", "street", "downtown avenue", "town street", "narrow street", "wide boulevard"),
          "coast": ("coastline", "beach", "coastal road", "rocky shore", "seaside"),
          "hills": ("rolling hills", "hillside", "hill country"),
          "valley": ("valley", "river valley", "mountain valley"),
          "field": ("open field", "meadow", "farmland", "grassland"),
          "room": ("living room", "room", "office", "apartment interior"),
          "corridor": ("hallway", "corridor", "office corridor")}
TERRAIN_OF = {"street": "paved", "coast": "coast", "hills": "hills", "valley": "valley", "field": "flat",
              "room": "indoor", "corridor": "indoor"}
MOVES = ("static", "dolly_in", "dolly_out", "truck", "pan", "tilt", "crane_up", "crane_down", "orbit",
         "push_in_zoom", "handheld", "whip_pan")

FIELDS: dict[str, tuple[str, ...]] = {
    "setting": SETTINGS,
    "time_of_day": ("dawn", "day", "dusk", "night"),
    "weather": ("clear", "overcast", "fog", "rain"),
    "place": tuple(p for places in PLACES.values() for p in places),
    "terrain": ("paved", "flat", "hills", "valley", "coast", "indoor"),
    "streets": ("narrow", "wide", "none"),
    "blocks": ("low-rise", "downtown", "none"),
    "interior": ("none", "room", "corridor"),
    "lights": ("on", "off", "none"),
    "trees": ("none", "some", "many"),
    "people": ("none", "some", "many"),
    "vehicles": ("none", "some", "many"),
    "camera_move": MOVES,
    "camera_speed": ("slow", "steady", "fast"),
    "camera_direction": ("left", "right", "up", "down"),
    "camera_height": ("low camera", "eye level", "high camera", "aerial view"),
    "lens": ("ultra wide lens", "wide lens", "normal lens", "telephoto", "long telephoto lens"),
}
CAMERA_FIELDS = ("camera_move", "camera_speed", "camera_direction", "camera_height", "lens")
SOURCES = ("notes", "nearest", "seed", "derived")
MAX_NOTES = 10_000  # characters, as for a shot's notes (oyster_blender/shots.py)
MAX_SEED = 2**31 - 1


class WorldError(OysterError):
    """The notes cannot make a world, a description is malformed, or the scene cannot take the world."""


def check_description(description: Any) -> dict[str, Any]:
    """The description itself when it is a valid version-1 world description; WorldError naming the first
    problem otherwise."""
    if not isinstance(description, dict):
        raise WorldError(f"a world description is a JSON object, got {type(description).__name__}")
    if description.get("format") != FORMAT:
        raise WorldError(f"not a world description: format is {description.get('format')!r}, not {FORMAT!r}")
    if description.get("version") != VERSION:
        raise WorldError(f"world description version {description.get('version')!r}: this build reads version "
                         f"{VERSION}")
    notes = description.get("notes")
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        raise WorldError(f"notes: a string of at most {MAX_NOTES:,} characters")
    for key, top in (("seed", MAX_SEED), ("layout_seed", 2**62), ("move_try", 1000)):
        value = description.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
            raise WorldError(f"{key}: an integer within 0..{top}, got {value!r}")
    fields = description.get("fields")
    if not isinstance(fields, dict):
        raise WorldError("fields: an object of field -> {value, source, words}")
    missing = [name for name in FIELDS if name not in fields]
    if missing:
        raise WorldError(f"fields: missing {', '.join(missing)}")
    extra = sorted(set(fields) - set(FIELDS))
    if extra:
        raise WorldError(f"fields: unknown {', '.join(extra)}")
    for name, allowed in FIELDS.items():
        field = fields[name]
        if not isinstance(field, dict) or set(field) != {"value", "source", "words"}:
            raise WorldError(f"fields.{name}: an object with value, source and words")
        if field["value"] not in allowed:
            raise WorldError(f"fields.{name}.value: {field['value']!r} is not one of {', '.join(allowed)}")
        if field["source"] not in SOURCES:
            raise WorldError(f"fields.{name}.source: {field['source']!r} is not one of {', '.join(SOURCES)}")
        if not isinstance(field["words"], list) or not all(isinstance(w, str) for w in field["words"]):
            raise WorldError(f"fields.{name}.words: a list of strings")
    setting = fields["setting"]["value"]
    if fields["place"]["value"] not in PLACES[setting]:
        raise WorldError(f"fields.place: {fields['place']['value']!r} is not a place of the {setting} setting "
                         f"({', '.join(PLACES[setting])})")
    if fields["terrain"]["value"] != TERRAIN_OF[setting]:
        raise WorldError(f"fields.terrain: a {setting} has terrain {TERRAIN_OF[setting]!r}")
    if setting in INTERIORS and fields["weather"]["value"] != "clear":
        raise WorldError("fields.weather: interiors have no weather (clear)")
    if not isinstance(description.get("camera_from_notes"), bool):
        raise WorldError("camera_from_notes: true or false")
    for key in ("unknown_words", "messages"):
        value = description.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise WorldError(f"{key}: a list of strings")
    return description


def loads(text: str) -> dict[str, Any]:
    """A checked description from its JSON text."""
    try:
        return check_description(json.loads(text))
    except json.JSONDecodeError as error:
        raise WorldError(f"the world description is not JSON: {error}") from None


def dumps(description: dict[str, Any]) -> str:
    return json.dumps(check_description(description), indent=1, ensure_ascii=False)


def value(description: dict[str, Any], name: str) -> str:
    return description["fields"][name]["value"]


def summary(description: dict[str, Any]) -> list[str]:
    """What the panel shows: one line per group of fields, 'understood' first, then what the seed chose,
    the words not understood and the reader's messages."""
    fields = description["fields"]
    by_source: dict[str, list[str]] = {source: [] for source in SOURCES}
    for name in FIELDS:
        field = fields[name]
        by_source[field["source"]].append(f"{name.replace('_', ' ')}: {field['value']}")
    lines = []
    if by_source["notes"]:
        lines.append("from the notes: " + "; ".join(by_source["notes"]))
    if by_source["nearest"]:
        lines.append("nearest to the notes: " + "; ".join(by_source["nearest"]))
    if by_source["seed"]:
        lines.append(f"chosen by seed {description['seed']}: " + "; ".join(by_source["seed"]))
    if description["unknown_words"]:
        lines.append("not understood: " + ", ".join(description["unknown_words"]))
    lines.extend(description["messages"])
    return lines
