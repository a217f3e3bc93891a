"""Painting ahead of a pan: where the passes can be drawn past the frame (Go Live; a take whose passes came with
the blockout's triangles), a box of new ground at the frame's border reaches PAINT_AHEAD pixels past it, and what
it paints there goes into the memory.

A camera that pans brings in a strip a pixel or two wide at one side every
frame, and each strip cost the network a box the frame's height by 32 pixels
(its context and margin, rounded to the network's multiple): about 7 ms of a
Go Live frame at 384x216 on a 2-core CPU, for a pixel of picture. Go Live's
passes are drawn by the runtime (painter/raster.py), so it can draw them past
the frame as cheaply as inside it: the strip's box then reaches 16 pixels
further, costs 48 columns instead of 32 once, and the next strips come from
the memory, as any surface seen before does, until the pan has used them up.

A side is reached past only where the new ground runs along that border for at
least MIN_RUN pixels (a pan's strip along the right border touches the top and
bottom borders at one pixel each: those are not reached past). A frame the network
paints whole (the first, or one whose new ground covers most of it) is painted
as before, within the frame. A take's passes are Blender's and end at the frame;
where only the camera moves, Blender also writes the blockout's triangles into
the passes folder (`BLOCKOUT_FILE`, oyster_blender/passes.py) and the runtime
draws past the frame from them (`reaching`), as Go Live does. A take whose
objects move (it has the object pass) or whose folder has no triangles is
painted within the frame, and so is a shot larger than the painter's native
size (its passes are brought down to that size, and end at the frame).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from model_runtime.painter.features import camera
from model_runtime.painter.memory import MemoryView, empty_view
from model_runtime.painter.passes import FolderPasses, FramePasses, blockout_of
from model_runtime.painter.raster import Blockout

PAINT_AHEAD = 16  # pixels past a border a box of new ground along it reaches
MIN_RUN = 16      # pixels of new ground along a border for its side to be reached past

Sides = tuple[int, int, int, int]  # pixels past the top, bottom, left and right borders


def reach(new: np.ndarray, ahead: int = PAINT_AHEAD, min_run: int = MIN_RUN) -> Sides:
    """How far past each border the painting reaches: `ahead` where at least `min_run` pixels of the new ground
    (H, W) bool lie along that border, else 0."""
    return tuple(ahead if np.count_nonzero(edge) >= min_run else 0
                 for edge in (new[0], new[-1], new[:, 0], new[:, -1]))


def widened(box: tuple[int, int, int, int], sides: Sides, height: int, width: int) -> tuple[int, int, int, int]:
    """A box (y0, y1, x0, x1) of the frame in the coordinates of the frame widened by `sides`, reaching past each
    widened border it meets."""
    top, bottom, left, right = sides
    y0, y1, x0, x1 = box
    return (0 if y0 == 0 else y0 + top, y1 + top + (bottom if y1 == height else 0),
            0 if x0 == 0 else x0 + left, x1 + left + (right if x1 == width else 0))


@dataclass
class Widened:
    """The frame's passes, memory view and noise with bands past its borders (`sides`), the camera moved to match:
    the passes drawn there, the memory empty, noise of its own (the frame's noise is unchanged)."""

    sides: Sides
    frame: dict
    passes: FramePasses
    seen: MemoryView
    noise: np.ndarray

    @property
    def inside(self) -> tuple[slice, slice]:
        """The frame's own pixels in the widened arrays."""
        top, bottom, left, right = self.sides
        height, width = self.noise.shape
        return slice(top, height - bottom), slice(left, width - right)


def widen(passes: FramePasses, frame: dict, seen: MemoryView, noise: np.ndarray, sides: Sides,
          noise_seed: list[int]) -> Widened:
    """The frame widened by `sides`, its bands drawn by `passes.beyond` (top and bottom bands across the widened
    width, left and right ones the frame's height)."""
    top, bottom, left, right = sides
    h, w = passes.depth.shape
    H, W = h + top + bottom, w + left + right
    depth, shade = np.zeros((H, W), np.float32), np.zeros((H, W), np.uint8)
    objects = np.zeros((H, W), np.int32)
    inside = (slice(top, top + h), slice(left, left + w))
    depth[inside], shade[inside] = passes.depth, passes.shade
    if passes.object is not None:
        objects[inside] = passes.object
    bands = [((-top, 0, -left, w + right), (slice(0, top), slice(None))),
             ((h, h + bottom, -left, w + right), (slice(top + h, H), slice(None))),
             ((0, h, -left, 0), (inside[0], slice(0, left))),
             ((0, h, w, w + right), (inside[0], slice(left + w, W)))]
    for rect, where in bands:
        if rect[1] > rect[0] and rect[3] > rect[2]:
            drawn = passes.beyond(rect)
            depth[where], shade[where] = drawn.depth, drawn.shade
            if drawn.object is not None:
                objects[where] = drawn.object
    widened_noise = np.random.default_rng([*noise_seed, 1]).standard_normal((H, W)).astype(np.float32)
    widened_noise[inside] = noise
    view = empty_view(W, H)
    view.rgb[inside], view.valid[inside], view.filled[inside] = seen.rgb, seen.valid, seen.filled
    moved = dict(frame, cx=frame["cx"] + left, cy=frame["cy"] + top)
    return Widened(sides, moved, FramePasses(depth, shade, objects if passes.object is not None else None), view,
                   widened_noise)


@dataclass
class Ahead:
    """What the network painted on a widened frame (float32 (H', W', 3) in [0, 1], and where): its pixels past the
    frame's borders are remembered as the frame's own new pixels are, once composited, eased and crisped as
    the frame is (session.finish)."""

    wide: Widened
    painted: np.ndarray
    where: np.ndarray

    def remembered(self, shown: np.ndarray) -> dict:
        """`Memory.add`'s arguments for the pixels of the finished widened frame `shown` painted past the frame,
        at the frame's 8-bit levels."""
        mask = self.where.copy()
        mask[self.wide.inside] = False
        K, c2w = camera(self.wide.frame)
        rgb = np.round(np.clip(shown, 0, 1) * 255).astype(np.float32) / 255
        return {"rgb": rgb, "depth": self.wide.passes.depth, "K": K, "c2w": c2w, "mask": mask,
                "objects": self.wide.passes.object}


class DrawnPast:
    """A take's passes read from files, each frame's `beyond` drawn from the blockout's triangles at its camera."""

    def __init__(self, passes: FolderPasses, blockout: Blockout, track: dict):
        self.passes, self.blockout, self.track = passes, blockout, track

    def __len__(self) -> int:
        return len(self.passes)

    def frame(self, index: int) -> FramePasses:
        drawn = self.passes.frame(index)
        drawn.beyond = functools.partial(self.blockout.box, self.track["frames"][index], self.track["scale"])
        return drawn


def reaching(passes: FolderPasses, track: dict) -> FolderPasses | DrawnPast:
    """A passes folder's frames, drawn past the frame where the folder has the blockout's triangles and nothing
    but the camera moves; PassesError (field `blockout`) when its blockout cannot be used."""
    found = None if passes.objects else blockout_of(passes.folder)
    return passes if found is None else DrawnPast(passes, Blockout.load(*found), track)
