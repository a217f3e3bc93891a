"""The two baselines every model is measured against (they stay in the evaluation harness).

- copy-first-frame: the given first frame, repeated; what a still would give.
- depth-warp: the first frame reprojected with its depth through each commanded camera,
  holes filled from the nearest valid pixel; pure geometry with no imagination. Sky
  (infinite depth) is reprojected as points SKY_DISTANCE away, i.e. by the camera's
  rotation alone, as a point at infinity moves.
Both need the first frame; depth-warp also its depth.
"""
from __future__ import annotations

from abc import abstractmethod

import numpy as np

from model_runtime.models.geometry import fill_nearest, intrinsics_matrix, splat, unproject
from model_runtime.models.interface import FrameGenerator, GeneratorInputError, Session, ShotInput

SKY_DISTANCE = 1e5  # metres: far enough that previs camera translations do not move it by a pixel


def _check_first_frame(shot: ShotInput, name: str, need_depth: bool) -> None:
    """Raise GeneratorInputError unless the shot carries a usable first frame (and depth, if needed)."""
    size = (shot.track["height"], shot.track["width"])
    if shot.first_rgb is None:
        raise GeneratorInputError(f"{name} needs the shot's first frame (render it from the blockout)")
    rgb = np.asarray(shot.first_rgb)
    if rgb.dtype != np.uint8 or rgb.shape != size + (3,):
        raise GeneratorInputError(f"{name}: the first frame must be uint8 RGB of {size[1]}x{size[0]} "
                                  f"(H, W, 3), got {rgb.dtype} {rgb.shape}")
    if need_depth and (shot.first_depth is None or np.shape(shot.first_depth) != size):
        got = "none" if shot.first_depth is None else f"shape {np.shape(shot.first_depth)}"
        raise GeneratorInputError(f"{name} needs the first frame's depth at {size[1]}x{size[0]} "
                                  f"(float z-depth in metres, (H, W)); got {got}")


class _IndexedSession(Session):
    """A session whose whole state is the index of the next frame."""

    def __init__(self, shot: ShotInput):
        self.shot = shot
        self._index = 0

    @property
    def frame_index(self) -> int:
        return self._index

    def step(self) -> np.ndarray:
        if self._index >= len(self.shot.track["frames"]):
            raise IndexError("the shot has no more frames")
        frame = self.render(self._index)
        self._index += 1
        return frame

    @abstractmethod
    def render(self, index: int) -> np.ndarray:
        """Frame `index` of the track."""

    def snapshot(self) -> int:
        return self._index

    def restore(self, state: int) -> None:
        self._index = state


class _CopySession(_IndexedSession):
    """Every frame is the first frame."""

    def render(self, index: int) -> np.ndarray:
        return self.shot.first_rgb.copy()


class _WarpSession(_IndexedSession):
    """The first frame's pixels as world points (unprojected once), splatted through each camera."""

    def __init__(self, shot: ShotInput):
        super().__init__(shot)
        first = shot.track["frames"][0]
        K = intrinsics_matrix(first["fx"], first["fy"], first["cx"], first["cy"])
        depth = shot.first_depth.astype(np.float32)
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, SKY_DISTANCE).astype(np.float32)
        self.points, self.colors = unproject(depth, shot.first_rgb, K,
                                             np.asarray(first["c2w"], dtype=np.float64))

    def render(self, index: int) -> np.ndarray:
        if index == 0:
            return self.shot.first_rgb.copy()
        frame = self.shot.track["frames"][index]
        K = intrinsics_matrix(frame["fx"], frame["fy"], frame["cx"], frame["cy"])
        image, _, valid = splat(self.points, self.colors, K, np.asarray(frame["c2w"], dtype=np.float64),
                                self.shot.track["width"], self.shot.track["height"])
        return fill_nearest(image, valid) if valid.any() else self.shot.first_rgb.copy()


class CopyFirstFrame(FrameGenerator):
    """Baseline: the first frame, repeated for every frame of the track."""

    name = "copy-first-frame"

    def start(self, shot: ShotInput) -> Session:
        _check_first_frame(shot, self.name, need_depth=False)
        return _CopySession(shot)


class DepthWarp(FrameGenerator):
    """Baseline: the first frame reprojected with its depth through each commanded camera, holes filled."""

    name = "depth-warp"

    def start(self, shot: ShotInput) -> Session:
        _check_first_frame(shot, self.name, need_depth=True)
        return _WarpSession(shot)
