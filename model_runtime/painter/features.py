"""What the painter sees at a pixel: the blockout's geometry, the camera's rays, the memory, and noise.

One function makes the features for training and for inference, so the two
cannot drift apart. Channels (FEATURE_CHANNELS = 14, float32, (C, H, W)):

| index | feature |
|---|---|
| 0 | grey shading of the blockout, [0, 1] |
| 1 | log depth, log1p(z) / log1p(1000); 0 where sky |
| 2 | sky mask (nothing of the blockout hit) |
| 3-5 | world-space surface normal from the depth (Z up); 0 where sky |
| 6-8 | world-space unit ray direction (paints the sky by elevation, clouds by direction) |
| 9-11 | memory colour, [0, 1], 0 where the memory holds nothing |
| 12 | memory valid mask |
| 13 | noise, standard normal, seeded per frame (lets the painter invent texture instead of its mean) |
| 14- | texture basis (a config's `basis_frequencies`, 4 channels each; none for the first painter) |

The texture basis gives the painter a carrier for texture that is fixed to the
world, as its training looks' textures are (box-projected in metres,
data/scenes.py): per frequency f (cycles per metre), sin and cos of 2 pi f
times the two in-plane coordinates of the surface point's box projection,
each faded by how far it moves across one pixel (a Gaussian pixel filter:
amplitude exp(-2 (pi f sigma)^2), sigma half that step) so that far and
grazing surfaces get no moire. Painted from it, a wall's texture stays on the
wall as the camera moves, where noise drawn per frame would crawl.
"""
from __future__ import annotations

import numpy as np

from model_runtime.models.geometry import intrinsics_matrix

FEATURE_CHANNELS = 14
SHADE = slice(0, 1)
MEMORY_RGB = slice(9, 12)
MEMORY_VALID = slice(12, 13)
LOG_DEPTH_SCALE = float(np.log1p(1000.0))


def camera(frame: dict) -> tuple[np.ndarray, np.ndarray]:
    """K (3x3) and the OpenCV c2w (4x4) of a wire-format track frame."""
    return intrinsics_matrix(frame["fx"], frame["fy"], frame["cx"], frame["cy"]), np.asarray(frame["c2w"])


def rays(frame: dict, width: int, height: int) -> np.ndarray:
    """(H, W, 3) float32 camera-space rays with z = 1 through pixel centres."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float32) + 0.5, np.arange(height, dtype=np.float32) + 0.5)
    return np.stack([(u - frame["cx"]) / frame["fx"], (v - frame["cy"]) / frame["fy"], np.ones_like(u)], -1)


def world_normals(depth: np.ndarray, cam_rays: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit world normals from z-depth by finite differences, facing the camera; 0 where sky."""
    points = cam_rays * depth[..., None]
    dx = np.zeros_like(points)
    dy = np.zeros_like(points)
    dx[:, 1:-1] = points[:, 2:] - points[:, :-2]
    dy[1:-1] = points[2:] - points[:-2]
    dx[:, 0], dx[:, -1] = dx[:, 1], dx[:, -2]
    dy[0], dy[-1] = dy[1], dy[-2]
    n = np.cross(dy, dx)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    flip = (n * cam_rays).sum(-1, keepdims=True) > 0  # face the camera
    n = np.where(flip, -n, n)
    n = n @ rotation.T
    return np.where((depth > 0)[..., None], n, 0.0).astype(np.float32)


def feature_channels(basis_frequencies: tuple[float, ...] = ()) -> int:
    """Channels of `frame_features` with this texture basis."""
    return FEATURE_CHANNELS + 4 * len(basis_frequencies)


def _pixel_step(coord: np.ndarray) -> np.ndarray:
    """(H, W) how far `coord` moves from a pixel to the next (the smaller one-sided difference on each axis, so
    a depth edge beside the pixel does not count), as a length over the two screen axes."""
    def along(axis: int) -> np.ndarray:
        step = np.abs(np.diff(coord, axis=axis))
        before = np.concatenate([np.take(step, [0], axis), step], axis)
        after = np.concatenate([step, np.take(step, [-1], axis)], axis)
        return np.minimum(before, after)
    return np.hypot(along(0), along(1))


