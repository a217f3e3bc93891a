"""The painter's stages with real torch and real files: memory reprojection, features, sessions, checkpoints."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
import cv2  # noqa: E402

from model_runtime.models.interface import GeneratorInputError, ShotInput  # noqa: E402
from model_runtime.painter import checkpoint  # noqa: E402
from model_runtime.painter.ahead import PAINT_AHEAD, reach  # noqa: E402
from model_runtime.painter.features import (FEATURE_CHANNELS, box_features, feature_channels,  # noqa: E402
                                           frame_features, rays,
                                           world_normals)
from model_runtime.painter.memory import (CLOSE_SIZE, HOLE_AREA, SPECK_REACH, Memory, PreviousFrame,  # noqa: E402
                                         closed, empty_view, fill_from_previous, fill_specks, frame_view,
                                         nearest_pixel, surface)
from model_runtime.painter.network import PainterConfig, PainterNet  # noqa: E402
from model_runtime.painter.passes import (ArrayPasses, FolderPasses, FramePasses, PassesError,  # noqa: E402
                                          read_passes)
from model_runtime.painter.session import PainterModel  # noqa: E402

W, H = 64, 36
F = 40.0


def cam(x: float = 0.0, z: float = 0.0, yaw_deg: float = 0.0, frame: int = 1) -> dict:
    """An OpenCV camera at (x, 0, z) turned by yaw about the y axis."""
    a = np.radians(yaw_deg)
    c2w = np.eye(4)
    c2w[:3, :3] = [[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]
    c2w[:3, 3] = [x, 0, z]
    return {"frame": frame, "c2w": c2w.tolist(), "fx": F, "fy": F, "cx": W / 2, "cy": H / 2, "rel": np.eye(4).tolist()}


def wall_depth(frame: dict, distance: float = 5.0) -> np.ndarray:
    """z-depth of the wall z = distance (world) seen from an unturned camera at the frame's z."""
    return np.full((H, W), distance - frame["c2w"][2][3], np.float32)


def K(frame: dict) -> np.ndarray:
    return np.array([[frame["fx"], 0, frame["cx"]], [0, frame["fy"], frame["cy"]], [0, 0, 1]])


def test_memory_seen_from_a_shifted_camera_is_the_picture_shifted_by_the_known_pixels():
    a, b = cam(), cam(x=0.5)  # 0.5 m sideways at 5 m with f = 40 px: 4 pixels
    rng = np.random.default_rng(0)
    rgb = rng.random((H, W, 3)).astype(np.float32)
    seen = frame_view(rgb, wall_depth(a), K(a), np.array(a["c2w"]), K(b), np.array(b["c2w"]), wall_depth(b))
    assert seen.valid[:, :W - 4].all() and not seen.valid[:, W - 4:].any()  # new ground on the right
    np.testing.assert_array_equal(seen.rgb[:, :W - 4], rgb[:, 4:])


def test_memory_is_not_valid_where_the_blockout_shows_another_surface():
    a = cam()
    rgb = np.ones((H, W, 3), np.float32)
    nearer = wall_depth(a).copy()
    nearer[10:20, 10:20] = 2.0  # a box the memory never saw, in front of the wall
    seen = frame_view(rgb, wall_depth(a), K(a), np.array(a["c2w"]), K(a), np.array(a["c2w"]), nearer)
    assert not seen.valid[10:20, 10:20].any() and seen.valid[:10].all()


def test_a_grazing_floor_seen_from_a_step_forward_stays_valid_and_a_stray_point_does_not_hide_the_wall():
    eye = 1.7  # a floor 1.7 m below the camera (y down), seen to 200 m
    a, b = cam(), cam(z=0.3)
    rows = (np.arange(H) + 0.5 - H / 2)[:, None] / F
    floor = np.broadcast_to(np.where(rows > 0, eye / np.maximum(rows, 1e-9), 0.0), (H, W)).astype(np.float32)
    floor = np.where(floor < 200, floor, 0).astype(np.float32)  # 0: sky beyond the floor's edge
    rgb = np.random.default_rng(1).random((H, W, 3)).astype(np.float32)
    seen = frame_view(rgb, floor, K(a), np.array(a["c2w"]), K(b), np.array(b["c2w"]), floor)
    ground = floor > 0
    assert seen.valid[ground].mean() > 0.97  # rows far off change by more than 3% a row
    assert seen.valid[~ground].all()         # the sky is the far dome

    wall = wall_depth(a)
    memory = Memory(10_000)
    memory.add(rgb, wall, K(a), np.array(a["c2w"]))
    memory.add(np.zeros((H, W, 3), np.float32), np.full((H, W), 2.0, np.float32), K(a), np.array(a["c2w"]),
               mask=np.broadcast_to(np.arange(W) == 30, (H, W)))  # a stray column 3 m in front
    seen = memory.view(K(a), np.array(a["c2w"]), wall)
    assert seen.valid.all() and np.array_equal(seen.rgb, rgb)


