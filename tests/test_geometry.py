"""model_runtime.models.geometry: unproject, z-buffered splat and nearest fill against exact answers."""
from __future__ import annotations

import time

import numpy as np
import pytest

from eval_scenes import FX, H, K, W, pose, render
from model_runtime.models.geometry import BLOCK, block_bounds, fill_nearest, intrinsics_matrix, splat, unproject


def test_intrinsics_matrix():
    assert np.array_equal(intrinsics_matrix(2.0, 3.0, 4.0, 5.0), [[2, 0, 4], [0, 3, 5], [0, 0, 1]])


def test_unproject_is_the_pinhole_inverse():
    depth = np.full((2, 3), 4.0, np.float32)
    depth[0, 0], depth[1, 2] = np.inf, 0.0                                # sky and "no surface" are skipped
    rgb = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
    Kt = intrinsics_matrix(2.0, 2.0, 1.5, 1.0)
    c2w = pose(t=(10.0, 0.0, 0.0))
    points, colors = unproject(depth, rgb, Kt, c2w)
    assert points.dtype == np.float32 and len(points) == 4
    # pixel (row 0, col 1) has its centre at (1.5, 0.5): x = 0, y = (0.5 - 1) * 4 / 2 = -1, z = 4
    assert np.allclose(points[0], [10.0, -1.0, 4.0])
    assert np.array_equal(colors, rgb.reshape(6, 3)[[1, 2, 3, 4]])


def test_unproject_then_splat_through_the_same_camera_is_the_identity():
    c2w = pose(20.0, -5.0, (1.0, -0.5, 2.0))
    rgb, depth = render(c2w)
    image, zbuf, valid = splat(*unproject(depth, rgb, K, c2w), K, c2w, W, H)
    assert valid.all() and np.array_equal(image, rgb)
    assert np.allclose(zbuf, depth, rtol=1e-5)


def test_a_sideways_move_shifts_a_fronto_parallel_plane_by_the_disparity():
    depth = np.full((H, W), 5.0, np.float32)
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    shift = 8                                                             # pixels: fx * b / z
    moved = pose(t=(shift * 5.0 / FX, 0.0, 0.0))                          # camera moves right: image moves left
    image, zbuf, valid = splat(*unproject(depth, rgb, K, np.eye(4)), K, moved, W, H)
    assert np.array_equal(image[:, :W - shift], rgb[:, shift:])
    assert valid[:, :W - shift].all() and not valid[:, W - shift:].any()  # the newly seen strip is a hole
    assert np.allclose(zbuf[valid], 5.0) and np.isinf(zbuf[~valid]).all()


def test_bilinear_splat_through_the_same_camera_is_still_the_identity():
    c2w = pose(20.0, -5.0, (1.0, -0.5, 2.0))
    rgb, depth = render(c2w)
    colors = rgb.astype(np.float32) / 255
    image, zbuf, valid = splat(*unproject(depth, colors, K, c2w), K, c2w, W, H, bilinear=True)
    assert valid.all() and np.array_equal(image, colors)


def test_bilinear_splat_resamples_a_quarter_pixel_move_as_a_renderer_filters():
    depth = np.full((H, W), 5.0, np.float32)
    colors = np.random.default_rng(0).random((H, W, 3)).astype(np.float32)
    moved = pose(t=(0.25 * 5.0 / FX, 0.0, 0.0))                           # the image moves a quarter pixel left
    points = unproject(depth, colors, K, np.eye(4))
    nearest, _, valid = splat(*points, K, moved, W, H)
    filtered, _, valid_filtered = splat(*points, K, moved, W, H, bilinear=True)
    assert np.array_equal(valid, valid_filtered)
    assert np.array_equal(nearest[:, 1:-1], colors[:, 1:-1])              # each pixel jumps to one point
    expected = 0.75 * colors[:, 1:-2] + 0.25 * colors[:, 2:-1]            # its point 0.25 px off, the next 0.75 px
    assert np.allclose(filtered[:, 1:-2], expected, atol=1e-5)


