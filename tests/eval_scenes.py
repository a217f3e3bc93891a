"""Tiny synthetic scenes with exact answers, for the geometry, baseline and evaluation tests.

A textured wall (the plane z = WALL_Z) and floor (the plane y = FLOOR_Y, y down)
in an OpenCV-convention world, ray-cast exactly for any camera: every pixel's
colour and z-depth are known in closed form, so warps and recovered poses can
be checked against true values.
"""
from __future__ import annotations

import numpy as np

from model_runtime.models.geometry import intrinsics_matrix

W, H = 192, 108
FX = 150.0
K = intrinsics_matrix(FX, FX, W / 2, H / 2)
WALL_Z = 10.0
FLOOR_Y = 1.5
_PALETTE = np.random.default_rng(7).integers(0, 256, (4096, 3))


def pose(yaw_deg: float = 0.0, pitch_deg: float = 0.0, t: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """OpenCV camera-to-world 4x4: yaw about the y axis (positive turns right), then pitch about x."""
    a, b = np.radians(yaw_deg), np.radians(pitch_deg)
    yaw = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    pitch = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    c2w = np.eye(4)
    c2w[:3, :3] = yaw @ pitch
    c2w[:3, 3] = t
    return c2w


def _texture(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Blotchy colour cells (0.7 m) times a finer brightness pattern (0.3 m): corners for feature detectors."""
    coarse = (np.floor(s / 0.7).astype(np.int64) * 73856093) ^ (np.floor(t / 0.7).astype(np.int64) * 19349663)
    fine = (np.floor(s / 0.3).astype(np.int64) * 83492791) ^ (np.floor(t / 0.3).astype(np.int64) * 2654435761)
    shade = 0.6 + 0.4 * ((fine % 97) / 96.0)
    return np.clip(_PALETTE[coarse % 4096] * shade[..., None], 0, 255)


def render(c2w: np.ndarray, K: np.ndarray = K, width: int = W, height: int = H) -> tuple[np.ndarray, np.ndarray]:
    """Exact (rgb uint8 (H, W, 3), z-depth float32 (H, W)) of the wall-and-floor scene seen from c2w."""
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays_cam = np.stack([(cols - K[0, 2]) / K[0, 0], (rows - K[1, 2]) / K[1, 1], np.ones_like(cols)], -1)
    rays = rays_cam @ c2w[:3, :3].T                                       # world direction of a unit z step
    origin = c2w[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        s_wall = (WALL_Z - origin[2]) / rays[..., 2]
        s_floor = (FLOOR_Y - origin[1]) / rays[..., 1]
    s_wall = np.where(s_wall > 0, s_wall, np.inf)
    s_floor = np.where(s_floor > 0, s_floor, np.inf)
    on_floor = s_floor < s_wall
    s = np.minimum(s_wall, s_floor)                                       # z-depth: rays have unit camera z
    hit = origin + rays * s[..., None]
    rgb = np.where(on_floor[..., None], _texture(hit[..., 0], hit[..., 2]), _texture(hit[..., 0], hit[..., 1]))
    return rgb.astype(np.uint8), s.astype(np.float32)


def track(poses: list[np.ndarray], K: np.ndarray = K, width: int = W, height: int = H, fps: float = 24.0) -> dict:
    """A wire-format camera track (docs/camera_track.md) through the given poses, frames numbered from 1."""
    frames = []
    for i, c2w in enumerate(poses):
        rel = np.eye(4) if i == 0 else np.linalg.inv(poses[i - 1]) @ c2w
        frames.append({"frame": i + 1, "c2w": c2w.tolist(), "fx": float(K[0, 0]), "fy": float(K[1, 1]),
                       "cx": float(K[0, 2]), "cy": float(K[1, 2]), "rel": rel.tolist()})
    return {"version": 1, "width": width, "height": height, "fps": fps, "frame_start": 1,
            "frame_end": len(poses), "scale": 1.0, "frames": frames}
