"""PSNR and SSIM on cases with known answers (identical frames, a known offset, a known shift)."""
from __future__ import annotations

import numpy as np
import pytest

from eval_scenes import H, W, pose, render
from model_runtime.evaluation.metrics import PSNR_CAP, psnr, ssim


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return render(pose(10.0))[0]


def test_identical_frames_give_the_cap_and_one(frame):
    assert psnr(frame, frame) == PSNR_CAP == 60.0                         # not inf: means over frames stay finite
    assert ssim(frame, frame) == pytest.approx(1.0, abs=1e-12)


def test_a_known_offset(frame):
    brighter = np.clip(frame.astype(np.int64) + 10, 0, 255).astype(np.uint8)
    mse = np.mean((brighter.astype(np.float64) - frame) ** 2)
    assert psnr(frame, brighter) == pytest.approx(10 * np.log10(255 ** 2 / mse))
    flat = np.full((H, W, 3), 100, np.uint8)
    assert psnr(flat, flat + 10) == pytest.approx(10 * np.log10(255 ** 2 / 100))  # 28.13 dB exactly
    assert psnr(flat, flat + 1) == pytest.approx(48.1308, abs=1e-4)
    # constant frames: no variance, so SSIM is the luminance term (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
    c1 = (0.01 * 255) ** 2
    assert ssim(flat, flat + 10) == pytest.approx((2 * 100 * 110 + c1) / (100 ** 2 + 110 ** 2 + c1))
    assert ssim(frame, brighter) > 0.95                                   # structure kept, luminance shifted


def test_a_known_shift(frame):
    shifted = np.roll(frame, 3, axis=1)                                   # 3 pixels to the right, wrapped
    expected = 10 * np.log10(255 ** 2 / np.mean((frame.astype(np.float64) - shifted) ** 2))
    assert psnr(frame, shifted) == pytest.approx(expected)
    assert ssim(frame, shifted) < ssim(frame, np.roll(frame, 1, axis=1)) < 0.95
    assert ssim(frame, shifted) == pytest.approx(ssim(shifted, frame))    # symmetric


def test_frames_of_different_sizes_are_refused(frame):
    for metric in (psnr, ssim):
        with pytest.raises(ValueError, match="differ in shape"):
            metric(frame, frame[:10])