def test_an_object_that_moves_away_leaves_no_painted_copy_where_the_object_pass_shows_another_object():
    a = cam()
    wall = wall_depth(a)
    with_box = wall.copy()
    with_box[10:20, 10:20] = 4.9  # a box just before the wall: within the depth tolerance of it
    ids = np.ones((H, W), np.int32)
    ids_box = ids.copy()
    ids_box[10:20, 10:20] = 2
    rgb = np.zeros((H, W, 3), np.float32)
    rgb[10:20, 10:20] = (1.0, 0.0, 0.0)  # the box painted red on a black wall
    memory = Memory(10_000)
    memory.add(rgb, with_box, K(a), np.array(a["c2w"]), objects=ids_box)
    ghost = memory.view(K(a), np.array(a["c2w"]), wall)  # depth alone: the box's paint is kept on the wall
    assert ghost.valid.all() and ghost.rgb[15, 15, 0] == 1.0
    seen = memory.view(K(a), np.array(a["c2w"]), wall, objects=ids)  # the box has gone: new ground there
    assert not seen.valid[10:20, 10:20].any() and seen.valid[:10].all() and not seen.rgb[seen.valid].any()
    assert memory.view(K(a), np.array(a["c2w"]), with_box, objects=ids_box).valid.all()  # a revisit keeps it


def test_specks_between_remembered_pixels_of_one_surface_are_filled_and_anything_else_stays_new():
    depth = np.full((H, W), 5.0, np.float32)
    depth[25:28, 40:43] = 3.0                   # a small object the memory never saw
    ids = np.ones((H, W), np.int32)
    ids[5:7, 50:52] = 2                         # a small patch of another object at the wall's depth
    valid = np.ones((H, W), bool)
    valid[10:12, 10:13] = False                 # a speck of the wall between remembered pixels
    valid[20:30, 10:20] = False                 # a hole of 100 pixels: new ground, however surrounded
    valid[0:2, 30:33] = False                   # a notch at the frame's border: a strip's start
    valid[25:28, 40:43] = valid[5:7, 50:52] = False
    rgb = np.random.default_rng(2).random((H, W, 3)).astype(np.float32)
    rgb[~valid] = 0
    target, tolerance = surface(depth)
    filled_rgb, filled = fill_specks(rgb, valid, target, tolerance, ids)
    assert 10 * 10 > HOLE_AREA >= 2 * 3
    expected = np.zeros((H, W), bool)
    expected[10:12, 10:13] = True
    np.testing.assert_array_equal(filled, expected)
    np.testing.assert_array_equal(filled_rgb[valid], rgb[valid])  # the memory itself is untouched
    neighbours = {tuple(rgb[y, x]) for y in (9, 12) for x in range(10, 13)} | {tuple(rgb[y, x]) for y in (10, 11)
                                                                               for x in (9, 13)}
    assert all(tuple(filled_rgb[y, x]) in neighbours for y in (10, 11) for x in range(10, 13))
    _, none = fill_specks(rgb, valid, target, tolerance)  # without the object pass the patch of object 2 fills
    assert none[5:7, 50:52].all() and not none[25:28, 40:43].any()


def test_a_speck_beside_a_silhouette_takes_its_own_surface_within_reach_and_only_its_own():
    depth = np.full((H, W), 5.0, np.float32)
    depth[:, :30] = 2.0                          # a near wall on the left, the far wall from column 30
    ids = np.where(depth < 3, 2, 1).astype(np.int32)
    valid = np.ones((H, W), bool)
    valid[24:27, 30] = valid[25, 31] = False     # far-wall specks; (25, 30)'s nearest valid pixel is (25, 29),
    rgb = np.random.default_rng(5).random((H, W, 3)).astype(np.float32)  # on the near wall
    rgb[~valid] = 0
    target, tolerance = surface(depth)
    filled_rgb, filled = fill_specks(rgb, valid, target, tolerance, ids)
    assert filled[~valid].all() and not filled[valid].any()
    assert tuple(filled_rgb[25, 30]) in {tuple(rgb[y, x]) for y in (24, 26) for x in (31,)}  # the far wall's
    for y, x in zip(*np.nonzero(filled)):        # every speck from a valid pixel of its own wall within reach
        assert any(np.array_equal(filled_rgb[y, x], rgb[y + dy, x + dx])
                   for dy in range(-SPECK_REACH, SPECK_REACH + 1) for dx in range(-SPECK_REACH, SPECK_REACH + 1)
                   if valid[y + dy, x + dx] and depth[y + dy, x + dx] == depth[y, x])
    walled = depth.copy()
    walled[5:16, 25:36] = 2.0
    walled[10:12, 30:32] = 5.0                   # a far-wall speck walled in by the near wall beyond reach
    lone = np.ones((H, W), bool)
    lone[10:12, 30:32] = False
    _, none = fill_specks(rgb, lone, *surface(walled))
    assert not none.any()


