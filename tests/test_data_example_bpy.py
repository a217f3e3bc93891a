"""The bundled example scene builds, saves and reloads as a shot-ready .blend."""
from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from examples.example_scene import FPS, FRAMES, build_example_scene  # noqa: E402


def test_example_scene_saves_a_camera_move_with_notes(tmp_path: Path) -> None:
    path = tmp_path / "example.blend"
    build_example_scene(path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end, scene.render.fps) == (1, FRAMES, FPS)
    assert "street" in scene["oyster_notes"] and "dusk" in scene["oyster_notes"]
    cam = scene.camera
    scene.frame_set(1)
    start = cam.matrix_world.translation.copy()
    scene.frame_set(FRAMES)
    assert (cam.matrix_world.translation - start).length > 1.0  # the dolly moves
    assert any(img.packed_file for img in bpy.data.images)  # textures travel inside the .blend
