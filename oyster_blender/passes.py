"""The blockout's passes: z-depth in metres and a plain grey shading of the geometry, per frame (bpy).

This is the one renderer of the geometry the world model paints over: the
extension, `generate --blend`, the demo and the data renderer all call
`render_passes`. Per frame it writes `depth_NNNN.exr` (float32 z-depth in
metres, 0 where nothing is hit: sky) and `shade_NNNN.png` (8-bit grey
Workbench studio shading, one colour for every object, no shadows), exactly
the requested size. Python cannot read a render result's pixels, so the
compositor writes both files and masks and scales the depth on the way.

When anything but the camera moves in the range (or when asked), it also
writes `object_NNNN.png`: every object in one flat colour of its own
(Workbench's random object colours, a hash of the object's name; no
anti-aliasing, sky black), so the painter's memory knows which object a
point was painted on and a moving object leaves no painted copy of itself
behind (docs/world_model.md). A shot where nothing moves is not rendered
twice.

The shading ignores the artist's materials and object colours on purpose:
the painter is trained on geometry alone and takes the look from the notes
(or a look frame), so a tinted box reads as a box, not as a colour to keep.

The render runs in a throwaway copy of the scene (`Scene.copy()` links the
same objects, with its own render settings and compositor), so the artist's
engine, output, compositor and sequencer settings are never touched.

Live mode does not render here: the runtime draws each pose's passes from the
blockout's triangles (oyster_blender/blockout_mesh.py, model_runtime/painter/raster.py),
matching these to a grey level but for FXAA's edge pixels.

This module is the runtime's one door into the extension's bpy code: it also
gives `camera_track` (oyster_blender.camera, through the depsgraph), so the
data renderer takes the passes and the camera of its clips from the same
producers as the extension and the demo.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import bpy

from .blockout_mesh import write_blockout
from .camera import _depsgraph, camera_track, check_camera
from .core import camera_math
from .core.errors import OutputError

SHADE_GREY = 0.8  # linear albedo of every surface in the shading pass

BLOCKOUT_FILE = "blockout.json"
"""In a passes folder, where only the camera moves: `{file, clip}`, the blockout's triangles (a file beside it) and
the camera's clip range, as Go Live sends them (model_runtime/live/session.py)."""
BLOCKOUT_TRIANGLES = "blockout.npz"

__all__ = ["PassFiles", "camera_track", "compositor", "render_copy", "render_passes"]


@dataclass(frozen=True)
class PassFiles:
    """The files of a rendered range, in a folder of their own (the caller deletes it when done)."""

    folder: Path
    frames: tuple[int, ...]

    def depth(self, frame: int) -> Path:
        return self.folder / f"depth_{frame:04d}.exr"

    def shade(self, frame: int) -> Path:
        return self.folder / f"shade_{frame:04d}.png"

    def object(self, frame: int) -> Path:
        return self.folder / f"object_{frame:04d}.png"

    def request(self) -> dict:
        """The shot request's `passes` (docs/runtime_api.md)."""
        return {"folder": str(self.folder), "frames": list(self.frames)}


def compositor(scene: bpy.types.Scene, folder: Path, sky_depth: float | None, metres_per_unit: float,
               image_slot: str) -> None:
    """Image to `<image_slot>NNNN.png`; depth in metres to `depth_NNNN.exr`, where Workbench hit nothing
    (its depth is then the clip distance or more) as 0. `sky_depth` None: the image only."""
    scene.use_nodes = True
    tree = scene.node_tree
    for node in list(tree.nodes):
        tree.nodes.remove(node)
    layers = tree.nodes.new("CompositorNodeRLayers")
    layers.scene = scene
    composite = tree.nodes.new("CompositorNodeComposite")
    tree.links.new(layers.outputs["Image"], composite.inputs["Image"])
    out = tree.nodes.new("CompositorNodeOutputFile")
    out.base_path = str(folder) + os.sep
    out.format.file_format = "OPEN_EXR"
    out.format.color_mode = "RGB"  # OpenCV reads R, G, B channels (not a lone Y or V); depth in all three
    out.format.color_depth = "32"
    out.file_slots.new(image_slot)
    image = out.file_slots[image_slot]
    image.use_node_format = False
    image.format.file_format = "PNG"
    image.format.color_mode = "RGB"
    image.format.color_depth = "8"
    tree.links.new(layers.outputs["Image"], out.inputs[image_slot])
    if sky_depth is None:
        return

    hit = tree.nodes.new("CompositorNodeMath")
    hit.operation = "LESS_THAN"
    hit.inputs[1].default_value = sky_depth
    tree.links.new(layers.outputs["Depth"], hit.inputs[0])
    masked = tree.nodes.new("CompositorNodeMath")
    masked.operation = "MULTIPLY"
    tree.links.new(layers.outputs["Depth"], masked.inputs[0])
    tree.links.new(hit.outputs[0], masked.inputs[1])
    metres = tree.nodes.new("CompositorNodeMath")
    metres.operation = "MULTIPLY"
    metres.inputs[1].default_value = metres_per_unit
    tree.links.new(masked.outputs[0], metres.inputs[0])
    out.file_slots.new("depth_")
    tree.links.new(metres.outputs[0], out.inputs["depth_"])


