"""Point-cache geometry in numpy: unproject a depth map, splat points through a camera, fill holes.

One implementation serves the depth-warp baseline and the world model's 3D cache.
Cameras are OpenCV camera-to-world 4x4 matrices (x right, y down, z forward) and
3x3 pinhole matrices K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]. Pixel (row i,
column j) has its centre at (u, v) = (j + 0.5, i + 0.5), and a point projecting
to (u, v) lands in pixel (floor(v), floor(u)), so unproject followed by splat
through the same camera returns every pixel to where it was.

Speed (192x108, this 2-core CPU): unproject ~1 ms for a frame of points,
splat ~1.2 ms for 60,000 points, fill_nearest ~1.7 ms.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

NEAR = 1e-3
"""Metres: points closer to the camera plane than this (or behind it) are not drawn."""


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """The 3x3 pinhole matrix K (float64) from the wire format's intrinsics, in pixels."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def unproject(depth: np.ndarray, rgb: np.ndarray, K: np.ndarray, c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 3) float32 and their colours (N, C) of the pixels with finite positive z-depth.

    Pinhole back-projection of pixel centre (u, v) at z-depth z:
    X_cam = ((u - cx) z / fx, (v - cy) z / fy, z), then X_world = R X_cam + t with
    [R | t] the top of `c2w`. Pixels are taken in row-major order; `rgb` may have
    any number of channels (H, W) or (H, W, C).
    """
    h, w = depth.shape
    flat = depth.reshape(-1)
    index = np.flatnonzero(np.isfinite(flat) & (flat > 0))              # row-major pixel indices
    z = flat[index].astype(np.float64)
    rows, cols = np.divmod(index, w)
    cam = np.empty((len(index), 3))                                       # (N, 3) camera frame
    cam[:, 0] = (cols + 0.5 - K[0, 2]) * (z / K[0, 0])
    cam[:, 1] = (rows + 0.5 - K[1, 2]) * (z / K[1, 1])
    cam[:, 2] = z
    c2w = np.asarray(c2w, dtype=np.float64)
    world = cam @ c2w[:3, :3].T + c2w[:3, 3]
    colors = rgb.reshape(h * w, -1)[index]
    return world.astype(np.float32), colors


def splat(points: np.ndarray, colors: np.ndarray, K: np.ndarray, c2w: np.ndarray, width: int, height: int,
          surface: tuple[np.ndarray, np.ndarray] | None = None,
          labels: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffered projection of points through a camera: (image, zbuf, valid).

    X_cam = R^T (X_world - t); (u, v) = (fx x / z + cx, fy y / z + cy); the point
    lands in pixel (floor(v), floor(u)) if z > NEAR and that pixel is inside the
    frame. Each pixel keeps the colour of its nearest point (smallest z; among
    exactly equal z, the last such point). `image` is (H, W, C) of `colors`' dtype
    and zero where empty, `zbuf` (H, W) float32 z-depth with inf where empty, and
    `valid` (H, W) bool where a point landed. `colors` is (N, C) or (N,).

    `surface`, (depth, tolerance) both (H, W): a point lands only where its z is
    within the tolerance of that depth, so a surface known to be there (the
    blockout's) picks its own points out of stray ones in front of it.

    `labels`, (point labels (N,), pixel labels (H, W)): a point lands only where
    the pixel's label is its own (a point of one object never shows on another).
    """
    channels = colors.shape[1] if colors.ndim == 2 else 1
    colors = colors.reshape(len(colors), channels)
    image = np.zeros((height * width, channels), dtype=colors.dtype)
    zbuf = np.full(height * width, np.inf)
    if len(points):
        c2w = np.asarray(c2w, dtype=np.float64)
        # coordinates as rows (3, N): numpy subtracts a 3-vector from N rows of 3 slowly (1.2 ms for 60,000
        # points against 0.1 ms for 3 rows of N), and x, y, z come out contiguous
        rel = points.T.astype(np.float64, order="C")
        rel -= c2w[:3, 3, None]
        x, y, z = c2w[:3, :3].T @ rel                                     # R^T (p - t)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.floor(K[0, 0] * x / z + K[0, 2])
            v = np.floor(K[1, 1] * y / z + K[1, 2])
        keep = np.flatnonzero((z > NEAR) & (u >= 0) & (u < width) & (v >= 0) & (v < height))
        pixel = v[keep].astype(np.int64) * width + u[keep].astype(np.int64)
        depth = z[keep]
        if surface is not None:
            target, tolerance = (np.asarray(a, np.float64).reshape(-1) for a in surface)
            on = np.flatnonzero(np.abs(depth - target[pixel]) <= tolerance[pixel])
            keep, pixel, depth = keep[on], pixel[on], depth[on]
        if labels is not None:
            own, pixel_labels = labels
            on = np.flatnonzero(np.asarray(own)[keep] == np.asarray(pixel_labels).reshape(-1)[pixel])
            keep, pixel, depth = keep[on], pixel[on], depth[on]
        np.minimum.at(zbuf, pixel, depth)                                # nearest depth of every pixel
        nearest = depth == zbuf[pixel]
        image[pixel[nearest]] = colors[keep[nearest]]
    zbuf = zbuf.astype(np.float32).reshape(height, width)
    return image.reshape(height, width, channels), zbuf, np.isfinite(zbuf)


def fill_nearest(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A copy of `image` whose holes (~valid) take the value of the nearest valid pixel.

    Nearest in the Euclidean distance between pixel centres (exact Euclidean
    distance transform, scipy.ndimage.distance_transform_edt). An image with no
    valid pixel, or no hole, is returned unchanged (as a copy).
    """
    if valid.all() or not valid.any():
        return image.copy()
    _, (rows, cols) = ndimage.distance_transform_edt(~valid, return_indices=True)
    return image[rows, cols]
