"""Continuation from frame N against regenerating the whole take, with the shipped world model.

    .venv/bin/python -m model_runtime.benchmarks.continuation [--frames 96] [--from-frame 40] [--threads 0]

In one run, with one warm `oyster-tiny` (as the runtime's worker holds it) and `run_take`,
the worker's own path (frames written as PNG into take folders):
  1. a full take of `frames` frames, states kept in memory (the worker's default);
  2. a continuation of it from `from-frame` with a changed camera, resumed from the memory state;
  3. the same full take with `save_states` (states written beside the take too);
  4. the continuation of that take after a "restart" (an empty memory store: the state is read from disk).
Prints each wall time, the frames each computed, and continuation / full regeneration as a ratio.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from model_runtime.models.registry import get_generator
from model_runtime.takes.continuation import StateStore
from model_runtime.takes.folders import create_take, read_take
from model_runtime.takes.run import run_take


def track(frames: int, turn_from: int | None = None, width: int = 192, height: int = 108) -> dict:
    """A truck right with a slow pan; from `turn_from` on the pan turns the other way."""
    out, prev = [], np.eye(4)
    for frame in range(frames):
        turn = -2.0 * (frame - turn_from) if turn_from is not None and frame >= turn_from else 0.0
        yaw = np.radians(0.4 * frame + turn)
        c2w = np.eye(4)
        c2w[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
        c2w[:3, 3] = [0.02 * frame, 0.0, 0.0]
        out.append({"frame": frame, "c2w": c2w.tolist(), "rel": (np.linalg.inv(prev) @ c2w).tolist(),
                    "fx": width * 0.8, "fy": width * 0.8, "cx": width / 2, "cy": height / 2})
        prev = c2w
    return {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": 0,
            "frame_end": frames - 1, "scale": 1.0, "frames": out}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--from-frame", type=int, default=40)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = get_generator("oyster-tiny")
    request = {"shot": "bench", "notes": "rain-soaked town street at dusk, eye level, slow truck right",
               "seed": 1, "model": "oyster-tiny"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)

        def take(states: StateStore, **fields) -> tuple[float, int, Path]:
            """(wall seconds, frames computed past the copied ones, take folder) of one run_take."""
            folder = create_take(out, dict(request, **fields), None, None).path
            start = time.perf_counter()
            result = run_take(generator, folder, states=states)
            seconds = time.perf_counter() - start
            if result.status != "done":
                raise SystemExit(f"the take failed: {result.error}")
            replayed = read_take(folder).get("continued_from", {}).get("replayed_frames", 0)
            return seconds, len(result.frames) + replayed, folder

        def continuation(parent: Path, states: StateStore) -> tuple[float, int, Path]:
            return take(states, track=track(args.frames, args.from_frame),
                        continue_from={"take": str(parent), "frame": args.from_frame})

        take(StateStore(), track=track(8))  # warm-up: the text encoder loads on the first frame
        states = StateStore()
        full, full_frames, parent = take(states, track=track(args.frames))
        warm, warm_frames, _ = continuation(parent, states)
        saved, _, saved_parent = take(StateStore(), track=track(args.frames), save_states=True)
        disk, disk_frames, _ = continuation(saved_parent, StateStore())
        state_files = sorted((saved_parent / "states").iterdir())
        state_mb = sum(p.stat().st_size for p in state_files) / len(state_files) / 1e6

    print(f"continuation from frame {args.from_frame} of a {args.frames}-frame take, oyster-tiny 192x108, "
          f"{torch.get_num_threads()} torch threads")
    print(f"  full regeneration           {full:7.2f} s   {full_frames:3d} frames computed")
    print(f"  continuation, memory state  {warm:7.2f} s   {warm_frames:3d} frames computed   "
          f"ratio {warm / full:.2f}")
    print(f"  full, states saved on disk  {saved:7.2f} s   ({len(state_files)} states of {state_mb:.1f} MB: "
          f"{saved / full:.2f}x the plain take)")
    print(f"  continuation, disk state    {disk:7.2f} s   {disk_frames:3d} frames computed   "
          f"ratio {disk / full:.2f}   (after a restart)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
