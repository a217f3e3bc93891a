"""The bundled example scene: a shot from the training distribution, saved as a .blend.

`build_example_scene(path)` builds scene seed EXAMPLE_SEED with the data
renderer's own scene builder (so the model sees what it was trained on),
keys a dolly-in over 48 frames at 24 fps, writes the scene notes and
saves the file. Run as a script: `python examples/example_scene.py out.blend`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np

from model_runtime.data.captions import caption_for
from model_runtime.data.layout import sample_layout
from model_runtime.data.moves import sample_move
from model_runtime.data.scenes import build_scene

EXAMPLE_SEED = 11  # a street at dusk down its length, traffic, lit windows (picked from a contact sheet)
EXAMPLE_MOVE = "dolly_in"
FRAMES, FPS = 48, 24
WIDTH, HEIGHT = 384, 216


def example_render_args() -> dict:
    """The look of the example scene, as keyword arguments of the data renderer's render_clip."""
    return {"fps": FPS, "setting": "street", "time_of_day": "dusk", "weather": "clear"}


def build_example_scene(blend_path: str | Path) -> None:
    """Build the example scene and save it to `blend_path` (folders are created)."""
    look = example_render_args()
    layout = sample_layout(EXAMPLE_SEED, look["setting"], look["time_of_day"], look["weather"])
    move = sample_move(np.random.default_rng([EXAMPLE_SEED, 0xCA3]), EXAMPLE_MOVE, layout.stage, False)
    built = build_scene(layout, move, FRAMES, FPS, WIDTH, HEIGHT)
    notes, _ = caption_for(layout, move, np.random.default_rng([EXAMPLE_SEED, 0xCAF]))
    scene = built.scene
    scene.name = "Example"
    built.camera.name = "Camera"
    # shown in the viewport the way the data renderer sees it
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.color_type = "TEXTURE"
    scene["oyster_notes"] = notes  # until the extension's shot API exists (scene.oyster), notes live here
    path = Path(blend_path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/example_scene.py OUT.blend")
    build_example_scene(sys.argv[1])
