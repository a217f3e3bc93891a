"""The painter evaluation's metrics (model_runtime/evaluation/painter_metrics.py) on synthetic cases with known answers.

Scenes: a textured wall 10 m away with a box face 5 m away in front of it and sky above, rendered by splatting a
point cloud (one point per pixel centre) through cameras that move sideways by exactly 2 pixels of the wall
(4 of the box) a frame, so the exact warp copies whole pixels and consistent frames score exactly 0; the points'
identities give the exact occlusion mask. And a ground plane seen at a grazing angle under sky, rendered by ray
casting through a rotating and moving camera, for warps that fall between pixels.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from model_runtime.evaluation import painter_metrics as pm
from model_runtime.evaluation.drift import frame_drift
from model_runtime.evaluation.metrics import psnr
from model_runtime.models.geometry import intrinsics_matrix, splat

W, H, F = 96, 54, 40.0
WALL_Z, BOX_Z, STEP = 10.0, 5.0, 0.5          # 0.5 m sideways = 2 px at 10 m, 4 px at 5 m


def camera(x: float = 0.0, yaw_deg: float = 0.0, fx: float = F) -> dict:
    c2w = np.eye(4)
    a = np.radians(yaw_deg)
    c2w[:3, :3] = [[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]
    c2w[0, 3] = x
    return {"c2w": c2w.tolist(), "fx": fx, "fy": fx, "cx": W / 2, "cy": H / 2}


def _grid_points(z: float, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """World points at z-depth z through the pixel centres (cols, rows) of the camera at x = 0."""
    c, r = np.meshgrid(cols, rows)
    return np.stack([(c + 0.5 - W / 2) * z / F, (r + 0.5 - H / 2) * z / F, np.full(c.shape, z)], -1).reshape(-1, 3)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 3) and colours (N, 3) uint8 in 20..230 (so +-20 levels never clip): wall rows 12.., box face."""
    rng = np.random.default_rng(0)
    wall = _grid_points(WALL_Z, np.arange(-40, W + 40), np.arange(12, H))
    box = _grid_points(BOX_Z, np.arange(30, 50), np.arange(20, 40))
    points = np.concatenate([wall, box]).astype(np.float64)
    colors = rng.integers(20, 231, (len(points), 3)).astype(np.uint8)
    return points, colors


