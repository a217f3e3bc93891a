"""The main job: generate a previs shot of the bundled example scene with the bundled model.

    python -m examples.demo --out DIR      (what `python3 build.py demo` runs)

1. builds the example scene (examples/example_scene.py) and saves it as DIR/example.blend;
2. opens it and makes the shot with the extension's API (`oyster_blender.api`): the scene
   camera over the scene range with the scene notes, kept in the .blend's shot list, and
   its camera track;
3. renders the blockout's passes of every frame (z-depth and grey shading) with the
   extension's own passes renderer (`oyster_blender.passes`), which the painter paints over;
4. writes the shot request (DIR/request.json, DIR/camera_track.json) and generates the take
   through the runtime's own `generate` path: DIR/oyster/example/take_NNN/NNNN.png + take.json;
5. puts the take on the sequencer of DIR/example.blend (saved) and exports the previs to
   DIR/export: previs.mp4 with burn-ins and the mattebox strip, previs.otio, previs.edl, previs.aaf,
   the frames, the camera (track JSON, USD, FBX, Alembic), the techvis figures and review.html.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import bpy  # noqa: E402

from examples.example_scene import build_example_scene  # noqa: E402
from model_runtime.__main__ import main as runtime_main  # noqa: E402
from model_runtime.models.registry import DEFAULT_MODEL  # noqa: E402
import oyster_blender  # noqa: E402
from oyster_blender import api  # noqa: E402
from oyster_blender.export import export_previs  # noqa: E402
from oyster_blender.export.shots import ShotExport  # noqa: E402
from oyster_blender.passes import render_passes as blockout_passes  # noqa: E402
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


def render_passes(inputs: Path, track: dict) -> dict:
    """Every frame's blockout passes of the open example scene, as the request's `passes`."""
    scene = bpy.context.scene
    frames = [f["frame"] for f in track["frames"]]
    return blockout_passes(scene, scene.camera, frames, (track["width"], track["height"]), inputs,
                           triangles=True).request()  # as the runtime's own renders: painted ahead of a pan


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
    request = extract_shot(blend)
    track, notes = request["track"], request["notes"]
    request |= {"model": args.model, "passes": render_passes(out / "inputs", track)}
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
          f"{written['edl'].name}, {written['aaf'].name}, {written['review'].name}, frames, cameras (JSON, USD, FBX, "
          "Alembic) and techvis", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
