"""The painter evaluation's metrics on synthetic frames with known answers."""
from __future__ import annotations

import numpy as np

from model_runtime.evaluation.painter_metrics import colour_drift, layout_adherence, sharpness_ratio, warping_error

W, H, F = 64, 36, 40.0


def cam(x: float) -> dict:
    c2w = np.eye(4)
    c2w[0, 3] = x
    return {"c2w": c2w.tolist(), "fx": F, "fy": F, "cx": W / 2, "cy": H / 2}


def wall_frames(n: int, flicker: float = 0.0) -> tuple[list[np.ndarray], list[np.ndarray], list[dict]]:
    """A textured wall 5 m away, the camera moving 0.25 m (2 pixels) sideways a frame."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (H, W + 2 * n, 3), dtype=np.uint8)
    frames = [texture[:, 2 * i:2 * i + W].copy() for i in range(n)]
    for i in range(1, n, 2):
        frames[i] = np.clip(frames[i].astype(float) + flicker, 0, 255).astype(np.uint8)
    return frames, [np.full((H, W), 5.0, np.float32)] * n, [cam(0.25 * i) for i in range(n)]


def test_warping_error_is_zero_for_consistent_frames_and_grows_with_flicker():
    assert warping_error(*wall_frames(4)) < 1e-10
    assert warping_error(*wall_frames(4, flicker=40)) > 0.01


def test_layout_adherence_sees_the_box_silhouette_and_nothing_in_a_flat_frame():
    depth = np.full((H, W), 10.0, np.float32)
    depth[10:26, 20:44] = 3.0
    drawn = np.full((H, W, 3), 60, np.uint8)
    drawn[10:26, 20:44] = 200
    assert layout_adherence(drawn, depth) > 0.8
    assert abs(layout_adherence(np.full((H, W, 3), 90, np.uint8), depth)) < 1e-9
    elsewhere = np.full((H, W, 3), 60, np.uint8)
    elsewhere[:, :8] = 200
    assert layout_adherence(elsewhere, depth) < 0.1


def test_sharpness_ratio_is_one_for_the_truth_and_low_for_blur():
    frames, _, _ = wall_frames(2)
    assert abs(sharpness_ratio(frames, frames) - 1.0) < 1e-9
    blurred = [np.full_like(f, int(f.mean())) for f in frames]
    assert sharpness_ratio(blurred, frames) < 0.05


def test_colour_drift_is_how_much_farther_the_surfaces_mean_colour_is_from_the_truth_at_the_end():
    truths, depths, _ = wall_frames(3)
    depths = [d.copy() for d in depths]
    for d in depths:
        d[:8] = 0.0                                  # sky on top: not a surface, not counted
    assert colour_drift(truths, truths, depths) == 0.0
    steady = [np.clip(t.astype(int) + 10, 0, 255).astype(np.uint8) for t in truths]
    assert abs(colour_drift(steady, truths, depths)) < 0.5  # as far off at the end as at the start
    wandering = [t.copy() for t in truths]
    wandering[-1][8:, :, 1] = np.clip(wandering[-1][8:, :, 1].astype(int) + 30, 0, 255)  # the green creeps up
    assert 5 < colour_drift(wandering, truths, depths) <= 10
    wandering[-1][:8] = 0                            # the sky going black changes nothing
    assert 5 < colour_drift(wandering, truths, depths) <= 10
