"""The world model's 3D cache (after GEN3C, Ren et al. 2025).

Points come from the first frame's depth and, for every generated frame, from
the pixels the cache could not explain (its holes), with the model's predicted
depth; sky pixels become a far dome (SKY_DEPTH). Rendering the cache through the commanded camera gives the next frame
what the camera has already seen, in place. The cache is a bounded ring: past
`max_points` the oldest points go, so the cost of a frame stays flat over a
long shot.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_runtime.geometry import splat, unproject


@dataclass
class CacheRender:
    rgb: np.ndarray    # (H, W, 3) float32 in [0, 1], zeros where invalid
    depth: np.ndarray  # (H, W) float32 z-depth, inf where invalid
    valid: np.ndarray  # (H, W) bool


SKY_DEPTH = 1000.0  # metres: sky pixels (depth inf or 0) join the cache as a far dome, so the sky a camera
                   # has seen stays in place when it pans or tilts (parallax at 1 km is below a pixel)


class PointCache:
    def __init__(self, max_points: int):
        self.max_points = max_points
        self.points = np.zeros((0, 3), np.float32)
        self.colors = np.zeros((0, 3), np.float32)

    def __len__(self) -> int:
        return len(self.points)

    def add(self, rgb: np.ndarray, depth: np.ndarray, K: np.ndarray, c2w: np.ndarray,
            mask: np.ndarray | None = None) -> None:
        """Add the pixels of a frame (rgb float [0, 1]), sky at SKY_DEPTH, only where `mask` if given."""
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, SKY_DEPTH)
        if mask is not None:
            depth = np.where(mask, depth, np.inf)
        points, colors = unproject(depth, rgb, K, c2w)
        self.points = np.concatenate([self.points, points])[-self.max_points:]
        self.colors = np.concatenate([self.colors, colors.astype(np.float32)])[-self.max_points:]

    def render(self, K: np.ndarray, c2w: np.ndarray, width: int, height: int) -> CacheRender:
        rgb, depth, valid = splat(self.points, self.colors, K, c2w, width, height)
        return CacheRender(rgb, depth, valid)

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.points.copy(), self.colors.copy()

    def set_state(self, state: tuple[np.ndarray, np.ndarray]) -> None:
        self.points, self.colors = state[0].copy(), state[1].copy()


def empty_render(width: int, height: int) -> CacheRender:
    return CacheRender(np.zeros((height, width, 3), np.float32), np.full((height, width), np.inf, np.float32),
                       np.zeros((height, width), bool))
