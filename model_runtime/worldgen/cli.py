"""`python -m model_runtime world --notes TEXT --seed S --frames N --out FILE.blend`: a world from the notes.

Writes FILE.blend (the world in the collection "Oyster World", its camera animated over frames 1-N from the
notes' camera words, a gentle push-in otherwise, and the extension's shot `world` with the notes) and its
description beside it as FILE.world.json; prints what the notes set, what the seed chose and the words not
understood, and the .blend's path last. Bad notes print one line on stderr and exit 2.
The extension runs this command with --frame-start/--fps/--size to build a shot's world.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

MAX_FRAMES = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notes", required=True, help="scene notes (up to 10,000 characters)")
    parser.add_argument("--seed", type=int, default=0, help="chooses what the notes leave open (0..2^31-1)")
    parser.add_argument("--frames", type=int, required=True, help="frames of the camera and the shot")
    parser.add_argument("--out", type=Path, required=True, help="the .blend to write")
    parser.add_argument("--frame-start", type=int, default=1, help="first frame (default 1)")
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--size", default="384x216", help="the shot's WIDTHxHEIGHT")


def description_path(out: Path) -> Path:
    return out.with_suffix(".world.json")


def run(args: argparse.Namespace) -> int:
    from oyster_blender.core import world_description as wd

    def fail(message: str) -> int:
        print(message, file=sys.stderr)
        return 2

    if args.out.suffix != ".blend":
        return fail(f"--out must name a .blend file, got {args.out}")
    if not 1 <= args.frames <= MAX_FRAMES:
        return fail(f"--frames must be within 1..{MAX_FRAMES:,}, got {args.frames}")
    if not 0 < args.fps <= 1000:
        return fail(f"--fps must be within 0..1000, got {args.fps}")
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        assert len(size) == 2 and all(1 <= v <= 8192 for v in size)
    except (ValueError, AssertionError):
        return fail(f"--size must look like 384x216 (1..8192 a side), got {args.size!r}")
    from model_runtime.worldgen.describe import describe

    try:
        description = describe(args.notes, args.seed)
    except wd.WorldError as error:
        return fail(str(error))
    for line in wd.summary(description):
        print(line, flush=True)
    from model_runtime.worldgen.blend import write_world_blend

    out = args.out.absolute()
    write_world_blend(description, out, args.frames, args.fps, args.frame_start, size)
    description_path(out).write_text(wd.dumps(description), encoding="utf-8")
    print(out, flush=True)
    return 0
