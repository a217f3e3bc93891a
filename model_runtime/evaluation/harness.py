"""The evaluation harness: one procedure for every model and baseline (docs/evaluation.md).

For each validation clip the generator gets the caption, the camera track and
the first frame (RGB and depth) and generates the rest; frames are compared with
Blender's ground truth. Separately: a 300-frame rollout on the clip's long track
(drift), and generation from the notes alone (notes adherence, for generators
that can start without a first frame).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from model_runtime.data.shards import Clip
from model_runtime.evaluation.camera_error import PoseError, track_errors
from model_runtime.evaluation.metrics import psnr, ssim
from model_runtime.evaluation.probe import ProbeNet, probe_accuracy
from model_runtime.models.interface import FrameGenerator, GeneratorInputError, ShotInput

HORIZONS = (8, 16, 32)
DRIFT_FRAMES = 300
NOTES_ONLY_FRAMES = 8


def truncate_track(track: dict, n: int) -> dict:
    return {**track, "frame_end": track["frame_start"] + n - 1, "frames": track["frames"][:n]}


def generate(generator: FrameGenerator, shot: ShotInput, n: int) -> tuple[list[np.ndarray], float]:
    """n frames and the seconds they took (session start included)."""
    start = time.perf_counter()
    session = generator.start(shot)
    frames = [session.step() for _ in range(n)]
    return frames, time.perf_counter() - start


@dataclass
class ClipResult:
    move: str
    psnr: dict[int, float]            # horizon -> mean PSNR over frames 1..horizon-1
    ssim: dict[int, float]
    model_pose: list[PoseError]
    floor_pose: list[PoseError]
    frames: list[np.ndarray] = field(repr=False)
    seconds: float = 0.0


def evaluate_clip(generator: FrameGenerator, clip: Clip, n_frames: int, seed: int = 0) -> ClipResult:
    n = min(n_frames, len(clip.rgb))
    track = truncate_track(clip.track, n)
    shot = ShotInput(clip.caption, track, seed, clip.rgb[0], clip.depth[0])
    frames, seconds = generate(generator, shot, n)
    per_frame_psnr = [psnr(frames[i], clip.rgb[i]) for i in range(1, n)]
    per_frame_ssim = [ssim(frames[i], clip.rgb[i]) for i in range(1, n)]
    horizons = [h for h in HORIZONS if h <= n]
    return ClipResult(
        move=clip.move,
        psnr={h: float(np.mean(per_frame_psnr[:h - 1])) for h in horizons},
        ssim={h: float(np.mean(per_frame_ssim[:h - 1])) for h in horizons},
        model_pose=track_errors(frames, track),
        floor_pose=track_errors(list(clip.rgb[:n]), track),
        frames=frames, seconds=seconds)


def drift(generator: FrameGenerator, clip: Clip, seed: int = 0, n: int = DRIFT_FRAMES) -> dict[str, float]:
    """Colour statistics and coarse layout of frame n-1 (and the worst frame) against frame 0."""
    track = truncate_track(clip.long_track, n)
    frames, seconds = generate(generator, ShotInput(clip.caption, track, seed, clip.rgb[0], clip.depth[0]), n)
    first = frames[0].astype(np.float64)

    def colour_shift(f: np.ndarray) -> float:
        f = f.astype(np.float64)
        return float(np.abs(f.mean((0, 1)) - first.mean((0, 1))).mean() + np.abs(f.std((0, 1)) - first.std((0, 1))).mean())

    def thumb(f: np.ndarray) -> np.ndarray:
        """16x9 luminance thumbnail: the coarse layout of a frame."""
        return cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (16, 9), interpolation=cv2.INTER_AREA).astype(np.float64)

    shifts = [colour_shift(f) for f in frames]
    # a collapsed rollout (flat grey, frozen smear) loses its layout contrast: compare the last frame's with the first's
    return {"colour_shift_last": shifts[-1], "colour_shift_max": float(max(shifts)),
            "layout_contrast_ratio": float(np.std(thumb(frames[-1])) / max(np.std(thumb(frames[0])), 1e-6)),
            "fps": n / seconds}


def notes_only(generator: FrameGenerator, clips: list[Clip], probe: ProbeNet, seed: int = 0) -> dict | None:
    """Probe accuracy on frames generated from notes and camera alone; None if the generator needs a frame."""
    frames, labels = [], []
    for clip in clips:
        track = truncate_track(clip.track, NOTES_ONLY_FRAMES)
        try:
            generated, _ = generate(generator, ShotInput(clip.caption, track, seed), NOTES_ONLY_FRAMES)
        except GeneratorInputError:
            return None
        frames += generated
        labels += [clip.labels] * len(generated)
    return probe_accuracy(probe, frames, labels)


def pose_summary(results: list[ClipResult]) -> dict[str, float | None]:
    """Mean errors over pairs recovered on both model and ground-truth frames, and the model/floor ratio."""
    rot_m, rot_f, tr_m, tr_f, failed, total = [], [], [], [], 0, 0
    for r in results:
        for m, f in zip(r.model_pose, r.floor_pose):
            total += 1
            if m.rotation_deg is None:
                failed += 1
                continue
            if f.rotation_deg is None:
                continue
            rot_m.append(m.rotation_deg)
            rot_f.append(f.rotation_deg)
            if m.translation_deg is not None and f.translation_deg is not None:
                tr_m.append(m.translation_deg)
                tr_f.append(f.translation_deg)

    def mean(xs: list[float]) -> float | None:
        return float(np.mean(xs)) if xs else None

    model_err = (mean(rot_m) or 0.0) + (mean(tr_m) or 0.0)
    floor_err = (mean(rot_f) or 0.0) + (mean(tr_f) or 0.0)
    return {"rotation_deg": mean(rot_m), "rotation_floor_deg": mean(rot_f),
            "translation_deg": mean(tr_m), "translation_floor_deg": mean(tr_f),
            "ratio": model_err / floor_err if rot_m and floor_err > 0 else None,
            "unrecovered_pairs": failed / total if total else None}
