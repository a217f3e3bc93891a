"""Each shot's camera: its track as wire-format JSON and the animated camera alone as USD, FBX and Alembic,
under `cameras/<shot>.json / .usda / .fbx / .abc`, through Blender's own exporters.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import bpy

from ..camera import camera_track
from ..core.naming import sanitise_name
from .shots import ExportError, ShotExport, saved


@contextmanager
def _only_selected(scene: bpy.types.Scene, obj: bpy.types.Object) -> Iterator[None]:
    """`obj` alone selected and active in the view layer for an exporter; the artist's selection, active
    object and the scene's frame range and current frame are put back afterwards, whatever happens."""
    view_layer = bpy.context.view_layer if scene == bpy.context.scene else scene.view_layers[0]
    selected = [o for o in view_layer.objects if o.select_get(view_layer=view_layer)]
    active = view_layer.objects.active
    try:
        for other in selected:
            other.select_set(False, view_layer=view_layer)
        obj.select_set(True, view_layer=view_layer)
        view_layer.objects.active = obj
        yield
    finally:
        obj.select_set(False, view_layer=view_layer)
        for other in selected:
            try:
                other.select_set(True, view_layer=view_layer)
            except ReferenceError:
                pass
        view_layer.objects.active = active


def _export_to(final: Path, partial: Path, write: Callable[[Path], Any]) -> Path:
    """Run an exporter into `partial`, then rename it to `final`; nothing is left under either name on failure."""
    try:
        write(partial)
        if not partial.is_file():
            raise ExportError(f"Blender wrote no file to {partial}")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return final


def camera_paths(out: Path, shot_name: str) -> dict[str, Path]:
    """Where the shot's camera files go: track JSON, USD, FBX and Alembic under `cameras/`."""
    stem = sanitise_name(shot_name)
    return {kind: out / "cameras" / f"{stem}.{ext}" for kind, ext in
            (("track", "json"), ("usd", "usda"), ("fbx", "fbx"), ("abc", "abc"))}


def export_camera(scene: bpy.types.Scene, shot: ShotExport, out: Path) -> dict[str, Path]:
    """The shot's camera track (wire format JSON) and its animated camera alone as USD, FBX and Alembic.

    FBX: Y up, -Z forward (Maya, MotionBuilder, Unreal), centimetres (the scene's unit scale applied,
    FBX unit scale 1: no scaled transforms), every frame baked at scene time, the focal length animated.
    Alembic: Y up, 1 unit = 1 m (the scene's unit scale applied), one sample a frame (Nuke, Houdini,
    Maya). Both through Blender's own exporters with only the camera selected; the artist's selection,
    active object and frame range are put back.
    """
    paths = camera_paths(out, shot.name)
    folder = paths["track"].parent
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{paths['track'].name}.partial"
    partial.write_text(json.dumps(camera_track(scene, shot.camera, shot.frame_start, shot.frame_end), indent=1))
    os.replace(partial, paths["track"])
    unit = scene.unit_settings.scale_length or 1.0
    with saved(scene, "frame_start", "frame_end", "frame_current"), _only_selected(scene, shot.camera):
        scene.frame_start, scene.frame_end = shot.frame_start, shot.frame_end
        _export_to(paths["usd"], folder / f".{paths['usd'].stem}.partial.usda", lambda p: bpy.ops.wm.usd_export(
            filepath=str(p), selected_objects_only=True, export_animation=True, export_materials=False))
        _export_to(paths["fbx"], folder / f".{paths['fbx'].stem}.partial.fbx", lambda p: bpy.ops.export_scene.fbx(
            filepath=str(p), use_selection=True, object_types={"CAMERA"}, axis_forward="-Z", axis_up="Y",
            apply_unit_scale=True, apply_scale_options="FBX_SCALE_NONE", global_scale=1.0, bake_anim=True,
            bake_anim_use_all_bones=False, bake_anim_use_nla_strips=False, bake_anim_use_all_actions=False,
            bake_anim_force_startend_keying=True, bake_anim_step=1.0, bake_anim_simplify_factor=0.0,
            add_leaf_bones=False, use_custom_props=False))
        _export_to(paths["abc"], folder / f".{paths['abc'].stem}.partial.abc", lambda p: bpy.ops.wm.alembic_export(
            filepath=str(p), start=shot.frame_start, end=shot.frame_end, selected=True, flatten=False,
            export_hair=False, export_particles=False, export_custom_properties=False, global_scale=unit,
            as_background_job=False, init_scene_frame_range=False))
    return paths
