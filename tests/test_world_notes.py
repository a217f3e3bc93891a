"""The world from the notes without Blender: the description format, the notes reader, the camera words and
the bad input (docs/world_from_notes.md)."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from model_runtime.data import layout as generator
from model_runtime.data.moves import camera_poses
from model_runtime.worldgen.describe import describe, layout_for, move_for
from model_runtime.worldgen.notes_reader import read_notes
from oyster_blender.core import world_description as wd
from oyster_blender.core.world_description import WorldError


def test_the_vocabulary_is_the_generators():
    assert wd.SETTINGS == generator.SETTINGS and wd.INTERIORS == generator.INTERIORS
    assert wd.FIELDS["time_of_day"] == generator.TIMES_OF_DAY and wd.FIELDS["weather"] == generator.WEATHERS
    from model_runtime.data.moves import MOVES

    assert wd.MOVES == MOVES
    seen = {s: set() for s in generator.SETTINGS}
    for seed in range(300):
        layout = generator.sample_layout(seed)
        seen[layout.setting].add(layout.extras["place"])
    for setting, places in seen.items():
        assert places <= set(wd.PLACES[setting]), setting


def test_same_notes_and_seed_give_the_same_description_and_layout():
    notes = "rainy narrow street at night, crowded, slow truck left, telephoto"
    a, b = describe(notes, 11), describe(notes, 11)
    assert a == b
    la, lb = layout_for(a), layout_for(b)
    assert [(p.shape, p.location, p.size, p.material) for p in la.parts] == \
        [(p.shape, p.location, p.size, p.material) for p in lb.parts]
    assert describe(notes, 12)["layout_seed"] != a["layout_seed"]
    assert wd.loads(wd.dumps(a)) == a


def test_each_field_says_where_it_came_from():
    d = describe("foggy coastal road at dusk, low camera, slow push in, wide lens", 5)
    f = d["fields"]
    for name, value in (("setting", "coast"), ("time_of_day", "dusk"), ("weather", "fog"),
                        ("place", "coastal road"), ("camera_move", "dolly_in"), ("camera_speed", "slow"),
                        ("camera_height", "low camera"), ("lens", "wide lens")):
        assert f[name]["value"] == value and f[name]["source"] == "notes", name
    assert f["terrain"] == {"value": "coast", "source": "derived", "words": []}
    assert f["trees"]["source"] == "seed"
    layout = layout_for(d)
    assert layout.setting == "coast" and layout.extras["place"] == "coastal road" and layout.weather == "fog"
    assert d["camera_from_notes"] and d["unknown_words"] == []


def test_unknown_words_are_listed_and_nearest_values_marked():
    d = describe("a small hillside village at dusk, warm lit windows, crane up to reveal the valley", 1)
    assert d["fields"]["setting"]["value"] == "hills"
    assert {"warm", "windows", "reveal"} <= set(d["unknown_words"])
    assert any("first is used" in m for m in d["messages"])


def _poses(notes: str, frames: int = 48):
    d = describe(notes, 3)
    layout = layout_for(d)
    move = move_for(d, layout)
    pos, rot, lens = camera_poses(move, layout.stage, frames, 24)
    return d, layout, move, layout.clamp_camera(pos), rot, lens


def test_camera_words_give_the_documented_moves():
    d, layout, move, pos, rot, lens = _poses("quiet valley by day, steady crane up")
    assert move.kind == "crane_up" and pos[-1, 2] > pos[0, 2] + 1.0
    assert np.allclose(pos[:, :2], pos[0, :2])  # straight up

    d, layout, move, pos, rot, _ = _poses("village street, slow orbit")
    target = np.array(layout.stage.position) + layout.stage.focus_distance * np.array(
        [math.cos(layout.stage.yaw), math.sin(layout.stage.yaw), 0])
    radius = np.linalg.norm((pos - target)[:, :2], axis=1)
    assert move.kind == "orbit" and move.speed_word == "slow" and np.ptp(radius) < 0.05 * radius[0] + 1e-6
    assert np.linalg.norm(pos[-1] - pos[0]) > 0.1

    d, layout, move, pos, rot, _ = _poses("city street at night, whip pan left", 24)
    fwd = -rot[:, :, 2]
    yaw = np.unwrap(np.arctan2(fwd[:, 1], fwd[:, 0]))
    assert move.kind == "whip_pan" and move.sign == 1 and abs(yaw[-1] - yaw[0]) > math.radians(60)
    assert abs(yaw[4] - yaw[0]) < 1e-6  # it waits, then whips within 0.45 s

    d, layout, move, pos, rot, _ = _poses("open field at dawn, slow push in")
    fwd_h = np.array([math.cos(layout.stage.yaw), math.sin(layout.stage.yaw), 0])
    assert move.kind == "dolly_in" and move.speed_word == "slow" and (pos[-1] - pos[0]) @ fwd_h > 0

    d, layout, *_ = _poses("beach at dusk, low camera")
    assert d["fields"]["camera_height"]["value"] == "low camera" and d["camera_from_notes"]
    d, layout, move, *_ = _poses("meadow by day, ultra wide")
    assert move.lens_mm < 24 and d["fields"]["lens"]["source"] == "notes"


def test_without_camera_words_the_camera_is_a_gentle_push_in_and_not_from_the_notes():
    d, layout, move, pos, *_ = _poses("misty river valley at dawn")
    assert not d["camera_from_notes"]
    assert move.kind == "dolly_in" and move.speed_word == "slow"
    assert d["fields"]["camera_move"]["source"] == "derived"


# ---------------------------------------------------------------- bad input


def test_empty_notes_are_refused():
    for notes in ("", "   \n\t"):
        with pytest.raises(WorldError, match="the notes are empty"):
            describe(notes, 0)


def test_notes_of_10000_characters_are_read_with_a_message_and_more_are_refused():
    notes = ("foggy harbour street at night, slow dolly in. " * 300)[:10_000]
    d = describe(notes, 0)
    assert d["fields"]["weather"]["value"] == "fog" and d["fields"]["time_of_day"]["value"] == "night"
    assert any("10,000 characters long" in m for m in d["messages"])
    with pytest.raises(WorldError, match="10,001 characters long; at most 10,000"):
        describe(notes + "x", 0)
    with pytest.raises(WorldError, match="NUL"):
        describe("street\x00at night", 0)


def test_notes_in_another_script_are_the_seeds_world_with_a_message():
    d = describe("夕暮れの丘の上の小さな村、クレーンアップ", 4)
    assert all(f["source"] in ("seed", "derived") for f in d["fields"].values())
    assert any("Cjk script" in m or "Katakana" in m or "Hiragana" in m for m in d["messages"])
    assert d["unknown_words"]
    d = describe("Улица ночью под дождём", 4)
    assert any("Cyrillic script" in m for m in d["messages"])


def test_notes_naming_nothing_of_the_vocabulary_say_so_and_list_the_words():
    d = describe("a cat sat upon the mat", 2)
    assert any("name nothing of the vocabulary" in m for m in d["messages"])
    assert {"cat", "sat", "upon", "mat"} <= set(d["unknown_words"])
    assert not any(f["source"] == "notes" for f in d["fields"].values())


def test_interiors_have_no_weather_and_impossible_asks_are_told():
    d = describe("rainy office at night, lights off", 0)
    assert d["fields"]["weather"] == {"value": "clear", "source": "derived", "words": []}
    assert any("interiors have no weather" in m for m in d["messages"])
    assert any("lights" in m for m in d["messages"])  # at night the generator's rooms are lit


def test_people_and_vehicles_none_take_them_out():
    d = describe("deserted wide boulevard at dawn, no trees", 9)
    layout = layout_for(d)
    assert d["fields"]["people"]["value"] == "none" and d["fields"]["vehicles"]["value"] == "none"
    assert not any(p.shape == "capsule" or p.material.startswith("car") or p.material == "bark"
                   for p in layout.parts)


def test_malformed_descriptions_are_refused_by_name():
    good = describe("street at night", 0)
    for change, message in ((lambda d: d.update(version=2), "version 2"),
                            (lambda d: d["fields"].pop("weather"), "missing weather"),
                            (lambda d: d["fields"]["setting"].update(value="moon"), "'moon' is not one of"),
                            (lambda d: d["fields"]["place"].update(value="beach"), "not a place of the street"),
                            (lambda d: d.update(layout_seed=-1), "layout_seed")):
        bad = copy.deepcopy(good)
        change(bad)
        with pytest.raises(WorldError, match=message):
            wd.check_description(bad)
    with pytest.raises(WorldError, match="not JSON"):
        wd.loads("{")


def test_summary_says_what_was_understood():
    lines = wd.summary(describe("rainy street at dusk, neon signs", 0))
    assert lines[0].startswith("from the notes: setting: street; time of day: dusk; weather: rain")
    assert any(line.startswith("chosen by seed 0:") for line in lines)
    assert "not understood: neon, signs" in lines


def test_rules_alone_read_the_generators_captions():
    reading = read_notes("rain-soaked downtown avenue after dark, high camera, fast pan left, long telephoto lens",
                         use_classifier=False)
    f = {k: v[0] for k, v in reading.fields.items()}
    assert f["setting"] == "street" and f["place"] == "downtown avenue" and f["time_of_day"] == "night"
    assert f["weather"] == "rain" and f["camera_move"] == "pan" and f["camera_direction"] == "left"
    assert f["camera_height"] == "high camera" and f["lens"] == "long telephoto lens" and f["camera_speed"] == "fast"
