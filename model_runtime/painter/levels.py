"""New ground painted at the level of the memory of its own surface.

The network paints new ground against the memory around it (it sees the
memory), but not always at the memory's level: in the example shot the road
a passing car uncovers came out greener than the road around it, remembered
from the first frame, and stayed so, a car-shaped patch, to the end of the
take. The network also paints the remembered pixels inside its boxes (its
context), so the difference between the memory and the network's own
painting there measures how far off its level is on that surface. Each piece
of surface in the boxes (between the blockout's silhouettes and, with the
object pass, within one object) takes the mean of that difference over its
remembered pixels on its new pixels: one level per piece, so the network's
texture is kept (a smoothly varying offset would smear it). A piece with fewer
than MIN_CONTEXT remembered pixels keeps the network's level. Sky is eased
into the remembered sky on its own (painter/seams.py).
"""
from __future__ import annotations

import cv2
import numpy as np

from model_runtime.painter.memory import MemoryView

MIN_CONTEXT = 32  # remembered pixels of a piece of surface in the boxes that its level is measured on


def level_new_ground(painted: np.ndarray, where: np.ndarray, seen: MemoryView, depth: np.ndarray,
                     band: np.ndarray, objects: np.ndarray | None = None) -> np.ndarray:
    """`painted` (H, W, 3) float32 in [0, 1], the network's picture where `where` (H, W) bool, with its new
    ground (not `seen.shown`) on each piece of surface moved by the mean of the memory minus the painting on
    that piece's remembered pixels. Pieces: 4-connected pixels of `where` off the sky (`depth` 0 or inf) and
    off `band` (the silhouettes' band, `edges.Silhouettes.band`), within one object of `objects` if given."""
    new = where & ~seen.shown
    if not new.any():
        return painted
    cut = band.copy()
    if objects is not None:  # an object resting on another meets it at one depth: no silhouette between them
        cut[:-1] |= objects[:-1] != objects[1:]
        cut[1:] |= objects[1:] != objects[:-1]
        cut[:, :-1] |= objects[:, :-1] != objects[:, 1:]
        cut[:, 1:] |= objects[:, 1:] != objects[:, :-1]
    pieces = where & np.isfinite(depth) & (depth > 0) & ~cut
    count, labels = cv2.connectedComponents(pieces.astype(np.uint8), connectivity=4)
    context = pieces & seen.shown
    if not context.any():
        return painted
    remembered = labels[context]
    pixels = np.bincount(remembered, minlength=count)
    difference = seen.rgb[context] - painted[context]
    levels = np.stack([np.bincount(remembered, difference[:, c], minlength=count) for c in range(3)], axis=1)
    levels /= np.maximum(pixels, 1)[:, None]
    levels[pixels < MIN_CONTEXT] = 0
    levels[0] = 0  # label 0: off the pieces
    moved = new & pieces
    out = painted.copy()
    out[moved] = np.clip(painted[moved] + levels[labels[moved]], 0.0, 1.0)
    return out