def test_bilinear_splat_mixes_only_points_on_the_pixels_own_surface():
    Kt = intrinsics_matrix(1.0, 1.0, 1.0, 0.5)                            # a 2x1 image: u = x / z + 1
    us = [0.5, 0.8, 1.5, 1.3]                                             # near wall: 0.5, 0.8; far wall: 1.5, 1.3
    zs = [2.0, 2.0, 5.0, 5.0]
    points = np.array([[(u - 1.0) * z, 0.0, z] for u, z in zip(us, zs)], np.float32)
    colors = np.array([[0.1], [0.1], [0.3], [0.5]], np.float32)
    surface = (np.array([[2.0, 5.0]]), np.full((1, 2), 0.1))
    image, _, valid = splat(points, colors, Kt, np.eye(4), 2, 1, surface=surface, bilinear=True)
    assert valid.all()
    assert np.isclose(image[0, 0, 0], 0.1)                                # the far wall's points reach it, weighing 0
    assert np.isclose(image[0, 1, 0], (1.0 * 0.3 + 0.8 * 0.5) / 1.8)       # the near wall's point 0.7 px off does not


def test_the_nearest_point_wins_whatever_the_order():
    Kt = intrinsics_matrix(1.0, 1.0, 1.0, 1.0)                            # 2x2 image, centre at the corner
    points = np.array([[0.25, 0.25, 3.0], [0.5, 0.5, 2.0], [0.75, 0.75, 3.0],  # all land in pixel (1, 1)
                       [-0.5, -0.5, 1.0],                                 # pixel (0, 0)
                       [0.1, 0.1, -1.0], [9.0, 0.0, 1.0]], np.float32)    # behind the camera; outside
    colors = np.array([10, 20, 30, 40, 50, 60], np.uint8)
    for order in ([0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 0, 4, 1, 5, 3]):
        image, zbuf, valid = splat(points[order], colors[order], Kt, np.eye(4), 2, 2)
        assert image.shape == (2, 2, 1)
        assert image[1, 1, 0] == 20 and image[0, 0, 0] == 40
        assert np.array_equal(zbuf, [[1.0, np.inf], [np.inf, 2.0]])
        assert np.array_equal(valid, [[True, False], [False, True]])


def test_a_surface_keeps_only_the_points_on_it():
    Kt = intrinsics_matrix(1.0, 1.0, 1.0, 1.0)                            # 2x2 image, centre at the corner
    points = np.array([[0.5, 0.5, 2.0], [1.5, 1.5, 3.0],                  # pixel (1, 1): a stray point, the surface's
                       [-0.5, -0.5, 1.0]], np.float32)                    # pixel (0, 0): off its surface (4 m)
    colors = np.array([20, 30, 40], np.uint8)
    surface = (np.array([[4.0, 4.0], [4.0, 3.0]]), np.full((2, 2), 0.1))
    image, zbuf, valid = splat(points, colors, Kt, np.eye(4), 2, 2, surface=surface)
    assert image[1, 1, 0] == 30 and zbuf[1, 1] == 3.0
    assert np.array_equal(valid, [[False, False], [False, True]])


def test_splat_of_nothing_is_an_empty_frame():
    image, zbuf, valid = splat(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), K, np.eye(4), W, H)
    assert image.shape == (H, W, 3) and not image.any() and np.isinf(zbuf).all() and not valid.any()


def test_fill_nearest_takes_the_nearest_valid_pixel():
    image = np.zeros((3, 5, 1), np.uint8)
    image[1, 0], image[1, 4] = 7, 9
    valid = image[..., 0] > 0
    filled = fill_nearest(image, valid)
    assert filled[:, :2, 0].tolist() == [[7, 7]] * 3 and filled[:, 3:, 0].tolist() == [[9, 9]] * 3
    assert set(filled[:, 2, 0].tolist()) <= {7, 9}                       # column 2 is equally far from both
    assert image[0, 0, 0] == 0                                            # a copy: the input is untouched
    for mask in (np.zeros((3, 5), bool), np.ones((3, 5), bool)):          # nothing to fill from, or no hole
        out = fill_nearest(image, mask)
        assert np.array_equal(out, image) and out is not image