def sky_colour(track_frame: dict) -> np.ndarray:
    """Sky colour by direction (H, W, 3) uint8: it depends on the ray only, as a sky at infinity does."""
    K = intrinsics_matrix(track_frame["fx"], track_frame["fy"], track_frame["cx"], track_frame["cy"])
    c2w = np.array(track_frame["c2w"])
    u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1) @ c2w[:3, :3].T
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    rgb = np.stack([0.5 + 0.3 * d[..., 0], 0.6 - 0.3 * d[..., 1], 0.8 + 0.1 * d[..., 2]], -1)
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def render_splat(scene, track_frames: list[dict]) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames, depths (inf = sky) and point identities (-1 = sky) through each camera."""
    points, colors = scene
    frames, depths, ids = [], [], []
    for tf in track_frames:
        K = intrinsics_matrix(tf["fx"], tf["fy"], tf["cx"], tf["cy"])
        image, zbuf, valid = splat(points, colors, K, np.array(tf["c2w"]), W, H)
        index, _, _ = splat(points, np.arange(len(points))[:, None], K, np.array(tf["c2w"]), W, H)
        frames.append(np.where(valid[..., None], image, sky_colour(tf)))
        depths.append(zbuf)
        ids.append(np.where(valid, index[..., 0], -1))
    return frames, depths, ids


def flicker(frames: list[np.ndarray], levels: int) -> list[np.ndarray]:
    """Every other frame brighter by `levels` on all channels."""
    return [np.clip(f.astype(np.int64) + (levels if i % 2 else 0), 0, 255).astype(np.uint8)
            for i, f in enumerate(frames)]


# ------------------------------------------------------------------------------------------ warping error

def test_consistent_frames_score_exactly_zero_and_the_mask_is_the_exact_occlusion(scene):
    cams = [camera(STEP * i) for i in range(4)]
    frames, depths, ids = render_splat(scene, cams)
    assert all(np.isinf(d[:12]).all() for d in depths) and all(np.isfinite(d[12:]).all() for d in depths)
    assert pm.warping_error(frames, depths, cams) == 0.0
    assert pm.warping_errors(frames, depths, cams) == [0.0, 0.0, 0.0]
    for t in range(1, 4):
        warped, mask = pm.reproject_previous(frames[t - 1], depths[t - 1], depths[t], cams[t - 1], cams[t])
        # known answer: a surface pixel is valid where its point is seen in t-1 (the wall's 2 rightmost columns
        # left t-1's frame; the wall right of the box was behind it), a sky pixel where t-1 has sky there
        seen_before = np.isin(ids[t], ids[t - 1][ids[t - 1] >= 0])
        expected = np.where(ids[t] >= 0, seen_before, ids[t - 1] < 0)
        np.testing.assert_array_equal(mask, expected)
        left = 30 - 4 * t                                      # the box spans columns left..left + 19 at frame t
        assert mask[20:40, left:left + 20].all()               # all of the box was seen 4 pixels further right
        assert not mask[20:40, left + 20:left + 22].any()      # 2 columns of wall uncovered beside it (4 - 2 px)
        assert mask[20:40, left + 22:left + 30].all()
        assert not mask[20:, W - 2:].any() and mask[:12].all()
        np.testing.assert_array_equal(np.round(warped[mask] * 255).astype(np.uint8), frames[t][mask])


def test_flicker_of_a_known_size_gives_its_known_error(scene):
    cams = [camera(STEP * i) for i in range(5)]
    frames, depths, _ = render_splat(scene, cams)
    # every pair differs by 10 levels on each of 3 channels wherever it is compared: 3 (10/255)^2
    assert pm.warping_error(flicker(frames, 10), depths, cams) == pytest.approx(3 * (10 / 255) ** 2, rel=1e-9)
    assert pm.warping_error(flicker(frames, 20), depths, cams) == pytest.approx(3 * (20 / 255) ** 2, rel=1e-9)
    # the same frames painted without regard to the camera (each one the first frame again): large error
    assert pm.warping_error([frames[0]] * 5, depths, cams) > 0.02


def test_sky_at_infinity_and_depth_given_as_zero(scene):
    cams = [camera(STEP * i) for i in range(3)]
    frames, depths, _ = render_splat(scene, cams)
    zero_sky = [np.where(np.isfinite(d), d, 0).astype(np.float32) for d in depths]
    assert pm.warping_error(frames, zero_sky, cams) == 0.0
    _, mask_inf = pm.reproject_previous(frames[0], depths[0], depths[1], cams[0], cams[1])
    _, mask_zero = pm.reproject_previous(frames[0], zero_sky[0], zero_sky[1], cams[0], cams[1])
    np.testing.assert_array_equal(mask_inf, mask_zero)


def ground_frame(track_frame: dict, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A ground plane 1.5 m below the camera (world y = +1.5, y down) with a smooth texture (no
    aliasing at the horizon), sky above; ray cast."""
    K = intrinsics_matrix(track_frame["fx"], track_frame["fy"], track_frame["cx"], track_frame["cy"])
    c2w = np.array(track_frame["c2w"])
    u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    cam_rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    rays = cam_rays @ c2w[:3, :3].T
    with np.errstate(divide="ignore"):
        s = (1.5 - c2w[1, 3]) / rays[..., 1]                     # ray parameter where it meets the ground
    hit = (rays[..., 1] > 1e-6) & (s < 400)
    world = c2w[:3, 3] + rays * np.where(hit, s, 0)[..., None]
    tex = 0.5 + 0.3 * np.sin(world[..., 0] * 0.15)[..., None] * np.cos(world[..., 2, None] * 0.02 + np.array([0, 1, 2]))
    rgb = np.where(hit[..., None], tex, sky_colour(track_frame) / 255.0)
    depth = np.where(hit, s, np.inf).astype(np.float32)      # z-depth: cam_rays have z = 1
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8), depth


