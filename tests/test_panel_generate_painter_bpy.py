"""The panel's Generate on a shot with a blockout paints a take with the shipped painter, in the real bpy module
through a real runtime process (issue 14 item 5): the runtime renders every frame's passes from a saved copy
of the file in its own child Blender, the painter paints them, and the painted frames show the blockout
(a box's silhouette from the take's own depth pass is in each picture, and moves with the camera).
"""
from __future__ import annotations

import json
import math
import os

import pytest

bpy = pytest.importorskip("bpy")

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
import cv2  # noqa: E402
import numpy as np  # noqa: E402

import oyster_blender  # noqa: E402
from oyster_blender import api, runtime_session  # noqa: E402
from oyster_blender.runtime_status import READY, STATUS  # noqa: E402
from oyster_blender.timeline import take_strip  # noqa: E402
from oyster_blender.ui import panel_state  # noqa: E402
from timer_loop import run_timers  # noqa: E402

WIDTH, HEIGHT = 96, 54
FRAMES = 3


@pytest.fixture
def box_project(empty_scene, tmp_path, monkeypatch):
    """A 2 m box on the sky, a camera trucking right past it over frames 1-3, saved as project/box.blend with
    the shot 'box' on the runtime's default model (the painter), Start from Blockout on."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    oyster_blender.register()
    scene = empty_scene
    scene.frame_start, scene.frame_end = 1, FRAMES
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0.0, 0.0, 2.0))
    camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    camera.rotation_euler = (math.radians(90), 0.0, 0.0)  # looks down +Y at the box
    for frame, x in ((1, -1.0), (FRAMES, 1.0)):
        camera.location = (x, -9.0, 2.0)
        camera.keyframe_insert("location", frame=frame)
    shot = api.add_shot(scene, "box", camera, 1, FRAMES, notes="a quiet courtyard at noon, clear blue sky",
                        resolution=(WIDTH, HEIGHT), model="")
    assert shot.use_blockout and api.paints_blockout(shot, scene)
    (tmp_path / "project").mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "project" / "box.blend"))
    try:
        yield scene
    finally:
        oyster_blender.unregister()  # stops the session and its runtime


def test_generate_from_the_panel_paints_the_blockout_with_the_painter(box_project, tmp_path):
    scene = box_project
    assert bpy.ops.oyster.generate_take() == {"FINISHED"}  # starts the runtime, sends the take once it is ready
    session = runtime_session.current()

    def done() -> bool:
        return any(t.name == "take_001" and t.state in ("done", "failed") for t in runtime_session.TAKES.takes.values())

    run_timers(session.tick, done, scene, timeout=300)
    assert STATUS.snapshot().state == READY and panel_state(scene).take_problem is None, panel_state(scene)
    take = tmp_path / "project" / "oyster" / "box" / "take_001"
    record = json.loads((take / "take.json").read_text())
    assert record["status"] == "done" and record["model"] == "oyster-painter"
    assert len(take_strip(scene, "box", "take_001").elements) == FRAMES
    masks = []
    for frame in range(1, FRAMES + 1):
        depth = cv2.imread(str(take / "inputs" / "passes" / f"depth_{frame:04d}.exr"), cv2.IMREAD_UNCHANGED)[..., 0]
        mask = depth > 0  # the box; sky around it
        assert 0.05 < mask.mean() < 0.6
        picture = cv2.imread(str(take / f"{frame:04d}.png")).astype(np.float32)
        assert picture.shape == (HEIGHT, WIDTH, 3)
        inside, outside = picture[mask].mean(axis=0), picture[~mask].mean(axis=0)
        assert np.abs(inside - outside).max() > 25, (frame, inside, outside)
        nearer_inside = np.linalg.norm(picture - inside, axis=2) < np.linalg.norm(picture - outside, axis=2)
        assert (nearer_inside == mask).mean() > 0.9, frame
        masks.append(mask)
    assert (masks[0] != masks[-1]).mean() > 0.05  # the box moved across the frame, and the picture with it
    assert not any((tmp_path / "project" / "oyster" / "box" / api.BLOCKOUT_FOLDER).iterdir())  # copy removed
