"""Evaluation metrics and baselines on cases with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from model_runtime.evaluation.camera_error import relative_pose_error
from model_runtime.evaluation.metrics import PSNR_CAP, psnr, ssim
from model_runtime.geometry import intrinsics_matrix, splat
from model_runtime.models.baselines import CopyFirstFrame, DepthWarp
from model_runtime.models.interface import GeneratorInputError, ShotInput

W, H = 192, 108
K = intrinsics_matrix(150.0, 150.0, W / 2, H / 2)


def textured_world(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A dense cloud of coloured points on a wall 8 m ahead and a floor, with blotchy texture."""
    rng = np.random.default_rng(seed)
    n = 400_000
    wall = np.stack([rng.uniform(-12, 12, n), rng.uniform(-6, 2, n), np.full(n, 8.0) + rng.uniform(0, 3, n)], 1)
    floor = np.stack([rng.uniform(-12, 12, n), np.full(n, 2.0), rng.uniform(2, 12, n)], 1)
    points = np.concatenate([wall, floor]).astype(np.float32)
    cells = (np.floor(points * 1.5).astype(np.int64) * [7, 13, 31]).sum(1)
    palette = rng.integers(0, 255, (4096, 3))
    return points, palette[cells % 4096].astype(np.uint8)


def view(points, colors, c2w) -> np.ndarray:
    image, _, valid = splat(points, colors, K, c2w, W, H)
    return image


def pose(yaw_deg: float = 0.0, t=(0.0, 0.0, 0.0)) -> np.ndarray:
    a = np.radians(yaw_deg)
    c2w = np.eye(4)
    c2w[:3, :3] = [[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]
    c2w[:3, 3] = t
    return c2w


def test_psnr_and_ssim_known_answers():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    assert psnr(a, a) == PSNR_CAP and ssim(a, a) == pytest.approx(1.0)
    b = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    mse = np.mean((a.astype(float) - b) ** 2)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / mse))
    shifted = np.roll(a, 3, axis=1)
    assert ssim(a, shifted) < 0.2 < ssim(a, b)
    with pytest.raises(ValueError, match="shape"):
        psnr(a, a[:10])


@pytest.fixture(scope="module")
def world():
    return textured_world()


def test_known_rotation_is_recovered(world):
    a, b = view(*world, pose(0)), view(*world, pose(3.0))
    rel = np.linalg.inv(pose(0)) @ pose(3.0)
    assert relative_pose_error(a, b, K, rel).rotation_deg < 1.0
    wrong = np.linalg.inv(pose(0)) @ pose(-3.0)
    assert relative_pose_error(a, b, K, wrong).rotation_deg > 4.0


def test_baselines(world):
    points, colors = world
    frames = []
    for i, c2w in enumerate([pose(0), pose(1.0, (0.1, 0, 0)), pose(2.0, (0.2, 0, 0))]):
        rel = np.eye(4) if i == 0 else np.linalg.inv(frames[-1][1]) @ c2w
        frames.append(({"frame": i + 1, "c2w": c2w.tolist(), "fx": K[0, 0], "fy": K[1, 1], "cx": K[0, 2],
                        "cy": K[1, 2], "rel": rel.tolist()}, c2w))
    track = {"version": 1, "width": W, "height": H, "fps": 24.0, "frame_start": 1, "frame_end": 3, "scale": 1.0,
             "frames": [f for f, _ in frames]}
    rgb, depth, _ = splat(points, colors, K, pose(0), W, H)
    shot = ShotInput("a wall", track, 0, rgb, depth)
    copies = CopyFirstFrame().start(shot)
    assert all(np.array_equal(copies.step(), rgb) for _ in range(3))
    warp = DepthWarp().start(shot)
    warped = [warp.step() for _ in range(3)]
    truth = view(points, colors, pose(2.0, (0.2, 0, 0)))
    assert psnr(warped[2], truth) > psnr(rgb, truth) + 3  # geometry follows the camera, a still does not
    warp.restore(1)
    assert np.array_equal(warp.step(), warped[1])
    with pytest.raises(GeneratorInputError, match="needs the shot's first frame"):
        DepthWarp().start(ShotInput("a wall", track, 0))
    with pytest.raises(GeneratorInputError, match="needs the first frame's depth"):
        DepthWarp().start(ShotInput("a wall", track, 0, rgb))
