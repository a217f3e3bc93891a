"""What goes where in a procedural scene, sampled from one seed (bpy-free).

`sample_layout(scene_seed)` returns a `Layout`: the labels (setting, time of day,
weather), the materials, the parts (boxes, cylinders, capsules, terrain...) and
the camera stage (where a shot starts and how much room it has). `scenes.py`
turns a layout into Blender objects; keeping the decisions here makes them
testable without Blender and keeps the bpy layer thin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from model_runtime.data.textures import fbm

SETTINGS = ("street", "coast", "hills", "valley", "field", "room", "corridor")
INTERIORS = ("room", "corridor")
TIMES_OF_DAY = ("dawn", "day", "dusk", "night")
WEATHERS = ("clear", "overcast", "fog", "rain")
STOREY_M = 3.5  # facade textures hold 4 storeys, so building heights are multiples of this


@dataclass
class MaterialSpec:
    kind: str
    """A key of textures.GENERATORS, or 'facade:<wall>', 'paint', 'ceiling', 'door_wall', 'window', 'lamp'."""
    seed: int
    tile_m: float
    """Metres covered by one texture tile (world-space UVs keep bricks brick-sized)."""
    glow: bool = False
    """Self-lit (lit windows, lamps): not darkened at night."""


@dataclass
class Part:
    shape: str
    """box, cylinder, cone, sphere, capsule."""
    location: tuple[float, float, float]
    """Centre of the base (boxes, cylinders, capsules stand on it); centre for spheres."""
    size: tuple[float, float, float]
    material: str
    rot_z: float = 0.0
    top_material: str | None = None
    """Material of the faces looking up (roofs); defaults to `material`."""
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Metres per second: moving vehicles and walkers."""


@dataclass
class Terrain:
    heights: np.ndarray
    """(n, n) metres on a regular grid over [-extent/2, extent/2]^2, row = y, column = x."""
    extent: float
    materials: dict[str, str]
    """role -> material name: low, mid, steep, path."""
    path_y: float | None = None
    """y of a dirt path along x, or None."""

    def height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear terrain height at world (x, y)."""
        n = self.heights.shape[0]
        gx = np.clip((np.asarray(x) / self.extent + 0.5) * (n - 1), 0, n - 1.001)
        gy = np.clip((np.asarray(y) / self.extent + 0.5) * (n - 1), 0, n - 1.001)
        x0, y0 = gx.astype(int), gy.astype(int)
        fx, fy = gx - x0, gy - y0
        h = self.heights
        return ((h[y0, x0] * (1 - fx) + h[y0, x0 + 1] * fx) * (1 - fy)
                + (h[y0 + 1, x0] * (1 - fx) + h[y0 + 1, x0 + 1] * fx) * fy)


@dataclass
class Stage:
    """Where the shot's camera starts and the room it has to move in."""

    position: tuple[float, float, float]
    yaw: float
    """Radians, 0 looks along +x, counter-clockwise seen from above."""
    pitch: float
    focus_distance: float
    """Metres to the subject (orbit radius)."""
    space: float
    """Typical metres of free travel; scales move speeds."""
    bounds_min: tuple[float, float, float]
    bounds_max: tuple[float, float, float]
    """Box the camera must stay in (walls, street fronts, ceiling)."""


@dataclass
class Layout:
    scene_seed: int
    setting: str
    time_of_day: str
    weather: str
    materials: dict[str, MaterialSpec]
    parts: list[Part]
    stage: Stage
    terrain: Terrain | None = None
    water_level: float | None = None
    extras: dict[str, str] = field(default_factory=dict)
    """Extra caption words (e.g. 'coastal road', 'narrow street')."""

    def clamp_camera(self, positions: np.ndarray) -> np.ndarray:
        """Keep camera positions (N, 3) inside the stage box and above ground or water."""
        out = np.clip(positions, self.stage.bounds_min, self.stage.bounds_max)
        if self.terrain is not None:
            ground = self.terrain.height(out[:, 0], out[:, 1])
            if self.water_level is not None:
                ground = np.maximum(ground, self.water_level)
            out[:, 2] = np.maximum(out[:, 2], ground + 0.4)
        return out


def _mat(materials: dict[str, MaterialSpec], rng: np.random.Generator, name: str, kind: str,
         tile_m: float, glow: bool = False) -> str:
    materials[name] = MaterialSpec(kind, int(rng.integers(2**31)), tile_m, glow)
    return name


