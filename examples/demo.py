"""The main job: generate a previs shot of the bundled example scene with the bundled model.

    python -m examples.demo --out DIR      (what `python3 build.py demo` runs)

1. builds the example scene (examples/example_scene.py) and saves it as DIR/example.blend;
2. opens it and makes the shot with the extension's API (`oyster_blender.api`): the scene
   camera over the scene range with the scene notes, kept in the .blend's shot list, and
   its camera track;
3. renders the shot's first frame from the blockout (RGB and z-depth, as the data
   renderer sees it) so the world starts from the layout;
4. writes the shot request (DIR/request.json, DIR/camera_track.json) and generates the take
   through the runtime's own `generate` path: DIR/oyster/example/take_NNN/NNNN.png + take.json;
5. puts the take on the sequencer of DIR/example.blend (saved) and exports the previs to
   DIR/export: previs.mp4 with burn-ins, previs.otio, previs.edl, the frames and the camera
   (track JSON and USD).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # before cv2: the depth travels as EXR
import bpy  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from examples.example_scene import (EXAMPLE_MOVE, EXAMPLE_SEED, HEIGHT, WIDTH, build_example_scene,  # noqa: E402
                                    example_render_args)
from model_runtime.__main__ import main as runtime_main  # noqa: E402
from model_runtime.data.render import render_clip  # noqa: E402
from model_runtime.models.registry import DEFAULT_MODEL  # noqa: E402
import oyster_blender  # noqa: E402
from oyster_blender import api  # noqa: E402
from oyster_blender.export import ShotExport, export_previs  # noqa: E402
from oyster_blender.timeline import sync_take  # noqa: E402

SHOT = "example"


def extract_shot(blend: Path) -> dict:
    """The example shot's request (name, notes, seed, camera track), made with the extension's API
    from the saved .blend; the shot stays in the open file's shot list."""
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    # the example scene keeps its notes in a custom property (it is built without the extension)
    shot = api.add_shot(scene, SHOT, scene.camera, scene.frame_start, scene.frame_end, notes=scene["oyster_notes"])
    return api.shot_request(scene, shot)


def render_first_frame(inputs: Path) -> tuple[Path, Path, dict]:
    """Frame 1 of the example shot as PNG (RGB) and EXR (z-depth in metres, inf for sky), and its camera.

    The data renderer builds the scene anew for this (replacing the open file), so it runs before the
    saved .blend is opened; the caller checks the camera against the shot's.
    """
    clip = render_clip(EXAMPLE_SEED, EXAMPLE_MOVE, 1, WIDTH, HEIGHT, **example_render_args())
    inputs.mkdir(parents=True, exist_ok=True)
    rgb_path, depth_path = inputs / "first_rgb.png", inputs / "first_depth.exr"
    if not cv2.imwrite(str(rgb_path), clip.rgb[0][..., ::-1]) or \
            not cv2.imwrite(str(depth_path), clip.depth[0].astype(np.float32)):
        raise OSError(f"cannot write the first frame into {inputs}")
    return rgb_path, depth_path, clip.meta["track"]["frames"][0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("oyster_demo"), help="output folder")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="registry name or checkpoint (default: the bundled model)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    blend = out / "example.blend"
    oyster_blender.register()  # as Blender does when the extension is enabled: shots live in scene.oyster
    build_example_scene(blend)
    rgb_path, depth_path, rendered_camera = render_first_frame(out / "inputs")
    request = extract_shot(blend)
    track, notes = request["track"], request["notes"]
    if not np.allclose(rendered_camera["c2w"], track["frames"][0]["c2w"], atol=1e-4):
        raise RuntimeError("the first-frame render does not match the example shot's camera")
    request |= {"model": args.model, "first_frame": {"rgb": str(rgb_path), "depth": str(depth_path)}}
    (out / "camera_track.json").write_text(json.dumps(track, indent=1))
    (out / "request.json").write_text(json.dumps(request, indent=1))
    print(f"shot '{SHOT}': {len(track['frames'])} frames at {track['width']}x{track['height']}, notes: {notes}",
          flush=True)
    status = runtime_main(["generate", "--shot-json", str(out / "request.json"), "--out", str(out)])
    if status != 0:
        return status
    take_dir = max((out / "oyster" / SHOT).glob("take_*"))
    scene = bpy.context.scene
    sync_take(scene, SHOT, take_dir, track["frame_start"], track["frame_end"])
    bpy.ops.wm.save_mainfile()
    shot = ShotExport(SHOT, track["frame_start"], track["frame_end"], scene.camera, notes, take_dir)
    written = export_previs(scene, [shot], out / "export", sys.executable)
    print(f"take {take_dir}\nexport {out / 'export'}: {written['mp4'].name}, {written['otio'].name}, "
          f"{written['edl'].name}, frames and cameras", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
