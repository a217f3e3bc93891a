"""The Live sub-panel's buttons in the real bpy module, through a real runtime with the shipped oyster-tiny and
the shipped painter: Go Live flies the scene camera, frames come back, Stop, Keep as Shot makes the flight a
shot; with the painter every pose goes with the blockout's passes and the panel shows the frame rate."""
from __future__ import annotations

import time

import pytest

bpy = pytest.importorskip("bpy")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import oyster_blender  # noqa: E402
from oyster_blender import api, live_panel, runtime_session  # noqa: E402
from oyster_blender.live import LIVE_IMAGE  # noqa: E402
from oyster_blender.runtime_status import READY, STATUS  # noqa: E402
from timer_loop import run_timers  # noqa: E402

FRAMES = 4


@pytest.fixture
def live_scene(empty_scene, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the local runtime's state folder
    oyster_blender.register()
    scene = empty_scene
    scene.frame_start, scene.frame_end = 1, 24
    camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    api.add_shot(scene, "sh010", camera, 1, 24, notes="a street at dusk", resolution=(96, 54),
                 model="oyster-tiny")  # the first-frame path; the painter tests pick the painter
    try:
        yield scene
    finally:
        oyster_blender.unregister()


def test_go_live_fly_stop_and_keep_the_flight_as_a_shot(live_scene):
    scene = live_scene
    assert not bpy.ops.oyster.live_start.poll()  # no runtime yet: the button says to start one
    assert bpy.ops.oyster.start_runtime() == {"FINISHED"}
    session = runtime_session.current()
    run_timers(session.tick, lambda: STATUS.snapshot().state == READY, scene, timeout=120)
    scene.frame_set(5)
    assert bpy.ops.oyster.live_start() == {"FINISHED"}
    flight = live_panel._flight
    assert live_panel.flying() and bpy.app.timers.is_registered(live_panel._tick)

    def both() -> float:
        session.tick()
        scene.camera.location.x += 0.05  # the artist flies the camera
        return live_panel._tick()

    run_timers(both, lambda: len(flight.indices) >= FRAMES or flight.error is not None, scene, timeout=180)
    assert flight.error is None and flight.indices[:FRAMES] == list(range(FRAMES))
    assert bpy.data.images[LIVE_IMAGE].size[:] == (96, 54)
    assert bpy.ops.oyster.live_stop() == {"FINISHED"}
    assert not live_panel.flying() and live_panel._tick is None
    deadline = time.monotonic() + 10
    while flight.waiting and time.monotonic() < deadline:  # the pose in flight comes back (or is dropped)
        flight.tick()
        time.sleep(0.01)
    assert bpy.ops.oyster.live_keep() == {"FINISHED"}
    shot = api.active_shot(scene)
    assert (shot.camera, shot.frame_start, shot.frame_end) == (flight.camera, 5, 5 + flight.sent - 1)
    keys = flight.camera.animation_data.action.fcurves.find("location", index=0).keyframe_points
    assert len(keys) == flight.sent >= FRAMES
    assert (shot.notes, shot.resolution_x, shot.resolution_y) == ("a street at dusk", 96, 54)
    assert live_panel._flight is None and not bpy.ops.oyster.live_keep.poll()


def test_go_live_starts_from_the_blockout_in_view(live_scene, tmp_path):
    scene = live_scene
    cube = bpy.data.objects.new("Block", bpy.data.meshes.new("Block"))
    cube.data.from_pydata([(x, y, z) for x in (-2, 2) for y in (-1, 1) for z in (-7, -5)], [],
                          [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)])
    scene.collection.objects.link(cube)  # in front of the camera, which looks down -Z from the origin
    (tmp_path / "project").mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "project" / "live.blend"))  # the shot folder goes beside it
    reference = api.render_first_frame(scene, "sh010", tmp_path / "reference")  # the same view, rendered apart
    expected = cv2.imread(str(reference.rgb)).astype(np.float32)
    assert bpy.ops.oyster.start_runtime() == {"FINISHED"}
    session = runtime_session.current()
    run_timers(session.tick, lambda: STATUS.snapshot().state == READY, scene, timeout=120)
    assert bpy.ops.oyster.live_start() == {"FINISHED"}
    flight = live_panel._flight
    scratch = flight.scratch
    assert scratch.parent == tmp_path / "project" / "oyster" / "sh010" / ".first"
    assert flight.request["first_frame"]["rgb"].startswith(str(scratch))

    def both() -> float:
        session.tick()
        return live_panel._tick()

    run_timers(both, lambda: len(flight.indices) >= 2 or flight.error is not None, scene, timeout=180)
    assert bpy.ops.oyster.live_stop() == {"FINISHED"}
    assert flight.error is None and not scratch.exists()  # read by the runtime, then removed
    image = bpy.data.images[LIVE_IMAGE]
    pixels = np.empty(len(image.pixels), np.float32)
    image.pixels.foreach_get(pixels)
    shown = pixels.reshape(54, 96, -1)[::-1, :, 2::-1] * 255.0  # bottom-up RGBA -> top-down BGR
    # the still camera's frame is the blockout's picture (resampled to the model's size and back), not the
    # notes' dusk street
    assert np.abs(shown - expected).mean() < 12.0


