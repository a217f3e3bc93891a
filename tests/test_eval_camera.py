"""Camera-following error: known rotations and translations are recovered; the summary counts failures."""
from __future__ import annotations

import numpy as np
import pytest

from eval_scenes import K, pose, render, track
from model_runtime.evaluation.camera_error import (UNRECOVERED_DEG, PoseError, relative_pose_error, rotation_angle,
                                                   summarise, track_errors)


def pose_error(c2w_a: np.ndarray, c2w_b: np.ndarray, commanded: np.ndarray | None = None) -> PoseError:
    """The estimator on exact renders from two cameras, against `commanded` (default: the true relative pose)."""
    rel = np.linalg.inv(c2w_a) @ c2w_b if commanded is None else commanded
    return relative_pose_error(render(c2w_a)[0], render(c2w_b)[0], K, rel)


def test_a_known_rotation_is_recovered_within_a_degree():
    err = pose_error(pose(0.0), pose(3.0, 1.0))
    assert err.rotation_deg < 1.0 and err.translation_deg is None and not err.translating
    wrong = np.linalg.inv(pose(0.0)) @ pose(-3.0)                         # commanded the other way
    assert pose_error(pose(0.0), pose(3.0, 1.0), wrong).rotation_deg > 5.0


def test_a_known_translation_direction_is_recovered():
    err = pose_error(pose(0.0), pose(0.0, t=(0.5, 0.0, 0.0)))             # truck right 0.5 m
    assert err.translating and err.translation_deg < 10.0 and err.rotation_deg < 2.0
    backwards = np.linalg.inv(pose(0.0)) @ pose(0.0, t=(-0.5, 0.0, 0.0))
    assert pose_error(pose(0.0), pose(0.0, t=(0.5, 0.0, 0.0)), backwards).translation_deg > 150.0


def test_a_frozen_picture_recovers_no_motion():
    frame = render(pose(0.0))[0]
    turn = np.linalg.inv(pose(0.0)) @ pose(2.0)
    assert relative_pose_error(frame, frame, K, turn).rotation_deg == pytest.approx(2.0, abs=1e-6)
    move = np.linalg.inv(pose(0.0)) @ pose(1.0, t=(0.5, 0.0, 0.0))
    err = relative_pose_error(frame, frame, K, move)
    assert err.rotation_deg == pytest.approx(rotation_angle(move[:3, :3])) and err.translation_deg is None


def test_a_featureless_frame_is_unrecovered():
    flat = np.full_like(render(pose(0.0))[0], 128)
    err = relative_pose_error(flat, flat, K, np.linalg.inv(pose(0.0)) @ pose(2.0))
    assert err.rotation_deg is None and err.translation_deg is None


def test_track_errors_follow_the_truth_and_not_a_still():
    poses = [pose(0.75 * i, t=(0.06 * i, 0.0, 0.0)) for i in range(7)] + [pose(4.5, t=(0.36, 0.0, 0.0))] * 2
    tr = track(poses)
    truth = [render(p)[0] for p in poses]
    gt = track_errors(truth, tr)
    assert len(gt) == 3 + 2                                               # pairs (i-4, i) where the camera moved
    still = track_errors([truth[0]] * len(poses), tr)
    good, bad = summarise(gt, gt), summarise(still, gt)
    assert good["ratio"] == pytest.approx(1.0) and good["unrecovered"] == 0.0
    assert good["rotation_deg"] < 1.5 and good["translation_deg"] < 20.0
    assert bad["rotation_deg"] == pytest.approx(3.0, abs=1e-6)            # 4 frames of 0.75 degrees, not followed
    assert bad["translation_deg"] == UNRECOVERED_DEG and bad["ratio"] > 3.0


def test_summary_medians_count_unrecovered_pairs_as_worst():
    model = [PoseError(1.0, 10.0, True), PoseError(None, None, True), PoseError(2.0, None, False)]
    floor = [PoseError(0.5, 20.0, True), PoseError(0.5, 20.0, True), PoseError(0.01, None, False)]
    s = summarise(model, floor)
    assert s["rotation_deg"] == 2.0 and s["rotation_floor_deg"] == 0.5    # median of (1, 180, 2); of (.5, .5, .01)
    assert s["translation_deg"] == pytest.approx((10.0 + UNRECOVERED_DEG) / 2) and s["translation_floor_deg"] == 20.0
    assert s["rotation_ratio"] == 4.0 and s["translation_ratio"] == pytest.approx(95.0 / 20.0)
    assert s["ratio"] == pytest.approx(np.sqrt(4.0 * 95.0 / 20.0))
    better = summarise([PoseError(0.0, 180.0, True)], [PoseError(1.0, 20.0, True)])
    assert better["rotation_ratio"] == pytest.approx(0.1) and better["ratio"] == pytest.approx(3.0)  # no trade-off
    assert s["unrecovered"] == pytest.approx(1 / 3) and s["unrecovered_floor"] == 0.0
    assert summarise([], [])["ratio"] is None
    tiny = summarise([PoseError(0.0, None, False)], [PoseError(0.05, None, False)])
    assert tiny["ratio"] == 1.0                                           # both below the estimator's resolution
    with pytest.raises(ValueError, match="2 model pairs against 1"):
        summarise(model[:2], floor[:1])