def test_warps_between_pixels_a_grazing_ground_and_a_panning_camera():
    cams = [camera(0.1 * i, yaw_deg=1.5 * i) for i in range(4)]
    frames, depths = zip(*(ground_frame(c) for c in cams))
    consistent = pm.warping_error(list(frames), list(depths), cams)
    flickering = pm.warping_error(flicker(list(frames), 10), list(depths), cams)
    assert consistent < 1e-4                                   # bilinear resampling and 8-bit rounding only
    assert flickering > 0.8 * 3 * (10 / 255) ** 2
    _, mask = pm.reproject_previous(frames[0], depths[0], depths[1], cams[0], cams[1])
    # the ground near the horizon grows by far more than 2% a row, yet inverse depth interpolates exactly
    assert mask[np.isfinite(depths[1])].mean() > 0.9 and mask[~np.isfinite(depths[1])].mean() > 0.9


def test_warping_error_edge_cases(scene):
    cams = [camera(), camera(1000.0)]                          # the second camera sees nothing the first saw
    frames, depths, _ = render_splat(scene, [camera(), camera()])
    assert np.isnan(pm.warping_errors(frames, [depths[0], np.full((H, W), 3.0, np.float32)], cams)[0])
    assert np.isnan(pm.warping_error(frames[:1], depths[:1], cams[:1]))
    with pytest.raises(ValueError):
        pm.warping_error(frames, depths[:1], cams)


# ---------------------------------------------------------------------------------------- layout adherence

def box_depth() -> np.ndarray:
    depth = np.full((H, W), WALL_Z, np.float32)
    depth[:12] = np.inf
    depth[20:40, 30:50] = BOX_Z
    return depth


def test_depth_edges_are_the_silhouettes_on_the_near_side():
    across_columns, across_rows = pm.depth_edges(box_depth())
    edges = across_columns | across_rows
    expected = np.zeros((H, W), bool)
    expected[12] = True                                         # the wall's top row against the sky
    expected[20, 30:50] = expected[39, 30:50] = True            # the box's outline (nearer than the wall)
    expected[20:40, 30] = expected[20:40, 49] = True
    np.testing.assert_array_equal(edges, expected)
    assert across_columns[25, 30] and not across_rows[25, 30] and across_rows[20, 40] and not across_columns[20, 40]


def test_a_grazing_ground_plane_has_no_depth_edges_but_its_horizon():
    _, depth = ground_frame(camera())
    surface = np.isfinite(depth)
    d = depth[surface]
    assert (d.max() > 100)                                      # rows near the horizon jump by far more than 5%
    edges = pm.depth_edges(depth)[0] | pm.depth_edges(depth)[1]
    first_ground_row = np.argmax(surface.any(1))
    assert edges.any() and not edges[first_ground_row + 1:].any()


def test_layout_adherence_high_for_the_silhouette_zero_for_flat_or_misplaced_or_everywhere(scene):
    depth = box_depth()
    drawn = np.full((H, W, 3), 60, np.uint8)
    drawn[:12] = 180
    drawn[20:40, 30:50] = 200
    parts = pm.layout_adherence_parts(drawn, depth)
    assert parts["share"] == 1.0 and parts["chance"] == 0.0 and pm.layout_adherence(drawn, depth) == 1.0
    assert pm.layout_adherence(np.full((H, W, 3), 90, np.uint8), depth) == 0.0
    elsewhere = np.full((H, W, 3), 60, np.uint8)
    cv2.circle(elsewhere, (75, 35), 8, (220, 220, 220), 2)
    elsewhere[:, :6] = 200
    assert abs(pm.layout_adherence(elsewhere, depth)) < 0.05
    noise = np.random.default_rng(1).integers(0, 256, (H, W, 3)).astype(np.uint8)
    assert abs(pm.layout_adherence(noise, depth)) < 0.05       # edges everywhere: everywhere is chance
    # the consistent splatted render (textured wall, box, sky) finds its silhouettes, above chance
    frames, depths, _ = render_splat(scene, [camera()])
    truth = pm.layout_adherence_parts(frames[0], depths[0])
    assert truth["share"] > 0.9 and truth["adherence"] < truth["share"]
    blurred = cv2.GaussianBlur(drawn, (0, 0), 8)
    assert pm.layout_adherence(blurred, depth) < 0.5           # soft edges fall below the gradient threshold
    assert np.isnan(pm.layout_adherence(drawn, np.full((H, W), 4.0, np.float32)))  # nothing to adhere to