def test_go_live_with_the_painter_paints_the_blockout_passes_and_shows_the_frame_rate(live_scene, tmp_path):
    scene = live_scene
    shot = api.active_shot(scene)
    shot.model = ""  # the runtime's default: the painter
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0.0, 0.0, -8.0))  # in front of the camera, sky around
    (tmp_path / "project").mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "project" / "live.blend"))  # the shot folder beside it
    scenes = sorted(s.name for s in bpy.data.scenes)
    assert bpy.ops.oyster.start_runtime() == {"FINISHED"}
    session = runtime_session.current()
    run_timers(session.tick, lambda: STATUS.snapshot().state == READY, scene, timeout=120)
    assert bpy.ops.oyster.live_start() == {"FINISHED"}
    flight = live_panel._flight
    assert (flight.model, flight.request["model"]) == ("oyster-painter", "oyster-painter")
    assert "first_frame" not in flight.request  # the passes of every pose replace the first frame
    folder = flight.blockout.folder
    assert folder.parent == tmp_path / "project" / "oyster" / "sh010" / ".live"

    def both() -> float:
        session.tick()
        scene.camera.location.x = min(0.2, scene.camera.location.x + 0.001)  # the artist flies the camera a bit
        return live_panel._tick()

    run_timers(both, lambda: len(flight.indices) >= FRAMES or flight.error is not None, scene, timeout=180)
    assert flight.error is None and flight.indices[:FRAMES] == list(range(FRAMES))
    assert len(flight.blockout.seconds) == flight.sent and flight.blockout.writes == 1  # the camera moved only
    (counts, _), (rate, icon) = live_panel.flight_lines(flight)[:2]
    assert icon == "TIME" and rate.endswith("frames/s at 96x54, painting the blockout") and flight.fps() > 0
    assert bpy.ops.oyster.live_stop() == {"FINISHED"}
    deadline = time.monotonic() + 30
    while flight._thread.is_alive() and time.monotonic() < deadline:
        flight.tick()
        time.sleep(0.01)
    assert not folder.exists() and sorted(s.name for s in bpy.data.scenes) == scenes  # scratch gone, no scene made
    image = bpy.data.images[LIVE_IMAGE]
    pixels = np.empty(len(image.pixels), np.float32)
    image.pixels.foreach_get(pixels)
    shown = pixels.reshape(54, 96, -1)[::-1, :, :3]
    box, sky = shown[22:32, 44:52].mean(axis=(0, 1)), shown[:8].mean(axis=(0, 1))  # the box spans ~18-36, 39-57
    assert np.abs(box - sky).max() > 0.1, (box, sky)  # the box is painted, not only the notes' sky


def test_go_live_with_the_painter_needs_notes(live_scene):
    scene = live_scene
    shot = api.active_shot(scene)
    shot.model, shot.notes = "oyster-painter", ""
    assert bpy.ops.oyster.start_runtime() == {"FINISHED"}
    session = runtime_session.current()
    run_timers(session.tick, lambda: STATUS.snapshot().state == READY, scene, timeout=120)
    with pytest.raises(RuntimeError, match="the painter needs scene notes"):
        bpy.ops.oyster.live_start()
    assert not live_panel.flying()
