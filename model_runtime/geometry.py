"""Point-cache geometry in numpy: unproject a depth map, splat points through a camera, fill holes.

One implementation serves the depth-warp baseline and the world model's 3D cache.
Cameras are OpenCV camera-to-world 4x4 matrices (x right, y down, z forward) and
3x3 pinhole matrices; pixel (row i, column j) has its centre at (j + 0.5, i + 0.5),
and a point projecting to (u, v) lands in pixel (floor(v), floor(u)).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def unproject(depth: np.ndarray, rgb: np.ndarray, K: np.ndarray, c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 3) float32 and their colours (N, C) of the pixels with finite positive z-depth."""
    h, w = depth.shape
    valid = np.isfinite(depth) & (depth > 0)
    rows, cols = np.nonzero(valid)
    z = depth[rows, cols].astype(np.float64)
    x = (cols + 0.5 - K[0, 2]) / K[0, 0] * z
    y = (rows + 0.5 - K[1, 2]) / K[1, 1] * z
    cam = np.stack([x, y, z], axis=1)                                     # (N, 3) camera frame
    world = cam @ c2w[:3, :3].T + c2w[:3, 3]
    colors = rgb.reshape(h * w, -1)[rows * w + cols]
    return world.astype(np.float32), colors


def splat(points: np.ndarray, colors: np.ndarray, K: np.ndarray, c2w: np.ndarray, width: int, height: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffered projection of points: (image (H, W, C) like colors, zbuf (H, W) with inf where empty, valid)."""
    channels = colors.shape[1] if colors.ndim == 2 else 1
    image = np.zeros((height, width, channels), dtype=colors.dtype)
    zbuf = np.full((height, width), np.inf, dtype=np.float32)
    if len(points):
        R, t = c2w[:3, :3], c2w[:3, 3]
        cam = (points.astype(np.float64) - t) @ R                        # world -> camera: R^T (p - t)
        z = cam[:, 2]
        front = z > 1e-3
        u = np.floor(K[0, 0] * cam[front, 0] / z[front] + K[0, 2]).astype(np.int64)
        v = np.floor(K[1, 1] * cam[front, 1] / z[front] + K[1, 2]).astype(np.int64)
        inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
        pixel = v[inside] * width + u[inside]
        depth = z[front][inside]
        source = np.flatnonzero(front)[inside]
        order = np.lexsort((depth, pixel))                                # by pixel, nearest first
        pixel, depth, source = pixel[order], depth[order], source[order]
        first = np.ones(len(pixel), dtype=bool)
        first[1:] = pixel[1:] != pixel[:-1]                               # the nearest point of each pixel
        image.reshape(-1, channels)[pixel[first]] = colors.reshape(len(points), channels)[source[first]]
        zbuf.reshape(-1)[pixel[first]] = depth[first]
    return image, zbuf, np.isfinite(zbuf)


def fill_nearest(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Holes take the value of the nearest valid pixel (Euclidean); an image with no valid pixel stays as is."""
    if valid.all() or not valid.any():
        return image.copy()
    _, (rows, cols) = ndimage.distance_transform_edt(~valid, return_indices=True)
    return image[rows, cols]
