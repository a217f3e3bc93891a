"""Where the painter's network runs: boxes around the new ground with context, or the whole frame."""
from __future__ import annotations

import numpy as np

from model_runtime.painter.regions import CONTEXT, MIN_BOX, box_margins, paint_boxes
from model_runtime.painter.session import EDGE_MARGIN, pad_to

H, W = 216, 384


def boxes_of(new: np.ndarray) -> list:
    return paint_boxes(new, EDGE_MARGIN)


def _covers(boxes, mask) -> bool:
    inside = np.zeros_like(mask)
    for y0, y1, x0, x1 in boxes:
        inside[y0:y1, x0:x1] = True
    return bool(inside[mask].all())


def test_nothing_new_runs_nothing_and_a_pan_strip_gets_one_box_at_its_border():
    assert boxes_of(np.zeros((H, W), bool)) == []
    strip = np.zeros((H, W), bool)
    strip[:, -3:] = True  # a pan to the right reveals three columns
    boxes = boxes_of(strip)
    assert boxes == [(0, H, W - 3 - CONTEXT, W)]  # the strip and its context, against the right border
    dilated = np.zeros((H, W), bool)
    dilated[:, -3 - CONTEXT:] = True
    assert _covers(boxes, dilated)  # the strip and its context


def test_two_far_apart_slivers_get_two_boxes_and_new_ground_everywhere_gets_the_frame():
    slivers = np.zeros((H, W), bool)
    slivers[10:20, 5:8] = True
    slivers[190:200, 370:380] = True
    boxes = boxes_of(slivers)
    assert len(boxes) == 2 and _covers(boxes, slivers)
    assert all(y1 - y0 >= MIN_BOX[1] and x1 - x0 >= MIN_BOX[0] for y0, y1, x0, x1 in boxes)
    assert all(0 <= y0 < y1 <= H and 0 <= x0 < x1 <= W for y0, y1, x0, x1 in boxes)
    ys, xs = np.meshgrid(np.arange(0, H, 40), np.arange(0, W, 60), indexing="ij")
    scattered = np.zeros((H, W), bool)
    scattered[ys, xs] = True
    assert boxes_of(scattered) == [(0, H, 0, W)]


def test_boxes_that_overlap_merge_and_a_small_frame_is_one_box():
    near = np.zeros((H, W), bool)
    near[50, 100] = near[60, 125] = True  # their boxes (context and MIN_BOX) overlap
    boxes = boxes_of(near)
    assert len(boxes) == 1 and _covers(boxes, near)
    small = np.zeros((12, 14), bool)  # smaller than MIN_BOX
    small[5, 5] = True
    assert boxes_of(small) == [(0, 12, 0, 14)]


def test_a_box_is_padded_only_where_it_meets_the_frames_border():
    m = EDGE_MARGIN
    assert box_margins((100, 148, 200, 248), H, W, m) == (0, 0, 0, 0)   # inside: its context is its margin
    assert box_margins((0, H, W - 48, W), H, W, m) == (m, m, 0, m)     # a pan's strip at the right border
    assert box_margins((0, H, 0, W), H, W, m) == (m, m, m, m)          # the whole frame
    features = np.random.default_rng(0).random((2, 48, 48)).astype(np.float32)
    assert pad_to(features, (0, 0, 0, 0)).shape == (2, 48, 48)         # a 48x48 box runs on 48x48 pixels
    padded = pad_to(features, (m, 0, 0, m))
    assert padded.shape == (2, 64, 64) and np.array_equal(padded[:, m:m + 48, :48], features)
