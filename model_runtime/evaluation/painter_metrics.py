"""Frame metrics of the painter's evaluation, from the frames and the blockout's exact geometry (numpy).

Definitions (docs/evaluation.md, "Painter evaluation"):

- sharpness: mean gradient magnitude of the luma (Sobel, [0, 1] scale); the
  ratio to the ground truth's is 1.0 when right and far below 1 for blur.
- warping error (Lai et al. 2018): frame t-1 warped into frame t with the
  exact flow from t's depth and both cameras (static scene), compared where
  the surface of t is visible in t-1 (its reprojected depth agrees with t-1's
  depth within 2%, inside the frame; sky pixels reproject as directions):
  mean squared RGB difference ([0, 1]) over those pixels, averaged over pairs.
- layout adherence: share of the blockout's depth edges (neighbours whose
  depth differs by more than 5%, or sky against surface) that land on an
  image edge (Sobel magnitude above EDGE_THRESHOLD within one pixel), minus
  the same share for the depth edges shifted by (17, 11) pixels (chance).
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from model_runtime.geometry import intrinsics_matrix

DEPTH_TOLERANCE = 0.02
EDGE_JUMP = 0.05
EDGE_THRESHOLD = 0.08
CHANCE_SHIFT = (11, 17)


def _luma(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255


def _gradient(frame: np.ndarray) -> np.ndarray:
    luma = _luma(frame)
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3) / 8
    return np.sqrt(gx * gx + gy * gy)


def sharpness(frame: np.ndarray) -> float:
    return float(_gradient(frame).mean())


def sharpness_ratio(frames: list[np.ndarray], truths: list[np.ndarray]) -> float:
    return float(np.mean([sharpness(f) / max(sharpness(t), 1e-6) for f, t in zip(frames, truths)]))


def _warp_pair(prev: np.ndarray, depth_prev: np.ndarray, cam_prev: dict, depth: np.ndarray, cam: dict
               ) -> tuple[np.ndarray, np.ndarray]:
    """prev (float RGB) seen from `cam` with the exact flow, and the non-occluded mask."""
    h, w = depth.shape
    K, Kp = (intrinsics_matrix(c["fx"], c["fy"], c["cx"], c["cy"]) for c in (cam, cam_prev))
    c2w, c2w_prev = np.asarray(cam["c2w"]), np.asarray(cam_prev["c2w"])
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    sky = depth <= 0
    world_dir = rays @ c2w[:3, :3].T
    world = np.where(sky[..., None], 0, world_dir * depth[..., None] + c2w[:3, 3])
    rel = world - np.where(sky[..., None], 0, c2w_prev[:3, 3])
    cam_pts = rel @ c2w_prev[:3, :3]          # R^T (p - t), row vectors
    cam_pts = np.where(sky[..., None], world_dir @ c2w_prev[:3, :3], cam_pts)
    z = cam_pts[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        up = Kp[0, 0] * cam_pts[..., 0] / z + Kp[0, 2]
        vp = Kp[1, 1] * cam_pts[..., 1] / z + Kp[1, 2]
    inside = (z > 1e-3) & (up >= 0.5) & (up <= w - 0.5) & (vp >= 0.5) & (vp <= h - 0.5)
    mx, my = np.where(inside, up - 0.5, 0).astype(np.float32), np.where(inside, vp - 0.5, 0).astype(np.float32)
    warped = cv2.remap(prev, mx, my, cv2.INTER_LINEAR)
    seen_depth = cv2.remap(depth_prev.astype(np.float32), mx, my, cv2.INTER_NEAREST)
    visible = np.where(sky, seen_depth <= 0,
                       np.abs(seen_depth - z) <= DEPTH_TOLERANCE * np.maximum(z, 1e-3))
    return warped, inside & visible


def warping_error(frames: list[np.ndarray], depths: list[np.ndarray], cams: list[dict]) -> float:
    """Mean over consecutive pairs of the masked squared error of frame t against t-1 warped into t."""
    errors = []
    for t in range(1, len(frames)):
        warped, mask = _warp_pair(frames[t - 1].astype(np.float32) / 255, depths[t - 1], cams[t - 1],
                                  depths[t], cams[t])
        if mask.any():
            diff = ((frames[t].astype(np.float32) / 255 - warped) ** 2).sum(-1)
            errors.append(float(diff[mask].mean()))
    return float(np.mean(errors)) if errors else 0.0


def depth_edges(depth: np.ndarray) -> np.ndarray:
    sky = depth <= 0
    d = np.where(sky, 1e6, depth)
    edge = np.zeros(depth.shape, bool)
    for axis in (0, 1):
        a, b = np.take(d, range(d.shape[axis] - 1), axis), np.take(d, range(1, d.shape[axis]), axis)
        jump = np.abs(a - b) > EDGE_JUMP * np.minimum(a, b)
        pad = [(0, 0), (0, 0)]
        pad[axis] = (0, 1)
        edge |= np.pad(jump, pad)
    return edge


def layout_adherence(frame: np.ndarray, depth: np.ndarray) -> float:
    edges = depth_edges(depth)
    if not edges.any():
        return 0.0
    image_edges = ndimage.binary_dilation(_gradient(frame) > EDGE_THRESHOLD, np.ones((3, 3), bool))
    hit = image_edges[edges].mean()
    chance = image_edges[np.roll(edges, CHANCE_SHIFT, axis=(0, 1))].mean()
    return float(hit - chance)
