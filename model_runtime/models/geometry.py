"""Point-cache geometry: unproject a depth map, splat points through a camera, fill holes.

One implementation serves the depth-warp baseline, the world model's 3D cache and
the painter's memory. numpy, but for splat's two loops over points, compiled
with numba (each numpy pass over every point made its own temporaries).
Cameras are OpenCV camera-to-world 4x4 matrices (x right, y down, z forward) and
3x3 pinhole matrices K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]. Pixel (row i,
column j) has its centre at (u, v) = (j + 0.5, i + 0.5), and a point projecting
to (u, v) lands in pixel (floor(v), floor(u)), so unproject followed by splat
through the same camera returns every pixel to where it was.

Speed (this 2-core CPU): unproject ~1 ms for a 192x108 frame of points,
fill_nearest ~1.7 ms; the painter's memory view at 384x216 (756,000 points,
the surface test, bilinear colours) splats in 4.7 ms skipping the runs of
points out of view, 16-18 in numpy.
"""
from __future__ import annotations

import numba
import numpy as np
from scipy import ndimage

from model_runtime.models import threads

NEAR = 1e-3
"""Metres: points closer to the camera plane than this (or behind it) are not drawn."""
SNAP_PX = 1e-3
"""Pixels: a point this close to a pixel centre counts as on it (splat's bilinear colours)."""
BLOCK = 256
"""Points: splat skips runs of this many consecutive points whose box is out of view (`block_bounds`)."""


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
    flat = depth.reshape(-1)
    index = np.flatnonzero(np.isfinite(flat) & (flat > 0))              # row-major pixel indices
    return pixel_points(depth, index, K, c2w), rgb.reshape(depth.size, -1)[index]


def pixel_points(depth: np.ndarray, index: np.ndarray, K: np.ndarray, c2w: np.ndarray) -> np.ndarray:
    """(N, 3) float32 world points of the pixels `index` (flat, row-major) of `depth` (H, W) at their z-depth."""
    rows, cols = np.divmod(index, depth.shape[1])
    return pixels_to_world(rows, cols, depth.reshape(-1)[index].astype(np.float64), K, c2w).astype(np.float32)


def pixels_to_world(rows: np.ndarray, cols: np.ndarray, z: np.ndarray, K: np.ndarray, c2w: np.ndarray
                    ) -> np.ndarray:
    """(N, 3) float64 world points of the pixel centres (rows, cols) at z-depths `z` (see `unproject`)."""
    cam = np.empty((len(z), 3))                                           # (N, 3) camera frame
    cam[:, 0] = (cols + 0.5 - K[0, 2]) * (z / K[0, 0])
    cam[:, 1] = (rows + 0.5 - K[1, 2]) * (z / K[1, 1])
    cam[:, 2] = z
    c2w = np.asarray(c2w, dtype=np.float64)
    return cam @ c2w[:3, :3].T + c2w[:3, 3]


