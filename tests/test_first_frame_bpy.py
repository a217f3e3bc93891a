"""A shot's first frame rendered from the blockout (real bpy, Workbench): what the runtime's first_frame needs."""
from __future__ import annotations

import os

import pytest

bpy = pytest.importorskip("bpy")

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
import cv2  # noqa: E402
import numpy as np  # noqa: E402

import oyster_blender  # noqa: E402
from examples.example_scene import (EXAMPLE_MOVE, EXAMPLE_SEED, HEIGHT, WIDTH, build_example_scene,  # noqa: E402
                                    example_render_args)
from model_runtime.data.render import render_clip  # noqa: E402
from oyster_blender import api  # noqa: E402
from oyster_blender.core.errors import CameraError, OutputError  # noqa: E402


@pytest.fixture
def example_shot(tmp_path):
    """The data renderer's own frame 1 of the example shot (rendered first: it replaces the open file),
    then the example scene with shot 'example' over it."""
    clip = render_clip(EXAMPLE_SEED, EXAMPLE_MOVE, 1, WIDTH, HEIGHT, **example_render_args())
    oyster_blender.register()
    try:
        build_example_scene(tmp_path / "example.blend")
        scene = bpy.context.scene
        api.add_shot(scene, "example", scene.camera, 1, 48, resolution=(WIDTH, HEIGHT))
        yield scene, clip
    finally:
        oyster_blender.unregister()


def test_first_frame_is_rgb_png_and_metric_depth_like_the_data_renderer(example_shot, tmp_path):
    scene, clip = example_shot
    scene.frame_set(17)
    settings = (scene.render.engine, scene.render.filepath, scene.use_nodes, len(bpy.data.scenes))
    first = api.render_first_frame(scene, "example", tmp_path)
    assert first.folder.parent == tmp_path / "oyster" / "example" / ".first"
    rgb = cv2.imread(str(first.rgb), cv2.IMREAD_UNCHANGED)
    depth = cv2.imread(str(first.depth), cv2.IMREAD_UNCHANGED)
    assert first.in_view and rgb.dtype == np.uint8 and rgb.shape == (HEIGHT, WIDTH, 3)
    assert depth.dtype == np.float32 and depth.shape[:2] == (HEIGHT, WIDTH)
    depth = depth[..., 0]  # the runtime reads the first channel
    truth = clip.depth[0]  # metres, inf for sky
    sky, true_sky = depth == 0, ~np.isfinite(truth)
    assert 0.02 < true_sky.mean() < 0.9 and (sky == true_sky).mean() > 0.97  # sky where the renderer has sky
    both = ~sky & ~true_sky
    assert np.median(np.abs(depth[both] - truth[both]) / truth[both]) < 0.02  # the same metres
    # the artist's scene is as it was: same frame, engine, output and compositor, no scene left behind
    assert scene.frame_current == 17
    assert (scene.render.engine, scene.render.filepath, scene.use_nodes, len(bpy.data.scenes)) == settings
    assert api.shot_request(scene, "example", tmp_path, first)["first_frame"] == {"rgb": str(first.rgb),
                                                                                  "depth": str(first.depth)}


def test_generate_starts_from_the_blockout_when_anything_is_in_view(example_shot, tmp_path):
    scene, _ = example_shot
    assert api.find_shot(scene, "example").use_blockout  # on for a new shot
    first = api.blockout_first_frame(scene, "example", tmp_path / "layout")
    assert first is not None and first.rgb.is_file() and first.depth.is_file()
    for obj in scene.objects:
        obj.hide_render = obj.type != "CAMERA"  # an empty backdrop: the notes alone draw more than that
    assert api.blockout_first_frame(scene, "example", tmp_path / "empty") is None
    assert not [p for p in (tmp_path / "empty").rglob("*") if p.is_file()]


def test_first_frame_refusals_write_nothing(example_shot, tmp_path):
    scene, _ = example_shot
    scene.camera.data.type = "ORTHO"
    with pytest.raises(CameraError, match="orthographic"):
        api.render_first_frame(scene, "example", tmp_path)
    scene.camera.data.type = "PERSP"
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the output folder should be")
    with pytest.raises(OutputError, match="cannot write the first frame into"):
        api.render_first_frame(scene, "example", blocked)
    assert not (tmp_path / "oyster").exists()