def test_the_nearest_pixel_is_the_distance_transforms_and_the_closing_is_scipys():
    from scipy import ndimage

    rng = np.random.default_rng(6)
    for share in (0.05, 0.5, 0.9):
        mask = rng.random((H, W)) < share
        mask[5:15, 5:15] = False
        rows, cols = nearest_pixel(mask)
        assert mask[rows, cols].all()
        distance = ndimage.distance_transform_edt(~mask)
        found = np.hypot(rows - np.arange(H)[:, None], cols - np.arange(W)[None])
        assert (found >= distance - 1e-9).all() and (found <= 1.04 * distance + 1e-9).all()  # near-ties aside
        assert (found[distance <= 3] == distance[distance <= 3]).all()  # the gaps and specks it is used on
        r = CLOSE_SIZE
        scipys = ndimage.binary_closing(np.pad(mask, r, mode="edge"), np.ones((r, r), bool))[r:-r, r:-r]
        np.testing.assert_array_equal(closed(mask), scipys)


def test_a_speck_on_one_surface_takes_its_exact_nearest_valid_pixel_the_first_row_among_equals():
    from scipy import ndimage

    rng = np.random.default_rng(8)
    target, tolerance = surface(np.full((H, W), 5.0, np.float32))
    rgb = rng.random((H, W, 3)).astype(np.float32)          # every pixel its own colour: where it came from
    for share in (0.5, 0.7, 0.9):
        valid = rng.random((H, W)) >= share
        valid[12:20, 20:28] = False                           # a hole of 64 pixels: the farthest a speck goes
        valid[11, 20:28] = valid[20, 20:28] = valid[12:20, 19] = valid[12:20, 28] = True
        filled_rgb, filled = fill_specks(rgb, valid, target, tolerance)
        assert filled[12:20, 20:28].all()
        distance = ndimage.distance_transform_edt(~valid)
        for y, x in zip(*np.nonzero(filled)):
            ys, xs = np.nonzero((rgb == filled_rgb[y, x]).all(-1) & valid)
            assert np.hypot(ys[0] - y, xs[0] - x) == distance[y, x]
    valid = np.ones((H, W), bool)
    valid[10, 11:14] = False                                  # (10, 12) has two valid pixels a pixel away
    filled_rgb, _ = fill_specks(rgb, valid, target, tolerance)
    assert (filled_rgb[10, 12] == rgb[9, 12]).all()


def test_a_speck_the_closing_leaves_in_the_memorys_view_is_shown_and_a_larger_hole_is_new_ground():
    a = cam()
    rgb = np.random.default_rng(3).random((H, W, 3)).astype(np.float32)
    painted = np.ones((H, W), bool)
    painted[10:16, 10:16] = False  # 36 pixels never painted: wider than the closing, a speck
    painted[10:20, 40:50] = False  # 100 pixels: more than a speck
    memory = Memory(10_000)
    memory.add(rgb, wall_depth(a), K(a), np.array(a["c2w"]), mask=painted)
    seen = memory.view(K(a), np.array(a["c2w"]), wall_depth(a))
    np.testing.assert_array_equal(seen.valid, painted)
    assert seen.filled[10:16, 10:16].all() and seen.filled.sum() == 36
    assert not seen.shown[10:20, 40:50].any()
    np.testing.assert_array_equal(seen.rgb[painted], rgb[painted])


