"""Which scene seeds make which split (bpy-free).

Training and validation draw scene seeds from disjoint ranges, so no
validation scene can ever be rendered into a training set, whatever --seed is:
training clip i of run seed S gets scene seed S * 1,000,000 + i (< 1e9), the
fixed validation split gets 1,000,000,000 + i. The validation split cycles the
move types, settings and times of day so every one is present.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_runtime.data.layout import SETTINGS, TIMES_OF_DAY
from model_runtime.data.moves import MOVES

CLIPS_PER_RUN_SEED = 1_000_000
MAX_TRAIN_RUN_SEED = 999
VAL_SEED_BASE = 1_000_000_000


@dataclass(frozen=True)
class ClipPlan:
    scene_seed: int
    move: str
    setting: str | None = None
    """Forced label (validation balances them); None lets the seed decide."""
    time_of_day: str | None = None


def is_val_seed(scene_seed: int) -> bool:
    return scene_seed >= VAL_SEED_BASE


def train_plan(run_seed: int, n: int) -> list[ClipPlan]:
    if not 0 <= run_seed <= MAX_TRAIN_RUN_SEED:
        raise ValueError(f"--seed must be in 0..{MAX_TRAIN_RUN_SEED} for the training split, got {run_seed}")
    if not 0 < n <= CLIPS_PER_RUN_SEED:
        raise ValueError(f"--scenes must be in 1..{CLIPS_PER_RUN_SEED}, got {n}")
    plans = []
    for i in range(n):
        seed = run_seed * CLIPS_PER_RUN_SEED + i
        move = MOVES[int(np.random.default_rng([seed, 0x30E]).integers(len(MOVES)))]
        plans.append(ClipPlan(seed, move))
    assert not any(is_val_seed(p.scene_seed) for p in plans)
    return plans


def val_plan(n: int) -> list[ClipPlan]:
    """The fixed validation clips: moves cycle fastest, then settings and times of day."""
    if not 0 < n <= CLIPS_PER_RUN_SEED:
        raise ValueError(f"--scenes must be in 1..{CLIPS_PER_RUN_SEED}, got {n}")
    plans = [ClipPlan(VAL_SEED_BASE + i, MOVES[i % len(MOVES)], SETTINGS[i % len(SETTINGS)],
                      TIMES_OF_DAY[(i // len(SETTINGS)) % len(TIMES_OF_DAY)]) for i in range(n)]
    assert all(is_val_seed(p.scene_seed) for p in plans)
    return plans
