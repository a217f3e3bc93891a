"""The evaluation harness: one procedure for every model and baseline (docs/evaluation.md).

For each validation clip the generator gets the caption (as scene notes), the
camera track and, by default, the first frame (RGB and z-depth); it generates
the clip's frames, which are compared with Blender's ground truth: PSNR/SSIM
at several horizons and the camera-following error against the floor that the
same estimator reaches on the ground truth. Drift (drift.py) and notes
adherence (probe.py) are measured separately on the same clips.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from model_runtime.data.shards import Clip
from model_runtime.evaluation.camera_error import PoseError, track_errors
from model_runtime.evaluation.metrics import psnr, ssim
from model_runtime.models.interface import FrameGenerator, ShotInput

HORIZONS = (8, 16, 32)
PROBE_FRAMES = 8
"""Notes probe: the last PROBE_FRAMES frames of each evaluated clip, generated and ground truth."""


def truncate_track(track: dict, n: int) -> dict:
    """The first n frames of a wire-format track (frame_end adjusted)."""
    return {**track, "frame_end": track["frame_start"] + n - 1, "frames": track["frames"][:n]}


def generate(generator: FrameGenerator, shot: ShotInput, n: int) -> tuple[list[np.ndarray], float]:
    """n frames and the wall-clock seconds they took (session start included)."""
    start = time.perf_counter()
    session = generator.start(shot)
    frames = [session.step() for _ in range(n)]
    return frames, time.perf_counter() - start


@dataclass
class ClipResult:
    """One clip's measurements, and the generated frames (for the probe and the contact sheet)."""

    move: str
    labels: dict[str, str]
    psnr: dict[int, float]            # horizon k -> mean PSNR over the compared frames up to frame k
    ssim: dict[int, float]
    model_pose: list[PoseError]
    floor_pose: list[PoseError]       # the same pairs, estimated on the ground-truth frames
    frames: list[np.ndarray] = field(repr=False)
    seconds: float = 0.0


def evaluate_clip(generator: FrameGenerator, clip: Clip, n_frames: int, seed: int = 0,
                  first_frame: bool = True) -> ClipResult:
    """Generate min(n_frames, clip length) frames of a clip and measure them against its ground truth.

    With the first frame given, frames 2..k (indices 1..k-1) are compared, since
    frame 1 is the input; without it, frames 1..k. PSNR@k and SSIM@k are means
    over those frames, for each horizon k in HORIZONS that the clip reaches.
    """
    n = min(n_frames, len(clip.rgb))
    track = truncate_track(clip.track, n)
    shot = ShotInput(clip.caption, track, seed, clip.rgb[0], clip.depth[0]) if first_frame \
        else ShotInput(clip.caption, track, seed)
    frames, seconds = generate(generator, shot, n)
    first_compared = 1 if first_frame else 0
    per_frame_psnr = [psnr(frames[i], clip.rgb[i]) for i in range(n)]
    per_frame_ssim = [ssim(frames[i], clip.rgb[i]) for i in range(n)]
    horizons = [h for h in HORIZONS if h <= n]
    return ClipResult(
        move=clip.move, labels=clip.labels,
        psnr={h: float(np.mean(per_frame_psnr[first_compared:h])) for h in horizons},
        ssim={h: float(np.mean(per_frame_ssim[first_compared:h])) for h in horizons},
        model_pose=track_errors(frames, track),
        floor_pose=track_errors(list(clip.rgb[:n]), track),
        frames=frames, seconds=seconds)


def notes_only_frames(generator: FrameGenerator, clip: Clip, n: int, seed: int = 0) -> list[np.ndarray]:
    """n frames generated from the caption and camera track alone (no first frame).

    Raises GeneratorInputError for generators that need a first frame (the baselines).
    """
    frames, _ = generate(generator, ShotInput(clip.caption, truncate_track(clip.track, n), seed), n)
    return frames
