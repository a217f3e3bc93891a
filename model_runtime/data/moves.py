"""Cinematic camera moves as per-frame poses (bpy-free).

A move is sampled from a seed and the scene's stage; `camera_poses` gives, per
frame, the Blender camera position, its 3x3 rotation (columns: right, up,
backward, as Blender cameras look down -Z) and the focal length. Speeds are in
real units (metres or degrees per second) from the ranges camera crews use, and
scaled by the stage's room (a dolly in a corridor is slower than over hills).
The first frames of a long track are exactly the short track (same move).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from model_runtime.data.layout import Stage

MOVES = ("static", "dolly_in", "dolly_out", "truck", "pan", "tilt", "crane_up", "crane_down", "orbit",
         "push_in_zoom", "handheld", "whip_pan")

# focal length ranges (mm) by move: wide for cranes and dollies, normal for handheld and whips
_LENS = {"static": (18, 135), "dolly_in": (18, 85), "dolly_out": (18, 85), "truck": (24, 85), "pan": (18, 135),
         "tilt": (18, 100), "crane_up": (18, 50), "crane_down": (18, 50), "orbit": (28, 85),
         "push_in_zoom": (24, 50), "handheld": (24, 50), "whip_pan": (24, 50)}


@dataclass
class CameraMove:
    kind: str
    lens_mm: float
    speed: float
    """m/s for dolly, truck, crane; deg/s for pan, tilt, orbit; zoom ratio for push_in_zoom; shake deg for handheld."""
    speed_word: str
    """'slow', 'steady' or 'fast': where the speed sits in its range (for captions)."""
    sign: int = 1
    """Direction: +1 left/up/counter-clockwise, -1 the other way."""
    params: dict[str, float] = field(default_factory=dict)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _ranged(rng: np.random.Generator, lo: float, hi: float) -> tuple[float, str]:
    u = float(rng.random())
    return lo + (hi - lo) * u, ("slow" if u < 0.33 else "steady" if u < 0.67 else "fast")


def sample_move(rng: np.random.Generator, kind: str, stage: Stage, interior: bool) -> CameraMove:
    """Lens, speed and direction for a move of `kind` on this stage."""
    lo, hi = _LENS[kind]
    lens = _log_uniform(rng, lo, min(hi, 50) if interior else hi)
    scale = float(np.clip(stage.space / 10, 0.3, 2.5))
    sign = int(rng.choice([-1, 1]))
    params: dict[str, float] = {}
    if kind in ("dolly_in", "dolly_out", "truck"):
        speed, word = _ranged(rng, 0.4, 2.0)
        speed *= scale
    elif kind in ("crane_up", "crane_down"):
        speed, word = _ranged(rng, 0.3, 1.5)
        speed *= scale
    elif kind == "pan":
        speed, word = _ranged(rng, 4, 25)
    elif kind == "tilt":
        speed, word = _ranged(rng, 3, 12)
        sign = 1 if stage.pitch < -0.1 else -1 if stage.pitch > 0.1 else sign  # tilt towards the horizon
    elif kind == "orbit":
        speed, word = _ranged(rng, 5, 20)
        speed = min(speed, math.degrees(3.0 * scale / stage.focus_distance))  # at most 3 m/s (scaled) on the arc
    elif kind == "push_in_zoom":
        speed, word = _ranged(rng, 1.4, 2.5)  # final zoom ratio
        params["dolly"] = float(rng.uniform(0.15, 0.5)) * scale
        params["tau"] = float(rng.uniform(1.0, 3.0))  # seconds for the zoom to get most of the way
    elif kind == "handheld":
        speed, word = _ranged(rng, 0.3, 1.5)
        params["walk"] = float(rng.choice([0.0, rng.uniform(0.3, 1.0)])) * min(scale, 1.0)
        params["freqs"] = float(rng.integers(2**31))  # seed of the shake's sines
    elif kind == "whip_pan":
        speed, word = _ranged(rng, 70, 150)  # degrees swept
        params["start"] = float(rng.uniform(0.2, 0.45))
        params["duration"] = float(rng.uniform(0.25, 0.45))
        word = "fast"
    else:
        speed, word = 0.0, "steady"
    return CameraMove(kind, lens, float(speed), word, sign, params)


def _basis(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(N, 3, 3) Blender camera rotations: columns right, up, -forward."""
    cp, sp, cy, sy = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    fwd = np.stack([cp * cy, cp * sy, sp], -1)
    right = np.stack([sy, -cy, np.zeros_like(yaw)], -1)
    up = np.cross(right, fwd)
    cr, sr = np.cos(roll)[:, None], np.sin(roll)[:, None]
    right, up = cr * right + sr * up, -sr * right + cr * up
    return np.stack([right, up, -fwd], -1)


