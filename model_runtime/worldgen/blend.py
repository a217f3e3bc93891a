"""A world description built into Blender (bpy): the objects, the camera, and the `world` command's .blend.

The geometry is the data renderer's own builder (`model_runtime.data.scenes.build_layout`, `add_camera`) with
plain blockout materials, into the collection "Oyster World"; every object, mesh, material and the camera
carry the custom property `oyster_world` (the build's id), so a rebuild finds exactly what it made.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import bpy

from model_runtime.data.scenes import add_camera, build_layout
from model_runtime.worldgen.describe import layout_for, move_for
from oyster_blender.core import world_description as wd

WORLD_COLLECTION = "Oyster World"
TAG = "oyster_world"
"""Custom property on everything the builder made (value: the build id); the collection has it too (True)."""
CAMERA_TAG = "oyster_world_camera"
DESCRIPTION_KEY = "oyster_world_description"
CAMERA_NAME = "Oyster World Camera"
PREFIX = "world_"
DEFAULT_SIZE = (384, 216)  # the painter's native size


def build_id(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:12]


def build_world(description: dict, scene: bpy.types.Scene, collection: bpy.types.Collection, frame_start: int,
                n_frames: int, fps: float) -> tuple[list[bpy.types.Object], bpy.types.Object]:
    """The description's objects and its camera (keyed over frame_start..frame_start+n_frames-1) in
    `collection`; the description is kept on the collection as JSON."""
    wd.check_description(description)
    layout = layout_for(description)
    tag = build_id(description)
    objects = build_layout(layout, collection, n_frames, fps, plain=True, prefix=PREFIX, tag=(TAG, tag),
                           frame_start=frame_start)
    camera = add_camera(scene, collection, layout, move_for(description, layout), n_frames, fps, CAMERA_NAME,
                        frame_start)
    for block in (camera, camera.data):
        block[TAG] = tag
    camera[CAMERA_TAG] = True
    collection[TAG] = True
    collection[DESCRIPTION_KEY] = json.dumps(description, ensure_ascii=False)
    return objects, camera


def write_world_blend(description: dict, out: Path, n_frames: int, fps: float = 24, frame_start: int = 1,
                      size: tuple[int, int] = DEFAULT_SIZE) -> None:
    """A new .blend: the world in "Oyster World", its camera as the scene camera, and the extension's shot
    `world` over the frames with the description's notes and seed (the runtime's default model)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = frame_start, frame_start + n_frames - 1
    scene.render.fps = int(round(fps))
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    collection = bpy.data.collections.new(WORLD_COLLECTION)
    scene.collection.children.link(collection)
    _, camera = build_world(description, scene, collection, frame_start, n_frames, fps)
    scene.camera = camera
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out), compress=True)
    # the shot list is the extension's: its own child Blender adds the shot (the runtime imports only its core)
    done = subprocess.run([sys.executable, "-m", "oyster_blender.headless", "--blend", str(out), "--add-shot", "world",
                           "--notes", description["notes"], "--seed", str(description["seed"]), "--out", str(out)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise RuntimeError(f"could not add the shot 'world' to {out}: {reason}")
