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

import cv2
import numba
import numpy as np

from model_runtime.painter.native import log_depth

DEPTH_JUMP = 0.05    # relative z-depth change between neighbours that no single plane explains: an edge
WINDOW = 3           # pixels: the band's sources lie within this Chebyshev distance
DEPTH_SIGMA = 0.05   # log depth: a source about 5% off in depth weighs e^-1 of one at the same depth
MIN_WEIGHT = 1e-3    # summed weight below which a band pixel keeps its painted colour


def depth_edges(depth: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels with a 4-neighbour across a depth discontinuity (both sides of it).

    Surface against sky is always one; between two surfaces, a jump of more than DEPTH_JUMP that neither side
    continues as a plane (inverse depth is affine along a plane, so a grazing floor far off is no edge). The
    frame's border repeats outward."""
    edge = np.zeros(depth.shape, bool)
    _depth_edges(np.ascontiguousarray(depth, np.float32), np.float32(DEPTH_JUMP), edge)
    return edge


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _depth_edges(depth, jump_limit, edge):
    # float32 throughout, as the numpy passes this replaced (the same edges to the bit); a division by sky's
    # zero gives inf or nan, which no test passes
    h, w = depth.shape
    one, two = np.float32(1), np.float32(2)
    inv = np.zeros((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            if depth[y, x] > 0:
                inv[y, x] = one / max(depth[y, x], np.float32(1e-6))
    for y in range(h):
        for x in range(w):
            p = inv[y, x]
            for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                q = inv[min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)]
                if (p > 0) != (q > 0):
                    edge[y, x] = True
                    break
                if not (p > 0 and max(p, q) / min(p, q) - one > jump_limit):
                    continue
                behind = inv[min(max(y - dy, 0), h - 1), min(max(x - dx, 0), w - 1)]
                beyond = inv[min(max(y + 2 * dy, 0), h - 1), min(max(x + 2 * dx, 0), w - 1)]
                plane_from_p = behind > 0 and abs((two * p - behind) / q - one) <= jump_limit
                plane_from_q = beyond > 0 and abs((two * q - beyond) / p - one) <= jump_limit
                if not plane_from_p and not plane_from_q:
                    edge[y, x] = True
                    break


class Silhouettes:
    """A frame's band (the pixels within a pixel of its depth edges) and how the stage draws the band pixels
    in `redraw` (all of the band when None): the joint bilateral mean of the colours outside the band within
    WINDOW pixels, guided by log depth. The weights are the depth's alone, so they are found once, before
    the frame is painted: which pixels the stage draws (`drawn`) and how (`crisp`)."""

    def __init__(self, depth: np.ndarray, redraw: np.ndarray | None = None):
        self.shape = depth.shape
        # OpenCV's dilation: scipy's binary_dilation, 20x faster
        self.band = cv2.dilate(depth_edges(depth).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        self._index = np.flatnonzero(self.band if redraw is None else self.band & redraw)
        self._sources, self._each = self._window(self._index, log_depth(depth).reshape(-1))
        self._weights = np.zeros(len(self._index), np.float32)
        for weight in self._each:  # offset by offset, in order
            self._weights += weight

    def _window(self, index: np.ndarray, guide: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For band pixels `index` (flat): the flat source index and the weight of every position of the window,
        (positions, pixels) each, the positions in row order (all at once: a pass per position was 0.8 ms)."""
        h, w = self.shape
        source = ~self.band.reshape(-1)
        rows, cols = np.divmod(index, w)
        dy, dx = (a.reshape(-1, 1) for a in np.mgrid[-WINDOW:WINDOW + 1, -WINDOW:WINDOW + 1])
        r, c = rows + dy, cols + dx
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        q = np.where(inside, r * w + c, 0)
        difference = (guide[q] - guide[index]) / DEPTH_SIGMA
        return q, (inside & source[q]) * np.exp(-difference * difference) / (1 + dy * dy + dx * dx).astype(np.float32)

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
        for weighted in self._each[..., None] * colour[self._sources]:  # offset by offset, in order
            total += weighted
        redrawn = self._weights > MIN_WEIGHT
        out = colour.copy()
        out[self._index[redrawn]] = (total[redrawn] / self._weights[redrawn, None]).astype(rgb.dtype)
        return out.reshape(rgb.shape)
