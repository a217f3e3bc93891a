"""The painter's native size: shots larger than it are painted at it and brought up with the blockout's edges.

The painter is trained on 384x216 frames, and a 1920x1080 shot painted whole
would cost 25 times as much and show textures at a scale the network never
saw. So a larger shot's passes are brought down to the native size (depth by
nearest sample, never an average across an object's edge; shading by area),
painted and remembered there, and the composited frame is brought up to the
shot's size by joint bilateral upsampling (Kopf et al. 2007) guided by the
full-size depth: each output pixel mixes its four nearest native pixels,
weighted by distance and by how close their depth is to its own, so object
edges sit where the full-size blockout puts them instead of in a blur.
"""
from __future__ import annotations

import cv2
import numpy as np

from model_runtime.painter.passes import FramePasses

NATIVE_PIXELS = 384 * 216
DEPTH_SIGMA = 0.05     # log-depth difference (about 5% in depth) that halves a neighbour's weight twice
SKY_LOG_DEPTH = float(np.log(1e4))  # sky compares as one far surface
FLOOR_WEIGHT = 1e-4    # where no neighbour shares the pixel's depth (a sliver thinner than a native pixel)


def native_size(width: int, height: int, pixels: int = NATIVE_PIXELS) -> tuple[int, int]:
    """(width, height) to paint at: the shot's own if it has at most `pixels`, else scaled to that area."""
    if width * height <= pixels:
        return width, height
    scale = np.sqrt(pixels / (width * height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def scaled_frame(frame: dict, width: int, height: int, native: tuple[int, int]) -> dict:
    """A wire-format track frame's intrinsics for the native size (pixel centres kept in place)."""
    sx, sy = native[0] / width, native[1] / height
    return dict(frame, fx=frame["fx"] * sx, fy=frame["fy"] * sy, cx=frame["cx"] * sx, cy=frame["cy"] * sy)


def downsample_passes(passes: FramePasses, native: tuple[int, int]) -> FramePasses:
    """Depth and object ids by the nearest sample (an average across an edge is a surface that is not there),
    shading by area."""
    objects = None if passes.object is None else \
        cv2.resize(passes.object, native, interpolation=cv2.INTER_NEAREST_EXACT)
    return FramePasses(cv2.resize(passes.depth, native, interpolation=cv2.INTER_NEAREST_EXACT),
                       cv2.resize(passes.shade, native, interpolation=cv2.INTER_AREA), objects)


def downsample_rgb(rgb: np.ndarray, native: tuple[int, int]) -> np.ndarray:
    return cv2.resize(rgb, native, interpolation=cv2.INTER_AREA)


def log_depth(depth: np.ndarray) -> np.ndarray:
    """float32 log z-depth, sky (0) as one far surface: what the depth-guided filters compare."""
    return np.where(depth > 0, np.log(np.maximum(depth, 1e-3)), SKY_LOG_DEPTH).astype(np.float32)


def _neighbours(size_out: int, size_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: the lower and upper native index around its centre and the weight of the upper."""
    position = (np.arange(size_out, dtype=np.float32) + 0.5) * size_in / size_out - 0.5
    lower = np.floor(position).astype(np.int64)
    upper_weight = (position - lower).astype(np.float32)
    lower = np.clip(lower, 0, size_in - 1)
    return lower, np.minimum(lower + 1, size_in - 1), np.clip(upper_weight, 0.0, 1.0)


def guided_upsample(rgb: np.ndarray, depth_native: np.ndarray, depth_full: np.ndarray) -> np.ndarray:
    """uint8 (h, w, 3) painted at the native size -> uint8 (H, W, 3) at the size of `depth_full` (0: sky)."""
    height, width = depth_full.shape
    h, w = depth_native.shape
    if (h, w) == (height, width):
        return rgb
    rows = _neighbours(height, h)
    cols = _neighbours(width, w)
    target = log_depth(depth_full)
    source = log_depth(depth_native)
    colour = rgb.astype(np.float32)
    total = np.zeros((height, width, 3), np.float32)
    weights = np.zeros((height, width), np.float32)
    for r_index, r_weight in ((rows[0], 1 - rows[2]), (rows[1], rows[2])):
        for c_index, c_weight in ((cols[0], 1 - cols[2]), (cols[1], cols[2])):
            spatial = r_weight[:, None] * c_weight[None, :]
            difference = (target - source[r_index[:, None], c_index[None, :]]) / DEPTH_SIGMA
            weight = spatial * (np.exp(-difference * difference) + FLOOR_WEIGHT)
            total += weight[..., None] * colour[r_index[:, None], c_index[None, :]]
            weights += weight
    return np.round(total / np.maximum(weights, 1e-12)[..., None]).clip(0, 255).astype(np.uint8)
