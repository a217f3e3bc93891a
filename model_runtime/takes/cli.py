"""`python -m model_runtime generate`: one take without a server, for scripts and render farms.

    python -m model_runtime generate --shot-json shot.json --out /project
    python -m model_runtime generate --request /project/oyster/sh010/take_003/take.json --out /project
    python -m model_runtime generate --blend shot.blend --shot sh010 [--model M] [--seed N] --out /project
    python -m model_runtime generate --blend layout.blend --camera Camera --frames 1-48 --notes "..." --out /project

Either form writes a new take under `<out>/oyster/<shot>/` (the same code path as the
server's worker) and prints its folder last on stdout. `--blend` opens the file
in a child Blender process (model_runtime/painter/blend_shot.py), takes the
shot from its shot list (or a camera, a frame range and notes for a file
without shots), renders the blockout's passes and paints them. `--request` regenerates a take from its
take.json: same request, seed and first-frame inputs, so on the same device the
frames come out identical. `--device auto|cpu|cuda[:N]` (default auto: CUDA when torch sees
it) is where the model runs; take.json records it.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pydantic import ValidationError

from model_runtime.models import device as devices
from model_runtime.models.registry import get_generator
from model_runtime.painter.blend_shot import blend_shot
from model_runtime.painter.passes import PassesError
from model_runtime.takes.folders import create_take
from model_runtime.takes.request import (RequestError, ShotRequest, blockout_file, field_errors,
                                         load_first_frame, passes_folder)
from model_runtime.takes.run import FrameWritten, run_take


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--request", type=Path, metavar="TAKE_JSON",
                        help="regenerate the take described by this take.json")
    source.add_argument("--shot-json", type=Path, metavar="FILE",
                        help="a shot request (the body of POST /v1/takes) as a JSON file")
    source.add_argument("--blend", type=Path, metavar="FILE.blend", help="a .blend with the shot's blockout")
    parser.add_argument("--shot", help="with --blend: the shot's name in the file's shot list")
    parser.add_argument("--camera", help="with --blend and no --shot: the camera object")
    parser.add_argument("--frames", metavar="A-B", help="with --camera: the frame range (default: the scene's)")
    parser.add_argument("--notes", default="", help="with --camera: the scene notes")
    parser.add_argument("--model", help="with --blend: the model (default: the shot's, else the runtime's default)")
    parser.add_argument("--seed", type=int, help="with --blend: the seed (default: the shot's)")
    parser.add_argument("--out", type=Path, required=True,
                        help="project output folder; the take goes to OUT/oyster/<shot>/take_NNN/")
    devices.add_argument(parser)


def _progress(frame: FrameWritten) -> None:
    print(f"frame {frame.frame} ({frame.index + 1}/{frame.total}) {frame.seconds * 1000:.1f} ms",
          file=sys.stderr, flush=True)


def _from_blend(args: argparse.Namespace, scratch: Path) -> Path:
    """Write the shot's request.json and passes into `scratch` with a child Blender; the request file."""
    if args.shot is None and args.camera is None:
        raise SystemExit("--blend needs --shot NAME, or --camera OBJECT (with --frames A-B and --notes TEXT)")
    blend_shot(args.blend.resolve(), scratch, shot=args.shot, camera=args.camera, frames=args.frames,
               notes=args.notes)
    request = scratch / "request.json"
    overrides = {k: v for k, v in (("model", args.model), ("seed", args.seed)) if v is not None and v != ""}
    if overrides:
        request.write_text(json.dumps(dict(json.loads(request.read_text()), **overrides)))
    return request


def run(args: argparse.Namespace) -> int:
    args.device = devices.name(devices.resolve_or_exit(args.device, "generate"))  # before any Blender or model work
    if args.blend is not None:
        with tempfile.TemporaryDirectory(prefix="oyster_blend_") as scratch:
            try:
                args.shot_json = _from_blend(args, Path(scratch))
            except PassesError as error:
                print(str(error), file=sys.stderr)
                return 2
            return _run(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    source: Path = args.request or args.shot_json
    try:
        data = json.loads(source.read_text())
        if args.request is not None:
            data = data["request"]
        request = ShotRequest.model_validate(data)
        # Relative first-frame paths are relative to the JSON file (take.json: its own inputs/).
        rgb_path, depth_path, _, _ = load_first_frame(request, source.resolve().parent)
        passes = passes_folder(request, source.resolve().parent)
        blockout = blockout_file(request, source.resolve().parent)
    except (OSError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, ValidationError):
            for problem in field_errors(error.errors()):
                print(f"{source}: {problem['field']}: {problem['message']}", file=sys.stderr)
        else:
            message = str(error) if isinstance(error, RequestError) else f"cannot read a request: {error!r}"
            print(f"{source}: {message}", file=sys.stderr)
        return 2
    tick = time.perf_counter()
    generator = get_generator(request.model, args.device)
    load_seconds = time.perf_counter() - tick
    try:
        take = create_take(args.out.resolve(), request.model_dump(mode="json"), rgb_path, depth_path,
                           passes=passes, blockout=blockout)
    except OSError as error:
        print(f"cannot create a take under {args.out}: {error}", file=sys.stderr)
        return 1
    result = run_take(generator, take.path, on_frame=_progress, model_load_seconds=load_seconds)
    print(take.path)
    if result.status != "done":
        print(f"take {result.status}: {result.error}", file=sys.stderr)
        return 1
    return 0
