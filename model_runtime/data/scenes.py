"""Build a layout (layout.py) as Blender objects: textured meshes, look, camera (bpy).

The one builder of the data renderer and the world from the notes: `build_layout` puts a layout's objects
into any collection of any scene (textured, or plain blockout materials), `add_camera` keys a move's
camera; `build_scene` is the data renderer's fresh scene (factory file, look, shading, camera) made of them.
Everything is created through the data API (no operators), so building is fast
and the same in a worker process and in Blender's UI. Surfaces carry image
textures from textures.py with world-space UVs; time of day and weather tint
the textures, because Workbench has no lights to colour.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Matrix, Quaternion

from model_runtime.data import textures
from model_runtime.data.layout import INTERIORS, Layout, MaterialSpec, Part
from model_runtime.data.moves import CameraMove, camera_poses

SENSOR_WIDTH_MM = 36.0

# sRGB multipliers applied to every non-glowing texture, the only "lighting" Workbench colours by
_TINT = {"dawn": (0.95, 0.80, 0.74), "day": (1.0, 1.0, 1.0), "dusk": (0.92, 0.68, 0.50), "night": (0.30, 0.35, 0.52)}
# (zenith, horizon) sky colours in sRGB
_SKY = {"dawn": ((0.35, 0.45, 0.70), (0.98, 0.72, 0.58)), "day": ((0.28, 0.50, 0.85), (0.75, 0.85, 0.95)),
        "dusk": ((0.22, 0.24, 0.50), (0.98, 0.55, 0.30)), "night": ((0.02, 0.03, 0.09), (0.10, 0.12, 0.22))}
MAX_SHADOWED_PARTS = 150  # Workbench shadow volumes of a few hundred trees cost ~0.2 s a frame
_SUN_ELEVATION = {"dawn": 8.0, "day": 55.0, "dusk": 6.0, "night": 40.0}  # night: moonlight


@dataclass
class Look:
    """How the scene is lit and what the air does, used by the renderer's post-process."""

    sky_zenith: tuple[float, float, float]
    sky_horizon: tuple[float, float, float]
    sun_direction: tuple[float, float, float]
    """Unit vector towards the sun (world)."""
    fog_density: float
    """Per metre (exponential fog); 0 indoors."""
    rain: bool
    interior: bool
    cloud_cover: float
    """0 (clear sky) .. 1 (overcast)."""
    cloud_seed: int


def look_for(layout: Layout, rng: np.random.Generator) -> Look:
    """Sky, sun and air from time of day and weather."""
    zen, hor = (np.array(c) for c in _SKY[layout.time_of_day])
    weather = layout.weather
    if weather != "clear":  # clouds: greyer sky, keeping a hint of the time of day
        grey = {"overcast": 0.62, "fog": 0.72, "rain": 0.5}[weather] * np.array(_TINT[layout.time_of_day])
        zen, hor = 0.25 * zen + 0.75 * grey, 0.3 * hor + 0.7 * grey
    density = {"clear": 0.002, "overcast": 0.004, "fog": float(rng.uniform(0.012, 0.04)),
               "rain": float(rng.uniform(0.006, 0.015))}[weather]
    azimuth = float(rng.uniform(0, 2 * math.pi))
    elev = math.radians(_SUN_ELEVATION[layout.time_of_day] + float(rng.uniform(-4, 15)))
    sun = (math.cos(elev) * math.cos(azimuth), math.cos(elev) * math.sin(azimuth), math.sin(elev))
    interior = layout.setting in INTERIORS
    cover = {"clear": float(rng.uniform(0.0, 0.45)), "overcast": float(rng.uniform(0.75, 1.0)),
             "fog": 0.9, "rain": 1.0}[weather]
    return Look(tuple(zen), tuple(hor), sun, 0.0 if interior else density, weather == "rain" and not interior,
                interior, cover, int(rng.integers(2**31)))


