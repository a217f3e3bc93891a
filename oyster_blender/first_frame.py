"""A shot's first frame rendered from the blockout, so the world starts from the artist's layout.

The runtime takes it as files (docs/runtime_api.md, the shot request's
`first_frame`): an 8-bit RGB PNG and a float32 OpenEXR z-depth in metres, sky
as 0, both exactly the shot's size. Python cannot read a render result's
pixels, so the compositor writes both files (as the data renderer does,
model_runtime/data/render.py) and masks and scales the depth on the way.

The render runs in a throwaway copy of the scene (`Scene.copy()` links the same
objects, with its own render settings and compositor), so the artist's engine,
output, compositor and sequencer settings are never touched. Colour goes out
through the Standard view transform, the look the model was trained on, and
Workbench's FXAA keeps the render to one sample (a fraction of a second at
previs sizes).
"""
from __future__ import annotations

import shutil
import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path

import bpy

from . import passes
from .camera import check_camera
from .core import camera_math
from .core.errors import OutputError

SCRATCH_FOLDER = ".first"  # in the shot's folder, beside its takes; emptied once the runtime has the files


@dataclass(frozen=True)
class FirstFrame:
    """The rendered files, in a scratch folder of their own (delete it once the runtime copied them)."""

    rgb: Path
    depth: Path
    folder: Path
    in_view: bool  # any of the scene in the picture (else all of it is the world background: sky, depth 0)

    def request(self) -> dict[str, str]:
        """The shot request's `first_frame`."""
        return {"rgb": str(self.rgb), "depth": str(self.depth)}


def render_first_frame(scene: bpy.types.Scene, camera: bpy.types.Object, frame: int, size: tuple[int, int],
                       shot_folder: Path) -> FirstFrame:
    """Render `frame` through `camera` at `size` (width, height) in Workbench into `<shot_folder>/.first/`."""
    camera = check_camera(camera)
    scale = camera_math.shot_scale(scene.unit_settings.scale_length)
    try:
        (shot_folder / SCRATCH_FOLDER).mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="frame_", dir=shot_folder / SCRATCH_FOLDER))
    except OSError as error:
        raise OutputError(f"cannot write the first frame into {shot_folder}: {error.strerror or error}") from None
    original_frame = scene.frame_current
    copy = passes.render_copy(scene, camera, size)
    try:
        passes.compositor(copy, folder, camera.data.clip_end, scale, "rgb_")
        scene.frame_set(frame)  # the render operator takes the frame from the context's scene
        copy.frame_set(frame)
        bpy.ops.render.render(scene=copy.name)
    finally:
        bpy.data.scenes.remove(copy)
        scene.frame_set(original_frame)  # the shared objects were animated to `frame`
    rgb, depth = sorted(folder.glob("rgb_*.png")), sorted(folder.glob("depth_*.exr"))
    if len(rgb) != 1 or len(depth) != 1:
        shutil.rmtree(folder, ignore_errors=True)
        raise OutputError(f"Blender wrote no first frame into {folder}")
    return FirstFrame(rgb[0], depth[0], folder, _any_depth(depth[0]))


def blockout_first_frame(scene: bpy.types.Scene, camera: bpy.types.Object, frame: int, size: tuple[int, int],
                         shot_folder: Path) -> FirstFrame | None:
    """`render_first_frame` when any of the scene is in the camera's view, else None with nothing left on
    disk: a world started from an empty backdrop would keep it, and the notes alone draw more than that."""
    first = render_first_frame(scene, camera, frame, size, shot_folder)
    if first.in_view:
        return first
    shutil.rmtree(first.folder, ignore_errors=True)
    return None


def _any_depth(path: Path) -> bool:
    """Whether a depth file written by `_compositor` holds any hit (sky is 0). Read through Blender's own
    image loader: the extension has no OpenEXR reader of its own."""
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        pixels = array("f", bytes(4 * len(image.pixels)))
        image.pixels.foreach_get(pixels)
        return any(pixels[0::image.channels])
    finally:
        bpy.data.images.remove(image)
