"""The artist-style held-out split: blockouts built the way an artist builds one, and their look (bpy; docs/data.md).

An artist's blockout is nothing like the training generator's scenes (layout.py): plain untextured primitives
(Blender's default cube, cylinder, cone, UV sphere and plane, 2 m across, left with their default names
"Cube", "Cube.001", ...), placed with object location, rotation and scale, and a camera keyed at a handful of
frames (Bezier in between, as the timeline does by default). Four arrangements, each with its move
(artist_plan.ARRANGEMENTS):

- village: a hillside village, terraces of long scaled cubes stepping up a slope, houses (scaled cubes) and
  towers (cylinders) on them, seen by a crane up from the foot of the hill;
- street: a street between two rows of boxes of mixed heights, seen by a camera that looks down the street and
  whip pans to one side;
- monument: stacked primitives (cube plinth, cylinder, sphere, cone) on a plaza with bollards, orbited;
- room: the inside of one big scaled cube with boxes and columns in it, pushed into.

Its look ground truth is the same scene with materials from textures.py (world-scaled UVs, scenes' material
and world set-up), rendered through the data renderer's look path (render.render_frames + post_process, with
the Look of scenes.look_for), and its blockout passes come from the product's passes renderer
(render.blockout_passes: oyster_blender.passes + model_runtime.painter.passes), rendered before any material
exists. `render_artist_clip` returns render.RenderedClip, so shards.write_shard writes it as any other clip.
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import bpy  # before bmesh, which bpy puts on the path
import bmesh  # noqa: I001
import numpy as np
from mathutils import Euler, Matrix, Vector

from model_runtime.data.artist_plan import ARRANGEMENTS, SETTING_OF, artist_weather
from model_runtime.data.captions import MOVE_WORDS, TIME_WORDS, WEATHER_NIGHT_CLEAR_WORDS, WEATHER_WORDS
from model_runtime.data.layout import MaterialSpec
from model_runtime.data.render import RenderedClip, blockout_passes, post_process, render_frames
from model_runtime.data.scenes import BuiltScene, _material, _set_world, _world_uvs, look_for
from oyster_blender.passes import camera_track

PRIMITIVES = ("Cube", "Cylinder", "Cone", "Sphere", "Plane")
LENS_MM = 30.0
CAMERA_KEYS = 5
"""The camera is keyed at this many frames spread over the clip (fewer for shorter clips)."""
_NOTES = {"village": "a hillside village of small houses and towers on terraces",
          "street": "a street between rows of buildings",
          "monument": "a stone monument on a paved plaza",
          "room": "a room with crates and columns"}
# arrangement role -> (texture kind, metres a tile); facades hold 4 storeys of 3.5 m
_LOOK = {"ground_grass": ("grass", 4.0), "ground_asphalt": ("asphalt", 4.0), "ground_tiles": ("tiles", 2.0),
         "terrace": ("rock", 4.0), "house": ("facade:plaster:{lit}", 14.0), "tower": ("brick", 2.0),
         "building": ("facade:brick:{lit}", 14.0), "monument": ("concrete", 3.0), "statue": ("rock", 3.0),
         "bollard": ("concrete", 1.0), "room": ("plaster", 3.0), "crate": ("wood", 1.5), "column": ("concrete", 2.0)}


@dataclass
class Primitive:
    kind: str
    """One of PRIMITIVES."""
    location: tuple[float, float, float]
    scale: tuple[float, float, float]
    """Of Blender's default primitive, which is 2 m across (a cube of scale 1 is 2 x 2 x 2 m)."""
    role: str
    """What it stands for: its look's material (_LOOK)."""
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class ArtistBlockout:
    arrangement: str
    primitives: list[Primitive]
    camera_keys: list[tuple[float, Vector, Vector]] = field(default_factory=list)
    """(phase in 0..1, camera location, point looked at)."""


# -------------------------------------------------------------------------------------- arrangements

