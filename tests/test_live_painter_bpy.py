"""Go Live with the painter in the real bpy module, through a real runtime process and the shipped checkpoint:
the flight writes the blockout's triangles once (oyster_blender.blockout_mesh.LiveBlockout) and again when
the artist moves an object, the runtime draws the passes at each pose, the painted frames follow the
blockout (a box's silhouette from Workbench's depth is in the picture, also after the box moved), the
memory gives the same picture when the camera comes back, and the artist's scene is left as it was.

bpy as a module runs no event loop, so the test loop calls the recorder's `tick()`.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from oyster_blender.client import RuntimeClient  # noqa: E402
from oyster_blender.live import LIVE_IMAGE, LiveRecorder  # noqa: E402
from oyster_blender.passes import render_passes  # noqa: E402
from runtime_fixtures import Runtime, cv2  # noqa: E402

WIDTH, HEIGHT = 96, 54
NOTES = "a quiet courtyard at noon, clear blue sky"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("live_painter")
    server = Runtime(root / "state", root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def box_scene(oyster_scene):
    """A 2 m box 8 m in front of the scene camera (which looks down +Y from y = -10), nothing else: sky."""
    scene = oyster_scene
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0.0, -2.0, 2.0))
    scene.camera.rotation_euler = (math.radians(90), 0.0, 0.0)
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    return scene


def shown() -> np.ndarray:
    """The `Oyster Live` image as uint8 RGB (H, W, 3), row 0 at the top."""
    image = bpy.data.images[LIVE_IMAGE]
    pixels = np.empty(len(image.pixels), np.float32)
    image.pixels.foreach_get(pixels)
    return np.round(pixels.reshape(HEIGHT, WIDTH, 4)[::-1, :, :3] * 255).astype(np.uint8)


def fly(recorder: LiveRecorder, poses: list[tuple[float, float]], before=None) -> list[np.ndarray]:
    """Put the source camera at each (x, yaw degrees) in turn, one pose per frame; the frame shown for each.

    The recorder sends the next pose in the tick that shows the last frame, so the camera is put at the
    next pose before every tick; `before(sent)`, when given, is called then too (to change the scene)."""
    source, frames = recorder.source, []
    deadline = time.monotonic() + 240
    while len(frames) < len(poses):
        assert recorder.error is None and time.monotonic() < deadline, recorder.error
        x, yaw = poses[min(recorder.sent, len(poses) - 1)]
        if before is not None:
            before(recorder.sent)
        source.location = (x, -10.0, 2.0)
        source.rotation_euler = (math.radians(90), 0.0, math.radians(yaw))
        recorder.tick()
        if len(recorder.indices) > len(frames):
            frames.append(shown())
        time.sleep(0.002)
    return frames


def silhouette(scene: bpy.types.Scene, folder: Path) -> np.ndarray:
    """Where the box is, from its depth rendered apart by the one passes renderer."""
    files = render_passes(scene, scene.camera, [scene.frame_current], (WIDTH, HEIGHT), folder)
    depth = cv2.imread(str(files.depth(scene.frame_current)), cv2.IMREAD_UNCHANGED)[..., 0]
    return depth > 0


def test_live_painter_follows_the_blockout_and_remembers_it(box_scene, runtime: Runtime, tmp_path):
    scene = box_scene
    scenes_before = sorted(s.name for s in bpy.data.scenes)
    settings = (scene.render.engine, scene.render.filepath, scene.use_nodes, scene.frame_current)
    recorder = LiveRecorder(scene, scene.camera, RuntimeClient(runtime.url, runtime.token), notes=NOTES,
                            size=(WIDTH, HEIGHT), blockout_parent=runtime.output_root / "live")
    assert recorder.model == "oyster-painter"  # the live default
    recorder.start(timer=False)
    folder = recorder.blockout.folder
    # start at the left, pan the box across the frame to the right, come back to the start
    poses = [(-1.0, 0.0), (-0.5, 0.0), (0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (0.5, 0.0), (0.0, 0.0), (-0.5, 0.0),
             (-1.0, 0.0)]
    try:
        frames = fly(recorder, poses)
    finally:
        recorder.stop()
    deadline = time.monotonic() + 30
    while recorder._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)  # the session closes after the frame in flight
    assert recorder.error is None and recorder.indices[:len(poses)] == list(range(len(poses)))
    assert len(recorder.blockout.seconds) == recorder.sent
    assert recorder.blockout.writes == 1  # only the camera moved: the blockout was written once
    assert not folder.exists()  # the scratch folder is gone
    assert recorder.blockout._updated not in bpy.app.handlers.depsgraph_update_post  # and the handlers
    assert sorted(s.name for s in bpy.data.scenes) == scenes_before
    assert (scene.render.engine, scene.render.filepath, scene.use_nodes, scene.frame_current) == settings
    assert recorder.fps() > 0

    # the painted frame follows the blockout: at the right-hand pose the box's silhouette (from the depth at
    # that pose) is where the picture has the box's colour, and not where it was at the left-hand pose
    for index in (0, 4):
        scene.camera.location.x = poses[index][0]
        mask = silhouette(scene, tmp_path / f"mask_{index}")
        assert 0.05 < mask.mean() < 0.6
        picture = frames[index].astype(np.float32)
        inside, outside = picture[mask].mean(axis=0), picture[~mask].mean(axis=0)
        assert np.abs(inside - outside).max() > 25, (inside, outside)
        nearer_inside = np.linalg.norm(picture - inside, axis=2) < np.linalg.norm(picture - outside, axis=2)
        agreement = (nearer_inside == mask).mean()
        assert agreement > 0.9, agreement
        if index == 0:
            left_mask = mask
    assert (left_mask != mask).mean() > 0.05  # the box moved in the frame, and the picture with it

    # the memory: back at the first pose, the same picture; in between it was another
    back = np.abs(frames[-1].astype(np.int16) - frames[0]).mean()
    away = np.abs(frames[4].astype(np.int16) - frames[0]).mean()
    assert back < 2.0 and away > 10 * max(back, 0.5), (back, away)


def test_live_painter_draws_an_object_where_the_artist_moves_it(box_scene, runtime: Runtime, tmp_path):
    """The artist moves the box mid-flight: the blockout is written again and the painted frame has the box
    where Workbench now draws it, not where it was (the memory keeps no painted copy of it)."""
    scene = box_scene
    box = next(obj for obj in scene.objects if obj.type == "MESH")
    recorder = LiveRecorder(scene, scene.camera, RuntimeClient(runtime.url, runtime.token), notes=NOTES,
                            size=(WIDTH, HEIGHT), blockout_parent=runtime.output_root / "live")
    recorder.start(timer=False)

    def move_box(sent: int) -> None:
        if sent >= 3 and box.location.x != 2.5:  # once: setting a location tags an update even if unchanged
            box.location.x = 2.5

    try:
        frames = fly(recorder, [(0.0, 0.0)] * 6, before=move_box)
    finally:
        recorder.stop()
    assert recorder.error is None
    assert recorder.blockout.writes == 2  # once at the start, once after the box moved
    scene.camera.location = recorder.source.location
    scene.camera.rotation_euler = recorder.source.rotation_euler
    moved = silhouette(scene, tmp_path / "moved")
    box.location.x = 0.0
    before = silhouette(scene, tmp_path / "before")
    assert (moved != before).mean() > 0.05
    picture, earlier = frames[-1].astype(np.float32), frames[0].astype(np.float32)
    for mask, frame in ((moved, picture), (before, earlier)):
        inside, outside = frame[mask].mean(axis=0), frame[~mask].mean(axis=0)
        nearer_inside = np.linalg.norm(frame - inside, axis=2) < np.linalg.norm(frame - outside, axis=2)
        assert (nearer_inside == mask).mean() > 0.9