def splat(points: np.ndarray, colors: np.ndarray, K: np.ndarray, c2w: np.ndarray, width: int, height: int,
          surface: tuple[np.ndarray, np.ndarray] | None = None,
          labels: tuple[np.ndarray, np.ndarray] | None = None, bilinear: bool = False,
          blocks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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

    `bilinear`: where a point landed, the pixel's colour is instead the mean of
    the points around its centre (within one pixel on each axis), weighted by
    their bilinear weights and held to the same surface and label tests; `zbuf`
    and `valid` are as without it. Nearest-point colours shimmer on a texture
    seen from a moving camera (each pixel jumps between points as the camera
    slides by a fraction of a pixel); bilinear weights resample it as a
    renderer filters a texture. A point on a pixel centre weighs 1 there and 0
    on its neighbours, so splatting through the unprojecting camera still
    returns every pixel exactly.

    `blocks`, the boxes of the points' runs of BLOCK (`block_bounds`): runs
    whose box lies out of view are skipped, the same image to the bit (a long
    shot's memory lies mostly behind or beside the camera).
    """
    channels = colors.shape[1] if colors.ndim == 2 else 1
    colors = colors.reshape(len(colors), channels)
    image = np.zeros((height * width, channels), dtype=colors.dtype)
    if len(points):
        tests = _Tests(surface, labels, height * width)
        zbuf, (kept, fu, fv, depth, pixel) = _project(points, np.asarray(K, np.float64), np.asarray(c2w, np.float64),
                                                      width, height, tests, blocks)
        if bilinear:  # from the points that landed: one that fails at its own pixel is off this surface
            _bilinear_colors(fu, fv, depth, colors[kept], tests.own(kept), width, height, tests, zbuf, image)
        else:
            nearest = depth == zbuf[pixel]
            image[pixel[nearest]] = colors[kept[nearest]]
    else:
        zbuf = np.full(height * width, np.inf)
    zbuf = zbuf.astype(np.float32).reshape(height, width)
    return image.reshape(height, width, channels), zbuf, np.isfinite(zbuf)


class _Tests:
    """splat's surface and label tests as the flat float64 arrays its kernels take (empty where a test is off)."""

    def __init__(self, surface, labels, pixels: int):
        none = np.zeros(0)
        self.target, self.tolerance = none, none
        if surface is not None:
            self.target, self.tolerance = (np.asarray(a, np.float64).reshape(pixels) for a in surface)
        self.point_labels, self.pixel_labels = none, none
        if labels is not None:
            self.point_labels = np.asarray(labels[0]).reshape(-1)
            self.pixel_labels = np.asarray(labels[1]).reshape(pixels)

    def own(self, kept: np.ndarray) -> np.ndarray:
        """The labels of the points `kept` (empty without labels)."""
        return self.point_labels[kept] if len(self.point_labels) else self.point_labels


def block_bounds(points: np.ndarray) -> np.ndarray:
    """(n // BLOCK, 2, 3) float32: the lowest and highest corner of each complete run of BLOCK consecutive
    points (splat's `blocks`)."""
    runs = points[:len(points) // BLOCK * BLOCK].reshape(-1, BLOCK, 3)
    return np.stack([runs.min(axis=1), runs.max(axis=1)], axis=1)


def _project(points: np.ndarray, K: np.ndarray, c2w: np.ndarray, width: int, height: int, tests: "_Tests",
             blocks: np.ndarray | None) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The flat z-buffer (float64, inf where empty) of the points that land in the frame and pass the tests at
    their pixel, and those points in order: (indices, fu, fv, z, pixel). The runs of points whose box is out
    of view are skipped (`blocks`); each half of the rest on its own thread (700,000 points: 4 -> 2 ms), the
    z-buffers' minimum taken after."""
    if blocks is None:
        runs = np.array([[0, len(points)]], np.int64)
    else:
        if len(blocks) > len(points) // BLOCK:  # the kernels would read past the points
            raise ValueError(f"{len(blocks)} runs of {BLOCK} points for {len(points)} points")
        runs = np.empty((len(blocks) + 1, 2), np.int64)
        runs = runs[:_runs_in_view(blocks, len(points), K, c2w, width, height, runs)]

    def project(part: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        n = int((part[:, 1] - part[:, 0]).sum())
        zbuf = np.full(height * width, np.inf)
        out = (np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n), np.empty(n, np.int64))
        count = _project_kernel(points, part, K, c2w, width, height, tests.target, tests.tolerance,
                                tests.point_labels, tests.pixel_labels, zbuf, *out)
        return zbuf, [column[:count] for column in out]

    (zbuf, first), (other, second) = threads.pool().map(project, _halves(runs))
    np.minimum(zbuf, other, out=zbuf)
    return zbuf, tuple(np.concatenate(pair) for pair in zip(first, second))


def _halves(runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of points [start, stop) cut into two lists of runs with half of their points each, in order."""
    total = np.cumsum(runs[:, 1] - runs[:, 0])
    half = int(total[-1]) // 2 if len(runs) else 0
    cut = int(np.searchsorted(total, half, side="right"))  # the run holding the half-way point
    if cut == len(runs):
        return runs, runs[:0]
    at = int(runs[cut, 1] - (total[cut] - half))
    first = np.concatenate([runs[:cut], [[runs[cut, 0], at]]])
    second = np.concatenate([[[at, runs[cut, 1]]], runs[cut + 1:]])
    return first, second


@numba.njit(cache=True, nogil=True)
def _runs_in_view(blocks, n, K, c2w, width, height, runs):
    # a block is out of view when every corner of its box is behind the camera or beyond one side of the
    # frame (each test is linear in the point, so the box's corners bound it): with a pixel and half of NEAR
    # of margin, no point the projection would keep is skipped
    r, t = c2w[:3, :3], c2w[:3, 3]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    count = 0
    for b in range(len(blocks)):
        behind, left, right, above, below = True, True, True, True, True
        for corner in range(8):
            px = blocks[b, corner & 1, 0] - t[0]
            py = blocks[b, (corner >> 1) & 1, 1] - t[1]
            pz = blocks[b, corner >> 2, 2] - t[2]
            x = r[0, 0] * px + r[1, 0] * py + r[2, 0] * pz
            y = r[0, 1] * px + r[1, 1] * py + r[2, 1] * pz
            z = r[0, 2] * px + r[1, 2] * py + r[2, 2] * pz
            behind &= z < NEAR / 2
            left &= fx * x + (cx + 1) * z < 0                 # fu < -1 wherever z > 0
            right &= fx * x + (cx - width - 1) * z > 0        # fu > width + 1
            above &= fy * y + (cy + 1) * z < 0
            below &= fy * y + (cy - height - 1) * z > 0
        if behind or left or right or above or below:
            continue
        start = b * BLOCK
        if count and runs[count - 1, 1] == start:
            runs[count - 1, 1] = start + BLOCK
        else:
            runs[count, 0], runs[count, 1] = start, start + BLOCK
            count += 1
    tail = len(blocks) * BLOCK  # the points after the last complete block are always projected
    if tail < n:
        if count and runs[count - 1, 1] == tail:
            runs[count - 1, 1] = n
        else:
            runs[count, 0], runs[count, 1] = tail, n
            count += 1
    return count


@numba.njit(cache=True, nogil=True)
def _project_kernel(points, runs, K, c2w, width, height, target, tolerance, point_labels, pixel_labels, zbuf,
                    kept, fus, fvs, zs, pixels):
    # one pass per point, depth first: a long shot's memory lies mostly behind or beside the camera (numpy's
    # passes over every point, each with its temporaries, were most of a memory view: 18 -> 4 ms at 700,000)
    r, t = c2w[:3, :3], c2w[:3, 3]
    surface, labelled = len(target) > 0, len(point_labels) > 0
    count = 0
    for run in range(len(runs)):
        for i in range(runs[run, 0], runs[run, 1]):
            px, py, pz = points[i, 0] - t[0], points[i, 1] - t[1], points[i, 2] - t[2]
            z = r[0, 2] * px + r[1, 2] * py + r[2, 2] * pz
            if not z > NEAR:
                continue
            fu = K[0, 0] * (r[0, 0] * px + r[1, 0] * py + r[2, 0] * pz) / z + K[0, 2]
            fv = K[1, 1] * (r[0, 1] * px + r[1, 1] * py + r[2, 1] * pz) / z + K[1, 2]
            if not (fu >= 0 and fu < width and fv >= 0 and fv < height):
                continue
            pixel = np.int64(np.floor(fv)) * width + np.int64(np.floor(fu))
            if surface and not abs(z - target[pixel]) <= tolerance[pixel]:
                continue
            if labelled and point_labels[i] != pixel_labels[pixel]:
                continue
            zbuf[pixel] = min(zbuf[pixel], z)
            kept[count], fus[count], fvs[count], zs[count], pixels[count] = i, fu, fv, z, pixel
            count += 1
    return count


def _bilinear_colors(fu: np.ndarray, fv: np.ndarray, depth: np.ndarray, colors: np.ndarray, own: np.ndarray,
                     width: int, height: int, tests: _Tests, zbuf: np.ndarray, image: np.ndarray) -> None:
    """Into `image` (H * W, C), where a point landed (`zbuf` finite): the pixel's bilinear-weighted mean of the
    points (projected to (fu, fv) at z-depth `depth`, labelled `own`) around its centre that pass the surface
    and label tests there; 0 where none does. Offsets within SNAP_PX of a pixel centre snap to it (points are
    float32: one unprojected from a pixel centre comes back within 1e-5 px of it), so a point on a pixel
    centre weighs exactly 1 there."""
    sums = np.zeros((height * width, colors.shape[1] + 1))  # the weighted colours, then the weight
    colors = colors.astype(np.float32)
    # each half of the rows on its own thread, from every point in order: the same sums, in the same order
    list(threads.pool().map(lambda rows: _bilinear_kernel(fu, fv, depth, colors, own, width, height, tests.target,
                                                          tests.tolerance, tests.pixel_labels, sums, zbuf, image,
                                                          rows.start, rows.stop), threads.halves(height)))


@numba.njit(cache=True, nogil=True)
def _bilinear_kernel(fu, fv, depth, colors, own, width, height, target, tolerance, pixel_labels, sums, zbuf,
                     image, first_row, end_row):
    # float32 weights and products summed in float64, as the numpy bincounts this replaced (their order of
    # summation differs: on the bench's views the sums are the same to the bit). The tests are written out:
    # a jitted helper taking the arrays cost 20 ns a call.
    channels = colors.shape[1]
    surface, labelled = len(target) > 0, len(own) > 0
    for k in range(len(fu)):
        cu, cv = np.float32(fu[k] - 0.5), np.float32(fv[k] - 0.5)  # pixel-centre coordinates
        left, top = np.floor(cu), np.floor(cv)
        ax, ay = _snapped(cu - left), _snapped(cv - top)
        for dy in range(2):
            row = np.int64(top) + dy
            if row < first_row or row >= end_row:
                continue
            wy = ay if dy else np.float32(1) - ay
            for dx in range(2):
                col = np.int64(left) + dx
                if col < 0 or col >= width:
                    continue
                pixel = row * width + col
                if surface and not abs(depth[k] - target[pixel]) <= tolerance[pixel]:
                    continue
                if labelled and own[k] != pixel_labels[pixel]:
                    continue
                weight = (ax if dx else np.float32(1) - ax) * wy
                for c in range(channels):
                    sums[pixel, c] += weight * colors[k, c]
                sums[pixel, channels] += weight
    for pixel in range(first_row * width, end_row * width):
        if zbuf[pixel] < np.inf:
            for c in range(channels):
                image[pixel, c] = sums[pixel, c] / max(sums[pixel, channels], 1e-12)


@numba.njit(inline="always")
def _snapped(a):
    # compared in float32, as numpy compares a float32 array with a Python float
    return np.float32(0) if a < np.float32(SNAP_PX) else np.float32(1) if a > np.float32(1 - SNAP_PX) else a


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
