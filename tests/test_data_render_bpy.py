"""The data renderer in real bpy: a small dataset renders, is deterministic, resumes, and is geometrically right."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from model_runtime.data import cli  # noqa: E402
from model_runtime.data.render import render_clip, render_frames  # noqa: E402
from model_runtime.data.scenes import BuiltScene, Look  # noqa: E402
from model_runtime.data.shards import load_clips  # noqa: E402
from oyster_blender.passes import camera_track  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def _render(out: Path, *extra: str) -> subprocess.CompletedProcess:
    """The command as it is run: its own process (it refuses one that has imported bpy, as this one has)."""
    return subprocess.run([sys.executable, "-m", "model_runtime", "data", "render", "--out", str(out),
                           "--scenes", "2", "--frames", "4", "--res", "64x36", "--seed", "3", "--workers", "2",
                           "--shard-size", "1", *extra], cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    done = _render(out)
    assert done.returncode == 0, done.stderr
    return out


def test_small_dataset_renders(tiny: Path) -> None:
    clips = load_clips(tiny)
    assert len(clips) == 2
    for clip in clips:
        assert clip.rgb.shape == (4, 36, 64, 3) and clip.rgb.dtype == np.uint8
        assert clip.depth.shape == (4, 36, 64) and clip.depth.dtype == np.float32
        assert clip.rgb.std() > 2  # a picture, not a blank frame (clip 2 is a dark night field)
        assert len(clip.track["frames"]) == 4 and clip.track["width"] == 64
        assert clip.labels["move"] == clip.move and clip.caption and clip.long_track is None
        finite = clip.depth[np.isfinite(clip.depth)]
        assert finite.size and finite.min() > 0


def test_same_seed_gives_identical_shards_and_reruns_resume(tiny: Path, tmp_path: Path) -> None:
    assert _render(tmp_path).returncode == 0
    for a in sorted(tiny.glob("shard_*.safetensors")):
        assert a.read_bytes() == (tmp_path / a.name).read_bytes()
    before = {p: p.stat().st_mtime_ns for p in tiny.glob("shard_*")}
    again = _render(tiny)
    assert again.returncode == 0 and "2 already done" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in tiny.glob("shard_*")} == before
    changed = _render(tiny, "--fps", "30")
    assert changed.returncode == 1 and "other parameters" in changed.stderr


def test_render_refuses_a_process_that_imported_bpy(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    with pytest.raises(SystemExit, match="has not imported bpy"):
        cli.run(parser.parse_args(["render", "--out", str(tmp_path), "--scenes", "1"]))
    assert not list(tmp_path.iterdir())


def test_depth_is_z_along_the_optical_axis(tmp_path: Path) -> None:
    """A wall 5 m in front of a wide lens: z-depth is 5 everywhere, radial distance would grow to the corners."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 64, 36
    mesh = bpy.data.meshes.new("wall")
    mesh.from_pydata([(-50, 5, -50), (50, 5, -50), (50, 5, 50), (-50, 5, 50)], [], [(0, 1, 2, 3)])
    scene.collection.objects.link(bpy.data.objects.new("wall", mesh))
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    cam.data.lens = 18
    cam.rotation_euler = (np.pi / 2, 0, 0)  # look along +y
    scene.collection.objects.link(cam)
    scene.camera = cam
    look = Look((0.3, 0.5, 0.8), (0.7, 0.8, 0.9), (0, 0, 1), 0.0, False, False, 0.0, 0)
    built = BuiltScene(None, scene, cam, look)  # type: ignore[arg-type]  # no layout: a plain test scene
    scene.world = bpy.data.worlds.new("w")
    assert camera_track(scene, cam, 1, 1)["frames"][0]["fx"] == pytest.approx(18 / 36 * 64)
    _, depth = render_frames(built, range(1, 2), tmp_path)
    assert np.allclose(depth, 5.0, atol=2e-3)


def _warp_error(rgb0: np.ndarray, depth0: np.ndarray, f0: dict, rgb1: np.ndarray, f1: dict) -> float:
    """Unproject frame 0 with its depth and camera, project into frame 1, mean colour difference."""
    h, w = depth0.shape
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    ok = np.isfinite(depth0)
    cam0 = np.stack([(u - f0["cx"]) / f0["fx"] * depth0, (v - f0["cy"]) / f0["fy"] * depth0, depth0], -1)[ok]
    c2w0, c2w1 = np.array(f0["c2w"]), np.array(f1["c2w"])
    world = cam0 @ c2w0[:3, :3].T + c2w0[:3, 3]
    cam1 = (world - c2w1[:3, 3]) @ c2w1[:3, :3]
    z = cam1[:, 2]
    x = cam1[:, 0] / z * f1["fx"] + f1["cx"] - 0.5  # pixel index coordinates for remap
    y = cam1[:, 1] / z * f1["fy"] + f1["cy"] - 0.5
    inside = (z > 0) & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    assert inside.mean() > 0.5
    sampled = cv2.remap(rgb1.astype(np.float32), x[inside].astype(np.float32)[None],
                        y[inside].astype(np.float32)[None], cv2.INTER_LINEAR)[0]
    return float(np.abs(sampled - rgb0[ok][inside]).mean())


@pytest.mark.parametrize("seed, move", [(7, "truck"), (2, "orbit"), (4, "pan")])
def test_stored_camera_reprojects_depth_onto_the_next_frame(seed: int, move: str) -> None:
    clip = render_clip(seed, move, 3, 192, 108)
    frames = clip.meta["track"]["frames"]
    right = _warp_error(clip.rgb[0], clip.depth[0], frames[0], clip.rgb[2], frames[2])
    wrong_pose = _warp_error(clip.rgb[0], clip.depth[0], frames[0], clip.rgb[2], frames[0])
    wrong_lens = _warp_error(clip.rgb[0], clip.depth[0], frames[0], clip.rgb[2],
                             {**frames[2], "fx": frames[2]["fx"] * 1.1, "fy": frames[2]["fy"] * 1.1})
    assert right < 3.0  # of 255: texture-level agreement
    assert right < 0.6 * wrong_pose and right < 0.8 * wrong_lens