def _village(rng: np.random.Generator) -> ArtistBlockout:
    prims = [Primitive("Plane", (0, 0, 0), (120, 120, 1), "ground_grass")]
    slope = float(rng.uniform(0.25, 0.45))                   # rise per metre up the hill (+y)
    houses = 0
    for k in range(int(rng.integers(4, 7))):                 # terraces stepping up the hill
        y0 = 6.0 + k * 7.0
        top = y0 * slope + 0.5
        prims.append(Primitive("Cube", (0, y0 + 3.5, top / 2), (30, 3.5, top / 2), "terrace"))
        for x in np.sort(rng.uniform(-24, 24, int(rng.integers(3, 6)))):
            w, d, h = rng.uniform(1.2, 2.2), rng.uniform(1.2, 2.0), rng.uniform(1.2, 2.8)
            kind = "Cylinder" if rng.random() < 0.15 else "Cube"
            role = "tower" if kind == "Cylinder" else "house"
            sx, sy = (w, w) if kind == "Cylinder" else (w, d)
            prims.append(Primitive(kind, (float(x), y0 + 3.5 + float(rng.uniform(-1, 1)), top + h),
                                   (float(sx), float(sy), float(h * (1.6 if kind == "Cylinder" else 1))), role,
                                   (0, 0, float(rng.uniform(-0.3, 0.3)))))
            houses += 1
    target = Vector((0.0, 20.0, 20.0 * slope))
    x = float(rng.uniform(-6, 6))
    start, end = Vector((x, -22.0, 1.6)), Vector((x * 0.5, -18.0, float(rng.uniform(14, 22))))
    look_start, look_end = Vector((target.x, target.y, target.z * 0.6)), target + Vector((0, 10, 0))
    keys = [(t, start.lerp(end, t), look_start.lerp(look_end, t)) for t in np.linspace(0, 1, CAMERA_KEYS)]
    return ArtistBlockout("village", prims, keys)


def _street(rng: np.random.Generator) -> ArtistBlockout:
    prims = [Primitive("Plane", (0, 0, 0), (150, 150, 1), "ground_asphalt")]
    half_width = float(rng.uniform(5, 8))
    for side in (-1, 1):
        x = -40.0
        while x < 90:
            w, d, h = rng.uniform(3, 7), rng.uniform(4, 7), rng.uniform(3, 12)
            prims.append(Primitive("Cube", (x + w, side * (half_width + d), h), (float(w), float(d), float(h)),
                                   "building"))
            x += 2 * w + float(rng.uniform(0.0, 2.5))
    eye = Vector((0.0, float(rng.uniform(-1.5, 1.5)), 1.7))
    side = 1 if rng.random() < 0.5 else -1
    down_street = eye + Vector((30, 0, 0))
    across = eye + Vector((6, side * 30, 2))
    keys = [(0.0, eye, down_street), (0.4, eye, down_street), (0.6, eye, across), (1.0, eye, across)]
    return ArtistBlockout("street", prims, keys)


def _monument(rng: np.random.Generator) -> ArtistBlockout:
    prims = [Primitive("Plane", (0, 0, 0), (80, 80, 1), "ground_tiles")]
    base = float(rng.uniform(2.0, 3.5))
    prims += [Primitive("Cube", (0, 0, 0.6), (base, base, 0.6), "monument"),
              Primitive("Cube", (0, 0, 1.6), (base * 0.7, base * 0.7, 0.4), "monument"),
              Primitive("Cylinder", (0, 0, 4.0), (base * 0.35, base * 0.35, 2.0), "monument"),
              Primitive("Sphere", (0, 0, 7.0), (1.0, 1.0, 1.0), "statue"),
              Primitive("Cone", (0, 0, 9.0), (0.6, 0.6, 1.0), "statue")]
    for k in range(int(rng.integers(6, 11))):                 # bollards around the plaza
        a = 2 * math.pi * k / 10 + float(rng.uniform(-0.1, 0.1))
        r = float(rng.uniform(7, 9))
        kind = "Sphere" if k % 2 else "Cylinder"
        prims.append(Primitive(kind, (r * math.cos(a), r * math.sin(a), 0.5), (0.3, 0.3, 0.5), "bollard"))
    radius, height = float(rng.uniform(13, 18)), float(rng.uniform(2, 5))
    a0, sweep = float(rng.uniform(0, 2 * math.pi)), float(rng.choice([-1, 1]) * rng.uniform(1.6, 2.4))
    target = Vector((0, 0, 4.0))
    keys = [(t, Vector((radius * math.cos(a0 + sweep * t), radius * math.sin(a0 + sweep * t), height)), target)
            for t in np.linspace(0, 1, CAMERA_KEYS)]
    return ArtistBlockout("monument", prims, keys)