def _people(rng: np.random.Generator, materials: dict[str, MaterialSpec], n: int,
            area: tuple[float, float, float, float], ground, moving: float) -> list[Part]:
    """Capsule characters; a fraction `moving` of them walk at 0.8-1.6 m/s."""
    parts = []
    for i in range(n):
        x, y = rng.uniform(area[0], area[1]), rng.uniform(area[2], area[3])
        name = _mat(materials, rng, f"clothes{i % 4}", "paint", 1.0)
        height = rng.uniform(1.55, 1.9)
        vel = (0.0, 0.0, 0.0)
        if rng.random() < moving:
            angle = rng.uniform(0, 2 * math.pi)
            speed = rng.uniform(0.8, 1.6)
            vel = (speed * math.cos(angle), speed * math.sin(angle), 0.0)
        parts.append(Part("capsule", (x, y, float(ground(x, y))), (0.45, 0.45, height), name, velocity=vel))
    return parts


def _tree(rng: np.random.Generator, x: float, y: float, z: float) -> list[Part]:
    h = rng.uniform(3.0, 9.0)
    trunk = Part("cylinder", (x, y, z), (0.25 * h / 5, 0.25 * h / 5, h * 0.45), "bark")
    if rng.random() < 0.5:  # conifer or broadleaf
        crown = Part("cone", (x, y, z + h * 0.3), (h * 0.35, h * 0.35, h * 0.75), "leaves")
    else:
        r = h * rng.uniform(0.25, 0.35)
        crown = Part("sphere", (x, y, z + h * 0.45 + r * 0.6), (r, r, r * 0.9), "leaves")
    return [trunk, crown]


def _vehicle(rng: np.random.Generator, materials: dict[str, MaterialSpec], i: int, x: float, y: float,
             z: float, heading: float, speed: float) -> list[Part]:
    """A car or van as two boxes (body and cabin), optionally driving along its heading."""
    paint = _mat(materials, rng, f"car{i % 5}", "paint", 2.0)
    length = rng.uniform(3.8, 5.5)
    width, body_h = rng.uniform(1.7, 2.0), rng.uniform(0.8, 1.3)
    vel = (speed * math.cos(heading), speed * math.sin(heading), 0.0)
    cx, cy = x - 0.1 * length * math.cos(heading), y - 0.1 * length * math.sin(heading)
    return [Part("box", (x, y, z + 0.3), (length, width, body_h), paint, heading, velocity=vel),
            Part("box", (cx, cy, z + 0.3 + body_h), (length * 0.5, width * 0.9, 0.6), "glass", heading,
                 velocity=vel)]


