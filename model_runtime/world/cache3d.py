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

from model_runtime.models.geometry import BLOCK, block_bounds, fill_nearest, pixel_points, splat


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
    evicted) followed by a ring of later points whose oldest go once there are `max_points` in all.

    The points live at the front of a buffer that grows by doubling (up to `max_points`), so adding a
    frame's points costs those points, not a copy of the whole cache (6 ms a frame at 700,000 points
    when each add concatenated). A full ring drops at least an eighth of `max_points` of its oldest
    points at once, so a long shot moves its points once every few frames, not every frame.

    The boxes of the points' runs of BLOCK (`blocks`) let a render skip what is out of view; they are
    kept as points come, and those of the ring drawn again after it moves."""

    def __init__(self, max_points: int, channels: int = 3):
        self.max_points = max_points
        self._points = np.zeros((0, 3), np.float32)
        self._colors = np.zeros((0, channels), np.float32)
        self._size = 0
        self.n_anchor = 0
        self._blocks = np.zeros((0, 2, 3), np.float32)

    @property
    def points(self) -> np.ndarray:
        """(n, 3): anchor points first, then the ring, oldest first (a view of the buffer)."""
        return self._points[:self._size]

    @property
    def colors(self) -> np.ndarray:
        """(n, channels): RGB, and what a subclass adds (a view of the buffer)."""
        return self._colors[:self._size]

    def blocks(self) -> np.ndarray:
        """`block_bounds` of the points, those of the runs completed since the last call added to the rest."""
        done, complete = len(self._blocks), self._size // BLOCK
        if complete > done:
            self._blocks = np.concatenate([self._blocks, block_bounds(self._points[done * BLOCK:complete * BLOCK])])
        return self._blocks

    def __len__(self) -> int:
        return self._size

    def add(self, rgb: np.ndarray, depth: np.ndarray, K: np.ndarray, c2w: np.ndarray,
            mask: np.ndarray | None = None, anchor: bool = False, extra: np.ndarray | None = None) -> None:
        """Add the pixels of a frame (rgb float [0, 1]), sky at SKY_DEPTH, only where `mask` if given; `extra`
        (H, W), a channel more for each point after its colour (the painter's object ids)."""
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, SKY_DEPTH)
        index = np.arange(depth.size) if mask is None else np.flatnonzero(mask)
        points = pixel_points(depth, index, K, c2w)
        colors = rgb.reshape(depth.size, -1)[index].astype(np.float32)
        if extra is not None:  # gathered first: a frame's channels stacked whole cost more than its new pixels
            colors = np.concatenate([colors, extra.reshape(-1)[index, None].astype(np.float32)], axis=1)
        if anchor:
            n_anchor = self.n_anchor + len(points)
            if n_anchor > self.max_points:
                raise ValueError(f"an anchor of {n_anchor} points does not fit a cache of {self.max_points}")
            ring = self.n_anchor + max(0, self._size + len(points) - self.max_points)  # its oldest make room
            self.set_state((np.concatenate([self.points[:self.n_anchor], points, self.points[ring:]]),
                            np.concatenate([self.colors[:self.n_anchor], colors, self.colors[ring:]]), n_anchor))
            return
        room = self.max_points - self.n_anchor
        if len(points) > room:  # more new points than the ring holds: the newest fill it
            points, colors = points[len(points) - room:], colors[len(colors) - room:]
        drop = self._size + len(points) - self.max_points
        if drop > 0:
            drop = min(max(drop, self.max_points // 8), self._size - self.n_anchor)
            kept = slice(self.n_anchor, self._size - drop)
            self._points[kept] = self._points[self.n_anchor + drop:self._size]
            self._colors[kept] = self._colors[self.n_anchor + drop:self._size]
            self._size -= drop
            self._blocks = self._blocks[:self.n_anchor // BLOCK]  # the ring's points moved
        end = self._size + len(points)
        if end > len(self._points):
            capacity = min(max(end, 2 * len(self._points)), self.max_points)
            self._points = np.concatenate([self.points, np.empty((capacity - self._size, 3), np.float32)])
            self._colors = np.concatenate([self.colors,
                                           np.empty((capacity - self._size, self._colors.shape[1]), np.float32)])
        self._points[self._size:end], self._colors[self._size:end] = points, colors
        self._size = end

    def render(self, K: np.ndarray, c2w: np.ndarray, width: int, height: int) -> CacheRender:
        rgb, depth, valid = splat(self.points, self.colors, K, c2w, width, height, blocks=self.blocks())
        filled = fill_nearest(np.concatenate([rgb, depth[..., None]], axis=2), valid)    # (H, W, 4)
        return CacheRender(filled[..., :3], filled[..., 3], valid)

    def state(self) -> tuple[np.ndarray, np.ndarray, int]:
        return self.points.copy(), self.colors.copy(), self.n_anchor

    def set_state(self, state: tuple[np.ndarray, np.ndarray, int]) -> None:
        points, colors, self.n_anchor = state
        self._points, self._colors = np.array(points, np.float32), np.array(colors, np.float32)
        self._size = len(self._points)
        self._blocks = np.zeros((0, 2, 3), np.float32)


def empty_render(width: int, height: int) -> CacheRender:
    """What an empty cache shows: nothing (black, infinitely far, no valid pixel)."""
    return CacheRender(np.zeros((height, width, 3), np.float32), np.full((height, width), np.inf, np.float32),
                       np.zeros((height, width), bool))
