"""Tileable texture images made with numpy (bpy-free).

Workbench in TEXTURE colour mode shows image textures but not procedural shader
nodes, so every surface detail the model and the camera estimator can lock onto
is baked into an image here. Every texture tiles (noise is periodic), values are
sRGB in [0, 1], shape (size, size, 3) float32, row 0 at the top.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

Texture = np.ndarray  # (S, S, 3) float32 sRGB in [0, 1]


def value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Periodic smooth value noise in [0, 1], (size, size); `cells` lattice cells per side."""
    grid = rng.random((cells, cells), dtype=np.float32)
    coords = np.arange(size, dtype=np.float32) * cells / size
    i0 = np.floor(coords).astype(int)
    f = coords - i0
    s = f * f * (3 - 2 * f)  # smoothstep keeps the gradient continuous across cells
    i1 = (i0 + 1) % cells
    rows = grid[i0][:, i0] * (1 - s)[None, :] + grid[i0][:, i1] * s[None, :]
    rows1 = grid[i1][:, i0] * (1 - s)[None, :] + grid[i1][:, i1] * s[None, :]
    return rows * (1 - s)[:, None] + rows1 * s[:, None]


def fbm(rng: np.random.Generator, size: int, cells: int = 4, octaves: int = 5) -> np.ndarray:
    """Fractal sum of periodic value noise, normalised to [0, 1]."""
    total = np.zeros((size, size), np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        n = min(cells * 2**octave, size)
        total += amp * value_noise(rng, size, n)
        norm += amp
        amp *= 0.5
    return total / norm


def _colorize(base: np.ndarray, variation: np.ndarray, amount: float) -> Texture:
    """Base colour (3,) modulated by a (S, S) field around 0.5."""
    out = base[None, None, :] * (1 + amount * (variation[..., None] - 0.5) * 2)
    return np.clip(out, 0, 1).astype(np.float32)


def _jitter(rng: np.random.Generator, color: tuple[float, float, float], amount: float) -> np.ndarray:
    return np.clip(np.array(color, np.float32) * (1 + rng.uniform(-amount, amount, 3)), 0, 1)


def grass(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.30, 0.45, 0.16), 0.2)
    tex = _colorize(base, fbm(rng, size, 4), 0.5)
    blades = rng.random((size, size), dtype=np.float32)  # fine speckle reads as grass blades
    return np.clip(tex * (0.8 + 0.4 * blades[..., None]), 0, 1)


def dirt(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.45, 0.36, 0.25), 0.15)
    tex = _colorize(base, fbm(rng, size, 6), 0.5)
    return np.clip(tex * (0.85 + 0.3 * rng.random((size, size, 1), dtype=np.float32)), 0, 1)


def sand(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.76, 0.68, 0.50), 0.08)
    tex = _colorize(base, fbm(rng, size, 8), 0.25)
    return np.clip(tex * (0.9 + 0.2 * rng.random((size, size, 1), dtype=np.float32)), 0, 1)


def rock(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.45, 0.43, 0.40), 0.15)
    n = fbm(rng, size, 3, 6)
    cracks = np.abs(value_noise(rng, size, 16) - 0.5) < 0.03  # thin dark veins
    tex = _colorize(base, n, 0.7)
    tex[cracks] *= 0.5
    return tex


def asphalt(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.22, 0.22, 0.23), 0.1)
    tex = _colorize(base, fbm(rng, size, 4), 0.4)
    grain = rng.random((size, size, 1), dtype=np.float32)
    tex = tex * (0.75 + 0.5 * grain)
    patches = fbm(rng, size, 2, 3) > 0.62  # repaired patches, darker
    tex[patches] *= 0.8
    return np.clip(tex, 0, 1)


