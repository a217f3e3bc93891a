"""Camera-following error: the relative pose between frames, recovered from the pixels.

Pairs are PAIR_STRIDE frames apart (i, i + 4): at 24 fps and 192x108, consecutive
frames of a dolly or crane differ by a fraction of a pixel of parallax, which
no estimator can turn into a translation direction; four frames apart they do not.

SIFT features (found on the frame upsampled 2x with CLAHE contrast, because
previs frames are small and often hazy), Lowe's ratio test (0.8), the essential matrix with the known
intrinsics (RANSAC) and cheirality (recoverPose) give the rotation and the
translation direction from frame a to frame b. The commanded relative pose `rel`
(camera b in camera a's frame) predicts x_b = R_rel^T x_a - R_rel^T t_rel. Errors
are the rotation angle of R_est R_expected^T and the angle between translation
directions (only where the commanded translation is at least MIN_TRANSLATION m,
as the direction of a near-zero move is noise). The same estimator on the
ground-truth frames is the floor.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_MATCHES = 12
PAIR_STRIDE = 4
MIN_TRANSLATION = 0.1   # metres over a pair (after the shot's scale): less is no measurable parallax
MIN_ROTATION = 0.25     # degrees over a pair: below this and MIN_TRANSLATION the camera did not move


@dataclass
class PoseError:
    rotation_deg: float | None     # None where the pose could not be recovered
    translation_deg: float | None  # None where not recovered or no translation was commanded


UPSAMPLE = 2


def _features(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Keypoint positions (N, 2) in pixels of the frame, and their SIFT descriptors."""
    gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None, fx=UPSAMPLE, fy=UPSAMPLE,
                      interpolation=cv2.INTER_CUBIC)
    gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    keypoints, descriptors = cv2.SIFT_create(nfeatures=2000, contrastThreshold=0.01).detectAndCompute(gray, None)
    return np.float64([k.pt for k in keypoints]).reshape(-1, 2) / UPSAMPLE, descriptors


def angle_between(u: np.ndarray, v: np.ndarray) -> float:
    cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def rotation_angle(R: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0))))


def relative_pose_error(a: np.ndarray, b: np.ndarray, K: np.ndarray, rel: np.ndarray, scale: float = 1.0) -> PoseError:
    """Error of the pose recovered from frames a -> b against the commanded 4x4 `rel`."""
    ka, da = _features(a)
    kb, db = _features(b)
    if da is None or db is None or len(ka) < MIN_MATCHES or len(kb) < MIN_MATCHES:
        return PoseError(None, None)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < 0.8 * n.distance]
    if len(good) < MIN_MATCHES:
        return PoseError(None, None)
    pa = ka[[m.queryIdx for m in good]]
    pb = kb[[m.trainIdx for m in good]]
    R_exp = rel[:3, :3].T
    t_exp = -R_exp @ rel[:3, 3]
    moved = np.linalg.norm(rel[:3, 3]) * scale >= MIN_TRANSLATION
    if not moved:
        H, _ = cv2.findHomography(pa, pb, cv2.RANSAC, 1.0)
        if H is None:
            return PoseError(None, None)
        u, _, vt = np.linalg.svd(np.linalg.inv(K) @ H @ K)
        R = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt  # nearest rotation
        return PoseError(rotation_angle(R @ R_exp.T), None)
    E, inliers = cv2.findEssentialMat(pa, pb, K, method=cv2.RANSAC, prob=0.999, threshold=1.0)
    if E is None or E.shape != (3, 3):
        return PoseError(None, None)
    _, R, t, _ = cv2.recoverPose(E, pa, pb, K, mask=inliers)
    return PoseError(rotation_angle(R @ R_exp.T), angle_between(t.reshape(3), t_exp))


def track_errors(frames: list[np.ndarray], track: dict) -> list[PoseError]:
    """PoseError of every pair (i - PAIR_STRIDE, i) of frames of a track where the camera moved."""
    out = []
    scale = track.get("scale", 1.0)
    for i in range(PAIR_STRIDE, len(frames)):
        f = track["frames"][i]
        rel = np.linalg.inv(np.asarray(track["frames"][i - PAIR_STRIDE]["c2w"])) @ np.asarray(f["c2w"])
        if rotation_angle(rel[:3, :3]) < MIN_ROTATION and np.linalg.norm(rel[:3, 3]) * scale < MIN_TRANSLATION:
            continue  # nothing to follow
        K = np.array([[f["fx"], 0, f["cx"]], [0, f["fy"], f["cy"]], [0, 0, 1.0]])
        out.append(relative_pose_error(frames[i - PAIR_STRIDE], frames[i], K, rel, scale))
    return out