def _texture_pixels(spec: MaterialSpec, layout: Layout) -> np.ndarray:
    rng = np.random.default_rng(spec.seed)
    kind = spec.kind
    glow_mask = None  # pixels that light themselves (lit windows) keep their colour at night
    if kind.startswith("facade:"):
        _, wall, lit = kind.split(":")
        tex, glow_mask = textures.facade(rng, float(lit), wall=textures.GENERATORS[wall](rng, 512))
    elif kind.startswith("ceiling:"):
        tex = textures.ceiling(rng, kind.endswith("1"))
    elif kind == "paint":
        tex = textures.paint(rng)
    elif kind == "door_wall":
        tex = textures.door_wall(rng)
    elif kind == "lamp":
        on = layout.time_of_day in ("night", "dusk")
        tex = np.full((8, 8, 3), (1.0, 0.9, 0.65) if on else (0.8, 0.8, 0.75), np.float32)
    elif kind == "window":
        if spec.glow:  # a window seen from inside: the outside's light
            zen, hor = _SKY[layout.time_of_day]
            tex = np.linspace(np.array(hor), np.array(zen), 64, dtype=np.float32)[::-1, None, :].repeat(64, 1)
            tex = np.clip(tex * 1.15, 0, 1)
            tex[:, 30:34] = tex[30:34] = 0.9  # window bars
        else:  # dark glass with a soft reflection
            tex = textures.fbm(rng, 64, 2, 3)[..., None] * np.array([0.15, 0.18, 0.22], np.float32) + 0.06
    else:
        tex = textures.GENERATORS[kind](rng)
    if not spec.glow or glow_mask is not None:
        lit = tex
        tint = np.array(_TINT[layout.time_of_day], np.float32)
        if layout.setting in INTERIORS:  # lamps indoors: the hour shows only a little (through windows)
            tint = 1 - (0.25 if layout.extras.get("lights") == "lights on" else 0.6) * (1 - tint)
        tex = tex * tint
        if layout.weather in ("overcast", "fog", "rain") and layout.setting not in INTERIORS:
            tex = 0.8 * tex + 0.2 * tex.mean(-1, keepdims=True)  # flat light desaturates
        if glow_mask is not None:
            tex[glow_mask] = lit[glow_mask]
    return np.clip(tex, 0, 1).astype(np.float32)


