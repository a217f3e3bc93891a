"""Shots in real bpy: added from the camera and the timeline, edited, removed, read from camera
markers, saved and reloaded, turned into a camera track and a runtime request."""
from __future__ import annotations

import json

import pytest

bpy = pytest.importorskip("bpy")

from oyster_blender import api, runtime_session  # noqa: E402
from oyster_blender.core.errors import ShotError  # noqa: E402
from oyster_blender.runtime_status import STATUS  # noqa: E402
from oyster_blender.shots import marker_shots  # noqa: E402
from oyster_blender.core.track_schema import validate_track  # noqa: E402
from oyster_blender.ui import panel_state  # noqa: E402

UNICODE_NOTES = "rain-soaked néon alley 🌧️, 夜, низкий туман, עברית, हिन्दी, family 👩‍👩‍👧\nsecond line\ttab"


def add_camera(scene, name: str):
    camera = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    scene.collection.objects.link(camera)
    return camera


def test_add_from_the_scene_camera_and_timeline_range(oyster_scene):
    scene = oyster_scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1280, 720, 50
    scene.render.fps, scene.render.fps_base = 30, 1.001
    assert bpy.ops.oyster.add_shot() == {"FINISHED"}
    shot = scene.oyster.shots[0]
    assert (shot.name, shot.camera, shot.frame_start, shot.frame_end) == ("sh010", scene.camera, 1, 48)
    assert (shot.resolution_x, shot.resolution_y) == (640, 360)
    assert shot.fps == pytest.approx(30 / 1.001)
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 10, 20
    bpy.ops.oyster.add_shot()
    second = api.active_shot(scene)
    assert (second.name, second.frame_start, second.frame_end) == ("sh020", 10, 20)
    assert scene.oyster.active_shot_index == 1


def test_edit_is_checked_as_a_whole_and_remove(oyster_scene):
    scene = oyster_scene
    other = add_camera(scene, "CamB")
    shot = api.add_shot(scene, "sh010", notes="dusk")
    api.edit_shot(scene, shot, camera=other, frame_start=5, frame_end=9, notes="night", seed=7, resolution=(320, 180),
                  fps=12.0)
    assert (shot.camera_name, shot.frame_start, shot.frame_end, shot.notes, shot.seed) == ("CamB", 5, 9, "night", 7)
    assert (shot.resolution_x, shot.resolution_y, shot.fps) == (320, 180, 12.0)
    with pytest.raises(ShotError, match="reversed"):
        api.edit_shot(scene, "sh010", notes="lost?", frame_start=30, frame_end=20)
    assert (shot.notes, shot.frame_start) == ("night", 5)  # a refused edit changes nothing
    api.add_shot(scene, "sh020")
    api.add_shot(scene, "sh030")
    scene.oyster.active_shot_index = 2
    assert bpy.ops.oyster.remove_shot() == {"FINISHED"}
    assert [s.name for s in scene.oyster.shots] == ["sh010", "sh020"] and scene.oyster.active_shot_index == 1
    api.remove_shot(scene, "sh010")
    assert [s.name for s in scene.oyster.shots] == ["sh020"]
    with pytest.raises(ShotError, match="no shot named 'sh010'"):
        api.remove_shot(scene, "sh010")


def test_shots_survive_save_and_reload(oyster_scene, tmp_path):
    scene = oyster_scene
    other = add_camera(scene, "CamB")
    api.add_shot(scene, "sh010", frame_start=1, frame_end=24, notes=UNICODE_NOTES, seed=42, resolution=(512, 288),
                 fps=25.0)
    api.add_shot(scene, "Plan 2 — ruelle", camera=other, frame_start=25, frame_end=48, notes="n" * 10_000)
    path = tmp_path / "shots.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert len(bpy.context.scene.oyster.shots) == 0
    bpy.ops.wm.open_mainfile(filepath=str(path))
    scene = bpy.context.scene
    first, second = scene.oyster.shots
    assert (first.name, first.camera.name, first.frame_start, first.frame_end) == ("sh010", "Cam", 1, 24)
    assert (first.notes, first.seed, first.resolution_x, first.resolution_y, first.fps) == (UNICODE_NOTES, 42, 512,
                                                                                             288, 25.0)
    assert (second.name, second.camera.name, second.notes) == ("Plan 2 — ruelle", "CamB", "n" * 10_000)
    assert scene.oyster.active_shot_index == 1
    assert api.shot_problem(scene, second) is None


