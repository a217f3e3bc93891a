"""Data generator decisions that need no Blender: splits, captions, moves, textures."""
from __future__ import annotations

import math

import numpy as np
import pytest

from model_runtime.data import textures
from model_runtime.data.captions import MOVE_WORDS, TIME_WORDS, WEATHER_NIGHT_CLEAR_WORDS, WEATHER_WORDS, caption_for
from model_runtime.data.layout import INTERIORS, SETTINGS, TIMES_OF_DAY, sample_layout
from model_runtime.data.moves import MOVES, camera_poses, sample_move
from model_runtime.data.split import VAL_SEED_BASE, is_val_seed, train_plan, val_plan


def test_val_and_train_seeds_are_disjoint() -> None:
    val = {p.scene_seed for p in val_plan(24)}
    for run_seed in (0, 1, 999):
        train = {p.scene_seed for p in train_plan(run_seed, 5000)}
        assert not train & val
        assert not any(is_val_seed(s) for s in train)
    assert all(is_val_seed(s) for s in val) and min(val) == VAL_SEED_BASE
    with pytest.raises(ValueError, match="--seed"):
        train_plan(1000, 1)  # would reach into the validation range


def test_val_has_every_move_twice_and_every_setting_and_time() -> None:
    plans = val_plan(24)
    moves = [p.move for p in plans]
    assert all(moves.count(m) >= 2 for m in MOVES)
    assert {p.setting for p in plans} == set(SETTINGS)
    assert {p.time_of_day for p in plans} == set(TIMES_OF_DAY)
    assert val_plan(24) == plans  # fixed


@pytest.mark.parametrize("seed", range(40))
def test_caption_mentions_the_labels(seed: int) -> None:
    layout = sample_layout(seed)
    move = sample_move(np.random.default_rng(seed), MOVES[seed % len(MOVES)], layout.stage,
                       layout.setting in INTERIORS)
    caption, labels = caption_for(layout, move, np.random.default_rng(seed))
    assert labels["time_of_day"] == layout.time_of_day and labels["move"] == move.kind
    assert any(w in caption for w in TIME_WORDS[layout.time_of_day])
    assert layout.extras["place"] in caption
    stems = {w.split(" {")[0] for w in MOVE_WORDS[move.kind]}
    assert any(s in caption for s in stems), caption
    if layout.setting not in INTERIORS:
        words = WEATHER_WORDS[layout.weather]
        if layout.weather == "clear" and layout.time_of_day == "night":
            words = WEATHER_NIGHT_CLEAR_WORDS
        assert any(caption.startswith(w) for w in words), caption
    assert all(isinstance(v, str) for v in labels.values())


def _move(kind: str, seed: int = 3):
    layout = sample_layout(seed, setting="street")
    move = sample_move(np.random.default_rng(seed), kind, layout.stage, interior=False)
    pos, rot, lens = camera_poses(move, layout.stage, 48, 24)
    return layout, move, pos, rot, lens


@pytest.mark.parametrize("kind", MOVES)
def test_moves_give_rotations_and_real_lenses(kind: str) -> None:
    _, move, pos, rot, lens = _move(kind)
    assert np.allclose(rot @ rot.transpose(0, 2, 1), np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(rot), 1)
    assert 18 <= lens.min() and lens.max() <= 135
    step = np.linalg.norm(np.diff(pos, axis=0), axis=1) * 24
    assert step.max() < 6  # m/s: camera cars, not rockets
    if kind == "static":
        assert np.ptp(pos, axis=0).max() == 0 and np.ptp(rot, axis=0).max() == 0


def test_dolly_moves_along_the_view_and_pan_only_turns() -> None:
    layout, move, pos, rot, _ = _move("dolly_in")
    forward = -rot[0, :, 2]
    travel = pos[-1] - pos[0]
    assert travel @ forward > 0.9 * np.linalg.norm(travel) * math.cos(layout.stage.pitch) > 0
    _, move, pos, rot, _ = _move("pan")
    assert np.ptp(pos, axis=0).max() == 0
    turned = math.degrees(math.acos(np.clip(rot[0, :, 2] @ rot[-1, :, 2], -1, 1)))
    assert turned == pytest.approx(move.speed * 47 / 24, rel=0.05)
    _, move, _, rot, _ = _move("whip_pan")
    swept = math.degrees(math.acos(np.clip(rot[0, :2, 2] @ rot[-1, :2, 2] / np.linalg.norm(rot[0, :2, 2]) /
                                           np.linalg.norm(rot[-1, :2, 2]), -1, 1)))
    assert swept == pytest.approx(move.speed, abs=1)


def test_long_track_starts_with_the_short_track() -> None:
    layout = sample_layout(11)
    move = sample_move(np.random.default_rng(11), "orbit", layout.stage, interior=layout.setting in INTERIORS)
    short = camera_poses(move, layout.stage, 32, 24)
    long = camera_poses(move, layout.stage, 300, 24)
    for a, b in zip(short, long):
        assert np.array_equal(a, b[:32])


@pytest.mark.parametrize("name", sorted(textures.GENERATORS))
def test_textures_are_textured_images_that_tile(name: str) -> None:
    tex = textures.GENERATORS[name](np.random.default_rng(0))
    assert tex.dtype == np.float32 and tex.ndim == 3 and tex.shape[2] == 3
    assert 0 <= tex.min() and tex.max() <= 1
    assert tex.std() > 0.02  # detail for the model and the pose estimator, not a flat colour


def test_noise_tiles_seamlessly() -> None:
    n = textures.fbm(np.random.default_rng(0), 128)
    wrap = np.abs(n[:, 0] - n[:, -1]).mean()  # neighbours across the seam
    inner = np.abs(np.diff(n, axis=1)).mean()
    assert wrap < 2 * inner
