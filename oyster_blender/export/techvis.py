"""Techvis figures of a shot: what the crew needs to rig the camera, from the camera and the blockout.

Per frame (scene frames, the camera as Blender evaluates it):

- `lens_mm`: the focal length;
- `x_m`, `y_m`, `z_m`: the camera's world position in metres (Blender units x the scene's unit scale);
- `height_m`: the camera's height above the ground under it: a ray cast straight down (-Z) into the
  evaluated scene, the first surface hit; empty when nothing is under the camera;
- `tilt_deg`: the optical axis above the horizon (positive: looking up, -90: straight down);
- `pan_deg`: the optical axis's heading in the ground plane, counter-clockwise seen from above, 0 along
  +Y (for a level camera this is Blender's Z rotation);
- `subject_m`, `subject`: the distance along the optical axis to the first surface it meets, and that
  object's name; empty when the axis meets nothing;
- `speed_m_s`: the camera's speed since the previous frame (distance x fps); empty on the first frame.

Per shot: travel (the path length, m), peak speed (m/s), the crane height range (lowest and highest
`height_m`, or world Z where nothing is under the camera), and the range of lens, tilt, pan and subject
distance. Written as `techvis/<shot>.csv` (one row a frame) and `techvis/<shot>.json` (summary and frames).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import bpy
from mathutils import Vector

from ..camera import _depsgraph
from ..core.naming import sanitise_name
from .shots import ShotExport

COLUMNS = ("frame", "lens_mm", "x_m", "y_m", "z_m", "height_m", "tilt_deg", "pan_deg", "subject_m", "subject",
           "speed_m_s")
RAY_DISTANCE = 1.0e5  # Blender units: far enough for any blockout


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits) + 0.0  # + 0.0: no "-0.0" in the files


def shot_figures(scene: bpy.types.Scene, camera: bpy.types.Object, frame_start: int, frame_end: int) -> dict[str, Any]:
    """The shot's techvis figures: `{"shot"..., "summary": {...}, "frames": [{COLUMNS}, ...]}` (metres, degrees).

    The scene's current frame is restored afterwards.
    """
    unit = scene.unit_settings.scale_length or 1.0
    fps = scene.render.fps / scene.render.fps_base
    frames: list[dict[str, Any]] = []
    original = scene.frame_current
    previous: Vector | None = None
    travel = 0.0
    try:
        for frame in range(frame_start, frame_end + 1):
            scene.frame_set(frame)
            depsgraph = _depsgraph(scene)
            evaluated = camera.evaluated_get(depsgraph)
            world = evaluated.matrix_world
            origin = world.translation.copy()
            axis = (world.to_3x3() @ Vector((0.0, 0.0, -1.0))).normalized()
            down = scene.ray_cast(depsgraph, origin, Vector((0.0, 0.0, -1.0)), distance=RAY_DISTANCE)
            ahead = scene.ray_cast(depsgraph, origin, axis, distance=RAY_DISTANCE)
            height = (origin.z - down[1].z) * unit if down[0] else None
            subject = (ahead[1] - origin).length * unit if ahead[0] else None
            speed = None
            if previous is not None:
                step = (origin - previous).length * unit
                travel += step
                speed = step * fps
            previous = origin
            frames.append({
                "frame": frame, "lens_mm": _round(evaluated.data.lens), "x_m": _round(origin.x * unit),
                "y_m": _round(origin.y * unit), "z_m": _round(origin.z * unit), "height_m": _round(height),
                "tilt_deg": _round(math.degrees(math.asin(max(-1.0, min(1.0, axis.z))))),
                "pan_deg": _round(math.degrees(math.atan2(-axis.x, axis.y))) if math.hypot(axis.x, axis.y) > 1e-9
                else None,
                "subject_m": _round(subject), "subject": ahead[4].name if ahead[0] and ahead[4] else "",
                "speed_m_s": _round(speed)})
    finally:
        scene.frame_set(original)
    return {"camera": camera.name, "fps": fps, "frame_start": frame_start, "frame_end": frame_end,
            "units": {"length": "m", "angle": "deg", "speed": "m/s"},
            "summary": summarise(frames, travel), "frames": frames}


def _span(frames: list[dict[str, Any]], key: str) -> list[float] | None:
    values = [f[key] for f in frames if f[key] is not None]
    return [min(values), max(values)] if values else None


def summarise(frames: list[dict[str, Any]], travel: float) -> dict[str, Any]:
    """The shot's figures: ranges, travel, peak speed and the crane's height range."""
    speeds = [f["speed_m_s"] for f in frames if f["speed_m_s"] is not None]
    heights = [f["height_m"] if f["height_m"] is not None else f["z_m"] for f in frames]
    return {"frames": len(frames), "lens_mm": _span(frames, "lens_mm"), "height_m": _span(frames, "height_m"),
            "crane_height_range_m": round(max(heights) - min(heights), 4),
            "crane_height_m": [min(heights), max(heights)],
            "tilt_deg": _span(frames, "tilt_deg"), "pan_deg": _span(frames, "pan_deg"),
            "subject_m": _span(frames, "subject_m"), "travel_m": round(travel, 4),
            "peak_speed_m_s": round(max(speeds), 4) if speeds else 0.0}


def mattebox_text(row: dict[str, Any]) -> str:
    """The burn-in's figures for one frame: focal length, height above the ground, tilt."""
    height = "H --" if row["height_m"] is None else f"H {row['height_m']:.2f} m"
    return f"{row['lens_mm']:.1f} mm  {height}  tilt {row['tilt_deg']:+.1f}\u00b0"


def _atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_figures(figures: dict[str, Any], folder: Path, stem: str) -> tuple[Path, Path]:
    """`folder/<stem>.csv` (a row a frame) and `folder/<stem>.json` (summary and frames), each written whole."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / f"{stem}.csv", folder / f"{stem}.json"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in figures["frames"]:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    _atomic(csv_path, text.getvalue())
    _atomic(json_path, json.dumps(figures, indent=1))
    return csv_path, json_path


def export_techvis(scene: bpy.types.Scene, shot: ShotExport, out: Path) -> dict[str, Any]:
    """The shot's techvis figures as `techvis/<shot>.csv` and `.json`; returns the figures and the paths."""
    figures = shot_figures(scene, shot.camera, shot.frame_start, shot.frame_end)
    csv_path, json_path = write_figures(figures, out / "techvis", sanitise_name(shot.name))
    return {"shot": shot.name, "figures": figures, "csv": csv_path, "json": json_path}
