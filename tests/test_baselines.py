"""The two baselines (copy-first-frame, depth-warp) through the FrameGenerator interface."""
from __future__ import annotations

import numpy as np
import pytest

from eval_scenes import FX, H, K, W, pose, render, track
from model_runtime.evaluation.metrics import psnr
from model_runtime.models.baselines import CopyFirstFrame, DepthWarp
from model_runtime.models.interface import GeneratorInputError, ShotInput
from model_runtime.models.registry import get_generator

POSES = [pose(0.0), pose(1.0, t=(0.1, 0, 0.2)), pose(2.0, -1.0, (0.2, 0, 0.4)), pose(3.0, -1.5, (0.3, 0.05, 0.6))]


def shot(poses: list[np.ndarray] = POSES) -> ShotInput:
    rgb, depth = render(poses[0])
    return ShotInput("a wall and a floor", track(poses), 0, rgb, depth)


def test_registry_names_the_baselines():
    assert isinstance(get_generator("copy-first-frame"), CopyFirstFrame)
    assert isinstance(get_generator("depth-warp"), DepthWarp)
    assert CopyFirstFrame.checkpoint_sha256 is None and DepthWarp.checkpoint_sha256 is None


def test_copy_first_frame_repeats_the_first_frame():
    s = shot()
    session = CopyFirstFrame().start(s)
    frames = [session.step() for _ in POSES]
    assert all(np.array_equal(f, s.first_rgb) for f in frames) and session.frame_index == len(POSES)
    frames[0][:] = 0                                                      # frames are copies, not the input
    assert s.first_rgb.any()


def test_depth_warp_follows_the_camera():
    s = shot()
    session = DepthWarp().start(s)
    frames = [session.step() for _ in POSES]
    assert np.array_equal(frames[0], s.first_rgb)
    for frame, c2w in zip(frames[1:], POSES[1:]):
        truth, _ = render(c2w)
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
        assert psnr(frame, truth) > psnr(s.first_rgb, truth) + 3        # geometry follows, a still does not


def test_depth_warp_exact_shift_and_holes_from_the_nearest_pixels():
    rgb = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = np.full((H, W), 4.0, np.float32)
    moved = pose(t=(6 * 4.0 / FX, 0, 0))                                  # 6 pixels of disparity
    session = DepthWarp().start(ShotInput("a plane", track([np.eye(4), moved]), 0, rgb, depth))
    session.step()
    frame = session.step()
    assert np.array_equal(frame[:, :W - 6], rgb[:, 6:])
    assert np.array_equal(frame[:, W - 6:], np.repeat(rgb[:, -1:], 6, axis=1))  # the revealed strip: nearest column


def test_depth_warp_keeps_the_sky_at_infinity():
    """Sky (inf depth) moves with the camera's rotation only: a sideways move leaves it in place."""
    rgb = np.random.default_rng(2).integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = np.full((H, W), 4.0, np.float32)
    depth[: H // 2] = np.inf
    moved = pose(t=(6 * 4.0 / FX, 0, 0))
    session = DepthWarp().start(ShotInput("sky over a plane", track([np.eye(4), moved]), 0, rgb, depth))
    session.step()
    frame = session.step()
    assert np.array_equal(frame[: H // 2], rgb[: H // 2])
    assert np.array_equal(frame[H // 2:, :W - 6], rgb[H // 2:, 6:])


def test_snapshot_and_restore_repeat_exactly():
    for generator in (CopyFirstFrame(), DepthWarp()):
        session = generator.start(shot())
        session.step()
        state = session.snapshot()
        ahead = [session.step() for _ in range(3)]
        assert session.frame_index == 4
        session.restore(state)
        assert session.frame_index == 1
        assert all(np.array_equal(session.step(), f) for f in ahead)
        with pytest.raises(IndexError, match="no more frames"):
            session.step()


@pytest.mark.parametrize("generator", [CopyFirstFrame(), DepthWarp()], ids=lambda g: g.name)
def test_baselines_need_the_first_frame(generator):
    s = shot()
    with pytest.raises(GeneratorInputError, match=f"{generator.name} needs the shot's first frame"):
        generator.start(ShotInput(s.notes, s.track, 0))
    with pytest.raises(GeneratorInputError, match=r"uint8 RGB of 192x108 \(H, W, 3\), got uint8 \(54, 96, 3\)"):
        generator.start(ShotInput(s.notes, s.track, 0, s.first_rgb[::2, ::2], s.first_depth))
    with pytest.raises(GeneratorInputError, match="uint8 RGB"):
        generator.start(ShotInput(s.notes, s.track, 0, s.first_rgb.astype(np.float32), s.first_depth))


def test_depth_warp_needs_the_depth():
    s = shot()
    with pytest.raises(GeneratorInputError, match="depth-warp needs the first frame's depth at 192x108.*got none"):
        DepthWarp().start(ShotInput(s.notes, s.track, 0, s.first_rgb))
    with pytest.raises(GeneratorInputError, match=r"got shape \(54, 96\)"):
        DepthWarp().start(ShotInput(s.notes, s.track, 0, s.first_rgb, s.first_depth[::2, ::2]))
    CopyFirstFrame().start(ShotInput(s.notes, s.track, 0, s.first_rgb))  # copying needs no depth