def test_the_chance_shift_scales_with_the_width():
    assert max(pm.MIN_CHANCE_SHIFT, round(384 * pm.CHANCE_SHIFT_PER_WIDTH)) == 8
    assert max(pm.MIN_CHANCE_SHIFT, round(192 * pm.CHANCE_SHIFT_PER_WIDTH)) == 4


# --------------------------------------------------------------------------------------------- sharpness

def test_sharpness_of_a_known_ramp_and_the_ratio():
    ramp = np.tile((np.arange(W) * 2).astype(np.uint8)[None, :, None], (H, 1, 3))   # luma slope 2/255 a pixel
    g = pm.gradient_magnitude(ramp)
    np.testing.assert_allclose(g[:, 1:-1], 2 / 255, rtol=1e-9)
    assert pm.sharpness(np.full((H, W, 3), 77, np.uint8)) == 0.0
    rng = np.random.default_rng(2)
    truth = [rng.integers(0, 256, (H, W, 3)).astype(np.uint8) for _ in range(3)]
    assert pm.sharpness_ratio(truth, truth) == 1.0
    blurred = [cv2.GaussianBlur(f, (0, 0), 2) for f in truth]
    assert pm.sharpness_ratio(blurred, truth) < 0.3
    assert pm.sharpness_ratio([np.full((H, W, 3), 5, np.uint8)] * 3, truth) == 0.0
    assert np.isnan(pm.sharpness_ratio(truth[:1], [np.full((H, W, 3), 5, np.uint8)]))
    with pytest.raises(ValueError):
        pm.sharpness_ratio(truth, truth[:2])


# ------------------------------------------------------------------------------------------- sky streaks

def test_sky_streaks_measure_seams_down_the_sky_not_a_gradient_or_a_building():
    height, width = 108, 192
    sky = np.zeros((height, width), np.float32)
    rng = np.random.default_rng(5)
    gradient = np.tile(np.linspace(60.0, 200.0, width), (height, 1)) + rng.normal(0.0, 3.0, (height, width))
    strips = np.repeat(np.resize([0.0, 4.0], width // 8), 8)  # strips 8 columns wide, every other 4 levels up
    streaked = gradient + strips

    def grey(values: np.ndarray) -> np.ndarray:
        return np.repeat(np.clip(np.round(values), 0, 255).astype(np.uint8)[..., None], 3, -1)

    smooth = pm.sky_streaks(grey(gradient), sky)  # a gradient across the sky, dithered by noise: no seams
    assert smooth < 0.45
    # a seam of 4 levels at one boundary in 8: about 0.5 levels on average over the boundaries
    assert pm.sky_streaks(grey(streaked), sky) > smooth + 0.3
    # the same strips on a building (a surface) count for nothing, nor its edges against the sky
    building = sky.copy()
    building[:, 40:150] = 9.0
    seams_on_building = np.where(building > 0, streaked, gradient)
    assert abs(pm.sky_streaks(grey(seams_on_building), building) - pm.sky_streaks(grey(gradient), building)) < 0.05
    assert np.isnan(pm.sky_streaks(grey(streaked), np.full((height, width), 9.0, np.float32)))  # no sky


# ------------------------------------------------------------------------------------------ revisit, drift

def test_revisit_and_drift_reuse_the_shared_metrics(scene):
    frames, _, _ = render_splat(scene, [camera(), camera(STEP)])
    assert pm.revisit_psnr(frames[0], frames[0]) == 60.0
    assert pm.revisit_psnr(frames[0], frames[1]) == psnr(frames[1], frames[0])
    assert pm.drift(frames) == frame_drift(frames)
