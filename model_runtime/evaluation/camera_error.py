"""Camera-following error: the relative pose between frames, recovered from the pixels (docs/evaluation.md).

Pairs are PAIR_STRIDE frames apart (i - 4, i): at 24 fps and 192x108, consecutive
frames of a dolly or crane differ by a fraction of a pixel of parallax, which
no estimator can turn into a translation direction; four frames apart they do not.

SIFT features (found on the frame upsampled 2x with CLAHE contrast, because
previs frames are small and often hazy), Lowe's ratio test (0.8), then with the
known intrinsics K either the essential matrix (RANSAC, 1 px) and cheirality
(`recoverPose`) for a pair whose commanded translation is at least
MIN_TRANSLATION, or the homography H = K R K^-1 (Hartley & Zisserman 2004,
sec. 8.4.2) for a pair that only turns, whose translation direction is noise.

The commanded relative pose `rel = inv(c2w_a) @ c2w_b` (camera b in camera a's
frame) maps a's camera coordinates to b's as x_b = R^T x_a - R^T t, so the
expected (R, t-direction) of OpenCV's convention is (R_rel^T, -R_rel^T t_rel).
Errors: the rotation angle of R_est R_expected^T, arccos((tr - 1) / 2), and the
angle between the recovered and expected translation directions. A pair whose
pose cannot be recovered (too few matches, no model) counts as UNRECOVERED_DEG,
the worst possible angle. Summaries are medians over pairs, so a few
catastrophic pairs (rain streaks, a frame of pure sky) do not dominate; the
same estimator on the ground-truth frames gives the floor.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_MATCHES = 12
PAIR_STRIDE = 4
MIN_TRANSLATION = 0.1   # metres over a pair (after the track's scale): less is no measurable parallax
MIN_ROTATION = 0.25     # degrees over a pair: below this and MIN_TRANSLATION the camera did not move
UPSAMPLE = 2
MIN_FLOW = 0.1          # pixels: if 90% of the matches moved less, the picture did not move (far scenery
                        # keeps a median near 0.02 px in real translating pairs, so the median would not do)
UNRECOVERED_DEG = 180.0
RATIO_FLOOR_DEG = 0.1   # errors below this count as this in ratios: ~0.25 px at 192x108, the estimator's resolution


Features = tuple[np.ndarray, "np.ndarray | None"]
"""Keypoint positions (N, 2) in frame pixels and their descriptors (None when there are none)."""


@dataclass
class PoseError:
    """Errors of one frame pair; None where the pose could not be recovered."""

    rotation_deg: float | None
    translation_deg: float | None
    translating: bool
    """The commanded translation is at least MIN_TRANSLATION: translation_deg is measured (None = unrecovered)."""


def _features(rgb: np.ndarray) -> Features:
    """Keypoint positions (N, 2) in pixels of the frame, and their SIFT descriptors."""
    gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None, fx=UPSAMPLE, fy=UPSAMPLE,
                      interpolation=cv2.INTER_CUBIC)
    gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    keypoints, descriptors = cv2.SIFT_create(nfeatures=2000, contrastThreshold=0.01).detectAndCompute(gray, None)
    return np.float64([k.pt for k in keypoints]).reshape(-1, 2) / UPSAMPLE, descriptors


def angle_between(u: np.ndarray, v: np.ndarray) -> float:
    """Angle in degrees between two 3-vectors: arccos(u.v / (|u| |v|))."""
    cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def rotation_angle(R: np.ndarray) -> float:
    """Rotation angle in degrees of a 3x3 rotation: arccos((trace(R) - 1) / 2)."""
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0))))


def relative_pose_error(a: np.ndarray, b: np.ndarray, K: np.ndarray, rel: np.ndarray, scale: float = 1.0) -> PoseError:
    """Error of the pose recovered from frames a -> b (uint8 RGB) against the commanded 4x4 `rel`."""
    return _pose_error(_features(a), _features(b), K, rel, scale)


def _pose_error(fa: Features, fb: Features, K: np.ndarray, rel: np.ndarray, scale: float) -> PoseError:
    translating = bool(np.linalg.norm(rel[:3, 3]) * scale >= MIN_TRANSLATION)
    failed = PoseError(None, None, translating)
    (ka, da), (kb, db) = fa, fb
    if da is None or db is None or len(ka) < MIN_MATCHES or len(kb) < MIN_MATCHES:
        return failed
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < 0.8 * n.distance]
    if len(good) < MIN_MATCHES:
        return failed
    pa = ka[[m.queryIdx for m in good]]
    pb = kb[[m.trainIdx for m in good]]
    R_exp = rel[:3, :3].T
    t_exp = -R_exp @ rel[:3, 3]
    if np.percentile(np.linalg.norm(pb - pa, axis=1), 90) < MIN_FLOW:
        # the picture did not move: no rotation, and no translation direction to see (E is degenerate)
        return PoseError(rotation_angle(R_exp), None, translating)
    if not translating:
        H, _ = cv2.findHomography(pa, pb, cv2.RANSAC, 1.0)
        if H is None:
            return failed
        M = np.linalg.inv(K) @ H @ K                                      # = s R for a pure rotation
        M *= np.sign(np.linalg.det(M))                                    # H is defined up to a (signed) scale
        u, _, vt = np.linalg.svd(M)
        R = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt          # nearest rotation
        return PoseError(rotation_angle(R @ R_exp.T), None, False)
    E, inliers = cv2.findEssentialMat(pa, pb, K, method=cv2.RANSAC, prob=0.999, threshold=1.0)
    if E is None or E.shape != (3, 3):
        return failed
    _, R, t, _ = cv2.recoverPose(E, pa, pb, K, mask=inliers)
    return PoseError(rotation_angle(R @ R_exp.T), angle_between(t.reshape(3), t_exp), True)


def track_errors(frames: list[np.ndarray], track: dict) -> list[PoseError]:
    """PoseError of every pair (i - PAIR_STRIDE, i) of a track's frames where the commanded camera moved."""
    out = []
    scale = track.get("scale", 1.0)
    features: dict[int, Features] = {}
    for i in range(PAIR_STRIDE, min(len(frames), len(track["frames"]))):
        f = track["frames"][i]
        rel = np.linalg.inv(np.asarray(track["frames"][i - PAIR_STRIDE]["c2w"])) @ np.asarray(f["c2w"])
        if rotation_angle(rel[:3, :3]) < MIN_ROTATION and np.linalg.norm(rel[:3, 3]) * scale < MIN_TRANSLATION:
            continue  # nothing to follow
        for j in (i - PAIR_STRIDE, i):
            if j not in features:
                features[j] = _features(frames[j])
        K = np.array([[f["fx"], 0, f["cx"]], [0, f["fy"], f["cy"]], [0, 0, 1.0]])
        out.append(_pose_error(features[i - PAIR_STRIDE], features[i], K, rel, scale))
    return out


