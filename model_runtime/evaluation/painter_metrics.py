"""Metrics of the painter evaluation (docs/evaluation.md, "Painter evaluation"); numpy, scipy and OpenCV only.

The painter paints the look of each frame over the blockout's passes, so the
blockout gives exact geometry to judge it with:

- `sharpness` / `sharpness_ratio`: mean gradient magnitude of the luma, the
  generated frame's over the ground truth's (1.0 is right, far below is blur);
- `warping_error`: temporal warping error after Lai et al. 2018 ("Learning Blind
  Video Temporal Consistency"), with the exact flow and occlusion from the
  blockout's depth and the cameras (a static scene) instead of estimated flow;
- `layout_adherence`: share of the blockout's depth-discontinuity edges that
  appear as image edges, minus the same share at positions shifted across
  those edges (chance);
- `sky_streaks`: vertical seams in the sky, in grey levels: the luma step from one
  column of sky to the next, averaged down the column, less its local median
  across columns (a smooth gradient gives 0, a step painted strip by strip its
  size; texture averages out down a column);
- `revisit_psnr` (metrics.psnr) and `drift` (drift.frame_drift), reused.

Conventions (docs/architecture.md): frames uint8 (H, W, 3) RGB; depth float32
(H, W) z-depth in metres, 0 or inf where there is no surface (sky); cameras as
wire-format track frames {"c2w": OpenCV camera-to-world 4x4, "fx", "fy", "cx",
"cy"}; pixel (row i, column j) has its centre at (u, v) = (j + 0.5, i + 0.5), as
in model_runtime.models.geometry.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy import ndimage

from model_runtime.evaluation.drift import frame_drift
from model_runtime.evaluation.metrics import psnr
from model_runtime.models.geometry import NEAR, intrinsics_matrix

DEPTH_TOLERANCE = 0.02
"""Warping error: a reprojected surface point is visible in the previous frame when its z-depth there agrees with
the previous frame's depth (inverse depth interpolated bilinearly) within this relative tolerance."""
SNAP_PX = 1e-6
"""Sampling positions this close to a pixel centre are taken as that centre (float rounding of exact warps)."""
DEPTH_JUMP = 0.05
"""Layout adherence: relative z-depth jump between 4-neighbours that makes a depth discontinuity."""
EDGE_GRADIENT = 0.04
"""Layout adherence: an image edge is a pixel whose luma gradient magnitude (see `gradient_magnitude`) is at least
this (a clean step of 0.08, about 20 of 255 levels, gives 0.04 on both sides)."""
EDGE_RADIUS = 1
"""Layout adherence: a depth edge is found when an image edge lies within this many pixels (Chebyshev)."""
MIN_CHANCE_SHIFT = 4
CHANCE_SHIFT_PER_WIDTH = 1 / 48
"""Layout adherence: chance positions are the depth edges moved across themselves by
max(MIN_CHANCE_SHIFT, round(width * CHANCE_SHIFT_PER_WIDTH)) pixels (4 at 192x108, 8 at 384x216, 40 at 1920x1080)."""


# ---------------------------------------------------------------------------------------------- sharpness