def _street(rng, materials, tod) -> tuple[list[Part], Stage, dict[str, str]]:
    road_w = float(rng.uniform(7, 14))
    walk = float(rng.uniform(2.5, 5))
    half = road_w / 2 + walk
    _mat(materials, rng, "road", "road", road_w)
    _mat(materials, rng, "sidewalk", "concrete", 3.0)
    _mat(materials, rng, "glass", "window", 2.0)
    _mat(materials, rng, "roof", "roof", 8.0)
    _mat(materials, rng, "metal", "asphalt", 2.0)
    _mat(materials, rng, "lamp", "lamp", 1.0, glow=True)
    _mat(materials, rng, "bark", "bark", 2.0)
    _mat(materials, rng, "leaves", "leaves", 3.0)
    lit = {"night": 0.55, "dusk": 0.35, "dawn": 0.15, "day": 0.0}[tod]
    for k in range(4):
        wall = ("brick", "plaster", "concrete")[int(rng.integers(3))]
        materials[f"facade{k}"] = MaterialSpec(f"facade:{wall}:{lit}", int(rng.integers(2**31)), 4 * STOREY_M)
    parts = [Part("box", (0, 0, -0.2), (400, road_w, 0.2), "road"),
             Part("box", (0, half - walk / 2, -0.2), (400, walk, 0.35), "sidewalk"),
             Part("box", (0, -half + walk / 2, -0.2), (400, walk, 0.35), "sidewalk")]
    tall = rng.uniform(2, 12)  # storeys: low-rise town to downtown
    for side in (-1, 1):
        x = -200.0
        while x < 200:
            w = float(rng.uniform(8, 26))
            if rng.random() < 0.12:  # a cross street or a gap
                x += w
                continue
            d = float(rng.uniform(10, 22))
            storeys = max(1, int(rng.normal(tall, tall * 0.4)))
            setback = float(rng.uniform(0, 1.5))
            parts.append(Part("box", (x + w / 2, side * (half + setback + d / 2), 0), (w - 0.3, d, storeys * STOREY_M),
                              f"facade{int(rng.integers(4))}", top_material="roof"))
            x += w
        for lx in np.arange(-100, 100, rng.uniform(14, 28)):
            y = side * (half - 0.6)
            parts.append(Part("cylinder", (float(lx), y, 0.15), (0.12, 0.12, 5.5), "metal"))
            parts.append(Part("box", (float(lx), y - side * 0.5, 5.6), (0.6, 1.2, 0.25), "lamp"))
        if rng.random() < 0.6:
            for tx in np.arange(-100 + rng.uniform(0, 10), 100, rng.uniform(9, 20)):
                parts += _tree(rng, float(tx), side * (half - walk * 0.6), 0.15)
    for i in range(int(rng.integers(4, 14))):
        lane = rng.choice([-1, 1])
        x = float(rng.uniform(-60, 60))
        parked = rng.random() < 0.5
        y = lane * (road_w / 2 - (1.2 if parked else road_w / 4))
        heading = 0.0 if lane < 0 else math.pi
        parts += _vehicle(rng, materials, i, x, float(y), -0.2, heading, 0.0 if parked else float(rng.uniform(3, 11)))
    parts += _people(rng, materials, int(rng.integers(3, 14)), (-40, 40, half - walk + 0.5, half - 0.5),
                     lambda x, y: 0.15, 0.6)
    parts += _people(rng, materials, int(rng.integers(2, 10)), (-40, 40, -half + 0.5, -half + walk - 0.5),
                     lambda x, y: 0.15, 0.6)
    height = _camera_height(rng, 1.0)
    yaw = float(rng.choice([0.0, math.pi, math.pi / 2, -math.pi / 2], p=[0.35, 0.35, 0.15, 0.15]))
    yaw += float(rng.uniform(-0.5, 0.5))
    y0 = float(rng.uniform(-road_w / 3, road_w / 3))
    stage = Stage((float(rng.uniform(-15, 15)), y0, height), yaw, _pitch(rng, height), float(rng.uniform(5, 20)),
                  10.0, (-180, -half + 0.6, 0.3), (180, half - 0.6, 80))
    extras = {"place": rng.choice(["city street", "street", "downtown avenue" if tall > 7 else "town street",
                                   "narrow street" if road_w < 9 else "wide boulevard"])}
    return parts, stage, extras


def _camera_height(rng: np.random.Generator, scale: float) -> float:
    """Low, eye-level, high or aerial camera, in metres above the ground."""
    kind = rng.choice(["low", "eye", "high", "aerial"], p=[0.2, 0.5, 0.2, 0.1])
    return float({"low": rng.uniform(0.4, 0.9), "eye": rng.uniform(1.4, 1.9), "high": rng.uniform(4, 10),
                  "aerial": rng.uniform(15, 35)}[kind] * (1 if kind in ("low", "eye") else scale))


def _pitch(rng: np.random.Generator, height: float) -> float:
    """Look slightly up from low cameras and down from high ones."""
    if height < 1.0:
        return float(rng.uniform(-0.02, 0.15))
    if height > 12:
        return float(rng.uniform(-0.55, -0.2))
    if height > 3:
        return float(rng.uniform(-0.35, -0.05))
    return float(rng.uniform(-0.12, 0.06))