def test_camera_markers_become_shots(oyster_scene):
    scene = oyster_scene
    cam_a, cam_b = scene.camera, add_camera(scene, "CamB")
    for name, frame, camera in (("A", 1, cam_a), ("B", 20, cam_b), ("A2", 40, cam_a)):
        marker = scene.timeline_markers.new(name, frame=frame)
        marker.camera = camera
    scene.timeline_markers.new("note only", frame=30)  # no camera: not a cut
    assert bpy.ops.oyster.shots_from_markers() == {"FINISHED"}
    got = [(s.name, s.camera.name, s.frame_start, s.frame_end) for s in scene.oyster.shots]
    assert got == [("A", "Cam", 1, 19), ("B", "CamB", 20, 39), ("A2", "Cam", 40, 48)]
    api.edit_shot(scene, "B", notes="keep me", seed=3)
    scene.timeline_markers["B"].frame = 25  # the artist moves a cut; reading again updates, keeps notes
    api.add_marker_shots(scene)
    b = api.find_shot(scene, "B")
    assert (b.frame_start, b.frame_end, b.notes, b.seed) == (25, 39, "keep me", 3)
    assert api.find_shot(scene, "A").frame_end == 24 and len(scene.oyster.shots) == 3


def test_marker_rules_on_plain_data():
    cuts = marker_shots([("late", 60, "C"), ("early", -5, "A"), ("mid", 10, "B")], 1, 50)
    assert [(c.name, c.frame_start, c.frame_end) for c in cuts] == [("early", 1, 9), ("mid", 10, 50)]
    with pytest.raises(ShotError, match="'a' and 'b' both bind a camera on frame 3"):
        marker_shots([("a", 3, "A"), ("b", 3, "B")], 1, 10)


def test_track_and_request_use_the_shot_settings(oyster_scene):
    scene = oyster_scene
    shot = api.add_shot(scene, "sh010", frame_start=3, frame_end=12, notes="fog", seed=9, resolution=(256, 144),
                        fps=12.0)
    request = api.shot_request(scene, shot, api.output_root("", "/tmp/oyster-out"))
    track = request["track"]
    validate_track(track)
    assert (track["width"], track["height"], track["fps"], track["frame_start"], track["frame_end"]) == \
        (256, 144, 12.0, 3, 12)
    assert (request["shot"], request["notes"], request["seed"], request["output"], request["model"]) == \
        ("sh010", "fog", 9, "/tmp/oyster-out", "oyster-painter")
    json.dumps(request)
    api.edit_shot(scene, shot, model="")  # the runtime's default model
    assert "model" not in api.shot_request(scene, shot)