def road(rng: np.random.Generator, size: int = 256) -> Texture:
    """Asphalt with a dashed centre line along the texture's v axis (u = across the road)."""
    tex = asphalt(rng, size)
    centre = slice(size // 2 - size // 64, size // 2 + size // 64)
    dashes = (np.arange(size) % (size // 2)) < size // 4
    tex[dashes, centre] = _jitter(rng, (0.85, 0.80, 0.55), 0.05)
    return tex


def concrete(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.62, 0.61, 0.58), 0.1)
    tex = _colorize(base, fbm(rng, size, 4), 0.3)
    joints = (np.arange(size) % (size // 2)) < 2  # paving slab joints
    tex[joints, :] *= 0.6
    tex[:, joints] *= 0.6
    return tex


def brick(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.55, 0.27, 0.18), 0.25)
    mortar = _jitter(rng, (0.70, 0.68, 0.62), 0.1)
    rows, cols = 16, 8
    bh, bw = size // rows, size // cols
    y, x = np.mgrid[0:size, 0:size]
    row = y // bh
    xs = (x + (row % 2) * (bw // 2)) % size  # running bond: every other row offset
    col = xs // bw
    brick_id = row * cols + col
    shade = rng.uniform(0.75, 1.15, rows * cols).astype(np.float32)[brick_id]
    tex = base[None, None, :] * shade[..., None] * (0.85 + 0.3 * fbm(rng, size, 16, 3)[..., None])
    is_mortar = ((y % bh) < 2) | ((xs % bw) < 2)
    tex[is_mortar] = mortar
    return np.clip(tex, 0, 1).astype(np.float32)


def plaster(rng: np.random.Generator, size: int = 256) -> Texture:
    palette = [(0.85, 0.82, 0.74), (0.80, 0.72, 0.60), (0.70, 0.76, 0.78), (0.86, 0.78, 0.70),
               (0.62, 0.66, 0.58)]
    base = _jitter(rng, palette[rng.integers(len(palette))], 0.08)
    tex = _colorize(base, fbm(rng, size, 4), 0.25)
    stains = fbm(rng, size, 2, 4)  # weathering streaks, stronger at the bottom
    return np.clip(tex * (1 - 0.25 * np.clip(stains - 0.5, 0, 1)[..., None] * 2), 0, 1)


def wood(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.50, 0.33, 0.18), 0.2)
    planks = 8
    pw = size // planks
    y, x = np.mgrid[0:size, 0:size]
    plank = x // pw
    shade = rng.uniform(0.8, 1.15, planks).astype(np.float32)[plank]
    grain = np.sin((x % pw) * 0.9 + 6 * fbm(rng, size, 4, 3)) * 0.5 + 0.5  # stretched rings
    tex = base[None, None, :] * (shade * (0.85 + 0.25 * grain))[..., None]
    tex[(x % pw) < 2] *= 0.5
    return np.clip(tex, 0, 1).astype(np.float32)


def tiles(rng: np.random.Generator, size: int = 256) -> Texture:
    a = _jitter(rng, (0.80, 0.78, 0.72), 0.1)
    b = _jitter(rng, (0.35, 0.38, 0.42), 0.3)
    n = 8
    y, x = np.mgrid[0:size, 0:size]
    checker = ((y // (size // n)) + (x // (size // n))) % 2
    tex = np.where(checker[..., None] == 0, a, b) * (0.9 + 0.2 * fbm(rng, size, 8, 3)[..., None])
    grout = ((y % (size // n)) < 2) | ((x % (size // n)) < 2)
    tex[grout] = 0.3
    return np.clip(tex, 0, 1).astype(np.float32)


def water(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.12, 0.28, 0.38), 0.15)
    waves = value_noise(rng, size, 32) * 0.5 + fbm(rng, size, 4) * 0.5
    tex = _colorize(base, waves, 0.6)
    glints = value_noise(rng, size, 64) > 0.82  # sparkle so the surface has texture
    tex[glints] = np.clip(tex[glints] * 2.2, 0, 1)
    return tex


def bark(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.30, 0.22, 0.15), 0.2)
    streaks = value_noise(rng, size, 32)[:1, :].repeat(size, 0)  # vertical furrows
    return _colorize(base, 0.6 * streaks + 0.4 * fbm(rng, size, 8), 0.8)


def leaves(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.18, 0.35, 0.12), 0.3)
    blotch = value_noise(rng, size, 32) * 0.6 + fbm(rng, size, 8) * 0.4
    return _colorize(base, blotch, 0.9)


def paint(rng: np.random.Generator, size: int = 64) -> Texture:
    """Vehicle or clothing colour: a saturated base with slight noise."""
    hue = rng.random()
    rgb = np.clip(np.abs(((hue * 6 + np.array([0, 4, 2])) % 6) - 3) - 1, 0, 1)
    base = (0.25 + 0.6 * rgb * rng.uniform(0.5, 1.0)).astype(np.float32)
    return _colorize(base, fbm(rng, size, 4, 3), 0.2)


def facade(rng: np.random.Generator, lit_fraction: float, size: int = 512,
           wall: Texture | None = None, windows: int = 4) -> tuple[Texture, np.ndarray]:
    """A wall with a `windows` x `windows` grid, and the (S, S) bool mask of its lit (warm) windows.

    The texture is mapped to `windows` storeys, so window rows line up with floors.
    """
    tex = (wall if wall is not None else plaster(rng, size)).copy()
    lit_mask = np.zeros((size, size), bool)
    cell = size // windows
    glass = _jitter(rng, (0.10, 0.13, 0.17), 0.2)
    frame = _jitter(rng, (0.85, 0.85, 0.82), 0.1)
    lit = _jitter(rng, (1.0, 0.82, 0.50), 0.05)
    wx0, wx1 = int(cell * 0.28), int(cell * 0.72)
    wy0, wy1 = int(cell * 0.22), int(cell * 0.70)
    for r in range(windows):
        for c in range(windows):
            y0, x0 = r * cell, c * cell
            tex[y0 + wy0 - 3:y0 + wy1 + 3, x0 + wx0 - 3:x0 + wx1 + 3] = frame
            on = rng.random() < lit_fraction
            shade = 0.8 + 0.4 * rng.random()
            tex[y0 + wy0:y0 + wy1, x0 + wx0:x0 + wx1] = np.clip((lit if on else glass) * shade, 0, 1)
            lit_mask[y0 + wy0:y0 + wy1, x0 + wx0:x0 + wx1] = on
            mid = x0 + (wx0 + wx1) // 2  # mullion
            tex[y0 + wy0:y0 + wy1, mid - 1:mid + 1] = frame
    lit_mask[:, (np.arange(size) % cell >= cell // 2 - 1) & (np.arange(size) % cell < cell // 2 + 1)] = False
    return tex, lit_mask


def roof(rng: np.random.Generator, size: int = 256) -> Texture:
    base = _jitter(rng, (0.30, 0.28, 0.27), 0.3)
    tex = _colorize(base, fbm(rng, size, 8), 0.5)
    y = np.arange(size)
    tex[(y % (size // 8)) < 2] *= 0.7  # roofing seams
    return tex


def door_wall(rng: np.random.Generator, size: int = 512) -> Texture:
    """Corridor wall: plaster with a door and a skirting board in every half of the tile."""
    tex = plaster(rng, size)
    door = _jitter(rng, (0.40, 0.28, 0.18), 0.3)
    half = size // 2
    for k in range(2):
        x0 = k * half + half // 3
        tex[int(size * 0.25):, x0:x0 + half // 3] = door
        tex[int(size * 0.25):int(size * 0.25) + 4, x0:x0 + half // 3] *= 0.6
    tex[-size // 24:, :] = _jitter(rng, (0.25, 0.22, 0.2), 0.2)
    return tex


def ceiling(rng: np.random.Generator, lit: bool, size: int = 256) -> Texture:
    """Ceiling tiles with a light panel in the middle (bright when lit)."""
    tex = _colorize(np.array([0.85, 0.85, 0.83], np.float32), fbm(rng, size, 16, 2), 0.1)
    y, x = np.mgrid[0:size, 0:size]
    tex[((y % (size // 4)) < 2) | ((x % (size // 4)) < 2)] *= 0.7
    panel = (np.abs(y - size / 2) < size / 8) & (np.abs(x - size / 2) < size / 5)
    tex[panel] = (1.0, 0.97, 0.9) if lit else (0.75, 0.75, 0.75)
    return tex


def canvas(rng: np.random.Generator, size: int = 128) -> Texture:
    """A framed painting: a few bands of colour with noise."""
    cols = [paint(rng, size) for _ in range(3)]
    bands = (fbm(rng, size, 2, 3) * 3).astype(int).clip(0, 2)
    tex = np.choose(bands[..., None], cols)
    tex[:6, :] = tex[-6:, :] = tex[:, :6] = tex[:, -6:] = 0.25
    return tex.astype(np.float32)


GENERATORS: dict[str, Callable[[np.random.Generator], Texture]] = {
    "grass": grass, "dirt": dirt, "sand": sand, "rock": rock, "asphalt": asphalt, "road": road,
    "concrete": concrete, "brick": brick, "plaster": plaster, "wood": wood, "tiles": tiles,
    "water": water, "bark": bark, "leaves": leaves, "roof": roof, "canvas": canvas,
}
