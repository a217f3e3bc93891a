"""Seams in the sky: new sky is eased into the remembered sky beside it over a few pixels.

A pan brings in a strip of new ground every frame; the network paints it
against the memory beside it, but not exactly at the memory's level, so the sky
shows a seam down every strip (the pan's streaks; `sky_streaks` in the painter
evaluation measures them). Here each new sky pixel within FEATHER pixels of
the remembered sky takes the difference between the memory and the network's
own painting of that remembered sky (the network paints its context too),
smoothed along the seam, fading to nothing at FEATHER pixels. The far side of a
strip keeps the network's level, so nothing is carried from strip to strip:
carrying the level across whole strips was tried and drifted the sky grey
(docs/decisions.md). Only the sky: on surfaces the texture hides the seams and
an offset would smear it.
"""
from __future__ import annotations

import cv2
import numpy as np

from model_runtime.painter.memory import MemoryView, nearest_pixel

FEATHER = 8.0   # pixels over which new sky fades from the memory's level to the network's
ALONG = 4.0     # Gaussian sigma, pixels: the memory-minus-painting difference smoothed along the seam
BAND = 2        # pixels of remembered sky beside new sky whose difference is measured


def feather_sky(shown: np.ndarray, painted: np.ndarray, seen: MemoryView, depth: np.ndarray,
                painted_where: np.ndarray) -> np.ndarray:
    """The composited frame (H, W, 3) float32 with new sky eased into the remembered sky beside it.

    `painted`: the network's picture, valid where `painted_where` (H, W) bool (its boxes); `seen`: the memory's
    view (`shown`: the pixels the memory gives); `depth`: the blockout's z-depth, 0 or inf for sky. The work is
    done in the box around the new sky that the easing and the smoothing reach (a pan's strip: a tenth of the
    frame)."""
    remembered = seen.shown
    sky = ~(np.isfinite(depth) & (depth > 0))
    new_sky = ~remembered & sky
    ys, xs = np.nonzero(new_sky)
    if not len(ys):
        return shown
    reach = BAND + int(np.ceil(FEATHER + 3 * ALONG))
    h, w = new_sky.shape
    box = (slice(max(0, ys.min() - reach), min(h, ys.max() + 1 + reach)),
           slice(max(0, xs.min() - reach), min(w, xs.max() + 1 + reach)))
    new_sky, sky, remembered = new_sky[box], sky[box], remembered[box]
    size = 2 * BAND + 1
    beside = cv2.dilate(new_sky.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)
    band = remembered & sky & beside & painted_where[box]
    if not band.any():
        return shown
    difference = (seen.rgb[box] - painted[box]) * band[..., None]
    weight = cv2.GaussianBlur(band.astype(np.float32), (0, 0), ALONG)
    smooth = cv2.GaussianBlur(difference.astype(np.float32), (0, 0), ALONG) / np.maximum(weight, 1e-6)[..., None]
    distance = cv2.distanceTransform((~band).astype(np.uint8), cv2.DIST_L2, 5)
    rows, cols = nearest_pixel(band)
    fade = np.clip(1.0 - distance / FEATHER, 0.0, 1.0) * new_sky
    eased = shown.copy()
    eased[box] = np.clip(shown[box] + smooth[rows, cols] * fade[..., None], 0.0, 1.0)
    return eased
