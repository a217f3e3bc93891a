"""Every bad input of issue 3 gets a specific exception from the API, the same message in the panel,
no traceback from the operators, and no file outside the output folder."""
from __future__ import annotations

import re

import pytest

bpy = pytest.importorskip("bpy")

from oyster_blender import api  # noqa: E402
from oyster_blender.core.errors import CameraError, OutputError, ShotError  # noqa: E402
from oyster_blender.settings import SettingsError, parse_address  # noqa: E402
from oyster_blender.shots import MAX_NOTES, ShotSettings, check_settings  # noqa: E402
from oyster_blender.ui import panel_state  # noqa: E402


def problem(scene) -> str | None:
    return panel_state(scene).problem


def test_no_camera(oyster_scene):
    scene = oyster_scene
    with pytest.raises(CameraError, match="the shot has no camera"):
        api.add_shot(scene, "sh010", camera=None)
    scene.camera = None
    with pytest.raises(RuntimeError, match="the scene has no camera"):  # the Add button's poll says why
        bpy.ops.oyster.add_shot()
    assert len(scene.oyster.shots) == 0


def test_a_camera_cleared_in_the_panel(oyster_scene):
    scene = oyster_scene
    shot = api.add_shot(scene, "sh010")
    shot.camera = None  # what the panel's X button does (the update callback runs)
    assert problem(scene) == "the shot has no camera: pick a camera object"


def test_an_object_that_is_not_a_camera(oyster_scene):
    scene = oyster_scene
    prop = bpy.data.objects.new("Lamp post", bpy.data.meshes.new("Lamp post"))
    scene.collection.objects.link(prop)
    with pytest.raises(CameraError, match="'Lamp post' is a mesh, not a camera"):
        api.add_shot(scene, "sh010", camera=prop)
    shot = api.add_shot(scene, "sh010")
    with pytest.raises(CameraError, match="not a camera"):
        api.edit_shot(scene, shot, camera=prop)
    shot.camera = prop  # a script can bypass the picker's filter
    assert problem(scene) == "'Lamp post' is a mesh, not a camera"


def test_orthographic_and_panoramic(oyster_scene):
    scene = oyster_scene
    api.add_shot(scene, "sh010")
    scene.camera.data.type = "ORTHO"
    assert problem(scene) == ("camera 'Cam' is orthographic: only perspective cameras can be generated "
                              "(the model needs a pinhole camera)")
    scene.camera.data.type = "PANO"
    with pytest.raises(CameraError, match="panoramic"):
        api.shot_track(scene, "sh010")


@pytest.mark.parametrize("start, end, kind, message", [
    (10, 9, ShotError, "the frame range 10-9 is empty"),
    (20, 5, ShotError, "the frame range 20-5 is reversed"),
    (40, 60, ShotError, "frames 40-60 reach beyond the scene's range 1-48"),
    (-3, 10, ShotError, "frames -3-10 reach beyond"),
])
def test_bad_ranges(oyster_scene, start, end, kind, message):
    scene = oyster_scene
    with pytest.raises(kind, match=message):
        api.add_shot(scene, "sh010", frame_start=start, frame_end=end)
    shot = api.add_shot(scene, "sh010")
    shot.frame_start, shot.frame_end = start, end  # typed into the panel: kept as typed, reported
    assert problem(scene).startswith(message)
    with pytest.raises(kind, match=message):
        api.shot_request(scene, shot)


def test_the_scene_range_shrinks_under_a_shot(oyster_scene):
    scene = oyster_scene
    api.add_shot(scene, "sh010")
    scene.frame_end = 30
    assert problem(scene) == "frames 1-48 reach beyond the scene's range 1-30"


def test_a_deleted_camera(oyster_scene):
    scene = oyster_scene
    shot = api.add_shot(scene, "sh010")
    bpy.data.objects.remove(scene.camera)
    assert shot.camera is None
    assert problem(scene) == "the shot's camera 'Cam' was deleted: pick another camera"
    with pytest.raises(CameraError, match="'Cam' was deleted"):
        api.shot_request(scene, shot)
    with pytest.raises(RuntimeError, match="'Cam' was deleted"):  # reported, not a traceback
        bpy.ops.oyster.save_camera_track()


def test_a_deleted_camera_object_passed_to_the_api(oyster_scene):
    scene = oyster_scene
    camera = scene.camera
    bpy.data.objects.remove(camera)
    with pytest.raises(CameraError, match="was deleted"):
        api.add_shot(scene, "sh010", camera=camera)


