"""New ground at the level of the memory of its own surface (model_runtime/painter/levels.py): one level per
piece of surface, measured on its remembered pixels in the boxes, the network's texture kept; sky, other
surfaces, other objects and pieces with too little memory untouched."""
from __future__ import annotations

import numpy as np

from model_runtime.painter.edges import Silhouettes
from model_runtime.painter.levels import MIN_CONTEXT, level_new_ground
from model_runtime.painter.memory import MemoryView

H, W = 40, 64


def scene():
    depth = np.full((H, W), 5.0, np.float32)  # a wall, a box in front of it from column 40, sky on top
    depth[:, 40:] = 2.0
    depth[:6] = 0.0
    texture = np.random.default_rng(0).normal(0.0, 0.03, (H, W, 3)).astype(np.float32)
    painted = 0.5 + texture                   # the network paints both at 0.5, with its texture
    memory = np.where(np.arange(W)[None, :, None] < 40, 0.3, 0.7) * np.ones((H, W, 3))
    shown = np.zeros((H, W), bool)
    shown[:, :24] = shown[:, 52:] = True      # the wall's left part and the box's right part remembered
    seen = MemoryView(np.where(shown[..., None], memory, 0).astype(np.float32), shown, np.zeros_like(shown))
    where = np.zeros((H, W), bool)
    where[:, 8:] = True                       # the network's box
    return depth, painted, seen, where


def test_new_ground_moves_to_its_surfaces_remembered_level_and_keeps_its_texture():
    depth, painted, seen, where = scene()
    band = Silhouettes(depth).band
    out = level_new_ground(painted, where, seen, depth, band)
    moved = out - painted
    wall = np.zeros((H, W), bool)
    wall[6:, 24:40] = True
    box = np.zeros((H, W), bool)
    box[6:, 40:52] = True
    wall &= ~band
    box &= ~band
    for piece, level, context in ((wall, 0.3, (slice(6, H), slice(8, 24))), (box, 0.7, (slice(6, H), slice(52, W)))):
        shift = moved[piece]
        assert np.abs(shift - shift[0]).max() < 1e-6  # one level a piece: the texture is kept
        remembered = ~band[context]
        expected = level - painted[context][remembered].mean(axis=0)
        np.testing.assert_allclose(shift[0], expected, atol=1e-5)
    untouched = ~(wall | box)
    np.testing.assert_array_equal(out[untouched], painted[untouched])  # sky, band, memory, outside the box


def test_another_object_and_a_surface_with_little_memory_keep_the_networks_level():
    depth, painted, seen, where = scene()
    band = Silhouettes(depth).band
    objects = np.ones((H, W), np.int32)
    objects[:, 30:40] = 2                     # a second object on the wall at its depth: no silhouette between
    objects[:, 40:] = 3
    out = level_new_ground(painted, where, seen, depth, band, objects)
    np.testing.assert_array_equal(out[8:, 32:38], painted[8:, 32:38])  # nothing of object 2 is remembered
    assert (out[8:, 24:28, 0] < painted[8:, 24:28, 0] - 0.1).all()    # object 1 still moves to its memory
    few = seen.shown.copy()
    few[:, 52:] = False
    spots = [(y, x) for y in range(10, H) for x in range(56, W)][:MIN_CONTEXT]
    for y, x in spots[:-1]:                                            # the box: a pixel short of MIN_CONTEXT
        few[y, x] = True
    sparse = MemoryView(np.where(few[..., None], seen.rgb, 0).astype(np.float32), few, np.zeros_like(few))
    box = (slice(8, H), slice(43, 50))
    out = level_new_ground(painted, where, sparse, depth, band)
    np.testing.assert_array_equal(out[box], painted[box])
    few[spots[-1]] = True                                              # enough
    enough = MemoryView(np.where(few[..., None], seen.rgb, 0).astype(np.float32), few, np.zeros_like(few))
    assert (level_new_ground(painted, where, enough, depth, band)[box][..., 0] > painted[box][..., 0] + 0.1).all()