def _median(errors: list[float | None]) -> float | None:
    """Median with unrecovered pairs (None) counted as UNRECOVERED_DEG; None for no pairs."""
    return float(np.median([UNRECOVERED_DEG if e is None else e for e in errors])) if errors else None


def summarise(model: list[PoseError], floor: list[PoseError]) -> dict[str, float | None]:
    """Median errors of a model's pairs and of the same pairs on the ground truth, and their ratios.

    rotation_ratio = max(median rotation error, RATIO_FLOOR_DEG) / max(floor, RATIO_FLOOR_DEG)
    (errors below the estimator's resolution are all alike), likewise
    translation_ratio over translating pairs; `ratio` (the headline) is
    sqrt(max(1, rotation_ratio) * max(1, translation_ratio)), or max(1, rotation_ratio)
    where no pair translates: 1 means "follows the camera as well as the ground
    truth can be measured to" (beating the floor is an artefact of the estimator,
    and must not let a good rotation hide a lost translation); None where no pair moved.
    """
    if len(model) != len(floor):
        raise ValueError(f"{len(model)} model pairs against {len(floor)} ground-truth pairs")
    rot_m, rot_f = _median([e.rotation_deg for e in model]), _median([e.rotation_deg for e in floor])
    trans_m = _median([e.translation_deg for e in model if e.translating])
    trans_f = _median([e.translation_deg for e in floor if e.translating])
    rotation_ratio = None if rot_m is None else max(rot_m, RATIO_FLOOR_DEG) / max(rot_f, RATIO_FLOOR_DEG)
    translation_ratio = None if trans_m is None else max(trans_m, RATIO_FLOOR_DEG) / max(trans_f, RATIO_FLOOR_DEG)
    if rotation_ratio is None:
        ratio = None
    elif translation_ratio is None:
        ratio = max(1.0, rotation_ratio)
    else:
        ratio = float(np.sqrt(max(1.0, rotation_ratio) * max(1.0, translation_ratio)))
    return {"pairs": len(model), "translating_pairs": sum(e.translating for e in model),
            "rotation_deg": rot_m, "rotation_floor_deg": rot_f,
            "translation_deg": trans_m, "translation_floor_deg": trans_f,
            "rotation_ratio": rotation_ratio, "translation_ratio": translation_ratio, "ratio": ratio,
            "unrecovered": sum(e.rotation_deg is None for e in model) / len(model) if model else None,
            "unrecovered_floor": sum(e.rotation_deg is None for e in floor) / len(floor) if floor else None}
