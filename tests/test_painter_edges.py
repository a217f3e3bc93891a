"""The crisp-edges stage on depth maps with known silhouettes: a box before a wall, a grazing floor, sky."""
from __future__ import annotations

import numpy as np

from model_runtime.painter.edges import Silhouettes, depth_edges

H, W = 24, 32
RED, GREY = np.array([0.8, 0.1, 0.1], np.float32), np.array([0.5, 0.5, 0.5], np.float32)


def box_before_wall() -> np.ndarray:
    depth = np.full((H, W), 10.0, np.float32)
    depth[:, :16] = 4.0  # the box fills the left half, its edge between columns 15 and 16
    return depth


def smeared(depth: np.ndarray) -> np.ndarray:
    """Red on the box, grey on the wall, blended over four columns across the edge (what a U-Net paints)."""
    mix = np.clip((np.arange(W) - 13.5) / 5, 0, 1)[None, :, None]
    return np.broadcast_to((1 - mix) * RED + mix * GREY, (H, W, 3)).astype(np.float32).copy()


def test_the_edge_of_a_box_before_a_wall_is_found_on_both_sides_and_only_there():
    edges = depth_edges(box_before_wall())
    assert edges[:, 15].all() and edges[:, 16].all()
    assert edges.sum() == 2 * H


def test_a_smeared_silhouette_becomes_a_step_where_the_blockout_puts_it():
    depth = box_before_wall()
    rgb = smeared(depth)
    out = Silhouettes(depth).crisp(rgb)
    # the band (columns 14-17) takes its own surface's colour from just outside it
    np.testing.assert_allclose(out[:, 14:16], np.broadcast_to(rgb[:, 13:14], (H, 2, 3)), atol=0.02)
    np.testing.assert_allclose(out[:, 16:18], np.broadcast_to(rgb[:, 18:19], (H, 2, 3)), atol=0.02)
    assert np.abs(out[:, 15] - out[:, 16]).sum(-1).min() > 0.5      # a step, no longer a ramp
    np.testing.assert_array_equal(out[:, :14], rgb[:, :14])          # nothing outside the band changes
    np.testing.assert_array_equal(out[:, 18:], rgb[:, 18:])


def test_a_grazing_floor_has_no_edges_but_its_horizon_against_sky():
    rows = (np.arange(H) + 0.5 - H / 2)[:, None] / 20.0
    depth = np.broadcast_to(np.where(rows > 0, 1.7 / np.maximum(rows, 1e-9), 0.0), (H, W)).astype(np.float32)
    edges = depth_edges(depth)
    assert edges[H // 2 - 1].all() and edges[H // 2].all()          # sky against the floor's first row
    assert not edges[H // 2 + 1:].any() and not edges[:H // 2 - 1].any()


def test_a_frame_without_edges_is_unchanged():
    rgb = np.random.default_rng(0).random((H, W, 3)).astype(np.float32)
    np.testing.assert_array_equal(Silhouettes(np.full((H, W), 5.0, np.float32)).crisp(rgb), rgb)


def test_only_the_band_pixels_asked_for_are_redrawn():
    depth = box_before_wall()
    rgb = smeared(depth)
    new = np.zeros((H, W), bool)
    new[:, 16:] = True  # the memory covers the box's side: only the wall's side is new ground
    out = Silhouettes(depth, new).crisp(rgb)
    np.testing.assert_array_equal(out[:, :16], rgb[:, :16])
    np.testing.assert_array_equal(out[:, 16:], Silhouettes(depth).crisp(rgb)[:, 16:])


def test_the_pixels_said_drawn_are_drawn_again_whatever_they_held():
    depth = box_before_wall()
    depth[10:13, 16] = 7.0   # a sliver one pixel wide beside the box with no source of its depth near it
    new = np.zeros((H, W), bool)
    new[:, 12:20] = True
    silhouettes = Silhouettes(depth, new)
    drawn = silhouettes.drawn
    assert not (drawn & ~(silhouettes.band & new)).any()
    assert drawn[:8, 14:18].all() and not drawn[10:13, 16].any()
    rgb = smeared(depth)
    other = rgb.copy()
    other[drawn] = 0.0       # what the painter put there does not matter
    np.testing.assert_array_equal(silhouettes.crisp(rgb)[drawn], silhouettes.crisp(other)[drawn])
    kept = silhouettes.band & new & ~drawn
    assert kept.any()        # band pixels without a source keep what was painted: the painter must paint them
    np.testing.assert_array_equal(silhouettes.crisp(other)[kept], other[kept])
