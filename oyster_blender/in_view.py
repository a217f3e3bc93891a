"""Whether any of the scene is in a shot's view: the check behind Generate's offer to build a world (bpy).

The painter paints over the blockout's passes; a shot whose camera sees nothing of the scene would get passes
of pure sky and a take of painted sky. Generate asks `nothing_in_view` first (no render: Blender's UI never
waits for one) and, when the answer is a message, refuses with it and the panel offers Build World from
Notes (or Generate Sky Anyway). `NOTHING_IN_VIEW` holds the offer per (scene, shot) until the next Generate
or a world is built.

At up to SAMPLES frames spread over the shot (every frame of a shorter shot), with the shot's own camera,
resolution and intrinsics (`camera.camera_frame`, the wire format's): something is in view when
- a ray through one of GRID pixels hits the scene (`Scene.ray_cast`, up to the camera's clip end: large
  objects, a ground plane whose corners are all off screen, the walls of a room around the camera), or
- a corner or the centre of a rendered object's bounding box projects into the picture between the clip
  planes (small objects between the rays).
Objects hidden from the render do not count (the passes do not show them).
"""
from __future__ import annotations

from mathutils import Vector

import bpy

from .camera import _depsgraph, camera_frame

SAMPLES = 48
GRID = (16, 9)
GEOMETRY = {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME", "GREASEPENCIL"}

NOTHING_IN_VIEW: dict[tuple[str, str], str] = {}
"""(scene name, shot name) -> why Generate refused: what the panel shows with its Build World offer."""


def sample_frames(frame_start: int, frame_end: int, count: int = SAMPLES) -> list[int]:
    """`count` frames spread evenly over the range, first and last included (every frame of a shorter range)."""
    n = frame_end - frame_start + 1
    if n <= count:
        return list(range(frame_start, frame_end + 1))
    return sorted({frame_start + round(i * (n - 1) / (count - 1)) for i in range(count)})


def _project(frame: dict, point: Vector, near: float, far: float, width: int, height: int) -> bool:
    """Whether a world point lands in the picture of a wire-format frame (OpenCV c2w) between near and far."""
    c2w = frame["c2w"]
    d = [point[i] - c2w[i][3] for i in range(3)]
    x, y, z = (sum(c2w[r][k] * d[r] for r in range(3)) for k in range(3))  # R^T (p - t)
    if not near < z < far:
        return False
    u, v = frame["fx"] * x / z + frame["cx"], frame["fy"] * y / z + frame["cy"]
    return 0.0 <= u <= width and 0.0 <= v <= height


def _ray_hits(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph, origin: Vector, direction: Vector,
              far: float, tries: int = 4) -> bool:
    """Whether the ray meets a rendered object within `far` (objects hidden from the render are looked through,
    up to `tries` of them)."""
    start, left = origin, far
    for _ in range(tries):
        hit, location, _, _, obj, _ = scene.ray_cast(depsgraph, start, direction, distance=left)
        if not hit:
            return False
        if not obj.original.hide_render:
            return True
        left -= (location - start).length + 1e-4
        start = location + direction * 1e-4
        if left <= 0:
            return False
    return False


def _in_view_now(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph, camera: bpy.types.Object,
                 width: int, height: int) -> bool:
    evaluated = camera.evaluated_get(depsgraph)
    frame = camera_frame(evaluated, scene.render, width, height)
    near, far = evaluated.data.clip_start, evaluated.data.clip_end
    c2w = frame["c2w"]
    origin = Vector([c2w[i][3] for i in range(3)])
    columns, rows = GRID
    for r in range(rows):
        for c in range(columns):
            u, v = (c + 0.5) * width / columns, (r + 0.5) * height / rows
            ray = ((u - frame["cx"]) / frame["fx"], (v - frame["cy"]) / frame["fy"], 1.0)
            direction = Vector([sum(c2w[i][k] * ray[k] for k in range(3)) for i in range(3)])
            if _ray_hits(scene, depsgraph, origin, direction.normalized(), far):
                return True
    for instance in depsgraph.object_instances:
        obj = instance.object
        if obj.type not in GEOMETRY or obj.original.hide_render:
            continue
        matrix = instance.matrix_world
        corners = [matrix @ Vector(corner) for corner in obj.bound_box]
        centre = sum(corners, Vector((0.0, 0.0, 0.0))) / 8.0
        if any(_project(frame, p, near, far, width, height) for p in corners + [centre]):
            return True
    return False


def shot_in_view(scene: bpy.types.Scene, camera: bpy.types.Object, frame_start: int, frame_end: int,
                 size: tuple[int, int]) -> bool:
    """Whether any of the scene is in the camera's view at any sampled frame; the current frame is restored."""
    original = scene.frame_current
    try:
        for frame in sample_frames(frame_start, frame_end):
            scene.frame_set(frame)
            if _in_view_now(scene, _depsgraph(scene), camera, *size):
                return True
    finally:
        scene.frame_set(original)
    return False


def nothing_in_view(scene: bpy.types.Scene, shot, has_world: bool) -> str | None:
    """None when the shot's camera sees any of the scene; else what Generate says instead of painting sky."""
    if shot_in_view(scene, shot.camera, shot.frame_start, shot.frame_end, (shot.resolution_x, shot.resolution_y)):
        return None
    where = f"in view of camera '{shot.camera.name}' over frames {shot.frame_start}-{shot.frame_end}"
    if has_world:
        return (f"nothing of the scene, its Oyster World included, is {where}: the painter would paint only sky. "
                "Point the camera at the world, or Rebuild World with camera words in the notes (\"slow push in\", "
                "\"orbit\") for its own camera; Generate Sky Anyway paints the sky")
    return (f"nothing of the scene is {where}: the painter would paint only sky. Build World from Notes makes a "
            "layout from the shot's notes (Oyster Shots > World from Notes), or point the camera at your "
            "blockout; Generate Sky Anyway paints the sky")


def offer(scene: bpy.types.Scene, shot) -> str | None:
    """The refusal the panel shows under Generate for this shot, if its last Generate found nothing in view."""
    return NOTHING_IN_VIEW.get((scene.name, shot.name)) if shot is not None else None


def clear(scene: bpy.types.Scene, shot) -> None:
    NOTHING_IN_VIEW.pop((scene.name, shot.name), None)
