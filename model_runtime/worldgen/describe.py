"""Notes and a seed to a complete world description, and a description to the generator's layout and
camera move (no bpy).

`describe(notes, seed)` reads the notes (notes_reader.py); the seed chooses what they leave unset, with the
generator's own priors (layout.py); then the world is the first of CANDIDATES generator scenes
(`layout_seed = WORLD_SEED_BASE + seed * CANDIDATES + j`, all values forced) that matches what the notes
asked of its place, streets, blocks, lights and camera height (the nearest, by the number of mismatches,
when none does). `layout_for(description)` and `move_for(description, layout)` rebuild exactly that layout
and camera move from the description alone, so the same notes and seed always give the same world.
"""
from __future__ import annotations

import numpy as np

from model_runtime.data.captions import _height_above_ground, camera_height_word, lens_word
from model_runtime.data.layout import INTERIORS, SETTINGS, STOREY_M, TIMES_OF_DAY, WEATHERS, Layout, sample_layout
from model_runtime.data.moves import CameraMove, sample_move
from model_runtime.worldgen.notes_reader import Reading, read_notes
from oyster_blender.core import world_description as wd

WORLD_SEED_BASE = 3_000_000_000  # above the training, validation and artist scene seeds
CANDIDATES = 48
MOVE_TRIES = 64
DEFAULT_MOVE = ("dolly_in", "slow")  # a gentle push-in when the notes say nothing of the camera
# the generator's priors (layout.py's sample_layout)
_SETTING_P = [0.3, 0.14, 0.12, 0.1, 0.1, 0.14, 0.1]
_TIME_P = [0.2, 0.4, 0.2, 0.2]
_WEATHER_P = [0.45, 0.25, 0.17, 0.13]
LATERAL = ("truck", "pan", "whip_pan", "orbit")


def _field(value: str, source: str, words: list[str] | None = None) -> dict:
    return {"value": value, "source": source, "words": list(words or [])}


# ---------------------------------------------------------------- what a layout holds


def streets_of(layout: Layout) -> str:
    return "none" if layout.setting != "street" else ("narrow" if layout.parts[0].size[1] < 9 else "wide")


def blocks_of(layout: Layout) -> str:
    if layout.setting != "street":
        return "none"
    heights = [p.size[2] for p in layout.parts if p.top_material == "roof"]
    return "downtown" if heights and float(np.mean(heights)) / STOREY_M > 6 else "low-rise"


def lights_of(layout: Layout) -> str:
    return {"lights on": "on", "lights off": "off"}.get(layout.extras.get("lights", ""), "none")


def is_tree(part) -> bool:
    return part.material in ("bark", "leaves")


def is_person(part) -> bool:
    return part.shape == "capsule"


def is_vehicle(part) -> bool:
    return part.material.startswith("car") or part.material == "glass"


def counts(layout: Layout) -> dict[str, int]:
    return {"trees": sum(p.material == "bark" for p in layout.parts),
            "people": sum(is_person(p) for p in layout.parts),
            "vehicles": sum(p.material.startswith("car") for p in layout.parts)}


def _amount(n: int, many: int) -> str:
    return "none" if n == 0 else "many" if n >= many else "some"


MANY = {"trees": 40, "people": 12, "vehicles": 8}


def direction_of(kind: str, sign: int) -> str:
    if kind in ("tilt", "crane_up", "crane_down"):
        return "up" if (sign > 0 if kind == "tilt" else kind == "crane_up") else "down"
    return "left" if sign > 0 else "right"


# ---------------------------------------------------------------- the description