def test_notes_of_ten_thousand_characters_and_any_unicode(oyster_scene):
    scene = oyster_scene
    long_notes = ("雨の路地、ネオン、霧 🌫️ " * 1000)[:MAX_NOTES]
    shot = api.add_shot(scene, "sh010", notes=long_notes)
    assert shot.notes == long_notes and problem(scene) is None  # kept whole, nothing cut
    assert api.shot_request(scene, shot)["notes"] == long_notes
    with pytest.raises(ShotError, match="the notes are 10,001 characters long; at most 10,000"):
        api.edit_shot(scene, shot, notes="x" * (MAX_NOTES + 1))
    shot.notes = "y" * 12_000  # pasted into the panel
    assert problem(scene) == "the notes are 12,000 characters long; at most 10,000 (shorten them)"
    for notes in ["\u200f\u202eright-to-left", "e\u0301\u0323", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🏳️‍🌈", "\x1b[31m tabs\t\nnewlines"]:
        api.edit_shot(scene, shot, notes=notes)
        assert shot.notes == notes


def test_notes_blender_cannot_store(oyster_scene):
    scene = oyster_scene
    with pytest.raises(ShotError, match="the notes contain a NUL character at position 3"):
        api.add_shot(scene, "sh010", notes="fog\x00rain")  # Blender would cut the text at the NUL
    with pytest.raises(ShotError, match="invalid Unicode character at position 2"):
        api.add_shot(scene, "sh010", notes="ab\ud800")
    assert len(scene.oyster.shots) == 0


@pytest.mark.parametrize("name, folder", [("../../etc", "etc"), ("shot:1*?", "shot_1"), ("/", "shot"),
                                          ("..", "shot"), ("sh 010 – «nuit»", "sh_010_nuit")])
def test_names_become_safe_folders_inside_the_output(oyster_scene, tmp_path, name, folder):
    scene = oyster_scene
    shot = api.add_shot(scene, name, frame_start=1, frame_end=3)
    assert panel_state(scene).folder == f"oyster/{folder}"
    root = tmp_path / "out"
    path = api.write_camera_track(scene, shot, root)
    assert path == root / "oyster" / folder / "camera_track.json"
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]  # nothing anywhere else


def test_names_that_cannot_name_a_shot(oyster_scene):
    scene = oyster_scene
    with pytest.raises(ShotError, match="the shot needs a name"):
        api.add_shot(scene, "  ")
    with pytest.raises(ShotError, match="at most 256"):
        api.add_shot(scene, "x" * 300)
    api.add_shot(scene, "shot:1")
    with pytest.raises(ShotError, match="a shot named 'shot:1' exists already"):
        api.add_shot(scene, "shot:1")
    with pytest.raises(ShotError, match=re.escape("'Shot?1' would share the folder 'Shot_1' with shot 'shot:1'")):
        api.add_shot(scene, "Shot?1")
    second = api.add_shot(scene, "sh020")
    second.name = "SHOT*1"  # renamed in the list
    assert problem(scene) == "'SHOT*1' would share the folder 'SHOT_1' with shot 'shot:1': rename one of them"


def test_unwritable_output_leaves_no_partial_file(oyster_scene, tmp_path):
    scene = oyster_scene
    shot = api.add_shot(scene, "sh010", frame_start=1, frame_end=3)
    blocker = tmp_path / "out"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OutputError, match="cannot write the camera track"):
        api.write_camera_track(scene, shot, blocker)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("settings, message", [
    (ShotSettings("a", seed=-1), "seed"),
    (ShotSettings("a", width=0), "width must be within 1..8192"),
    (ShotSettings("a", width=8192, height=8192), "more pixels than UHD"),
    (ShotSettings("a", fps=0.0), "fps"),
    (ShotSettings("a", fps=float("nan")), "fps"),
])
def test_settings_the_runtime_would_refuse(settings, message):
    with pytest.raises(ShotError, match=message):
        check_settings(settings)


@pytest.mark.parametrize("address, expected", [("127.0.0.1:8765", ("127.0.0.1", 8765)),
                                               ("http://gpu-box:80", ("gpu-box", 80)), ("[::1]:9000", ("::1", 9000))])
def test_runtime_addresses(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["gpu-box", ":8765", "gpu-box:http", "gpu-box:70000"])
def test_bad_runtime_addresses(address):
    with pytest.raises(SettingsError, match="runtime address"):
        parse_address(address)