def _luma(frame: np.ndarray) -> np.ndarray:
    """Rec. 601 luma (OpenCV's RGB2GRAY) in [0, 1], float64."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"want a uint8 (H, W, 3) RGB frame, got {frame.dtype} {frame.shape}")
    r, g, b = (frame[..., c].astype(np.float64) for c in range(3))
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255.0


def gradient_magnitude(frame: np.ndarray) -> np.ndarray:
    """(H, W) float64: |Sobel| of the luma in [0, 1], the 3x3 Sobel kernels divided by 8 (so a linear ramp of slope
    s per pixel gives s; reflected borders, OpenCV's BORDER_REFLECT_101)."""
    y = _luma(frame)
    gx = cv2.Sobel(y, cv2.CV_64F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(y, cv2.CV_64F, 0, 1, ksize=3) / 8.0
    return np.hypot(gx, gy)


def sharpness(frame: np.ndarray) -> float:
    """Mean luma gradient magnitude of a uint8 RGB frame (`gradient_magnitude` averaged over all pixels)."""
    return float(gradient_magnitude(frame).mean())


def sharpness_ratio(frames: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """Mean over frames of sharpness(generated) / sharpness(ground truth); 1.0 is right, far below is blur.

    A ground-truth frame without any gradient (sharpness 0) is left out; nan when every one is.
    """
    if len(frames) != len(truths) or not len(frames):
        raise ValueError(f"want as many generated frames as ground-truth frames (>= 1): {len(frames)} vs {len(truths)}")
    ratios = [sharpness(f) / s for f, t in zip(frames, truths) if (s := sharpness(t)) > 0]
    return float(np.mean(ratios)) if ratios else float("nan")


# ------------------------------------------------------------------------------------------- sky streaks

STREAK_WINDOW = 9
"""Sky streaks: a column's step is measured against the median step of this many columns around it."""
STREAK_MIN_ROWS = 8
"""Sky streaks: a column boundary counts where at least this many rows have sky on both sides."""


def sky_streaks(frame: np.ndarray, depth: np.ndarray) -> float:
    """Vertical seams in the sky of a frame, in grey levels (of 255); nan with fewer than STREAK_WINDOW column
    boundaries of sky.

    Per boundary between columns x and x + 1 with sky on both sides in at least STREAK_MIN_ROWS rows, the mean
    over those rows of the signed luma step; the figure is the mean absolute difference of those steps from
    their running median over STREAK_WINDOW boundaries. A seam painted down the sky stands out from the steps
    beside it; a gradient across the sky is the same step everywhere; noise and clouds average out down a
    column. The sky is where the blockout has no surface (depth 0 or inf)."""
    sky = ~_surface(depth)
    pairs = sky[:, 1:] & sky[:, :-1]
    rows = pairs.sum(0)
    usable = rows >= STREAK_MIN_ROWS
    if usable.sum() < STREAK_WINDOW:
        return float("nan")
    steps = np.where(pairs, np.diff(_luma(frame), axis=1), 0.0).sum(0)[usable] / rows[usable]
    return float(np.abs(steps - ndimage.median_filter(steps, size=STREAK_WINDOW, mode="nearest")).mean() * 255)


def mean_of_numbers(values: Sequence[float]) -> float:
    """The mean of the values that are numbers; nan, without numpy's warning, when none is (a clip without
    sky has no sky streaks, a frame without depth edges no layout adherence)."""
    numbers = [v for v in values if not np.isnan(v)]
    return float(np.mean(numbers)) if numbers else float("nan")


def surface_colour_error(frame: np.ndarray, truth: np.ndarray, depth: np.ndarray) -> float:
    """Grey levels (of 255): the mean over R, G and B of |the frame's mean colour - the truth's| over the pixels
    where the blockout has a surface (depth finite and positive); nan where it has none."""
    solid = _surface(depth)
    if not solid.any():
        return float("nan")
    return float(np.abs(frame[solid].astype(np.float64).mean(0) - truth[solid].astype(np.float64).mean(0)).mean())


def colour_drift(frames: Sequence[np.ndarray], truths: Sequence[np.ndarray], depths: Sequence[np.ndarray]) -> float:
    """Grey levels: `surface_colour_error` at the last frame minus at the first. A painter whose colours wander
    from the truth as the clip goes on (a level carried from strip to strip of a pan) scores above 0; one that
    stays as far off as it started, 0. PSNR and SSIM, averaged over the frames, barely see a drift that builds
    up late."""
    return (surface_colour_error(frames[-1], truths[-1], depths[-1])
            - surface_colour_error(frames[0], truths[0], depths[0]))


# ----------------------------------------------------------------------------------------- warping error

def _surface(depth: np.ndarray) -> np.ndarray:
    return np.isfinite(depth) & (depth > 0)


def _camera(track_frame: dict) -> tuple[np.ndarray, np.ndarray]:
    return (intrinsics_matrix(track_frame["fx"], track_frame["fy"], track_frame["cx"], track_frame["cy"]),
            np.asarray(track_frame["c2w"], dtype=np.float64))


def reproject_previous(prev_frame: np.ndarray, prev_depth: np.ndarray, depth: np.ndarray, prev_camera: dict,
                       camera: dict) -> tuple[np.ndarray, np.ndarray]:
    """The previous frame backward-warped into this frame, and where that warp is valid: (warped, mask).

    warped: (H, W, 3) float64 in [0, 1]; mask: (H, W) bool, the non-occlusion mask M of Lai et al.

    For every pixel centre p = (u, v) of this frame: with z-depth z > 0 (a surface), X = c2w (K^-1 (u, v, 1) z)
    is its world point, projected into the previous camera to (u', v') at z-depth z'; with no surface (sky) the
    ray direction d = R K^-1 (u, v, 1) is projected instead (a point at infinity: only the rotation acts). The
    previous frame is sampled bilinearly (float64, on pixel centres) at (u' - 0.5, v' - 0.5); positions within
    SNAP_PX of a pixel centre are snapped to it, so an exact warp copies pixels exactly. M(p) holds when
    - the sampling position lies inside the previous frame's pixel centres (0 <= u' - 0.5 <= W' - 1, same in v),
      with z' > NEAR for a surface (d in front of the previous camera for sky), and
    - surface: every previous pixel with a nonzero bilinear weight is a surface and the bilinearly interpolated
      inverse depth of the previous frame q satisfies |z' q - 1| <= DEPTH_TOLERANCE (inverse depth is affine in
      the image on a plane, so this is exact on planes); sky: every previous pixel with a nonzero weight is sky.
    """
    h, w = depth.shape
    ph, pw = prev_depth.shape
    if prev_frame.shape[:2] != (ph, pw) or ph < 2 or pw < 2:
        raise ValueError(f"previous frame {prev_frame.shape} and depth {prev_depth.shape} disagree (or under 2x2)")
    K, c2w = _camera(camera)
    Kp, c2wp = _camera(prev_camera)
    surf, prev_surf = _surface(depth), _surface(prev_depth)
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)  # camera frame, z = 1
    z = np.where(surf, depth, 0.0).astype(np.float64)
    R, Rp = c2w[:3, :3], c2wp[:3, :3]
    # surface: X_prev = Rp^T (R ray z + t - tp); sky: d_prev = Rp^T R ray
    rot = Rp.T @ R
    cam_prev = rays @ rot.T
    cam_prev = np.where(surf[..., None], cam_prev * z[..., None] + Rp.T @ (c2w[:3, 3] - c2wp[:3, 3]), cam_prev)
    zp = cam_prev[..., 2]
    in_front = np.where(surf, zp > NEAR, zp > 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = Kp[0, 0] * cam_prev[..., 0] / zp + Kp[0, 2] - 0.5
        y = Kp[1, 1] * cam_prev[..., 1] / zp + Kp[1, 2] - 0.5
    x = np.where(np.abs(x - np.round(x)) <= SNAP_PX, np.round(x), x)
    y = np.where(np.abs(y - np.round(y)) <= SNAP_PX, np.round(y), y)
    inside = in_front & np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x <= pw - 1) & (y >= 0) & (y <= ph - 1)
    xs, ys = np.where(inside, x, 0.0), np.where(inside, y, 0.0)
    x0 = np.minimum(np.floor(xs).astype(np.int64), pw - 2)
    y0 = np.minimum(np.floor(ys).astype(np.int64), ph - 2)
    ax, ay = xs - x0, ys - y0
    corners = [(y0, x0, (1 - ax) * (1 - ay)), (y0, x0 + 1, ax * (1 - ay)),
               (y0 + 1, x0, (1 - ax) * ay), (y0 + 1, x0 + 1, ax * ay)]
    prev = prev_frame.astype(np.float64) / 255.0
    inv_prev = np.where(prev_surf, 1.0 / np.where(prev_surf, prev_depth, 1.0), 0.0)
    warped = np.zeros((h, w, 3))
    inv_depth = np.zeros((h, w))
    all_surface, all_sky = np.ones((h, w), bool), np.ones((h, w), bool)
    for r, c, weight in corners:
        warped += weight[..., None] * prev[r, c]
        inv_depth += weight * inv_prev[r, c]
        used = weight > 0
        all_surface &= ~used | prev_surf[r, c]
        all_sky &= ~used | ~prev_surf[r, c]
    agrees = np.abs(zp * inv_depth - 1.0) <= DEPTH_TOLERANCE
    mask = inside & np.where(surf, all_surface & agrees, all_sky)
    return np.where(mask[..., None], warped, 0.0), mask


def warping_errors(frames: Sequence[np.ndarray], depths: Sequence[np.ndarray], track_frames: Sequence[dict]
                   ) -> list[float]:
    """Per consecutive pair (t-1, t): sum_p M(p) ||I_t(p) - warp(I_{t-1})(p)||^2 / sum_p M(p), RGB in [0, 1]
    (squared Euclidean norm over the 3 channels); nan for a pair whose mask is empty."""
    if not len(frames) == len(depths) == len(track_frames):
        raise ValueError(f"want one depth and one camera per frame: {len(frames)}, {len(depths)}, {len(track_frames)}")
    errors = []
    for t in range(1, len(frames)):
        if frames[t].shape[:2] != depths[t].shape:
            raise ValueError(f"frame {t}: picture {frames[t].shape} and depth {depths[t].shape} disagree")
        warped, mask = reproject_previous(frames[t - 1], depths[t - 1], depths[t], track_frames[t - 1],
                                          track_frames[t])
        n = int(mask.sum())
        if not n:
            errors.append(float("nan"))
            continue
        diff = frames[t].astype(np.float64) / 255.0 - warped
        errors.append(float((diff ** 2).sum(-1)[mask].sum() / n))
    return errors


def warping_error(frames: Sequence[np.ndarray], depths: Sequence[np.ndarray], track_frames: Sequence[dict]) -> float:
    """Temporal warping error (Lai et al. 2018) with exact flow and occlusion: the mean of `warping_errors` over
    the pairs with a non-empty mask (nan when there is none). 0 for frames that agree exactly wherever the scene
    is seen in both; larger when frames flicker."""
    errors = [e for e in warping_errors(frames, depths, track_frames) if np.isfinite(e)]
    return float(np.mean(errors)) if errors else float("nan")


# ------------------------------------------------------------------------------------- layout adherence

def depth_edges(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The blockout's depth-discontinuity edges: (across_columns, across_rows), (H, W) bool each.

    A pair of 4-neighbours (p, q) is a discontinuity when exactly one of them is sky, or when both are surfaces
    with max(z)/min(z) - 1 > DEPTH_JUMP and no side explains the jump as one plane: side p (with its neighbour o
    on the far side of p from q, both surfaces) explains it when the inverse depth extrapolated linearly,
    2/z_p - 1/z_o, predicts q within DEPTH_JUMP (|z_q (2/z_p - 1/z_o) - 1| <= DEPTH_JUMP); likewise side q.
    (Inverse depth is affine in the image on a plane, so a ground plane seen at a grazing angle, whose depth grows
    by more than 5% a pixel near the horizon, makes no edges.) The edge is marked on the pixel of the pair that is
    nearer the camera (the surface one against sky): the silhouette's own pixels. across_columns holds the edges
    found between horizontal neighbours (edge lines running up and down), across_rows those between vertical
    neighbours.
    """
    surf = _surface(depth)
    inv = np.where(surf, 1.0 / np.where(surf, depth.astype(np.float64), 1.0), 0.0)
    z = np.where(surf, depth.astype(np.float64), np.inf)

    def along_columns(z: np.ndarray, inv: np.ndarray, surf: np.ndarray) -> np.ndarray:
        """Edges between (i, j) and (i, j + 1), marked on the nearer pixel."""
        h, w = z.shape
        out = np.zeros((h, w), bool)
        if w < 2:
            return out
        zp, zq, sp, sq = z[:, :-1], z[:, 1:], surf[:, :-1], surf[:, 1:]
        ip, iq = inv[:, :-1], inv[:, 1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            jump = sp & sq & (np.maximum(zp, zq) / np.minimum(zp, zq) - 1 > DEPTH_JUMP)
        zp, zq = np.where(sp, zp, 0.0), np.where(sq, zq, 0.0)  # sky pixels explain nothing (their flags are off)
        # side p extrapolates from (o = j - 1, p = j) to q = j + 1; side q from (r = j + 2, q = j + 1) to p = j
        explained = np.zeros_like(jump)
        so = np.zeros_like(sp)
        so[:, 1:] = surf[:, :-2]
        io = np.zeros_like(ip)
        io[:, 1:] = inv[:, :-2]
        explained |= so & (np.abs(zq * (2 * ip - io) - 1) <= DEPTH_JUMP)
        sr = np.zeros_like(sq)
        sr[:, :-1] = surf[:, 2:]
        ir = np.zeros_like(iq)
        ir[:, :-1] = inv[:, 2:]
        explained |= sr & (np.abs(zp * (2 * iq - ir) - 1) <= DEPTH_JUMP)
        edge = (sp != sq) | (jump & ~explained)
        p_nearer = np.where(sp & sq, zp <= zq, sp)
        out[:, :-1] |= edge & p_nearer
        out[:, 1:] |= edge & ~p_nearer
        return out

    across_columns = along_columns(z, inv, surf)
    across_rows = along_columns(z.T, inv.T, surf.T).T
    return across_columns, across_rows


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """a moved by (dy, dx) pixels, False where nothing moved in."""
    out = np.zeros_like(a)
    h, w = a.shape
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = a[max(-dy, 0):h - max(dy, 0),
                                                                    max(-dx, 0):w - max(dx, 0)]
    return out


def image_edges(frame: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose luma gradient magnitude is at least EDGE_GRADIENT."""
    return gradient_magnitude(frame) >= EDGE_GRADIENT


def layout_adherence_parts(frame: np.ndarray, depth: np.ndarray) -> dict[str, float]:
    """{"share", "chance", "adherence" (share - chance), "edges" (count)}; see `layout_adherence`."""
    if frame.shape[:2] != depth.shape:
        raise ValueError(f"picture {frame.shape} and depth {depth.shape} disagree")
    h, w = depth.shape
    across_columns, across_rows = depth_edges(depth)
    edges = across_columns | across_rows
    n = int(edges.sum())
    if not n:
        return {"share": float("nan"), "chance": float("nan"), "adherence": float("nan"), "edges": 0}
    size = 2 * EDGE_RADIUS + 1
    near_image_edge = ndimage.binary_dilation(image_edges(frame), np.ones((size, size), bool))
    share = float(near_image_edge[edges].mean())
    # chance: the same test at the depth edges moved across themselves, both ways, leaving out positions that
    # fall outside the frame or next to a depth edge (those would measure adherence again)
    s = max(MIN_CHANCE_SHIFT, round(w * CHANCE_SHIFT_PER_WIDTH))
    near_depth_edge = ndimage.binary_dilation(edges, np.ones((size, size), bool))
    hits = count = 0
    for source, moves in ((across_columns, ((0, s), (0, -s))), (across_rows, ((s, 0), (-s, 0)))):
        for dy, dx in moves:
            moved = _shift(source, dy, dx) & ~near_depth_edge
            hits += int(near_image_edge[moved].sum())
            count += int(moved.sum())
    chance = hits / count if count else float(near_image_edge[~near_depth_edge].mean()) if (~near_depth_edge).any() \
        else 0.0
    return {"share": share, "chance": float(chance), "adherence": share - float(chance), "edges": n}


def layout_adherence(frame: np.ndarray, depth: np.ndarray) -> float:
    """Share of the blockout's depth-discontinuity edges (`depth_edges`) that have an image edge (`image_edges`)
    within EDGE_RADIUS pixels, minus that share at chance positions: every depth-edge pixel moved by s pixels
    across its own edge (along the row for edges between horizontal neighbours, along the column for those between
    vertical neighbours), both ways, s = max(MIN_CHANCE_SHIFT, round(W * CHANCE_SHIFT_PER_WIDTH)), positions
    outside the frame or within EDGE_RADIUS of a depth edge left out (where none is left: the share of all pixels
    away from depth edges). About 1 for a picture that draws the silhouettes and nothing else, about 0 for a flat
    picture, one whose edges are elsewhere, or one with edges everywhere; nan without depth edges."""
    return layout_adherence_parts(frame, depth)["adherence"]


# ------------------------------------------------------------------------------------- revisit and drift

def revisit_psnr(first: np.ndarray, returning: np.ndarray) -> float:
    """PSNR (metrics.psnr, capped at 60 dB) of the frame where the camera is back at its starting pose against
    frame 0."""
    return psnr(returning, first)


def drift(frames: Sequence[np.ndarray]) -> dict[str, float]:
    """Drift of a long rollout against its frame 0 (evaluation/drift.py: colour shift last and worst, layout
    contrast ratio)."""
    return frame_drift(list(frames))