def test_notes_events_are_keyed_checked_saved_and_sent(oyster_scene, tmp_path):
    scene = oyster_scene
    shot = api.add_shot(scene, "sh010", frame_start=1, frame_end=48, notes="dusk street, dry")
    scene.frame_set(30)
    assert bpy.ops.oyster.add_notes_event() == {"FINISHED"}  # the notes in force there, to be edited
    assert api.notes_events(shot) == [(30, "dusk street, dry")]
    shot.notes_events[0].notes = "rain starts, lightning"
    api.add_notes_event(scene, shot, 12, "a bus passes")
    scene.timeline_markers.new("notes: the fog lifts", frame=40)
    scene.timeline_markers.new("notes: too late", frame=60)  # beyond the shot: not its event
    scene.timeline_markers.new("cut", frame=20)
    assert bpy.ops.oyster.notes_events_from_markers() == {"FINISHED"}
    events = [(12, "a bus passes"), (30, "rain starts, lightning"), (40, "the fog lifts")]
    assert api.notes_events(shot) == events and [e.frame for e in shot.notes_events] == [12, 30, 40]
    shot.keep_states = True
    request = api.shot_request(scene, shot)
    assert request["notes_events"] == [{"frame": f, "notes": n} for f, n in events] and request["save_states"]
    for frame, notes, message in ((60, "late", "the notes event at frame 60 lies outside the shot's frames 1-48"),
                                  (12, "again", "two notes events on frame 12: merge them into one"),
                                  (5, "  ", "the notes event at frame 5 has no notes"),
                                  (5, "x" * 10_001, "the notes event at frame 5: the notes are 10,001 characters")):
        with pytest.raises(ShotError, match=message):
            api.add_notes_event(scene, shot, frame, notes)
    assert api.notes_events(shot) == events  # a refusal changes nothing
    shot.notes_events[0].frame = 30  # edited in the panel's list into a clash: the panel says so
    assert api.shot_problem(scene, shot) == "two notes events on frame 30: merge them into one"
    shot.notes_events[0].frame = 12
    path = tmp_path / "notes.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    shot = api.find_shot(bpy.context.scene, "sh010")
    assert api.notes_events(shot) == events and shot.keep_states
    bpy.context.scene.oyster.active_shot_index = 0
    shot.active_notes_event_index = 1
    assert bpy.ops.oyster.remove_notes_event() == {"FINISHED"}
    assert api.notes_events(shot) == [events[0], events[2]]
    with pytest.raises(ShotError, match="no notes event at frame 30"):
        api.remove_notes_event(bpy.context.scene, shot, 30)


def test_output_root_rules(tmp_path):
    blend = str(tmp_path / "proj" / "scene.blend")
    assert api.output_root(blend, "") == tmp_path / "proj"
    assert api.output_root(blend, "//renders") == tmp_path / "proj" / "renders"
    assert api.output_root("", str(tmp_path / "out")) == tmp_path / "out"
    with pytest.raises(api.OutputError, match="save the .blend"):
        api.output_root("", "")
    with pytest.raises(api.OutputError, match="relative to the .blend file: save it first"):
        api.output_root("", "//renders")
    with pytest.raises(api.OutputError, match="must be absolute"):
        api.output_root(blend, "renders")


def test_generate_needs_a_shot_and_an_output_folder_before_anything_starts(oyster_scene, tmp_path):
    scene = oyster_scene
    with pytest.raises(RuntimeError, match="add a shot first"):
        bpy.ops.oyster.generate_take()
    api.add_shot(scene, "sh010", frame_start=1, frame_end=4, notes="dusk")
    assert bpy.ops.oyster.generate_take.poll()  # the checkout's .venv: Generate starts a runtime
    # unsaved, and no output folder in the preferences: an error report (bpy raises it), no runtime started
    with pytest.raises(RuntimeError, match="save the .blend file or set an output folder"):
        bpy.ops.oyster.generate_take()
    assert runtime_session.current() is None
    STATUS.set_error("connection refused")
    assert (panel_state(scene).status_text, panel_state(scene).status_icon) == ("connection refused", "ERROR")


def test_save_camera_track_writes_inside_the_output_folder(oyster_scene, tmp_path):
    scene = oyster_scene
    api.add_shot(scene, "../../etc", frame_start=1, frame_end=5)
    (tmp_path / "proj").mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "proj" / "proj.blend"))
    assert bpy.ops.oyster.save_camera_track() == {"FINISHED"}
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert [str(p) for p in written] == ["proj/oyster/etc/camera_track.json", "proj/proj.blend"]
    validate_track(json.loads((tmp_path / "proj" / "oyster" / "etc" / "camera_track.json").read_text()))
