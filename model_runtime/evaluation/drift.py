"""Drift over a long rollout: does the picture keep its colours and its layout? (docs/evaluation.md)

A generator is rolled out for DRIFT_FRAMES frames along a validation clip's
`long_track` (the same move, continued), starting from the clip's first frame.
There is no ground truth that far, so every frame is compared with frame 0:

- colour shift(f) = mean over RGB channels of |mean_c(f) - mean_c(f0)| + |std_c(f) - std_c(f0)|,
  in 8-bit levels (0 for a frame with the same colour statistics);
- layout contrast = std(thumbnail(f_last)) / std(thumbnail(f0)), the thumbnail
  being 16x9 luminance (area average): about 1 when the frame keeps its large
  shapes, towards 0 when a rollout collapses into a flat or smeared picture.

A frozen picture scores perfectly on both, so drift is read next to PSNR and
camera following, never alone.
"""
from __future__ import annotations

import cv2
import numpy as np

from model_runtime.data.shards import Clip
from model_runtime.evaluation.harness import generate, truncate_track
from model_runtime.models.interface import FrameGenerator, ShotInput

DRIFT_FRAMES = 300
THUMBNAIL = (16, 9)  # width, height


def colour_shift(frame: np.ndarray, first: np.ndarray) -> float:
    """Mean absolute difference of the per-channel mean and standard deviation, in 8-bit levels."""
    f, f0 = frame.astype(np.float64), first.astype(np.float64)
    return float(np.abs(f.mean((0, 1)) - f0.mean((0, 1))).mean() + np.abs(f.std((0, 1)) - f0.std((0, 1))).mean())


def layout_contrast(frame: np.ndarray) -> float:
    """Standard deviation of the 16x9 luminance thumbnail: how much large-scale structure a frame has."""
    thumb = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), THUMBNAIL, interpolation=cv2.INTER_AREA)
    return float(np.std(thumb.astype(np.float64)))


def frame_drift(frames: list[np.ndarray]) -> dict[str, float]:
    """Drift of a rollout against its frame 0 (the measures above, last frame and worst frame)."""
    shifts = [colour_shift(f, frames[0]) for f in frames]
    return {"colour_shift_last": shifts[-1], "colour_shift_max": float(max(shifts)),
            "layout_contrast_ratio": layout_contrast(frames[-1]) / max(layout_contrast(frames[0]), 1e-6)}


def rollout_drift(generator: FrameGenerator, clip: Clip, seed: int = 0, n: int = DRIFT_FRAMES) -> dict[str, float]:
    """Roll a generator out for n frames of the clip's long track from its first frame; drift and frames/s."""
    if clip.long_track is None:
        raise ValueError("drift needs a validation clip (with a long_track)")
    track = truncate_track(clip.long_track, n)
    frames, seconds = generate(generator, ShotInput(clip.caption, track, seed, clip.rgb[0], clip.depth[0]), n)
    return {**frame_drift(frames), "fps": n / seconds}
