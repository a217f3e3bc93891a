"""Camera conditioning: the per-frame action and per-token Plücker rays.

The action of frame t is the pose of camera t relative to camera t-1 (the wire
format's `rel`, translations multiplied by the shot's `scale`) plus the
intrinsics normalised by the image size. Each token also gets the Plücker
coordinates (o x d, d) of the ray through its centre, expressed in the previous
camera's frame, as CameraCtrl does per pixel (He et al. 2024): the network sees
where every patch looks relative to what it saw last.
"""
from __future__ import annotations

import numpy as np

ACTION_DIM = 16   # rotation 9 + translation 3 + fx/W, fy/H, cx/W, cy/H
PLUCKER_DIM = 6
MAX_STEP_METRES = 20.0  # a cut, not a camera move: larger frame-to-frame jumps are refused


def native_intrinsics(frame: dict, track_width: int, track_height: int, width: int, height: int) -> np.ndarray:
    """3x3 K of a track frame rescaled from the track's resolution to the model's (width, height)."""
    sx, sy = width / track_width, height / track_height
    return np.array([[frame["fx"] * sx, 0.0, frame["cx"] * sx],
                     [0.0, frame["fy"] * sy, frame["cy"] * sy],
                     [0.0, 0.0, 1.0]])


def camera_action(rel: np.ndarray, K: np.ndarray, width: int, height: int, scale: float) -> np.ndarray:
    """(ACTION_DIM,) float32 action from a 4x4 relative pose and the native intrinsics."""
    rot = rel[:3, :3].reshape(9)
    trans = rel[:3, 3] * scale
    intr = np.array([K[0, 0] / width, K[1, 1] / height, K[0, 2] / width, K[1, 2] / height])
    return np.concatenate([rot, trans, intr]).astype(np.float32)


def token_centres(width: int, height: int, grid_w: int, grid_h: int) -> np.ndarray:
    """(grid_h * grid_w, 2) pixel centres (u, v) of the token patches, row-major."""
    us = (np.arange(grid_w) + 0.5) * width / grid_w
    vs = (np.arange(grid_h) + 0.5) * height / grid_h
    uu, vv = np.meshgrid(us, vs)
    return np.stack([uu.reshape(-1), vv.reshape(-1)], axis=1)


def plucker_tokens(rel: np.ndarray, K: np.ndarray, centres: np.ndarray, scale: float) -> np.ndarray:
    """(N, 6) float32 Plücker rays (o x d, d) of the token centres, in the previous camera's frame."""
    dirs_cam = np.stack([(centres[:, 0] - K[0, 2]) / K[0, 0], (centres[:, 1] - K[1, 2]) / K[1, 1],
                         np.ones(len(centres))], axis=1)                        # (N, 3) rays in camera t
    dirs = dirs_cam @ rel[:3, :3].T                                             # rotate into camera t-1
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    origin = np.broadcast_to(rel[:3, 3] * scale, dirs.shape)
    return np.concatenate([np.cross(origin, dirs), dirs], axis=1).astype(np.float32)


def check_track_steps(track: dict) -> None:
    """Refuse a frame-to-frame translation larger than MAX_STEP_METRES (after the shot's scale)."""
    scale = float(track.get("scale", 1.0))
    for prev, cur in zip(track["frames"], track["frames"][1:]):
        step = float(np.linalg.norm(np.asarray(cur["rel"])[:3, 3])) * scale
        if step > MAX_STEP_METRES:
            raise ValueError(f"camera jumps {step:.1f} m between frames {prev['frame']} and {cur['frame']} "
                             f"(more than {MAX_STEP_METRES:.0f} m a frame is a cut, not a move: split the shot)")