def _terrain(rng, setting, materials) -> tuple[list[Part], Stage, Terrain, float | None, dict[str, str]]:
    n, extent = 97, 480.0
    axis = np.linspace(-extent / 2, extent / 2, n)
    xx, yy = np.meshgrid(axis, axis)
    noise = fbm(rng, 128, 2, 5)[:n, :n]  # tiling is irrelevant here; 128 covers the 97-point grid
    water_level = None
    if setting == "field":
        h = noise * float(rng.uniform(1, 4))
    elif setting == "hills":
        h = noise * float(rng.uniform(20, 45)) + fbm(rng, 128, 8, 3)[:n, :n] * 4
        h -= h[n // 2, n // 2]
    elif setting == "valley":
        h = (np.abs(yy) / 120) ** 2 * float(rng.uniform(30, 70)) + noise * 12
        h -= h[n // 2, n // 2]
    else:  # coast: land falls to the sea along +y
        h = -yy * float(rng.uniform(0.05, 0.15)) + noise * 8 - 4 + 2.5
        water_level = 0.0
    materials_ = {"low": "sand" if setting == "coast" else "grass", "mid": "grass", "steep": "rock", "path": "dirt"}
    _mat(materials, rng, "grass", "grass", 4.0)
    _mat(materials, rng, "sand", "sand", 4.0)
    _mat(materials, rng, "rock", "rock", 6.0)
    _mat(materials, rng, "dirt", "dirt", 4.0)
    _mat(materials, rng, "bark", "bark", 2.0)
    _mat(materials, rng, "leaves", "leaves", 3.0)
    _mat(materials, rng, "boulder", "rock", 3.0)
    _mat(materials, rng, "glass", "window", 2.0)
    if water_level is not None:
        _mat(materials, rng, "water", "water", 12.0)
    path_y = float(rng.uniform(-15, 5)) if rng.random() < 0.7 else None
    terrain = Terrain(h.astype(np.float32), extent, materials_, path_y)
    parts: list[Part] = []
    ground = terrain.height
    density = {"field": 60, "hills": 120, "valley": 140, "coast": 70}[setting]
    for _ in range(density):
        x, y = rng.uniform(-150, 150, 2)
        if math.hypot(x, y) < 8 or (path_y is not None and abs(y - path_y) < 4):
            continue
        z = float(ground(x, y))
        if water_level is not None and z < water_level + 0.8:
            continue
        if rng.random() < 0.7:
            parts += _tree(rng, float(x), float(y), z - 0.2)
        else:
            s = float(rng.uniform(0.4, 3.0))
            parts.append(Part("sphere", (float(x), float(y), z + s * 0.2), (s, s * rng.uniform(0.7, 1.3), s * 0.6),
                              "boulder", rot_z=float(rng.uniform(0, 6.3))))
    if path_y is not None:
        for i in range(int(rng.integers(0, 4))):
            x = float(rng.uniform(-60, 60))
            heading = 0.0 if rng.random() < 0.5 else math.pi
            speed = float(rng.uniform(4, 12)) if rng.random() < 0.5 else 0.0
            parts += _vehicle(rng, materials, i, x, path_y, float(ground(x, path_y)) - 0.3, heading, speed)
    if path_y is not None and rng.random() < 0.7:
        parts += _people(rng, materials, int(rng.integers(1, 6)), (-25, 25, path_y - 1.5, path_y + 1.5), ground, 0.7)
    height = _camera_height(rng, 1.5)
    if setting == "coast":
        y0 = float(rng.uniform(-40, -15))
        start_ground = max(float(ground(0.0, y0)), 0.0)
        yaw = float(rng.choice([math.pi / 2, 0.0, math.pi])) + float(rng.uniform(-0.6, 0.6))  # sea or shoreline
    else:
        y0 = float(path_y) if path_y is not None and rng.random() < 0.4 else 0.0
        start_ground = float(ground(0.0, y0))
        yaw = float(rng.uniform(-math.pi, math.pi))
    stage = Stage((0.0, y0, start_ground + height), yaw, _pitch(rng, height), float(rng.uniform(8, 40)), 25.0,
                  (-200, -200, -50), (200, 200, 200))
    place = {"field": ["open field", "meadow", "farmland", "grassland"],
             "hills": ["rolling hills", "hillside", "hill country"],
             "valley": ["valley", "river valley", "mountain valley"],
             "coast": ["coastline", "beach", "coastal road" if path_y is not None else "rocky shore",
                       "seaside"]}[setting]
    return parts, stage, terrain, water_level, {"place": str(rng.choice(place))}


def _interior(rng, setting, materials, tod) -> tuple[list[Part], Stage, dict[str, str]]:
    lights_on = tod in ("night", "dusk") or rng.random() < 0.5
    materials["ceiling"] = MaterialSpec("ceiling:1" if lights_on else "ceiling:0", int(rng.integers(2**31)), 2.4,
                                        glow=lights_on)
    _mat(materials, rng, "floor", str(rng.choice(["wood", "tiles", "concrete"])), 3.0)
    _mat(materials, rng, "wood", "wood", 2.0)
    _mat(materials, rng, "fabric", "paint", 1.0)
    _mat(materials, rng, "canvas", "canvas", 1.0)
    _mat(materials, rng, "window", "window", 2.0, glow=True)
    if setting == "corridor":
        w, d, h = float(rng.uniform(2.0, 3.6)), float(rng.uniform(24, 45)), float(rng.uniform(2.6, 3.2))
        _mat(materials, rng, "wall", "door_wall", 5.0)
    else:
        w, d, h = float(rng.uniform(5, 12)), float(rng.uniform(6, 14)), float(rng.uniform(2.6, 4.0))
        _mat(materials, rng, "wall", str(rng.choice(["plaster", "brick", "wood"])), 3.0)
    # the room spans x in [0, d], y in [-w/2, w/2]; walls are thin boxes so Workbench shades them
    t = 0.2
    parts = [Part("box", (d / 2, 0, -t), (d + 2 * t, w + 2 * t, t), "floor"),
             Part("box", (d / 2, 0, h), (d + 2 * t, w + 2 * t, t), "ceiling"),
             Part("box", (d / 2, -w / 2 - t / 2, 0), (d, t, h), "wall"),
             Part("box", (d / 2, w / 2 + t / 2, 0), (d, t, h), "wall"),
             Part("box", (-t / 2, 0, 0), (t, w, h), "wall"),
             Part("box", (d + t / 2, 0, 0), (t, w, h), "wall")]
    if setting == "room":
        for _ in range(int(rng.integers(3, 9))):
            kind = rng.choice(["table", "shelf", "sofa", "cabinet"])
            x, y = float(rng.uniform(2.5, d - 0.8)), float(rng.uniform(-w / 2 + 0.8, w / 2 - 0.8))
            if kind == "table":
                parts.append(Part("box", (x, y, 0.72), (1.6, 0.9, 0.05), "wood", float(rng.uniform(0, 3))))
                for dx in (-0.7, 0.7):
                    for dy in (-0.35, 0.35):
                        parts.append(Part("cylinder", (x + dx, y + dy, 0), (0.04, 0.04, 0.72), "wood"))
            elif kind == "shelf":
                side = rng.choice([-1, 1])
                parts.append(Part("box", (x, side * (w / 2 - 0.25), 0), (1.2, 0.45, 2.0), "wood"))
            elif kind == "sofa":
                parts.append(Part("box", (x, y, 0), (2.0, 0.9, 0.45), "fabric", float(rng.uniform(0, 3))))
            else:
                parts.append(Part("box", (x, y, 0), (0.8, 0.6, 1.1), "wood", float(rng.uniform(0, 3))))
        for _ in range(int(rng.integers(1, 5))):
            side = rng.choice([-1, 1])
            parts.append(Part("box", (float(rng.uniform(1, d - 1)), side * (w / 2 - 0.03), 1.3),
                              (float(rng.uniform(0.6, 1.6)), 0.05, float(rng.uniform(0.5, 1.0))), "canvas"))
        parts.append(Part("box", (d - 0.03, 0, 0.9), (0.05, min(3.0, w * 0.5), min(1.6, h - 1.2)), "window"))
    parts += _people(rng, materials, int(rng.integers(0, 5)), (2.5, d - 1, -w / 2 + 0.6, w / 2 - 0.6),
                     lambda x, y: 0.0, 0.6)
    height = float(rng.choice([rng.uniform(0.5, 0.9), rng.uniform(1.3, 1.8), rng.uniform(1.9, h - 0.4)],
                              p=[0.2, 0.65, 0.15]))
    stage = Stage((float(rng.uniform(0.6, 1.5)), float(rng.uniform(-w / 5, w / 5)), height),
                  float(rng.uniform(-0.3, 0.3)), _pitch(rng, min(height, 2.0)), float(rng.uniform(2.5, d / 2)),
                  1.2 if setting == "room" else 1.5, (0.4, -w / 2 + 0.4, 0.3), (d - 0.4, w / 2 - 0.4, h - 0.3))
    place = ["hallway", "corridor", "office corridor"] if setting == "corridor" else \
        ["living room", "room", "office", "apartment interior"]
    return parts, stage, {"place": str(rng.choice(place)), "lights": "lights on" if lights_on else "lights off"}


def sample_layout(scene_seed: int, setting: str | None = None, time_of_day: str | None = None,
                  weather: str | None = None) -> Layout:
    """The whole scene for a seed; labels may be forced (the validation split balances them)."""
    rng = np.random.default_rng([scene_seed, 0x5CE7E])
    setting = setting or str(rng.choice(SETTINGS, p=[0.3, 0.14, 0.12, 0.1, 0.1, 0.14, 0.1]))
    time_of_day = time_of_day or str(rng.choice(TIMES_OF_DAY, p=[0.2, 0.4, 0.2, 0.2]))
    # interiors see no weather; the label stays 'clear' so the probe is not asked the impossible
    weather = weather or ("clear" if setting in INTERIORS else str(rng.choice(WEATHERS, p=[0.45, 0.25, 0.17, 0.13])))
    materials: dict[str, MaterialSpec] = {}
    terrain, water_level = None, None
    if setting == "street":
        parts, stage, extras = _street(rng, materials, time_of_day)
    elif setting in INTERIORS:
        parts, stage, extras = _interior(rng, setting, materials, time_of_day)
    else:
        parts, stage, terrain, water_level, extras = _terrain(rng, setting, materials)
    return Layout(scene_seed, setting, time_of_day, weather, materials, parts, stage, terrain, water_level, extras)
