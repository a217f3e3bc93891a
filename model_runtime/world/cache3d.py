"""The world model's 3D cache (after GEN3C, Ren et al. 2025).

Points come from the first frame's depth and, for every generated frame, from
the pixels the cache render did not cover (new content), with the model's
predicted depth; sky pixels become a far dome (SKY_DEPTH). Rendering the cache
through the commanded camera gives the next frame what the camera has already
seen, in place. The first frame is an anchor that stays; the later points are a
bounded ring (past `max_points` the oldest go), so the cost of a frame stays
flat over a long shot.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_runtime.models.geometry import fill_nearest, splat, unproject


@dataclass
class CacheRender:
    """The cache seen from a camera. Holes take the colour and depth of the nearest rendered point, so the
    network's conditioning carries a geometric guess everywhere and `valid` says where it is a real view."""
    rgb: np.ndarray    # (H, W, 3) float32 in [0, 1]
    depth: np.ndarray  # (H, W) float32 z-depth
    valid: np.ndarray  # (H, W) bool: a cached point landed here


SKY_DEPTH = 1e5  # metres: sky pixels (depth inf or 0) join the cache as a far dome, so the sky a camera
                 # has seen stays in place when it pans or tilts (previs translations move it by no pixel)


class PointCache:
    """Points with colours in world space: an anchor (the shot's first frame, the one exact view, never
    evicted) followed by a ring of later points whose oldest go once there are `max_points` in all."""

    def __init__(self, max_points: int, channels: int = 3):
        self.max_points = max_points
        self.points = np.zeros((0, 3), np.float32)   # (n, 3): anchor points first, then the ring, oldest first
        self.colors = np.zeros((0, channels), np.float32)  # (n, channels): RGB, and what a subclass adds
        self.n_anchor = 0

    def __len__(self) -> int:
        return len(self.points)

    def add(self, rgb: np.ndarray, depth: np.ndarray, K: np.ndarray, c2w: np.ndarray,
            mask: np.ndarray | None = None, anchor: bool = False) -> None:
        """Add the pixels of a frame (rgb float [0, 1]), sky at SKY_DEPTH, only where `mask` if given."""
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, SKY_DEPTH)
        if mask is not None:
            depth = np.where(mask, depth, np.inf)
        points, colors = unproject(depth, rgb, K, c2w)
        parts = [[self.points[:self.n_anchor], self.colors[:self.n_anchor]],
                 [self.points[self.n_anchor:], self.colors[self.n_anchor:]]]
        target = parts[0] if anchor else parts[1]
        target[0] = np.concatenate([target[0], points])
        target[1] = np.concatenate([target[1], colors.astype(np.float32)])
        (anchor_points, anchor_colors), (ring_points, ring_colors) = parts
        if len(anchor_points) > self.max_points:
            raise ValueError(f"an anchor of {len(anchor_points)} points does not fit a cache of {self.max_points}")
        drop = max(0, len(anchor_points) + len(ring_points) - self.max_points)
        self.points = np.concatenate([anchor_points, ring_points[drop:]])
        self.colors = np.concatenate([anchor_colors, ring_colors[drop:]])
        self.n_anchor = len(anchor_points)

    def render(self, K: np.ndarray, c2w: np.ndarray, width: int, height: int) -> CacheRender:
        rgb, depth, valid = splat(self.points, self.colors, K, c2w, width, height)
        filled = fill_nearest(np.concatenate([rgb, depth[..., None]], axis=2), valid)    # (H, W, 4)
        return CacheRender(filled[..., :3], filled[..., 3], valid)

    def state(self) -> tuple[np.ndarray, np.ndarray, int]:
        return self.points.copy(), self.colors.copy(), self.n_anchor

    def set_state(self, state: tuple[np.ndarray, np.ndarray, int]) -> None:
        self.points, self.colors, self.n_anchor = state[0].copy(), state[1].copy(), state[2]


def empty_render(width: int, height: int) -> CacheRender:
    """What an empty cache shows: nothing (black, infinitely far, no valid pixel)."""
    return CacheRender(np.zeros((height, width, 3), np.float32), np.full((height, width), np.inf, np.float32),
                       np.zeros((height, width), bool))