def _room(rng: np.random.Generator) -> ArtistBlockout:
    sx, sy, sz = float(rng.uniform(4, 6)), float(rng.uniform(3.5, 5)), float(rng.uniform(1.4, 1.8))
    prims = [Primitive("Cube", (0, 0, sz), (sx, sy, sz), "room")]   # the camera is inside this cube
    for _ in range(int(rng.integers(5, 10))):
        s = float(rng.uniform(0.25, 0.6))
        x, y = float(rng.uniform(-sx + 0.8, sx - 0.8)), float(rng.uniform(-sy + 0.8, sy - 0.8))
        if abs(y) < 0.9:                                     # keep the camera's path clear
            y = math.copysign(1.2, y if y else 1.0)
        prims.append(Primitive("Cube", (x, y, s), (s, s * float(rng.uniform(0.7, 1.4)), s), "crate",
                               (0, 0, float(rng.uniform(0, math.pi)))))
    for x in (-sx / 2, sx / 2):
        prims.append(Primitive("Cylinder", (x, sy * 0.6, sz), (0.2, 0.2, sz), "column"))
    start, end = Vector((-sx + 0.5, 0, 1.6)), Vector((sx * 0.2, 0, 1.5))
    look = Vector((sx, float(rng.uniform(-1, 1)), 1.2))
    keys = [(t, start.lerp(end, t), look) for t in np.linspace(0, 1, CAMERA_KEYS)]
    return ArtistBlockout("room", prims, keys)


_BUILDERS = {"village": _village, "street": _street, "monument": _monument, "room": _room}
assert set(_BUILDERS) == set(ARRANGEMENTS)


def artist_blockout(scene_seed: int, arrangement: str) -> ArtistBlockout:
    return _BUILDERS[arrangement](np.random.default_rng([scene_seed, 0xA57]))


# --------------------------------------------------------------------------------------------- bpy

def _primitive_mesh(kind: str) -> bpy.types.Mesh:
    """Blender's default primitive of that kind (2 m across), named as the Add menu names it."""
    bm = bmesh.new()
    if kind == "Cube":
        bmesh.ops.create_cube(bm, size=2.0)
    elif kind == "Cylinder":
        bmesh.ops.create_cone(bm, cap_ends=True, segments=32, radius1=1.0, radius2=1.0, depth=2.0)
    elif kind == "Cone":
        bmesh.ops.create_cone(bm, cap_ends=True, segments=32, radius1=1.0, radius2=0.0, depth=2.0)
    elif kind == "Sphere":
        bmesh.ops.create_uvsphere(bm, u_segments=32, v_segments=16, radius=1.0)
    elif kind == "Plane":
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=1.0)
    else:
        raise ValueError(f"not a primitive: {kind}")
    mesh = bpy.data.meshes.new(kind)
    bm.to_mesh(mesh)
    bm.free()
    return mesh


def _look_at(eye: Vector, target: Vector, previous: Euler | None) -> Euler:
    """The camera rotation (it looks down its -Z, up is +Y) towards target, continuous with the previous key."""
    quat = (target - eye).to_track_quat("-Z", "Y")
    return quat.to_euler("XYZ", previous) if previous is not None else quat.to_euler("XYZ")