def texture_basis(depth: np.ndarray, cam_rays: np.ndarray, c2w: np.ndarray, normals: np.ndarray,
                  frequencies: tuple[float, ...]) -> np.ndarray:
    """(4 * len(frequencies), H, W) float32: per frequency sin and cos of the surface point's two box-projected
    coordinates (the axes `data/scenes._world_uvs` maps textures with), each faded by how far it moves across
    a pixel (the screen-space derivative, as a GPU filters a texture: a grazing floor fades along its depth
    first); 0 where sky. normals: (H, W, 3) world normals (world_normals)."""
    hit = depth > 0
    points = (cam_rays * depth[..., None]) @ c2w[:3, :3].T.astype(np.float32) + c2w[:3, 3].astype(np.float32)
    axis = np.abs(normals).argmax(-1)
    u = np.where(axis == 0, points[..., 1], points[..., 0])
    v = np.where(axis == 2, points[..., 1], points[..., 2])
    out = np.empty((4 * len(frequencies), *depth.shape), np.float32)
    for j, coord in enumerate((u, v)):
        sigma = 0.5 * _pixel_step(coord)  # a Gaussian pixel filter half a pixel's footprint wide
        for i, f in enumerate(frequencies):
            fade = np.where(hit, np.exp(-2 * (np.pi * f * sigma) ** 2), 0)
            phase = 2 * np.pi * f * coord
            out[4 * i + 2 * j] = np.sin(phase) * fade
            out[4 * i + 2 * j + 1] = np.cos(phase) * fade
    return out


def frame_features(shade: np.ndarray, depth: np.ndarray, frame: dict, memory_rgb: np.ndarray,
                   memory_valid: np.ndarray, noise: np.ndarray, basis_frequencies: tuple[float, ...] = ()
                   ) -> np.ndarray:
    """(feature_channels(basis_frequencies), H, W) float32. shade uint8 (H, W); depth float32 (H, W), 0 where
    sky; frame a wire-format track frame; memory_rgb float32 (H, W, 3) in [0, 1]; memory_valid bool (H, W);
    noise (H, W)."""
    h, w = depth.shape
    c2w = np.asarray(frame["c2w"], np.float64)
    rotation = c2w[:3, :3].astype(np.float32)
    cam_rays = rays(frame, w, h)
    hit = depth > 0
    directions = cam_rays @ rotation.T
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    # the track is OpenCV world = Blender world (Z up); only the camera axes are flipped
    out = np.empty((feature_channels(basis_frequencies), h, w), np.float32)
    out[0] = shade.astype(np.float32) / 255
    out[1] = np.where(hit, np.log1p(np.maximum(depth, 0)) / LOG_DEPTH_SCALE, 0)
    out[2] = ~hit
    normals = world_normals(depth, cam_rays, rotation)
    out[3:6] = normals.transpose(2, 0, 1)
    out[6:9] = directions.transpose(2, 0, 1)
    valid = memory_valid.astype(np.float32)
    out[MEMORY_RGB] = (memory_rgb * valid[..., None]).transpose(2, 0, 1)
    out[MEMORY_VALID] = valid
    out[13] = noise
    if basis_frequencies:
        out[FEATURE_CHANNELS:] = texture_basis(depth, cam_rays, c2w, normals, basis_frequencies)
    return out


def box_features(shade: np.ndarray, depth: np.ndarray, frame: dict, memory_rgb: np.ndarray,
                 memory_valid: np.ndarray, noise: np.ndarray, basis_frequencies: tuple[float, ...],
                 box: tuple[int, int, int, int]) -> np.ndarray:
    """`frame_features` of the box (y0, y1, x0, x1) of the frame, the same values as the whole frame's there:
    made from the box two pixels wider (the basis's fade looks a pixel aside at coordinates that follow the
    normals, which look a pixel aside) with the principal point moved by the crop, so painting boxes of new
    ground does not make the whole frame's features."""
    y0, y1, x0, x1 = box
    h, w = depth.shape
    top, bottom, left, right = max(y0 - 2, 0), min(y1 + 2, h), max(x0 - 2, 0), min(x1 + 2, w)
    crop = (slice(top, bottom), slice(left, right))
    moved = dict(frame, cx=frame["cx"] - left, cy=frame["cy"] - top)
    out = frame_features(shade[crop], depth[crop], moved, memory_rgb[crop], memory_valid[crop], noise[crop],
                         basis_frequencies)
    return out[:, y0 - top:y1 - top, x0 - left:x1 - left]
