"""A shot from a .blend file, headless: its request and its blockout passes (bpy, run as a child process).

    python -m oyster_blender.headless --blend F.blend --shot NAME --out DIR
    python -m oyster_blender.headless --blend F.blend --camera CAM --frames 1-48 --notes TEXT --out DIR
    python -m oyster_blender.headless --blend F.blend --scene S --camera CAM --frames 1-48 --size 384x216 \
        --passes-only --out DIR

writes `DIR/request.json` (the shot request the panel would send, without
output; `passes` names `DIR/passes/`) and the passes into `DIR/passes/`, or
with `--passes-only` only the passes. The runtime runs it in Blender's place
(`model_runtime/painter/blend_shot.py`) with its own `bpy`, so Blender never
shares a process with torch. Faults print one line on stderr and exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _frames(text: str) -> list[int]:
    try:
        a, _, b = text.partition("-")
        start, end = int(a), int(b or a)
    except ValueError:
        raise SystemExit(f"--frames must look like 1-48, got {text!r}") from None
    if end < start:
        raise SystemExit(f"--frames {text}: the end is before the start")
    return list(range(start, end + 1))


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m oyster_blender.headless")
    parser.add_argument("--blend", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shot")
    parser.add_argument("--scene")
    parser.add_argument("--camera")
    parser.add_argument("--frames")
    parser.add_argument("--notes", default="")
    parser.add_argument("--size", help="WIDTHxHEIGHT (default: the shot's or the scene's)")
    parser.add_argument("--passes-only", action="store_true", help="render the passes only (no request.json)")
    parser.add_argument("--add-shot", metavar="NAME", help="add a shot over the scene's range with the scene camera, "
                        "--notes and --seed to the file's shot list and save the file as --out (a .blend)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import bpy

    import oyster_blender
    from oyster_blender import api
    from oyster_blender.camera import camera_track
    from oyster_blender.core.errors import OysterError
    from oyster_blender.passes import render_passes

    if not args.blend.is_file():
        print(f"no .blend file at {args.blend}", file=sys.stderr)
        return 2
    try:
        bpy.ops.wm.open_mainfile(filepath=str(args.blend), load_ui=False)
    except RuntimeError as error:
        print(f"{args.blend} cannot be opened by Blender: {error}", file=sys.stderr)
        return 2
    oyster_blender.register()
    scene = bpy.data.scenes.get(args.scene) if args.scene else bpy.context.scene
    if scene is None:
        print(f"{args.blend} has no scene {args.scene!r}; it has {', '.join(s.name for s in bpy.data.scenes)}",
              file=sys.stderr)
        return 2
    try:
        if args.add_shot:
            render = scene.render
            api.add_shot(scene, args.add_shot, scene.camera, scene.frame_start, scene.frame_end, notes=args.notes,
                         seed=args.seed, resolution=(render.resolution_x, render.resolution_y), fps=render.fps,
                         model="")
            bpy.ops.wm.save_as_mainfile(filepath=str(args.out), compress=True)
            return 0
        if args.shot:
            names = [s.name for s in api.scene_data(scene).shots]
            if args.shot not in names:
                print(f"{args.blend} has no shot {args.shot!r} in scene {scene.name!r}; its shots: "
                      f"{', '.join(names) or 'none'}", file=sys.stderr)
                return 2
            request = api.shot_request(scene, args.shot)
            shot = api.find_shot(scene, args.shot)
            camera, frames = shot.camera, list(range(shot.frame_start, shot.frame_end + 1))
        else:
            camera = bpy.data.objects.get(args.camera or "") if args.camera else scene.camera
            if camera is None or camera.type != "CAMERA":
                cams = ", ".join(o.name for o in bpy.data.objects if o.type == "CAMERA") or "none"
                print(f"{args.blend} has no camera object {args.camera!r}; its cameras: {cams}", file=sys.stderr)
                return 2
            frames = _frames(args.frames) if args.frames else list(range(scene.frame_start, scene.frame_end + 1))
            size = tuple(int(v) for v in args.size.split("x")) if args.size else None
            track = camera_track(scene, camera, frames[0], frames[-1], size=size)
            request = {"shot": args.blend.stem if not args.passes_only else "passes", "notes": args.notes,
                       "seed": 0, "track": track}
        size = (request["track"]["width"], request["track"]["height"])
        files = render_passes(scene, camera, frames, size, args.out, triangles=True)
    except (OysterError, ValueError) as error:
        print(str(error), file=sys.stderr)
        return 2
    final = args.out / "passes"
    files.folder.rename(final)
    if not args.passes_only:
        request["passes"] = {"folder": "passes", "frames": frames}
        (args.out / "request.json").write_text(json.dumps(request, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
