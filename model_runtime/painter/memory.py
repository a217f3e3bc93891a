"""The painter's memory: what it has painted, as coloured points in the world, seen again through a camera.

Points come from painted frames with the blockout's exact depth (sky as a far
dome), so a surface seen once keeps its colour wherever the camera goes and a
revisit gives the same picture. Seen from a camera, the memory is valid only
where it shows the same surface the blockout has there (its depth agrees with
the passes' depth) and, when the shot has the object pass, of the same
object (each point carries the id of the object it was painted on, so an
object that moves leaves no painted copy of itself on what was behind it):
what was hidden, has moved, or was never seen is new ground for the painter.
The points are kept by the world model's PointCache: the anchor (a look
frame) is never evicted, later points form a ring bounded at `max_points`,
so a long shot's memory stays bounded.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numba
import numpy as np

from model_runtime.models.geometry import NEAR, pixels_to_world, splat
from model_runtime.world.cache3d import SKY_DEPTH, PointCache  # sky pixels join the memory as a far dome

DEPTH_TOLERANCE = 0.03     # relative z-depth agreement between memory and blockout for a pixel to count
CLOSE_SIZE = 5             # pixels: holes of a splat inside a closing of this size take the nearest point (zooms);
                           # a closing fills gaps between points but never grows the memory into new ground
HOLE_AREA = 64             # pixels: a speck of the view (fill_specks) is a hole of at most this area
SPECK_REACH = 2            # pixels: a speck whose nearest valid pixel shows another surface looks this far for
                           # a valid pixel of its own (fill_specks)
GAP_SEARCH = CLOSE_SIZE // 2  # pixels on each axis: a gap of the closing has a point this near, and none
                              # beyond is nearer: its nearest point (view)
SPECK_SEARCH = 5           # pixels: a speck's hole (HOLE_AREA pixels, enclosed) holds no disc of this radius
                           # (81 pixels), so its nearest valid pixel lies within this on each axis (fill_specks)
SEEN_WEIGHT = 0.5          # bilinear weight of the previous frame's same-surface pixels a hole's pixel needs to
                           # count as shown last frame (fill_from_previous)


ID = 3  # the memory's colours are (R, G, B, object id): the id as a float32, exact below 2**24


@dataclass
class MemoryView:
    """The memory seen from a camera: colour (H, W, 3) float32 [0, 1], where it is valid (H, W) bool, and the
    specks between valid pixels filled from them (`fill_specks`: shown, then remembered as new ground is, so
    the memory's gap closes)."""

    rgb: np.ndarray
    valid: np.ndarray
    filled: np.ndarray

    @property
    def shown(self) -> np.ndarray:
        """Where the frame shows the memory: valid or filled; the network paints the rest."""
        return self.valid | self.filled


def empty_view(width: int, height: int) -> MemoryView:
    return MemoryView(np.zeros((height, width, 3), np.float32), np.zeros((height, width), bool),
                      np.zeros((height, width), bool))


def surface(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The blockout's depth (0: sky) as the surface a memory point must lie on: (depth, tolerance) (H, W).

    The tolerance is DEPTH_TOLERANCE of the depth plus the depth's change across one pixel, the smaller of
    the two neighbours' on each axis: a grazing floor changes by more than 3% a row far off (a point seen
    from a little elsewhere lands a row away and must still count), while at a silhouette one neighbour
    is always on the same side, so the tolerance stays tight there. Sky is the far dome."""
    target, tolerance = np.empty((2, *depth.shape))
    _surface(np.ascontiguousarray(depth), SKY_DEPTH, DEPTH_TOLERANCE, target, tolerance)
    return target, tolerance


@numba.njit(cache=True, nogil=True)
def _surface(depth, sky_depth, relative, target, tolerance):
    # one loop over the pixels (numpy's padded copies and passes took 0.7 ms a call); float64, the same values
    h, w = depth.shape
    for y in range(h):
        for x in range(w):
            target[y, x] = sky_depth if depth[y, x] <= 0 else np.float64(depth[y, x])
    for y in range(h):
        for x in range(w):
            t = target[y, x]
            if depth[y, x] <= 0:
                tolerance[y, x] = sky_depth * 0.5
                continue
            up = target[min(abs(y - 1), h - 1), x]  # the neighbours reflected at the border, as np.pad's
            down = target[max(h - 1 - abs(h - 2 - y), 0), x]
            left, right = target[y, min(abs(x - 1), w - 1)], target[y, max(w - 1 - abs(w - 2 - x), 0)]
            step = max(min(abs(t - up), abs(t - down)), min(abs(t - left), abs(t - right)))
            tolerance[y, x] = relative * max(t, 1e-3) + step


def closed(landed: np.ndarray) -> np.ndarray:
    """The binary closing of where points landed, with the border pixels repeated outward: a plain closing
    sees nothing beyond the frame, so a gap between points along the border stayed open and the network
    repainted that speck every frame. Repeated outward, a strip of new ground along the border (a pan's)
    stays open however thin; a mirror would close a strip two pixels wide and smear the memory into it.
    (OpenCV's closing: the same pixels as scipy's binary_closing here, in a hundredth of the time.)"""
    r = CLOSE_SIZE
    padded = cv2.copyMakeBorder(landed.astype(np.uint8), r, r, r, r, cv2.BORDER_REPLICATE)
    return cv2.morphologyEx(padded, cv2.MORPH_CLOSE, np.ones((CLOSE_SIZE, CLOSE_SIZE), np.uint8))[r:-r, r:-r] > 0


def nearest_pixel(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols), each (H, W): every pixel's nearest True pixel of `mask` (which has one). OpenCV's distance
    transform with a 5x5 mask and a label per pixel (labels run in row-major order): the exact Euclidean
    nearest but for near-ties, in 1.5 ms a frame where scipy's exact transform took 5.4."""
    ys, xs = np.nonzero(mask)
    _, labels = cv2.distanceTransformWithLabels((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    return ys[labels - 1], xs[labels - 1]


@lru_cache
def _offsets(reach: int) -> np.ndarray:
    """(n, 2) int64: the offsets (dy, dx) within `reach` pixels on each axis, nearest first (among equally near,
    the first row, then the first column)."""
    square = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]
    return np.array(sorted(square, key=lambda offset: (offset[0] ** 2 + offset[1] ** 2, *offset)), np.int64)


@numba.njit(inline="always")
def _nearest(mask, y, x, offsets):
    # the first of the offsets from (y, x) where `mask` holds, (-1, -1) where none does
    h, w = mask.shape
    for j in range(len(offsets)):
        yy, xx = y + offsets[j, 0], x + offsets[j, 1]
        if yy >= 0 and yy < h and xx >= 0 and xx < w and mask[yy, xx]:
            return yy, xx
    return -1, -1


@numba.njit(cache=True, nogil=True)
def _fill_gaps(near, landed, offsets, rgb, zbuf):
    # one pass: a long dolly's sparse memory leaves gaps over half the frame, and numpy's gathers of them
    # (their indices, their nearest pixels, their colours) cost 2 ms a frame
    h, w = landed.shape
    for y in range(h):
        for x in range(w):
            if near[y, x] and not landed[y, x]:
                yy, xx = _nearest(landed, y, x, offsets)
                if yy >= 0:
                    for c in range(rgb.shape[2]):  # written out: a row's slice cost a view a pixel
                        rgb[y, x, c] = rgb[yy, xx, c]
                    zbuf[y, x] = zbuf[yy, xx]


def enclosed_holes(mask: np.ndarray, max_area: int = HOLE_AREA) -> np.ndarray:
    """(H, W) bool: the pixels of every 4-connected hole of `mask` with at most `max_area` pixels that touches
    no border of the frame (a strip a pan brings in always does)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    h, w = mask.shape
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    small = (area <= max_area) & (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    small[0] = False  # label 0 is `mask` itself
    return small[labels]


def fill_specks(rgb: np.ndarray, valid: np.ndarray, target: np.ndarray, tolerance: np.ndarray,
                objects: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Specks of the view: pixels of small holes of `valid` (`enclosed_holes`) that show the same surface as a
    valid pixel (blockout depth within the speck pixel's tolerance, and the same object): the nearest valid
    pixel, or, where that one shows another surface, the nearest of its own surface within SPECK_REACH
    pixels. They take that pixel's colour; returns the colours and where they were filled.

    As the camera nears a surface its points, painted from farther off, spread apart: the gaps outgrow the
    closing, and a point beside a silhouette fails the surface test by a pixel. The network painted each such
    speck on its own: a regular dotted grid over a surface the camera nears. A speck of one pixel beside a
    silhouette (its nearest valid pixel across the edge) cost a whole box of the network in Go Live. A speck
    where something new shows (another depth or object than the memory around it) stays new ground."""
    holes = enclosed_holes(valid)
    if not holes.any():
        return rgb, holes
    out, filled = rgb.copy(), np.zeros(valid.shape, bool)
    labels = np.zeros((0, 0), np.int64) if objects is None else objects
    _fill_specks(np.flatnonzero(holes), valid, target, tolerance, labels, _offsets(SPECK_SEARCH),
                 _offsets(SPECK_REACH), out, filled)
    return out, filled


@numba.njit(inline="always")
def _same_surface(target, tolerance, objects, y, x, yy, xx):
    # whether pixel (yy, xx) shows the surface of (y, x): blockout depth within its tolerance, the same object
    # (`objects` empty: no object pass)
    return abs(target[yy, xx] - target[y, x]) <= tolerance[y, x] and (
        objects.size == 0 or objects[yy, xx] == objects[y, x])


@numba.njit(cache=True, nogil=True)
def _fill_specks(at, valid, target, tolerance, objects, nearest, reach, out, filled):
    # one loop over the specks' pixels (numpy's passes over them, reach offset by reach offset, cost 0.4 ms a
    # frame on a long dolly); `out` holds the colours, read at valid pixels and written at the specks'
    w = valid.shape[1]
    for k in range(len(at)):
        y, x = at[k] // w, at[k] % w
        yy, xx = _nearest(valid, y, x, nearest)      # a speck's hole holds no disc of SPECK_SEARCH: always found
        same = yy >= 0 and _same_surface(target, tolerance, objects, y, x, yy, xx)
        if not same:                                 # beside a silhouette: look around for its own surface
            for j in range(len(reach)):
                yy, xx = y + reach[j, 0], x + reach[j, 1]
                if yy < 0 or yy >= valid.shape[0] or xx < 0 or xx >= w or not valid[yy, xx]:
                    continue
                if _same_surface(target, tolerance, objects, y, x, yy, xx):
                    same = True
                    break
        if same:
            for c in range(out.shape[2]):
                out[y, x, c] = out[yy, xx, c]
            filled[y, x] = True


@dataclass
class PreviousFrame:
    """The frame shown last, at the native size: colours (H, W, 3) uint8, the blockout's depth (0: sky) and object
    ids (None without the object pass) it was painted over, and its camera (K, OpenCV c2w)."""

    rgb: np.ndarray
    depth: np.ndarray
    objects: np.ndarray | None
    K: np.ndarray
    c2w: np.ndarray


def fill_from_previous(seen: MemoryView, depth: np.ndarray, objects: np.ndarray | None, K: np.ndarray,
                       c2w: np.ndarray, previous: PreviousFrame) -> MemoryView:
    """`seen` with its holes that the previous frame showed filled from it: a hole's pixel (its blockout point)
    seen through the previous camera that lands inside the previous frame, where more than SEEN_WEIGHT of the
    bilinear weight around it falls on pixels of the same surface (depth within their tolerance, same object),
    takes their weighted colour.

    The memory keeps only each frame's new pixels, at the spacing they were painted at: as the camera nears a
    surface its points spread apart, and along the frame's border (where no closing reaches) the gaps stayed
    open, so a dolly in painted a ring of "new ground" at the frame's border every frame, and with it the
    whole frame. What the artist saw there last frame is known: the previous frame, warped exactly. A pan's
    strip lands outside the previous frame and a disocclusion on the occluder (its same-surface neighbours
    weigh at most half), so both stay new ground."""
    rows, cols = np.nonzero(~seen.shown)
    if not len(rows):
        return seen
    z = depth[rows, cols].astype(np.float64)
    world = pixels_to_world(rows, cols, np.where(z > 0, z, SKY_DEPTH), K, c2w)
    before = np.asarray(previous.c2w, np.float64)
    x, y, zp = ((world - before[:3, 3]) @ before[:3, :3]).T                # R^T (p - t) of the previous camera
    zp_safe = np.where(zp > NEAR, zp, 1.0)
    fu = previous.K[0, 0] * x / zp_safe + previous.K[0, 2]
    fv = previous.K[1, 1] * y / zp_safe + previous.K[1, 2]
    h, w = previous.depth.shape
    inside = (zp > NEAR) & (fu >= 0) & (fu < w) & (fv >= 0) & (fv < h)
    target, tolerance = surface(previous.depth)
    cu, cv = fu - 0.5, fv - 0.5                                    # pixel-centre coordinates
    left, top = np.floor(cu), np.floor(cv)
    ax, ay = cu - left, cv - top
    left, top = left.astype(np.int64), top.astype(np.int64)
    total = np.zeros(len(rows))
    colour = np.zeros((len(rows), 3))
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        r, c = np.clip(top + dy, 0, h - 1), np.clip(left + dx, 0, w - 1)
        same = inside & (np.abs(zp - target[r, c]) <= tolerance[r, c])
        if objects is not None and previous.objects is not None:
            same &= previous.objects[r, c] == objects[rows, cols]
        weight = np.where(same, (ax if dx else 1 - ax) * (ay if dy else 1 - ay), 0)
        total += weight
        colour += weight[:, None] * previous.rgb[r, c]
    hit = total > SEEN_WEIGHT
    if not hit.any():
        return seen
    rgb, filled = seen.rgb.copy(), seen.filled.copy()
    rgb[rows[hit], cols[hit]] = colour[hit] / total[hit, None] / 255
    filled[rows[hit], cols[hit]] = True
    return MemoryView(rgb, seen.valid, filled)


def view(points: np.ndarray, colors: np.ndarray, K: np.ndarray, c2w: np.ndarray, depth: np.ndarray,
         objects: np.ndarray | None = None, blocks: np.ndarray | None = None) -> MemoryView:
    """The points (colours R, G, B, id) seen through a camera whose blockout depth (0: sky) is `depth`: a
    pixel is valid where a point lands that lies on the blockout's surface there (points off it are hidden or
    stray) and, given the frame's object ids, was painted on the object that is there; it shows the points
    around its centre that pass the same tests, bilinearly weighted (`splat(bilinear=True)`: nearest-point
    colours shimmered on textures as the camera slid by fractions of a pixel, 4.4x the warping error on
    8 val clips). Specks of the surface between valid pixels are filled from them (`fill_specks`). `blocks`:
    the points' `block_bounds` (splat skips those out of view)."""
    h, w = depth.shape
    target, tolerance = surface(depth)
    labels = None if objects is None else (colors[:, ID], objects.astype(np.float32))
    rgb, zbuf, landed = splat(points, colors[:, :ID], K, c2w, w, h, surface=(target, tolerance), labels=labels,
                              bilinear=True, blocks=blocks)
    if not landed.any():
        return empty_view(w, h)
    near = landed | closed(landed)
    _fill_gaps(near, landed, _offsets(GAP_SEARCH), rgb, zbuf)  # the closing's gaps show their nearest point
    valid = near & (np.abs(zbuf - target) <= tolerance)
    rgb[~valid] = 0
    rgb, filled = fill_specks(rgb, valid, target, tolerance, objects)
    return MemoryView(rgb, valid, filled)


class Memory(PointCache):
    """The world model's point cache (an anchor never evicted, then a ring of at most `max_points`), seen
    through the blockout's depth: valid only where it shows the surface the blockout has there."""

    def __init__(self, max_points: int):
        super().__init__(max_points, channels=ID + 1)

    def add(self, rgb: np.ndarray, depth: np.ndarray, K: np.ndarray, c2w: np.ndarray,
            mask: np.ndarray | None = None, anchor: bool = False, objects: np.ndarray | None = None) -> None:
        """A frame's pixels (rgb float [0, 1]) with the object ids of its object pass (none: 0)."""
        ids = np.zeros(depth.shape, np.float32) if objects is None else objects
        super().add(rgb, depth, K, c2w, mask=mask, anchor=anchor, extra=ids)

    def view(self, K: np.ndarray, c2w: np.ndarray, depth: np.ndarray,
             objects: np.ndarray | None = None) -> MemoryView:
        return view(self.points, self.colors, K, c2w, depth, objects, self.blocks())

    def clear(self) -> None:
        self.__init__(self.max_points)


def frame_view(rgb: np.ndarray, depth_from: np.ndarray, K_from: np.ndarray, c2w_from: np.ndarray,
               K: np.ndarray, c2w: np.ndarray, depth: np.ndarray) -> MemoryView:
    """One frame (rgb float [0, 1] and its depth) seen from another camera: the training memory."""
    one = Memory(depth_from.size)
    one.add(rgb, depth_from, K_from, c2w_from)
    return one.view(K, c2w, depth)
