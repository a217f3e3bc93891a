"""`python -m model_runtime generate`: one take without a server, for scripts and render farms.

    python -m model_runtime generate --shot-json shot.json --out /project
    python -m model_runtime generate --request /project/oyster/sh010/take_003/take.json --out /project

Either form writes a new take under `<out>/oyster/<shot>/` (the same code path as the
server's worker) and prints its folder. `--request` regenerates a take from its
take.json: same request, seed and first-frame inputs, so on the same device the
frames come out identical.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from model_runtime.generation import FrameWritten, run_take
from model_runtime.models.registry import get_generator
from model_runtime.request import RequestError, ShotRequest, field_errors, load_first_frame
from model_runtime.takes import create_take


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--request", type=Path, metavar="TAKE_JSON",
                        help="regenerate the take described by this take.json")
    source.add_argument("--shot-json", type=Path, metavar="FILE",
                        help="a shot request (the body of POST /v1/takes) as a JSON file")
    parser.add_argument("--out", type=Path, required=True,
                        help="project output folder; the take goes to OUT/oyster/<shot>/take_NNN/")


def _progress(frame: FrameWritten) -> None:
    print(f"frame {frame.frame} ({frame.index + 1}/{frame.total}) {frame.seconds * 1000:.1f} ms",
          file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    source: Path = args.request or args.shot_json
    try:
        data = json.loads(source.read_text())
        if args.request is not None:
            data = data["request"]
        request = ShotRequest.model_validate(data)
        # Relative first-frame paths are relative to the JSON file (take.json: its own inputs/).
        rgb_path, depth_path, _, _ = load_first_frame(request, source.resolve().parent)
    except (OSError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, ValidationError):
            for problem in field_errors(error.errors()):
                print(f"{source}: {problem['field']}: {problem['message']}", file=sys.stderr)
        else:
            message = str(error) if isinstance(error, RequestError) else f"cannot read a request: {error!r}"
            print(f"{source}: {message}", file=sys.stderr)
        return 2
    tick = time.perf_counter()
    generator = get_generator(request.model)
    load_seconds = time.perf_counter() - tick
    try:
        take = create_take(args.out.resolve(), request.model_dump(mode="json"), rgb_path, depth_path)
    except OSError as error:
        print(f"cannot create a take under {args.out}: {error}", file=sys.stderr)
        return 1
    result = run_take(generator, take.path, on_frame=_progress, model_load_seconds=load_seconds)
    print(take.path)
    if result.status != "done":
        print(f"take {result.status}: {result.error}", file=sys.stderr)
        return 1
    return 0