def _splat_point_by_point(points, colors, Kt, c2w, width, height):
    """The splat's definition, one point at a time: nearest z wins, the later point among equal z."""
    image, zbuf = np.zeros((height, width, colors.shape[1]), colors.dtype), np.full((height, width), np.inf)
    R, t = c2w[:3, :3], c2w[:3, 3]
    for point, colour in zip(points.astype(np.float64), colors):
        x, y, z = R.T @ (point - t)
        if z <= 1e-3:
            continue
        u, v = np.floor(Kt[0, 0] * x / z + Kt[0, 2]), np.floor(Kt[1, 1] * y / z + Kt[1, 2])
        if 0 <= u < width and 0 <= v < height and z <= zbuf[int(v), int(u)]:
            zbuf[int(v), int(u)], image[int(v), int(u)] = z, colour
    return image, zbuf.astype(np.float32), np.isfinite(zbuf)


def test_splat_equals_its_point_by_point_definition():
    rng = np.random.default_rng(3)
    points = rng.uniform(-6.0, 6.0, (3000, 3)).astype(np.float32)
    points[1500:] = points[:1500]                                         # exact ties: the later point wins
    colors = rng.random((3000, 3)).astype(np.float32)
    colors[1500:] = rng.random((1500, 3))
    for yaw in (0.0, 25.0, -30.0):
        c2w = pose(yaw, 10.0, (0.3, -0.2, -7.0))
        fast = splat(points, colors, K, c2w, W, H)
        slow = _splat_point_by_point(points, colors, K, c2w, W, H)
        assert fast[2].any() and all(np.array_equal(a, b) for a, b in zip(fast, slow)), yaw


def test_splat_skips_the_runs_of_points_out_of_view_and_gives_the_same_image_to_the_bit():
    rng = np.random.default_rng(4)
    # runs of BLOCK points on small patches all round the camera (a memory's points come a frame at a time)
    centres = rng.uniform(-20.0, 20.0, (40, 3))
    points = (centres[:, None] + rng.uniform(-0.5, 0.5, (40, BLOCK, 3))).reshape(-1, 3).astype(np.float32)
    points = np.concatenate([points, points[:100] + 0.01])                  # and a tail short of a run
    colors = rng.random((len(points), 4)).astype(np.float32)
    blocks = block_bounds(points)
    assert blocks.shape == (40, 2, 3) and (blocks[:, 0] <= points[:40 * BLOCK].reshape(40, BLOCK, 3).min(1)).all()
    for yaw in (0.0, 90.0, 180.0, -135.0):
        c2w = pose(yaw, 0.0, (0.0, 0.0, 0.0))
        depth = splat(points, colors[:, :3], K, c2w, W, H)[1]
        surface = (np.where(np.isfinite(depth), depth, 0.0), np.full((H, W), 0.3))
        labels = (colors[:, 3] > 0.5, np.arange(H * W).reshape(H, W) % 2 == 0)
        for kwargs in ({}, {"surface": surface, "bilinear": True}, {"surface": surface, "labels": labels}):
            every = splat(points, colors[:, :3], K, c2w, W, H, **kwargs)
            skipping = splat(points, colors[:, :3], K, c2w, W, H, blocks=blocks, **kwargs)
            assert every[2].any() and all(np.array_equal(a, b) for a, b in zip(every, skipping)), (yaw, kwargs)
    whole = points[:40 * BLOCK]                                             # facing away from every run
    away = splat(whole, colors[:40 * BLOCK, :3], K, pose(0.0, 0.0, (0.0, 0.0, 60.0)), W, H, blocks=blocks)
    assert not away[2].any() and np.isinf(away[1]).all()
    with pytest.raises(ValueError, match="runs of"):
        splat(whole[:-1], colors[:40 * BLOCK - 1, :3], K, c2w, W, H, blocks=blocks)
    c2w = pose(0.0, 0.0, (0.0, 0.0, 0.0))
    seen = splat(points, colors[:, :3], K, c2w, W, H)[2]
    landing = [b for b in range(40) if splat(points[b * BLOCK:(b + 1) * BLOCK], colors[:BLOCK, :3], K, c2w, W, H)[2].any()]
    lying = blocks.copy()
    lying[landing[0]] = [[0.0, 0.0, -9.0], [1.0, 1.0, -8.0]]                 # a box behind the camera: skipped
    missing = seen & ~splat(points, colors[:, :3], K, c2w, W, H, blocks=lying)[2]
    alone = splat(points[landing[0] * BLOCK:(landing[0] + 1) * BLOCK], colors[:BLOCK, :3], K, c2w, W, H)[2]
    assert missing.any() and not (missing & ~alone).any()