def test_normals_of_a_floor_point_up_and_of_a_wall_face_the_camera():
    frame = cam()
    r = rays(frame, W, H)
    rotation = np.array(frame["c2w"])[:3, :3].astype(np.float32)
    wall = world_normals(wall_depth(frame), r, rotation)
    np.testing.assert_allclose(wall[5:-5, 5:-5], np.broadcast_to([0, 0, -1], (H - 10, W - 10, 3)), atol=1e-5)
    # a floor 1.5 m below the camera: OpenCV y points down, so the floor is y = 1.5 and its normal is -y
    v = np.arange(H) + 0.5
    with np.errstate(divide="ignore"):
        z = np.where(v > H / 2, 1.5 * F / (v - H / 2), 0).astype(np.float32)
    floor = world_normals(np.repeat(z[:, None], W, 1), r, rotation)
    np.testing.assert_allclose(floor[H // 2 + 3:-2, 2:-2], np.broadcast_to([0, -1, 0], floor[H // 2 + 3:-2, 2:-2].shape),
                               atol=1e-4)
    assert (floor[: H // 2] == 0).all()  # sky


def test_features_have_their_channels_and_no_memory_means_zeros():
    frame = cam()
    feats = frame_features(np.full((H, W), 128, np.uint8), wall_depth(frame), frame, np.ones((H, W, 3), np.float32),
                           np.zeros((H, W), bool), np.zeros((H, W), np.float32))
    assert feats.shape == (FEATURE_CHANNELS, H, W) and feats.dtype == np.float32
    assert np.allclose(feats[0], 128 / 255) and (feats[2] == 0).all() and (feats[9:13] == 0).all()


def test_a_boxs_features_are_the_whole_frames_features_there():
    frame = dict(cam(x=0.3, yaw_deg=20), fy=F * 1.1, cy=H / 2 + 1.5)
    rng = np.random.default_rng(5)
    depth = (4 + rng.random((H, W))).astype(np.float32)
    depth[:, :5] = 0  # sky along the left border
    shade = rng.integers(0, 256, (H, W), dtype=np.uint8)
    memory, valid, noise = rng.random((H, W, 3)).astype(np.float32), rng.random((H, W)) > 0.5, rng.standard_normal((H, W))
    basis = (0.5, 4.0)
    whole = frame_features(shade, depth, frame, memory, valid, noise, basis)
    for y0, y1, x0, x1 in ((0, H, 0, W), (0, 10, 0, 12), (5, 20, 30, W), (H - 7, H, 3, 40)):
        np.testing.assert_allclose(box_features(shade, depth, frame, memory, valid, noise, basis, (y0, y1, x0, x1)),
                                   whole[:, y0:y1, x0:x1], atol=2e-6)

def test_the_texture_basis_is_fixed_to_the_wall_as_the_camera_slides_and_fades_with_distance():
    """A wall z = 5 seen from x = 0 and from x = 0.25: the basis moves across the screen with the wall (the
    same surface point has the same values), and a far wall gets a fainter high frequency, no moire."""
    frequencies = (1.0, 4.0)
    shade, memory, valid, noise = (np.full((H, W), 128, np.uint8), np.zeros((H, W, 3), np.float32),
                                   np.zeros((H, W), bool), np.zeros((H, W), np.float32))
    here, there = cam(), cam(x=0.25)
    a = frame_features(shade, wall_depth(here), here, memory, valid, noise, frequencies)
    b = frame_features(shade, wall_depth(there), there, memory, valid, noise, frequencies)
    assert a.shape == (feature_channels(frequencies), H, W) == (FEATURE_CHANNELS + 8, H, W)
    shift = round(0.25 * F / 5.0)  # pixels the wall moves: 0.25 m at 5 m with f = 40 px

    def phases(feats: np.ndarray) -> np.ndarray:
        basis = feats[FEATURE_CHANNELS:]
        return np.arctan2(basis[0::2], basis[1::2])

    turn = phases(b)[:, 4:-4, 4:-4 - shift] - phases(a)[:, 4:-4, 4 + shift:-4]
    np.testing.assert_allclose(np.angle(np.exp(1j * turn)), 0, atol=1e-3)
    np.testing.assert_allclose(b[FEATURE_CHANNELS:, 4:-4, 4:-4 - shift], a[FEATURE_CHANNELS:, 4:-4, 4 + shift:-4],
                               atol=1e-4)
    assert a[FEATURE_CHANNELS:].std() > 0.1  # a real pattern, not zeros
    sin_u = a[FEATURE_CHANNELS, H // 2]  # sin(2 pi x) along the middle row: x = (u - cx) / f * 5
    x = (np.arange(W) + 0.5 - W / 2) / F * 5.0
    fade = np.exp(-2 * (np.pi * 1.0 * 0.5 * 5.0 / F) ** 2)  # x moves 5 / F metres a pixel
    np.testing.assert_allclose(sin_u, np.sin(2 * np.pi * x) * fade, atol=1e-4)
    far = frame_features(shade, wall_depth(here, 200.0), here, memory, valid, noise, frequencies)
    high = slice(FEATURE_CHANNELS + 4, FEATURE_CHANNELS + 8)  # 4 cycles per metre: 5 m per pixel at 200 m
    assert np.abs(far[high]).max() < 1e-3 < np.abs(a[high]).max()
    sky = frame_features(shade, np.zeros((H, W), np.float32), here, memory, valid, noise, frequencies)
    assert (sky[FEATURE_CHANNELS:] == 0).all()


def test_a_painter_with_the_texture_basis_starts_as_the_painter_it_grows_from():
    from model_runtime.painter.trainer import init_from

    torch.manual_seed(0)
    plain = PainterNet(PainterConfig(widths=(8, 16), notes_hidden=16)).eval()
    for p in plain.parameters():
        torch.nn.init.normal_(p, std=0.2)
    grown = PainterNet(PainterConfig(widths=(8, 16), notes_hidden=16, basis_frequencies=(1.0,))).eval()
    init_from(grown, plain)
    x, notes = torch.randn(1, FEATURE_CHANNELS + 4, 32, 48), torch.randn(1, 384)
    with torch.no_grad():
        torch.testing.assert_close(grown(x, notes), plain(x[:, :FEATURE_CHANNELS], notes))
    with pytest.raises(ValueError, match="cannot start"):
        init_from(PainterNet(PainterConfig(widths=(8, 32), notes_hidden=16)), plain)


def test_holes_the_previous_frame_showed_are_filled_from_it_and_new_ground_stays_new():
    a = cam()
    rgb = np.random.default_rng(4).integers(0, 256, (H, W, 3), dtype=np.uint8)
    with_box = wall_depth(a).copy()
    with_box[10:20, 20:30] = 2.0  # a box in front of the wall last frame
    last = PreviousFrame(rgb, with_box, None, K(a), np.array(a["c2w"]))

    b = cam(x=0.5)  # 4 pixels to the right: the right 4 columns were never in view; the box has gone
    seen = fill_from_previous(empty_view(W, H), wall_depth(b), None, K(b), np.array(b["c2w"]), last)
    behind_box = np.zeros((H, W), bool)
    behind_box[10:20, 16:26] = True
    np.testing.assert_array_equal(seen.filled[:, W - 4:], False)          # a pan's strip: new ground
    np.testing.assert_array_equal(seen.filled[behind_box], False)         # uncovered behind the box: new
    expected = np.ones((H, W), bool)
    expected[:, W - 4:] = False
    expected[behind_box] = False
    np.testing.assert_array_equal(seen.filled, expected)
    np.testing.assert_allclose(seen.rgb[:, :10] * 255, rgb[:, 4:14], atol=1e-3)  # the picture, moved 4 px

    ids = np.ones((H, W), np.int32)
    ids[:, :8] = 2  # another object at the wall's depth on the left: not what the previous frame showed there
    last_ids = PreviousFrame(rgb, wall_depth(a), np.ones((H, W), np.int32), K(a), np.array(a["c2w"]))
    seen = fill_from_previous(empty_view(W, H), wall_depth(a), ids, K(a), np.array(a["c2w"]), last_ids)
    assert not seen.filled[:, :8].any() and seen.filled[:, 8:].all()

    near = cam(z=1.0)  # a dolly in: everything in view was in the previous frame, seen from farther off
    seen = fill_from_previous(empty_view(W, H), wall_depth(near), None, K(near), np.array(near["c2w"]),
                              PreviousFrame(rgb, wall_depth(a), None, K(a), np.array(a["c2w"])))
    assert seen.filled.all()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> PainterModel:
    torch.manual_seed(0)
    net = PainterNet(PainterConfig(widths=(8, 16, 16, 16), blocks=1, notes_hidden=16))
    for p in net.parameters():  # the notes' FiLM starts at zero; give it weights so notes matter
        torch.nn.init.normal_(p, std=0.2)
    path = tmp_path_factory.mktemp("painter") / "tiny.safetensors"
    checkpoint.save(net, path)
    return PainterModel(path, name="tiny")


def shot(frames: list[dict], notes: str = "a quiet plaza at dusk", seed: int = 0, **extra) -> ShotInput:
    track = {"version": 1, "width": W, "height": H, "fps": 24.0, "frame_start": frames[0]["frame"],
             "frame_end": frames[-1]["frame"], "scale": 1.0, "frames": frames}
    depth = np.stack([wall_depth(f) for f in frames])
    shade = np.full(depth.shape, 150, np.uint8)
    return ShotInput(notes, track, seed, passes=ArrayPasses(depth, shade), **extra)


def run(model: PainterModel, s: ShotInput) -> list[np.ndarray]:
    session = model.start(s)
    return [session.step() for _ in s.track["frames"]]


def pan(n: int) -> list[dict]:
    return [cam(x=0.25 * i, frame=i + 1) for i in range(n)]


def test_frames_are_causal_and_seeded(model: PainterModel):
    frames = run(model, shot(pan(6)))
    changed = pan(6)
    changed[4:] = [cam(x=-1.0, frame=5), cam(x=-1.5, frame=6)]
    assert all(np.array_equal(a, b) for a, b in zip(frames[:4], run(model, shot(changed))[:4]))
    assert all(np.array_equal(a, b) for a, b in zip(frames, run(model, shot(pan(6)))))
    assert not np.array_equal(frames[0], run(model, shot(pan(6), notes="a storm at night"))[0])


def test_snapshot_and_restore_repeat_exactly(model: PainterModel):
    s = shot(pan(8))
    session = model.start(s)
    [session.step() for _ in range(3)]
    state = session.snapshot()
    rest = [session.step() for _ in range(5)]
    session.restore(state)
    assert all(np.array_equal(a, session.step()) for a in rest)


def test_memory_keeps_what_was_seen_and_a_revisit_gives_the_same_picture(model: PainterModel):
    there_and_back = [cam(x=0.25 * i, frame=i + 1) for i in range(5)] + \
                     [cam(x=0.25 * (3 - i), frame=i + 6) for i in range(4)]
    frames = run(model, shot(there_and_back))
    np.testing.assert_array_equal(frames[-1], frames[0])   # back at the start: the first picture
    np.testing.assert_array_equal(frames[1][:, :-2], frames[0][:, 2:])  # what stayed in view stayed put
    no_memory = PainterModel.__new__(PainterModel)
    no_memory.__dict__.update(model.__dict__, use_memory=False)
    flicker = run(no_memory, shot(there_and_back))
    assert not np.array_equal(flicker[1][:, :-2], flicker[0][:, 2:])  # the per-frame baseline is not steady


def test_a_held_camera_is_painted_once_and_then_shown_from_the_memory(model: PainterModel):
    calls = []
    hook = model.net.register_forward_hook(lambda *_: calls.append(1))
    try:
        frames = run(model, shot([cam(frame=1), cam(frame=2), cam(frame=3), cam(x=0.25, frame=4)]))
    finally:
        hook.remove()
    assert len(calls) == 2  # frame 1, and frame 4 whose pan brings new ground; 2 and 3 have none
    assert np.array_equal(frames[1], frames[0]) and np.array_equal(frames[2], frames[0])


def test_a_dolly_in_is_painted_once_then_shown_from_the_memory_and_the_frame_before(model: PainterModel):
    """Nearing a wall spreads its remembered points apart; the gaps at the frame's border were new ground each
    frame (and the network painted the whole frame) until the previous frame filled them."""
    calls = []
    hook = model.net.register_forward_hook(lambda *_: calls.append(1))
    try:
        frames = run(model, shot([cam(z=0.2 * i, frame=i + 1) for i in range(5)]))
    finally:
        hook.remove()
    assert len(calls) == 1 and len(frames) == 5


def test_a_trucking_shot_runs_the_network_on_its_new_ground_and_keeps_the_memory_elsewhere(model: PainterModel):
    """A camera trucking along a wall at 384x216 reveals a strip at the right: after the first frame the network
    runs on a box around that strip (narrower than the frame), and the remembered pixels are the same as when
    the whole frame is painted."""
    w, h, f = 384, 216, 300.0
    frames = [dict(cam(x=0.1 * i, frame=i + 1), cx=w / 2, cy=h / 2, fx=f, fy=f) for i in range(3)]
    track = {"version": 1, "width": w, "height": h, "fps": 24.0, "frame_start": 1, "frame_end": 3, "scale": 1.0,
             "frames": frames}
    passes = ArrayPasses(np.full((3, h, w), 5.0, np.float32), np.full((3, h, w), 150, np.uint8))
    widths, painted = {}, {}
    for whole in (True, False):
        model.new_ground_only = not whole
        seen = []
        hook = model.net.register_forward_hook(lambda _, inputs, __: seen.append(inputs[0].shape[-1]))
        try:
            session = model.start(ShotInput("a quiet plaza at dusk", track, 0, passes=passes))
            painted[whole] = [session.step() for _ in range(3)]
        finally:
            hook.remove()
            model.new_ground_only = True
        widths[whole] = seen
    assert widths[True] == [400] * 3  # 384 + the reflected margins, every frame
    # the 6-pixel strip and its context: a 22-wide box, 32 with the margin and rounding
    assert widths[False][0] == 400 and all(32 <= width <= 48 for width in widths[False][1:])
    assert np.array_equal(painted[True][0], painted[False][0])
    kept = np.zeros((h, w), bool)
    kept[:, :w - 6 - 8] = True  # the truck moves the wall 0.1 * 300 / 5 = 6 px; beyond the crisp-edge band
    np.testing.assert_array_equal(painted[True][1][kept], painted[False][1][kept])
    assert not np.array_equal(painted[True][1], painted[True][0])


class WallPasses(ArrayPasses):
    """A wall's passes that can be drawn past the frame, as Go Live's are (painter/ahead.py)."""

    def frame(self, index: int) -> FramePasses:
        def beyond(box):
            return FramePasses(np.full((box[1] - box[0], box[3] - box[2]), self.depth[index].flat[0], np.float32),
                               np.full((box[1] - box[0], box[3] - box[2]), 150, np.uint8))
        return dataclasses.replace(super().frame(index), beyond=beyond)


def test_a_pan_paints_ahead_where_the_passes_reach_past_the_frame_and_the_next_strips_come_from_memory(
        model: PainterModel):
    """A truck of 2 pixels a frame: with passes drawn past the frame the strip's box reaches PAINT_AHEAD pixels
    further once and the next frames show the memory there, the network idle; with passes read from files it
    paints a strip every frame, as before."""
    w, h, f, n = 384, 216, 300.0, 12
    frames = [dict(cam(x=2 * 5 / f * i, frame=i + 1), cx=w / 2, cy=h / 2, fx=f, fy=f) for i in range(n)]
    track = {"version": 1, "width": w, "height": h, "fps": 24.0, "frame_start": 1, "frame_end": n, "scale": 1.0,
             "frames": frames}
    depth, shade = np.full((n, h, w), 5.0, np.float32), np.full((n, h, w), 150, np.uint8)
    widths, shown = {}, {}
    for kind in (ArrayPasses, WallPasses):
        seen = []
        hook = model.net.register_forward_hook(lambda _, inputs, __: seen.append(inputs[0].shape[-1]))
        try:
            session = model.start(ShotInput("a quiet plaza at dusk", track, 0, passes=kind(depth, shade)))
            shown[kind] = [session.step() for _ in range(n)]
        finally:
            hook.remove()
        widths[kind] = seen
    assert len(widths[ArrayPasses]) == n and widths[ArrayPasses][1] == 32  # a 2-pixel strip every frame
    # the first frame whole, as before; the first strip 16 pixels wider, then 8 frames of the memory, then the next
    assert widths[WallPasses] == [400, 48, 48]
    late = shown[WallPasses][-1]
    assert late[:, -2 * n:].min() > 0 and late[:, -2 * n:].std() > 0  # painted, not empty, not flat
    np.testing.assert_array_equal(shown[WallPasses][2][:, :-40], shown[WallPasses][1][:, 2:-38])  # kept in place
    np.testing.assert_array_equal(reach(np.ones((h, w), bool)), (PAINT_AHEAD,) * 4)
    strip = np.zeros((h, w), bool)
    strip[:, -2:] = True  # touches the top and bottom borders at two pixels each: only the right is reached past
    assert reach(strip) == (0, 0, 0, PAINT_AHEAD)


def test_a_look_frame_is_frame_zero_and_is_carried_into_the_next_frames(model: PainterModel):
    look = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
    frames = run(model, shot(pan(3), first_rgb=look))
    np.testing.assert_array_equal(frames[0], look)
    np.testing.assert_array_equal(frames[1][:, :-2], look[:, 2:])


def test_a_box_that_moves_away_is_painted_anew_where_it_was_given_the_object_pass(model: PainterModel):
    frames = [cam(frame=1), cam(frame=2)]  # a still camera; the box before the wall leaves at frame 2
    depth = np.stack([wall_depth(f) for f in frames])
    depth[0, 10:20, 10:20] = 4.9
    ids = np.ones(depth.shape, np.int32)
    ids[0, 10:20, 10:20] = 2
    look = np.zeros((H, W, 3), np.uint8)
    look[10:20, 10:20] = (255, 0, 0)
    shade = np.full(depth.shape, 150, np.uint8)
    base = shot(frames, first_rgb=look)
    ghost = run(model, ShotInput(base.notes, base.track, 0, look, passes=ArrayPasses(depth, shade)))
    assert (ghost[1][10:20, 10:20] == (255, 0, 0)).all()  # depth alone keeps the box's paint on the wall
    painted = run(model, ShotInput(base.notes, base.track, 0, look, passes=ArrayPasses(depth, shade, ids)))
    assert np.array_equal(painted[0], look) and np.array_equal(painted[1][:10], look[:10])  # the wall stays
    assert not (painted[1][10:20, 10:20] == (255, 0, 0)).all(axis=-1).any()  # the box's place is new ground


def test_wall_revealed_beside_a_moving_box_takes_the_walls_remembered_colour(model: PainterModel):
    frames = [cam(frame=1), cam(frame=2)]  # a still camera; the box slides 2 pixels left
    depth = np.stack([wall_depth(f) for f in frames])
    depth[0, 10:26, 20:30] = depth[1, 10:26, 18:28] = 2.0
    look = np.full((H, W, 3), 128, np.uint8)
    look[10:26, 20:30] = (255, 0, 0)
    base = shot(frames, first_rgb=look)
    painted = run(model, ShotInput(base.notes, base.track, 0, look, passes=ArrayPasses(depth, base.passes.shade)))
    assert (painted[1][12:24, 28:30] == 128).all()  # new ground beside the box: the wall's colour, no smear
    assert np.array_equal(painted[1][:, 34:], look[:, 34:])  # the rest of the wall as remembered


def test_a_notes_event_changes_the_look_from_its_frame_on(model: PainterModel):
    frames = run(model, shot(pan(6)))
    evented = run(model, shot(pan(6), notes_events=[(4, "a storm at night")]))
    assert all(np.array_equal(a, b) for a, b in zip(frames[:3], evented[:3]))
    assert not np.array_equal(frames[3], evented[3])


def test_a_shot_without_passes_or_notes_is_refused_with_the_reason(model: PainterModel):
    s = shot(pan(2))
    with pytest.raises(GeneratorInputError, match="passes"):
        model.start(ShotInput(s.notes, s.track, 0))
    with pytest.raises(GeneratorInputError, match="notes"):
        model.start(shot(pan(2), notes="  "))
    short = shot(pan(2))
    short.passes = ArrayPasses(short.passes.depth[:1], short.passes.shade[:1])
    with pytest.raises(GeneratorInputError, match="1 frames of passes for a track of 2"):
        model.start(short)


def write_passes(folder: Path, frames: list[int], depth: np.ndarray | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in frames:
        cv2.imwrite(str(folder / f"depth_{f:04d}.exr"), np.full((H, W, 3), 4.0, np.float32) if depth is None else depth)
        cv2.imwrite(str(folder / f"shade_{f:04d}.png"), np.full((H, W, 3), 120, np.uint8))


def test_passes_files_are_read_and_each_fault_names_its_frame_and_field(tmp_path: Path):
    write_passes(tmp_path / "ok", [1, 2])
    frames = read_passes(tmp_path / "ok", [1, 2], W, H)
    assert frames[1].depth.shape == (H, W) and float(frames[1].depth[0, 0]) == 4.0 and frames[0].shade[0, 0] == 120
    assert len(FolderPasses(tmp_path / "ok", [1, 2], W, H)) == 2
    cases = {"missing": ([1, 2, 3], None, "frame 3, depth: missing"),
             "small": ([1], np.full((18, 32, 3), 4.0, np.float32), "frame 1, depth: size 32x18"),
             "nan": ([1], np.full((H, W, 3), np.nan, np.float32), "frame 1, depth: NaN"),
             "inf": ([1], np.full((H, W, 3), np.inf, np.float32), "frame 1, depth: NaN or infinite"),
             "negative": ([1], np.full((H, W, 3), -1.0, np.float32), "frame 1, depth: negative")}
    for name, (frames_asked, depth, words) in cases.items():
        write_passes(tmp_path / name, [1, 2], depth)
        with pytest.raises(PassesError, match=words):
            read_passes(tmp_path / name, frames_asked, W, H)
    (tmp_path / "ok" / "shade_0002.png").write_bytes(b"not a png")
    with pytest.raises(PassesError, match="frame 2, shade: unreadable"):
        read_passes(tmp_path / "ok", [1, 2], W, H)
    write_passes(tmp_path / "objects", [1, 2])
    colours = np.zeros((H, W, 3), np.uint8)
    colours[:, W // 2:] = (30, 20, 10)  # B, G, R as OpenCV writes: id 0x0A141E on the right half, sky on the left
    cv2.imwrite(str(tmp_path / "objects" / "object_0001.png"), colours)
    with pytest.raises(PassesError, match="frame 2, object: missing"):  # the first frame has it: every frame must
        read_passes(tmp_path / "objects", [1, 2], W, H)
    cv2.imwrite(str(tmp_path / "objects" / "object_0002.png"), colours[:H // 2])
    with pytest.raises(PassesError, match="frame 2, object: size 64x18"):
        read_passes(tmp_path / "objects", [1, 2], W, H)
    first = read_passes(tmp_path / "objects", [1], W, H)[0]
    assert first.object[0, -1] == 0x0A141E and first.object[0, 0] == 0
    assert frames[0].object is None  # no object pass: depth alone decides


def test_a_corrupt_or_foreign_checkpoint_is_refused_with_what_to_do(tmp_path: Path, model: PainterModel):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(checkpoint.CheckpointError, match="not a readable safetensors"):
        checkpoint.load(bad)
    tiny = Path(__file__).resolve().parents[1] / "model_runtime" / "checkpoints" / "oyster-tiny.safetensors"
    with pytest.raises(checkpoint.CheckpointError, match="not a painter checkpoint"):
        checkpoint.load(tiny)
    with pytest.raises(checkpoint.CheckpointError, match="no painter checkpoint"):
        checkpoint.load(tmp_path / "none.safetensors")