def build_blockout(blockout: ArtistBlockout, n_frames: int, fps: int, width: int, height: int
                   ) -> tuple[bpy.types.Scene, bpy.types.Object, list[bpy.types.Object]]:
    """A fresh file holding the blockout as an artist leaves it: default-named primitives without materials, a
    camera "Camera" keyed at CAMERA_KEYS frames (Bezier between keys); returns (scene, camera, objects)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.fps = fps
    scene.frame_start, scene.frame_end = 1, n_frames
    objects = []
    for prim in blockout.primitives:
        obj = bpy.data.objects.new(prim.kind, _primitive_mesh(prim.kind))
        scene.collection.objects.link(obj)
        obj.location, obj.scale, obj.rotation_euler = prim.location, prim.scale, prim.rotation
        objects.append(obj)
    data = bpy.data.cameras.new("Camera")
    data.lens, data.sensor_width, data.clip_start, data.clip_end = LENS_MM, 36.0, 0.1, 1000.0
    cam = bpy.data.objects.new("Camera", data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    keyed = sorted({1 + round(t * (n_frames - 1)): (eye, target) for t, eye, target in blockout.camera_keys}.items())
    previous = None
    for frame, (eye, target) in keyed:
        previous = _look_at(eye, target, previous)
        cam.location, cam.rotation_euler = eye, previous
        cam.keyframe_insert("location", frame=frame)
        cam.keyframe_insert("rotation_euler", frame=frame)
    scene.frame_set(1)
    return scene, cam, objects


def _layout_like(scene_seed: int, arrangement: str, time_of_day: str, weather: str) -> SimpleNamespace:
    """What scenes.look_for, _material and _set_world read of a layout."""
    extras = {"lights": "lights on"} if arrangement == "room" else {}
    return SimpleNamespace(scene_seed=scene_seed, setting=SETTING_OF[arrangement], time_of_day=time_of_day,
                           weather=weather, extras=extras, parts=[])


def dress(objects: list[bpy.types.Object], blockout: ArtistBlockout, layout, rng: np.random.Generator) -> None:
    """Give every primitive its look's material (textures.py, world-scaled UVs): the scale goes into the mesh
    (the same shape), so box-projected UVs keep texture sizes in metres."""
    lit = {"night": 0.55, "dusk": 0.3}.get(layout.time_of_day, 0.0)
    mats: dict[str, bpy.types.Material] = {}
    for obj, prim in zip(objects, blockout.primitives):
        kind, tile = _LOOK[prim.role]
        if prim.role not in mats:
            spec = MaterialSpec(kind.format(lit=lit), int(rng.integers(2**31)), tile)
            mats[prim.role] = _material(f"look_{prim.role}", spec, layout)
        mesh = obj.data
        mesh.transform(Matrix.Diagonal((*obj.scale, 1.0)))
        obj.scale = (1.0, 1.0, 1.0)
        mesh.materials.append(mats[prim.role])
        _world_uvs(mesh, np.full(len(mesh.polygons), tile))
        mesh.update()


def notes_for(arrangement: str, time_of_day: str, weather: str, rng: np.random.Generator) -> str:
    """The clip's scene notes: what is there, when, the weather and the move, in the training captions' words."""
    move = ARRANGEMENTS[arrangement]
    words = MOVE_WORDS["dolly_in" if move == "push_in" else move]
    move_text = str(rng.choice(words)).format(side=str(rng.choice(["left", "right"])), updown="up")
    weather_words = WEATHER_NIGHT_CLEAR_WORDS if (weather, time_of_day) == ("clear", "night") else WEATHER_WORDS[weather]
    air = "" if arrangement == "room" else f", {rng.choice(weather_words)}"
    return f"{_NOTES[arrangement]} {rng.choice(TIME_WORDS[time_of_day])}{air}; {move_text}"


def render_artist_clip(scene_seed: int, arrangement: str, n_frames: int, width: int, height: int, fps: int = 24,
                       time_of_day: str = "day", weather: str | None = None) -> RenderedClip:
    """Build the blockout of a seed, render its passes, dress it, render its look, describe it."""
    weather = artist_weather(scene_seed) if weather is None else weather
    if arrangement == "room":
        weather = "clear"                                    # no weather indoors
    blockout = artist_blockout(scene_seed, arrangement)
    scene, cam, objects = build_blockout(blockout, n_frames, fps, width, height)
    layout = _layout_like(scene_seed, arrangement, time_of_day, weather)
    look = look_for(layout, np.random.default_rng([scene_seed, 0x100C]))
    built = BuiltScene(layout, scene, cam, look)
    track = camera_track(scene, cam, 1, n_frames)
    with tempfile.TemporaryDirectory(prefix="oyster_artist_") as tmp:
        shade, blockout_depth, object_ids = blockout_passes(built, n_frames, Path(tmp))  # before any material
        dress(objects, blockout, layout, np.random.default_rng([scene_seed, 0xD2E]))
        _set_world(scene, look, layout)
        rgb, depth = render_frames(built, range(1, n_frames + 1), Path(tmp))
    rng = np.random.default_rng([scene_seed, 0x7A1])
    rgb = np.stack([post_process(rgb[i], depth[i], track["frames"][i], look, rng) for i in range(n_frames)])
    caption = notes_for(arrangement, time_of_day, weather, np.random.default_rng([scene_seed, 0xCAF]))
    labels = {"time_of_day": time_of_day, "weather": weather, "setting": SETTING_OF[arrangement],
              "arrangement": arrangement}
    meta = {"scene_seed": scene_seed, "caption": caption, "labels": labels, "move": ARRANGEMENTS[arrangement],
            "track": track, "split": "artist"}
    return RenderedClip(rgb, np.where(blockout_depth > 0, blockout_depth, np.inf), shade, object_ids, meta)