def _material(name: str, spec: MaterialSpec, layout: Layout) -> bpy.types.Material:
    pixels = _texture_pixels(spec, layout)
    h, w = pixels.shape[:2]
    image = bpy.data.images.new(name, w, h, alpha=False)
    rgba = np.concatenate([pixels[::-1], np.ones((h, w, 1), np.float32)], -1)  # Blender rows start at the bottom
    image.pixels.foreach_set(rgba.ravel())
    image.pack()  # keeps the pixels in a saved .blend
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    tex.interpolation = "Closest" if w <= 8 else "Linear"
    mat.node_tree.links.new(tex.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    nodes.active = tex  # Workbench's texture mode shows the active image node
    mat.diffuse_color = (*pixels.reshape(-1, 3).mean(0), 1.0)
    return mat


# --- mesh generators: local coordinates in metres, base at z = 0 unless noted

def _box(size: tuple[float, float, float]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    sx, sy, sz = size
    v = np.array([[x, y, z] for z in (0, sz) for y in (-sy / 2, sy / 2) for x in (-sx / 2, sx / 2)])
    faces = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    return v, faces


def _lathe(profile: list[tuple[float, float]], segments: int = 12) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Surface of revolution from (radius, z) points, bottom to top, capped."""
    a = np.linspace(0, 2 * math.pi, segments, endpoint=False)
    verts = [(r * math.cos(t), r * math.sin(t), z) for r, z in profile for t in a]
    faces: list[tuple[int, ...]] = []
    for i in range(len(profile) - 1):
        for j in range(segments):
            k = (j + 1) % segments
            faces.append((i * segments + j, i * segments + k, (i + 1) * segments + k, (i + 1) * segments + j))
    faces.append(tuple(range(segments))[::-1])
    top = (len(profile) - 1) * segments
    faces.append(tuple(range(top, top + segments)))
    return np.array(verts), faces


def _part_geometry(part: Part) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    sx, sy, sz = part.size
    if part.shape == "box":
        return _box(part.size)
    if part.shape == "capsule":
        r = sx / 2
        prof = [(max(r * math.sin(t), 0.02), r - r * math.cos(t)) for t in np.linspace(0, math.pi / 2, 4)]
        prof += [(max(r * math.sin(t), 0.02), sz - r - r * math.cos(t)) for t in np.linspace(math.pi / 2, math.pi, 4)]
        return _lathe(prof, 10)
    if part.shape == "cylinder":
        v, f = _lathe([(1, 0), (1, 1)], 10)
    elif part.shape == "cone":
        v, f = _lathe([(1, 0), (0.6, 0.35), (0.02, 1)], 10)
    elif part.shape == "sphere":
        v, f = _lathe([(max(math.sqrt(1 - z * z), 0.05), z) for z in np.linspace(-1, 1, 8)], 12)
    else:
        raise ValueError(f"unknown part shape {part.shape!r}")
    return v * np.array([sx, sy, sz]), f


def _world_uvs(mesh: bpy.types.Mesh, tile_m: np.ndarray) -> None:
    """Box-project UVs in metres / tile size so textures keep real-world scale on any part."""
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    loop_vert = np.empty(len(mesh.loops), np.int64)
    mesh.loops.foreach_get("vertex_index", loop_vert)
    normals = np.empty(len(mesh.polygons) * 3)
    mesh.polygons.foreach_get("normal", normals)
    normals = np.abs(normals.reshape(-1, 3))
    loop_start = np.empty(len(mesh.polygons), np.int64)
    mesh.polygons.foreach_get("loop_start", loop_start)
    loop_total = np.empty(len(mesh.polygons), np.int64)
    mesh.polygons.foreach_get("loop_total", loop_total)
    poly_of_loop = np.repeat(np.arange(len(mesh.polygons)), loop_total)
    axis = normals.argmax(1)[poly_of_loop]
    p = co[loop_vert]
    u = np.where(axis == 0, p[:, 1], p[:, 0])
    v = np.where(axis == 2, p[:, 1], p[:, 2])
    scale = tile_m[poly_of_loop]
    uv = np.stack([u / scale, v / scale], -1)
    mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", uv.ravel())


def _mesh_object(name: str, verts: np.ndarray, faces: list[tuple[int, ...]], mats: list[bpy.types.Material],
                 mat_index: np.ndarray, tile_m: np.ndarray, collection: bpy.types.Collection) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.tolist(), [], faces)
    for m in mats:
        mesh.materials.append(m)
    mesh.polygons.foreach_set("material_index", mat_index.astype(np.int32))
    _world_uvs(mesh, tile_m)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj


def _build_terrain(layout: Layout, mats: dict[str, bpy.types.Material], collection: bpy.types.Collection,
                   prefix: str = "") -> list[bpy.types.Object]:
    terrain = layout.terrain
    n = terrain.heights.shape[0]
    axis = np.linspace(-terrain.extent / 2, terrain.extent / 2, n)
    xx, yy = np.meshgrid(axis, axis)
    verts = np.stack([xx, yy, terrain.heights], -1).reshape(-1, 3)
    idx = np.arange(n * n).reshape(n, n)
    quads = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], -1).reshape(-1, 4)
    # face material by role: steep -> rock, low near water -> sand, near the path -> dirt
    centre = verts[quads].mean(1)
    gy, gx = np.gradient(terrain.heights, axis[1] - axis[0])
    slope = np.hypot(gx, gy)[:-1, :-1].ravel()
    roles = ["mid", "low", "steep", "path"]
    role = np.zeros(len(quads), int)
    if layout.water_level is not None:
        role[centre[:, 2] < layout.water_level + 1.5] = 1
    role[slope > 0.55] = 2
    if terrain.path_y is not None:
        role[np.abs(centre[:, 1] - terrain.path_y) < 1.8] = 3
    names = [terrain.materials[r] for r in roles]
    tile = np.array([layout.materials[nm].tile_m for nm in names])[role]
    objects = [_mesh_object(prefix + "terrain", verts, [tuple(q) for q in quads], [mats[nm] for nm in names], role,
                            tile, collection)]
    if layout.water_level is not None:
        v, f = _box((terrain.extent * 3, terrain.extent * 3, 0.01))
        obj = _mesh_object(prefix + "water", v, f, [mats["water"]], np.zeros(len(f), int),
                           np.full(len(f), layout.materials["water"].tile_m), collection)
        obj.location.z = layout.water_level - 0.01
        objects.append(obj)
    return objects


def _set_world(scene: bpy.types.Scene, look: Look, layout: Layout) -> None:
    world = bpy.data.worlds.new("world")
    scene.world = world
    # Workbench renders the world colour behind everything; the renderer paints the sky over it
    world.color = tuple((np.array(look.sky_horizon) ** 2.2).tolist())  # sRGB -> linear
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "TEXTURE"
    shading.show_shadows = ((not look.interior or layout.extras.get("lights") == "lights on")
                            and len(layout.parts) <= MAX_SHADOWED_PARTS)
    shading.shadow_intensity = {"clear": 0.55, "overcast": 0.18, "fog": 0.15, "rain": 0.15}[layout.weather]
    if layout.time_of_day == "night":
        shading.shadow_intensity *= 0.4
    shading.show_cavity = True
    shading.cavity_type = "WORLD"
    shading.show_specular_highlight = False
    shading.studiolight_rotate_z = math.atan2(look.sun_direction[1], look.sun_direction[0])
    scene.display.light_direction = look.sun_direction
    scene.display.shadow_focus = 0.2


@dataclass
class BuiltScene:
    layout: Layout
    scene: bpy.types.Scene
    camera: bpy.types.Object
    look: Look


def build_scene(layout: Layout, move: CameraMove, n_frames: int, fps: int, width: int, height: int
                ) -> BuiltScene:
    """A fresh Blender scene for the layout with the camera keyframed over frames 1..n_frames (the data
    renderer's scene: textured materials, the look's world and shading, into the scene's own collection)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    # keys of moving objects interpolate linearly (constant speed); set before any key is inserted
    bpy.context.preferences.edit.keyframe_new_interpolation_type = "LINEAR"
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.fps = fps
    scene.frame_start, scene.frame_end = 1, n_frames
    rng = np.random.default_rng([layout.scene_seed, 0x100C])
    look = look_for(layout, rng)
    _set_world(scene, look, layout)
    build_layout(layout, scene.collection, n_frames, fps)
    cam = add_camera(scene, scene.collection, layout, move, n_frames, fps)
    scene.camera = cam
    return BuiltScene(layout, scene, cam, look)


def _plain_material(name: str, spec: MaterialSpec, layout: Layout) -> bpy.types.Material:
    """A blockout material: no nodes, no image, the texture's mean colour as the viewport colour."""
    pixels = _texture_pixels(spec, layout)
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = (*pixels.reshape(-1, 3).mean(0).tolist(), 1.0)
    return mat


class _LinearKeys:
    """Keys inserted inside interpolate linearly; the preference is restored afterwards (the artist's)."""

    def __enter__(self) -> None:
        edit = bpy.context.preferences.edit
        self.before = edit.keyframe_new_interpolation_type
        edit.keyframe_new_interpolation_type = "LINEAR"

    def __exit__(self, *_exc) -> None:
        bpy.context.preferences.edit.keyframe_new_interpolation_type = self.before


def build_layout(layout: Layout, collection: bpy.types.Collection, n_frames: int, fps: float, *,
                 plain: bool = False, prefix: str = "", tag: tuple[str, str] | None = None,
                 frame_start: int = 1) -> list[bpy.types.Object]:
    """The layout's objects (terrain, water, parts; moving ones keyed over frame_start..+n_frames-1) linked
    into `collection` of any scene; the one builder of the data renderer and the world from the notes.

    `plain`: blockout materials (one colour each, no images) instead of the textures; `prefix` goes in front
    of every object, mesh and material name; `tag` (key, value) is set as a custom property on every object,
    mesh and material made, so a rebuild can find exactly what the builder made.
    """
    made: list[bpy.types.ID] = []

    def material(name: str, spec: MaterialSpec) -> bpy.types.Material:
        mat = (_plain_material if plain else _material)(prefix + name, spec, layout)
        made.append(mat)
        return mat

    mats = {name: material(name, spec) for name, spec in layout.materials.items()}
    objects: list[bpy.types.Object] = []
    with _LinearKeys():
        if layout.terrain is not None:
            objects += _build_terrain(layout, mats, collection, prefix)
        for i, part in enumerate(layout.parts):
            verts, faces = _part_geometry(part)
            names = [part.material] + ([part.top_material] if part.top_material else [])
            index = np.zeros(len(faces), int)
            if part.top_material:  # roofs: faces flat at the top of the part
                index = np.array([all(abs(verts[j][2] - part.size[2]) < 1e-6 for j in f) for f in faces], int)
            tile = np.array([layout.materials[nm].tile_m for nm in names])[index]
            obj = _mesh_object(f"{prefix}{part.shape}{i}", verts, faces, [mats[nm] for nm in names], index, tile,
                               collection)
            obj.location = part.location
            obj.rotation_euler.z = part.rot_z
            if any(part.velocity):
                obj.keyframe_insert("location", frame=frame_start)
                obj.location = tuple(np.array(part.location) + np.array(part.velocity) * (n_frames - 1) / fps)
                obj.keyframe_insert("location", frame=frame_start + n_frames - 1)
            objects.append(obj)
    if tag is not None:
        for block in made + objects + [o.data for o in objects]:
            block[tag[0]] = tag[1]
    return objects


def add_camera(scene: bpy.types.Scene, collection: bpy.types.Collection, layout: Layout, move: CameraMove,
               n_frames: int, fps: float, name: str = "camera", frame_start: int = 1) -> bpy.types.Object:
    """The move's camera, keyed on every frame frame_start..frame_start+n_frames-1, linked into `collection`."""
    data = bpy.data.cameras.new(name)
    data.sensor_width = SENSOR_WIDTH_MM
    data.sensor_fit = "AUTO"
    data.clip_start, data.clip_end = 0.05, 2000.0
    cam = bpy.data.objects.new(name, data)
    collection.objects.link(cam)
    cam.rotation_mode = "QUATERNION"
    pos, rot, lens = camera_poses(move, layout.stage, n_frames, fps)
    pos = layout.clamp_camera(pos)
    previous = Quaternion()
    for i in range(n_frames):
        q = Matrix(rot[i].tolist()).to_quaternion()
        if q.dot(previous) < 0:  # keep quaternions on one hemisphere so in-between frames do not flip
            q.negate()
        previous = q
        cam.location, cam.rotation_quaternion, data.lens = pos[i].tolist(), q, float(lens[i])
        cam.keyframe_insert("location", frame=frame_start + i)
        cam.keyframe_insert("rotation_quaternion", frame=frame_start + i)
        data.keyframe_insert("lens", frame=frame_start + i)
    return cam