def render_copy(scene: bpy.types.Scene, camera: bpy.types.Object, size: tuple[int, int]) -> bpy.types.Scene:
    """A linked copy of `scene` set up to render Workbench through `camera` at `size`; remove it when done."""
    copy = scene.copy()
    copy.camera = camera
    render = copy.render
    render.engine = "BLENDER_WORKBENCH"
    render.resolution_x, render.resolution_y = size
    render.resolution_percentage = 100
    render.use_border = False
    render.film_transparent = False
    render.use_sequencer = False  # a scene with take strips would otherwise render its timeline
    render.use_compositing = True
    render.dither_intensity = 0.0
    copy.display.render_aa = "FXAA"
    copy.view_settings.view_transform = "Standard"
    copy.view_settings.look = "None"
    copy.view_layers[0].use_pass_z = True
    return copy


def _plain_shading(scene: bpy.types.Scene, objects: bool = False) -> None:
    """The grey studio shading of the shade pass; `objects`: each object in its own flat colour instead."""
    shading = scene.display.shading
    shading.light = "FLAT" if objects else "STUDIO"
    shading.studio_light = "Default"  # Blender's built-in one, as in training (the artist may pick another)
    shading.color_type = "RANDOM" if objects else "SINGLE"
    shading.single_color = (SHADE_GREY, SHADE_GREY, SHADE_GREY)
    if objects:
        scene.display.render_aa = "OFF"  # an edge pixel blended of two objects' colours names neither
    shading.show_shadows = False
    shading.show_cavity = False
    shading.show_specular_highlight = False
    shading.show_object_outline = False
    shading.studiolight_rotate_z = 0.0
    shading.background_type = "WORLD"
    world = bpy.data.worlds.get("oyster_passes_world") or bpy.data.worlds.new("oyster_passes_world")
    world.color = (0.0, 0.0, 0.0)
    scene.world = world


def _poses(scene: bpy.types.Scene, camera: bpy.types.Object) -> tuple:
    """Where every object but the camera is at the scene's current frame (world matrices)."""
    return tuple(tuple(map(tuple, obj.matrix_world)) for obj in scene.objects if obj != camera)


def _render_range(scene: bpy.types.Scene, copy: bpy.types.Scene, frames: tuple[int, ...],
                  camera: bpy.types.Object | None = None) -> bool:
    """Render `copy` at each frame; with `camera`, whether anything but it moved over the frames."""
    first, moved = None, False
    for frame in frames:
        scene.frame_set(frame)  # the render operator takes the frame from the context's scene
        copy.frame_set(frame)
        if camera is not None and not moved:
            poses = _poses(scene, camera)
            first = poses if first is None else first
            moved = poses != first
        bpy.ops.render.render(scene=copy.name)
    return moved


def _render_pass(scene: bpy.types.Scene, camera: bpy.types.Object, frames: tuple[int, ...], size: tuple[int, int],
                 folder: Path, objects: bool, watch: bool = False) -> bool:
    """One pass over the range in a render copy of its own: depth and the grey shading, or (`objects`) the
    object colours; with `watch`, whether anything but the camera moved over the frames."""
    copy = render_copy(scene, camera, size)
    try:
        _plain_shading(copy, objects=objects)
        compositor(copy, folder, None if objects else camera.data.clip_end,
                   camera_math.shot_scale(scene.unit_settings.scale_length), "object_" if objects else "shade_")
        return _render_range(scene, copy, frames, camera if watch else None)
    finally:
        bpy.data.scenes.remove(copy)


def render_passes(scene: bpy.types.Scene, camera: bpy.types.Object, frames: Iterable[int],
                  size: tuple[int, int], parent: Path, objects: bool | None = None,
                  triangles: bool = False) -> PassFiles:
    """Render the passes of `frames` through `camera` at `size` (width, height) into a new folder in `parent`.

    `objects`: also the object pass; None renders it when anything but the camera moves over the frames.
    `triangles`: where only the camera moves, also write the blockout's triangles and the camera's clip range
    (`BLOCKOUT_FILE`, Go Live's `blockout` file and clip as JSON), so the runtime can draw the passes past the
    frame and paint ahead of a pan (model_runtime/painter/ahead.py)."""
    camera = check_camera(camera)
    frames = tuple(int(f) for f in frames)
    if not frames:
        raise OutputError("no frames to render passes for")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="passes_", dir=parent))
    except OSError as error:
        raise OutputError(f"cannot write the blockout passes into {parent}: {error.strerror or error}") from None
    original_frame = scene.frame_current
    try:
        moved = _render_pass(scene, camera, frames, size, folder, objects=False, watch=objects is None)
        objects = moved if objects is None else objects
        if objects:
            _render_pass(scene, camera, frames, size, folder, objects=True)
        elif triangles:
            scene.frame_set(frames[0])
            write_blockout(_depsgraph(scene), folder / BLOCKOUT_TRIANGLES)
            (folder / BLOCKOUT_FILE).write_text(json.dumps(
                {"file": BLOCKOUT_TRIANGLES, "clip": [camera.data.clip_start, camera.data.clip_end]}))
    finally:
        scene.frame_set(original_frame)  # the shared objects were animated to the last frame
    files = PassFiles(folder, frames)
    wanted = (files.depth, files.shade, files.object) if objects else (files.depth, files.shade)
    missing = [f for f in frames if not all(path(f).exists() for path in wanted)]
    if missing:
        shutil.rmtree(folder, ignore_errors=True)
        raise OutputError(f"Blender wrote no passes for frame(s) {missing[:5]} into {folder}")
    return files
