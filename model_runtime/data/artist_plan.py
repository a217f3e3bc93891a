"""Scene seeds and arrangements of the artist-style held-out split (bpy-free; docs/data.md).

Artist-style clips get scene seeds ARTIST_SEED_BASE + i (2,000,000,000 + i), above the validation range
(1,000,000,000 + i, i < 1,000,000) and the training range (< 1e9), so neither ever renders one. Clip i takes
arrangement i mod 4 (each with its camera move), time of day (i // 4) mod 4 and weather (i // 16) mod 4.

This lives beside split.py rather than in it: split.py is one of the modules whose hash names the generator
of the training and validation splits (data/cli.py), and an edit there would make every resumed render of
those splits refuse its folder.
"""
from __future__ import annotations

from model_runtime.data.layout import TIMES_OF_DAY, WEATHERS
from model_runtime.data.split import CLIPS_PER_RUN_SEED, VAL_SEED_BASE, ClipPlan

ARTIST_SEED_BASE = 2_000_000_000
ARRANGEMENTS = {"village": "crane_up", "street": "whip_pan", "monument": "orbit", "room": "push_in"}
"""Arrangement -> its camera move (the move name recorded in the clip's meta)."""
SETTING_OF = {"village": "hills", "street": "street", "monument": "street", "room": "room"}
"""The probe's setting label of each arrangement (model_runtime/data/layout.SETTINGS)."""

assert ARTIST_SEED_BASE > VAL_SEED_BASE + CLIPS_PER_RUN_SEED


def is_artist_seed(scene_seed: int) -> bool:
    return scene_seed >= ARTIST_SEED_BASE


def arrangement_of(index: int) -> str:
    return list(ARRANGEMENTS)[index % len(ARRANGEMENTS)]


def artist_plan(n: int) -> list[ClipPlan]:
    """The artist-style clips: arrangements cycle fastest, then times of day, then weathers.

    ClipPlan.move holds the arrangement's move, setting its probe label; the weather follows from the seed
    (artist_weather)."""
    if not 0 < n <= CLIPS_PER_RUN_SEED:
        raise ValueError(f"--scenes must be in 1..{CLIPS_PER_RUN_SEED}, got {n}")
    plans = [ClipPlan(ARTIST_SEED_BASE + i, ARRANGEMENTS[arrangement_of(i)], SETTING_OF[arrangement_of(i)],
                      TIMES_OF_DAY[(i // len(ARRANGEMENTS)) % len(TIMES_OF_DAY)]) for i in range(n)]
    assert all(is_artist_seed(p.scene_seed) for p in plans)
    return plans


def artist_weather(scene_seed: int) -> str:
    i = scene_seed - ARTIST_SEED_BASE
    return WEATHERS[(i // (len(ARRANGEMENTS) * len(TIMES_OF_DAY))) % len(WEATHERS)]