def describe(notes: str, seed: int, reading: Reading | None = None) -> dict:
    """The complete, checked world description of the notes with this seed (WorldError for refused notes)."""
    if not 0 <= seed <= wd.MAX_SEED:
        raise wd.WorldError(f"the seed must be within 0..{wd.MAX_SEED}, got {seed}")
    reading = reading or read_notes(notes)
    got = reading.fields
    messages = list(reading.messages)
    rng = np.random.default_rng([seed, 0x3A7])
    fields: dict[str, dict] = {}

    def chosen(name: str, options, p) -> str:
        draw = str(options[int(rng.choice(len(options), p=p))])  # drawn always, so one field never shifts another
        if name in got:
            value, source, words = got[name]
            fields[name] = _field(value, source, words)
            return value
        fields[name] = _field(draw, "seed")
        return draw

    setting = chosen("setting", SETTINGS, _SETTING_P)
    tod = chosen("time_of_day", TIMES_OF_DAY, _TIME_P)
    weather = chosen("weather", WEATHERS, _WEATHER_P)
    if setting in wd.INTERIORS:
        if fields["weather"]["source"] == "notes":
            messages.append(f"interiors have no weather: '{', '.join(fields['weather']['words'])}' is not used "
                            f"in a {setting}")
        fields["weather"] = _field("clear", "derived")
        weather = "clear"
    place_asked = got.get("place")
    if place_asked and place_asked[0] not in wd.PLACES[setting]:
        messages.append(f"'{place_asked[0]}' is not a place of a {setting}: the {setting}'s own place is used")
        place_asked = None
    wanted = {name: got[name][0] for name in ("streets", "blocks", "lights", "camera_height") if name in got}
    for name, kinds in (("streets", ("street",)), ("blocks", ("street",)), ("lights", INTERIORS)):
        if name in wanted and setting not in kinds:
            messages.append(f"{name}: '{', '.join(got[name][2]) or wanted[name]}' does not apply to a {setting}")
            del wanted[name]
    if place_asked:
        wanted["place"] = place_asked[0]
    best = None
    for j in range(CANDIDATES):
        layout_seed = WORLD_SEED_BASE + seed * CANDIDATES + j
        layout = sample_layout(layout_seed, setting, tod, weather)
        have = {"place": layout.extras["place"], "streets": streets_of(layout), "blocks": blocks_of(layout),
                "lights": lights_of(layout), "camera_height": camera_height_word(_height_above_ground(layout))}
        misses = sum(have[k] != v for k, v in wanted.items())
        amounts = counts(layout)
        bonus = sum(amounts[k] * (1 if got[k][0] == "many" else -1 if got[k][0] == "some" else 0)
                    for k in ("trees", "people", "vehicles") if k in got)
        key = (misses, -bonus if any(got.get(k, ("",))[0] == "many" for k in MANY) else 0, j)
        if best is None or key < best[0]:
            best = (key, layout_seed, layout, have)
        if misses == 0 and key[1] == 0:
            break
    (misses, _, _), layout_seed, layout, have = best
    if misses:
        messages.append("no world of seed {} has all of {}: the nearest is used ({})".format(
            seed, ", ".join(f"{k} {v}" for k, v in wanted.items()),
            ", ".join(f"{k} {have[k]}" for k in wanted if have[k] != wanted[k])))
    for name in ("place", "streets", "blocks", "lights", "camera_height"):
        words = got[name][2] if name in got and got[name][0] == have[name] else []
        source = got[name][1] if words else ("derived" if have[name] == "none" or name == "place" and
                                            fields["setting"]["source"] != "seed" else "seed")
        fields[name] = _field(have[name], source, words)
    fields["terrain"] = _field(wd.TERRAIN_OF[setting], "derived")
    fields["interior"] = _field(setting if setting in INTERIORS else "none", "derived")
    amounts = counts(layout)
    for name in ("trees", "people", "vehicles"):
        if name in got and got[name][0] == "none":
            fields[name] = _field("none", got[name][1], got[name][2])
        else:
            natural = _amount(amounts[name], MANY[name])
            if name in got and got[name][0] != natural and not (got[name][0] == "some" and natural == "many"):
                messages.append(f"{name}: the notes ask for '{got[name][0]}', the nearest world has {natural}")
            fields[name] = _field(natural, got[name][1] if name in got else "seed",
                                  got[name][2] if name in got else [])
    camera_from_notes = any(name in got for name in wd.CAMERA_FIELDS)
    kind = got["camera_move"][0] if "camera_move" in got else DEFAULT_MOVE[0]
    fields["camera_move"] = (_field(*got["camera_move"]) if "camera_move" in got
                             else _field(kind, "derived"))
    description = {"format": wd.FORMAT, "version": wd.VERSION, "notes": notes, "seed": seed,
                   "layout_seed": layout_seed, "fields": fields, "camera_from_notes": camera_from_notes,
                   "unknown_words": reading.unknown_words, "messages": messages}
    wanted_move = {name: got[name][0] for name in ("camera_speed", "camera_direction", "lens") if name in got}
    if "camera_move" not in got and "camera_speed" not in got:
        wanted_move["camera_speed"] = DEFAULT_MOVE[1]
    move_try, have_move = _search_move(layout, layout_seed, kind, wanted_move)
    description["move_try"] = move_try
    for name in ("camera_speed", "camera_direction", "lens"):
        value = have_move[name]
        if name in got and got[name][0] == value:
            fields[name] = _field(value, got[name][1], got[name][2])
        else:
            if name in got:
                messages.append(f"{name.replace('_', ' ')}: '{got[name][0]}' cannot go with a {kind.replace('_', ' ')}"
                                f" here; it is {value}")
            fields[name] = _field(value, "derived" if name == "camera_speed" and "camera_move" not in got
                                  else "seed")
    return wd.check_description(description)


def _move_values(move: CameraMove) -> dict[str, str]:
    return {"camera_speed": move.speed_word, "camera_direction": direction_of(move.kind, move.sign),
            "lens": lens_word(move.lens_mm)}


def _sampled_move(layout: Layout, layout_seed: int, kind: str, k: int) -> CameraMove:
    return sample_move(np.random.default_rng([layout_seed, 0xCA3, k]), kind, layout.stage,
                       layout.setting in INTERIORS)


def _search_move(layout: Layout, layout_seed: int, kind: str, wanted: dict[str, str]
                 ) -> tuple[int, dict[str, str]]:
    """The first of MOVE_TRIES sampled moves of `kind` with the wanted speed, direction and lens (the one
    with the fewest misses when none has them all): its try number and its values."""
    best = None
    for k in range(MOVE_TRIES):
        have = _move_values(_sampled_move(layout, layout_seed, kind, k))
        misses = sum(have[name] != v for name, v in wanted.items())
        if best is None or misses < best[0]:
            best = (misses, k, have)
        if misses == 0:
            break
    return best[1], best[2]


def layout_for(description: dict) -> Layout:
    """The generator's layout of a description, with the parts the notes excluded (trees, people,
    vehicles: 'none') taken out."""
    wd.check_description(description)
    f = description["fields"]
    layout = sample_layout(description["layout_seed"], f["setting"]["value"], f["time_of_day"]["value"],
                           f["weather"]["value"])
    drop = [test for name, test in (("trees", is_tree), ("people", is_person), ("vehicles", is_vehicle))
            if f[name]["value"] == "none"]
    layout.parts = [p for p in layout.parts if not any(test(p) for test in drop)]
    return layout


def move_for(description: dict, layout: Layout) -> CameraMove:
    """The camera move of a description (its kind, speed, direction and lens)."""
    return _sampled_move(layout, description["layout_seed"], description["fields"]["camera_move"]["value"],
                         description["move_try"])
