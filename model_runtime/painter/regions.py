"""Where the network runs: boxes around a frame's new ground, each with context, instead of the whole frame.

Where the memory is valid the composite shows the memory, so the network's
pixels there are thrown away. A camera that pans or cranes brings in a strip
at one side, an object that moves reveals a sliver beside it: painting the
whole frame for those costs the whole frame. So the network runs on boxes
that hold the new ground and `CONTEXT` pixels of what surrounds it (the memory
there, which the new ground must match), never smaller than MIN_BOX, and on
the whole frame once the boxes would cover most of it.

MIN_BOX was the training crop (192x112), for fear that the normalisation
statistics of a smaller box would change the picture; measured on 8 val clips
x 16 frames, 48x48 gives the same PSNR, SSIM, warping error and layout
adherence to three decimals, and the network runs on 0.75 of the pixels of
painting every frame whole, against 0.90 with 192x112 (4 artist-style clips:
0.80 against 0.81). A guillotine cut of L-shaped new ground (a pan with a
tilt) into thin boxes was tried and cost more (0.81): boxes that overlap pay
for the overlap twice, and one call costs about what 8,000 pixels do.

CONTEXT was 24 and MIN_BOX 48x48 until 16 and 16x16 were measured against
them (docs/reports/painter-2026-12-06-boxes, 12 clips x 16 frames): val
22.725 -> 22.727 dB, SSIM 0.7049 both, warping 4.11e-5 -> 4.10e-5, sky
streaks 0.455 -> 0.459; artist-style 19.419 -> 19.417 dB, warping 8.91e-5 ->
8.97e-5, sky streaks 0.385 -> 0.382: the same within the clips' spread (as
were 16 and 32x32, and 8 and 32x32). A pan's strip of new ground a pixel
wide now runs on its 17 pixels and the margin, 32 wide, instead of 64; a
sliver inside the frame on 48x48 instead of 64x64: in Go Live's flight the
network's pixels fall from 14.4k to 5.9k a frame.

A box side inside the frame gets no reflected margin (`box_margins`): its
CONTEXT pixels already keep the convolutions' zero padding away from the new
ground, and the margin made a 48x48 box cost 80x80 pixels. On 8 val clips x
16 frames the figures are the same to three decimals; the network's time on
the bench's dolly falls from 28.8 to 24.9 ms a frame.
"""
from __future__ import annotations

import cv2
import numpy as np

from model_runtime.painter.network import PainterNet

CONTEXT = 16                # pixels of surroundings around new ground inside a box
MIN_BOX = (16, 16)          # (width, height)
WHOLE_FRAME_SHARE = 0.6     # boxes costing more than this share of the whole frame: paint the frame

Box = tuple[int, int, int, int]  # (y0, y1, x0, x1), end exclusive


def _grow(start: int, end: int, least: int, limit: int) -> tuple[int, int]:
    """[start, end) widened about its centre to at least `least`, moved inside [0, limit)."""
    if least >= limit:
        return 0, limit
    if end - start >= least:
        return start, end
    start = max(0, min((start + end - least) // 2, limit - least))
    return start, start + least


def box_margins(box: Box, height: int, width: int, margin: int) -> tuple[int, int, int, int]:
    """The reflected margin of each side of a box (top, bottom, left, right; session.pad_to): `margin` where
    the box meets the frame's border, none inside the frame, where the box's own CONTEXT pixels keep the
    convolutions' zero padding away from its new ground (a 48x48 box ran on 80x80 pixels with margins all
    round, on 48x48 without)."""
    y0, y1, x0, x1 = box
    return (margin if y0 == 0 else 0, margin if y1 == height else 0, margin if x0 == 0 else 0,
            margin if x1 == width else 0)


def _cost(box: Box, height: int, width: int, margin: int) -> int:
    """Pixels the network runs on for a box of a height x width frame (session.pad_to)."""
    top, bottom, left, right = box_margins(box, height, width, margin)
    return PainterNet.input_length(box[1] - box[0], top, bottom) * PainterNet.input_length(box[3] - box[2], left,
                                                                                          right)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _merge(boxes: list[Box]) -> list[Box]:
    """Boxes that overlap become their union, until none overlap."""
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if _overlap(boxes[i], boxes[j]):
                    a, b = boxes[i], boxes.pop(j)
                    boxes[i] = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
                    merged = True
                    break
            if merged:
                break
    return boxes


def paint_boxes(new: np.ndarray, margin: int, context: int = CONTEXT, min_box: tuple[int, int] = MIN_BOX,
                whole_frame_share: float = WHOLE_FRAME_SHARE) -> list[Box]:
    """Non-overlapping boxes that cover every True pixel of `new` (H, W) with `context` pixels around it; [] when
    nothing is new; the whole frame when the network would run on more than `whole_frame_share` of the pixels
    it runs on for the whole frame (margins and rounding counted: two boxes of a third of the frame each cost
    more than the frame). margin: the reflected margin the network's input adds to a box (session.pad_to)."""
    h, w = new.shape
    if not new.any():
        return []
    kernel = np.ones((2 * context + 1, 2 * context + 1), np.uint8)
    near = cv2.dilate(new.astype(np.uint8), kernel)
    count, _, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
    boxes = []
    for x, y, bw, bh, _ in stats[1:count]:
        y0, y1 = _grow(int(y), int(y + bh), min_box[1], h)
        x0, x1 = _grow(int(x), int(x + bw), min_box[0], w)
        boxes.append((y0, y1, x0, x1))
    boxes = _merge(boxes)
    cost = sum(_cost(b, h, w, margin) for b in boxes)
    if cost > whole_frame_share * _cost((0, h, 0, w), h, w, margin):
        return [(0, h, 0, w)]
    return boxes