def camera_poses(move: CameraMove, stage: Stage, n_frames: int, fps: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (N, 3), rotations (N, 3, 3) and focal lengths (N,) for frames 0..N-1."""
    t = np.arange(n_frames, dtype=np.float64) / fps
    p0 = np.array(stage.position, np.float64)
    yaw = np.full_like(t, stage.yaw)
    pitch = np.full_like(t, stage.pitch)
    roll = np.zeros_like(t)
    lens = np.full_like(t, move.lens_mm)
    pos = np.repeat(p0[None], n_frames, 0)
    fwd_h = np.array([math.cos(stage.yaw), math.sin(stage.yaw), 0.0])
    right_h = np.array([math.sin(stage.yaw), -math.cos(stage.yaw), 0.0])
    k, s = move.kind, move.speed
    if k in ("dolly_in", "dolly_out"):
        pos = p0 + np.outer(t * s * (1 if k == "dolly_in" else -1), fwd_h)
    elif k == "truck":
        pos = p0 - np.outer(t * s * move.sign, right_h)  # +1 trucks left
    elif k == "pan":
        yaw = yaw + move.sign * math.radians(s) * t
    elif k == "tilt":
        pitch = np.clip(pitch + move.sign * math.radians(s) * t, -1.2, 1.2)
    elif k in ("crane_up", "crane_down"):
        # rise or sink while tilting to keep the subject framed, like a jib
        target = p0 + stage.focus_distance * np.array([math.cos(stage.pitch) * fwd_h[0],
                                                       math.cos(stage.pitch) * fwd_h[1], math.sin(stage.pitch)])
        start = p0 + (np.array([0, 0, 2.0 * s]) if k == "crane_down" else 0)  # room to come down
        pos = start + np.outer(t * s * (1 if k == "crane_up" else -1), [0, 0, 1.0])
        horiz = np.linalg.norm((target - pos)[:, :2], axis=1)
        pitch = np.arctan2(target[2] - pos[:, 2], horiz)
    elif k == "orbit":
        target = p0 + stage.focus_distance * fwd_h
        angle = move.sign * math.radians(s) * t
        rel = p0 - target
        ca, sa = np.cos(angle), np.sin(angle)
        pos = np.stack([target[0] + ca * rel[0] - sa * rel[1], target[1] + sa * rel[0] + ca * rel[1],
                        np.full_like(t, p0[2])], -1)
        yaw = np.arctan2(target[1] - pos[:, 1], target[0] - pos[:, 0])
        yaw = stage.yaw + np.unwrap(yaw - stage.yaw)
    elif k == "push_in_zoom":
        pos = p0 + np.outer(t * move.params["dolly"], fwd_h)
        lens = np.minimum(move.lens_mm * (1 + (s - 1) * (1 - np.exp(-t / move.params["tau"]))), 135.0)
    elif k == "handheld":
        shake = np.random.default_rng(int(move.params["freqs"]))
        pos = p0 + np.outer(t * move.params["walk"], fwd_h)
        offsets = []
        for _ in range(6):  # three angles and three positions, each a sum of three sines at 0.3-2.5 Hz
            f = shake.uniform(0.3, 2.5, 3)
            ph = shake.uniform(0, 2 * math.pi, 3)
            a = shake.uniform(0.4, 1.0, 3)
            offsets.append((a[:, None] * np.sin(2 * math.pi * f[:, None] * t + ph[:, None])).sum(0) / a.sum())
        amp = math.radians(s)
        yaw, pitch, roll = yaw + amp * offsets[0], pitch + amp * offsets[1], roll + 0.5 * amp * offsets[2]
        pos = pos + 0.03 * s * np.stack(offsets[3:], -1)
    elif k == "whip_pan":
        u = np.clip((t - move.params["start"]) / move.params["duration"], 0, 1)
        yaw = yaw + move.sign * math.radians(s) * u * u * (3 - 2 * u)
    return pos, _basis(yaw, pitch, roll), lens
