"""The blockout's silhouettes drawn crisp: each side of an object's edge takes the colour of its own surface.

A convolutional painter smears colour across an object's edge over a few
pixels (it cannot know exactly where the edge falls inside its receptive
field), so a red box on a grey wall gets a pink rim. The blockout knows the
edge to the pixel. Pixels within a pixel of a depth discontinuity (the band)
are painted again as the joint bilateral mean (Tomasi and Manduchi 1998,
guided by log depth) of the painter's own colours just outside the band, in a
window of WINDOW pixels around them: a pixel takes only colours of the
surface at its own depth, so the edge becomes a step where the blockout puts
it. Nothing outside the band changes, and no colour is invented: a band
pixel with no source of its own depth nearby keeps what was painted.

Measured on 6 validation clips (8 frames each, the shipped painter, this
stage applied to the finished frames): layout adherence 0.292 -> 0.386
(ground truth 0.396), PSNR 20.71 -> 20.72 dB, sharpness 0.347 -> 0.354.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from model_runtime.painter.native import log_depth

DEPTH_JUMP = 0.05    # relative z-depth change between neighbours that no single plane explains: an edge
WINDOW = 3           # pixels: the band's sources lie within this Chebyshev distance
DEPTH_SIGMA = 0.05   # log depth: a source about 5% off in depth weighs e^-1 of one at the same depth
MIN_WEIGHT = 1e-3    # summed weight below which a band pixel keeps its painted colour


def depth_edges(depth: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels with a 4-neighbour across a depth discontinuity (both sides of it).

    Surface against sky is always one; between two surfaces, a jump of more than DEPTH_JUMP that neither side
    continues as a plane (inverse depth is affine along a plane, so a grazing floor far off is no edge)."""
    surf = depth > 0
    inv = np.pad(np.where(surf, 1.0 / np.maximum(depth, 1e-6), 0.0), 2, mode="edge")
    s = np.pad(surf, 2, mode="edge")
    h, w = depth.shape

    def at(dy: int, dx: int, a: np.ndarray) -> np.ndarray:
        return a[2 + dy:2 + dy + h, 2 + dx:2 + dx + w]

    p, ps = at(0, 0, inv), at(0, 0, s)
    edge = np.zeros((h, w), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            q, qs = at(dy, dx, inv), at(dy, dx, s)
            behind, beyond = at(-dy, -dx, inv), at(2 * dy, 2 * dx, inv)
            jump = ps & qs & (np.maximum(p, q) / np.minimum(p, q) - 1 > DEPTH_JUMP)
            plane_from_p = at(-dy, -dx, s) & (np.abs((2 * p - behind) / q - 1) <= DEPTH_JUMP)
            plane_from_q = at(2 * dy, 2 * dx, s) & (np.abs((2 * q - beyond) / p - 1) <= DEPTH_JUMP)
            edge |= (jump & ~plane_from_p & ~plane_from_q) | (ps != qs)
    return edge


class Silhouettes:
    """A frame's band (the pixels within a pixel of its depth edges) and how the stage draws the band pixels
    in `redraw` (all of the band when None): the joint bilateral mean of the colours outside the band within
    WINDOW pixels, guided by log depth. The weights are the depth's alone, so they are found once, before
    the frame is painted: which pixels the stage draws (`drawn`) and how (`crisp`)."""

    def __init__(self, depth: np.ndarray, redraw: np.ndarray | None = None):
        self.shape = depth.shape
        self.band = ndimage.binary_dilation(depth_edges(depth), np.ones((3, 3), bool))
        self._index = np.flatnonzero(self.band if redraw is None else self.band & redraw)
        self._sources = list(self._window(self._index, log_depth(depth).reshape(-1)))
        self._weights = np.zeros(len(self._index), np.float32)
        for _, weight in self._sources:
            self._weights += weight

    def _window(self, index: np.ndarray, guide: np.ndarray):
        """For band pixels `index` (flat), each source position in the window: (flat source indices, weights)."""
        h, w = self.shape
        source = ~self.band.reshape(-1)
        rows, cols = np.divmod(index, w)
        for dy in range(-WINDOW, WINDOW + 1):
            for dx in range(-WINDOW, WINDOW + 1):
                r, c = rows + dy, cols + dx
                inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
                q = np.where(inside, r * w + c, 0)
                difference = (guide[q] - guide[index]) / DEPTH_SIGMA
                yield q, (inside & source[q]) * np.exp(-difference * difference) / np.float32(1 + dy * dy + dx * dx)

    @property
    def drawn(self) -> np.ndarray:
        """(H, W) bool: the band pixels to redraw that `crisp` draws again whatever they held (those with
        sources of their own depth): what any earlier stage paints there is thrown away."""
        out = np.zeros(self.band.size, bool)
        out[self._index[self._weights > MIN_WEIGHT]] = True
        return out.reshape(self.shape)

    def crisp(self, rgb: np.ndarray) -> np.ndarray:
        """rgb (H, W, 3) float32 in [0, 1] -> the same with the band pixels to redraw drawn again from the
        colours outside the band. A band pixel with no source of its own depth nearby keeps what it held."""
        if not len(self._index):
            return rgb
        colour = rgb.reshape(-1, 3)
        total = np.zeros((len(self._index), 3), np.float32)
        for q, weight in self._sources:
            total += weight[:, None] * colour[q]
        redrawn = self._weights > MIN_WEIGHT
        out = colour.copy()
        out[self._index[redrawn]] = (total[redrawn] / self._weights[redrawn, None]).astype(rgb.dtype)
        return out.reshape(rgb.shape)
