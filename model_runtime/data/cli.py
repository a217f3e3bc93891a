"""`python -m model_runtime data render ...`: render a training or validation split into shards.

Clips are grouped into shards of --shard-size; each shard is rendered by one of
--workers separate Python processes (each with its own bpy) and written
atomically, so a rerun with the same arguments skips finished shards and
partial progress is usable while the rest renders.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import queue
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from tqdm import tqdm

from model_runtime.data.shards import FORMAT_VERSION, shard_name
from model_runtime.data.artist_plan import artist_plan
from model_runtime.data.split import ClipPlan, train_plan, val_plan

VAL_LONG_TRACK = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", required=True)
    render = sub.add_parser("render", help="render clips into safetensors shards")
    render.add_argument("--out", required=True, type=Path, help="dataset folder (created; reruns resume)")
    render.add_argument("--split", choices=("train", "val", "artist"), default="train",
                        help="val: the fixed validation scenes (disjoint seeds, every move, 300-frame long tracks); "
                             "artist: held-out artist-style blockouts of plain primitives (data/artist.py)")
    render.add_argument("--scenes", type=int, required=True, help="number of clips (one scene each)")
    render.add_argument("--frames", type=int, default=24, help="frames per clip")
    render.add_argument("--res", default="192x108", help="WIDTHxHEIGHT, e.g. 192x108")
    render.add_argument("--fps", type=int, default=24)
    render.add_argument("--seed", type=int, default=0, help="training run seed (0..999); ignored for val")
    render.add_argument("--workers", type=int, default=1, help="render processes, each with its own bpy")
    render.add_argument("--shard-size", type=int, default=16, help="clips per shard file")


# the modules whose code decides what a clip looks like; their hash goes into dataset.json so a
# resumed render never mixes shards from two versions of the generator
GENERATOR_MODULES = ("textures", "layout", "moves", "scenes", "render", "captions", "split")
BLOCKOUT_RENDERER = Path(__file__).parents[2] / "oyster_blender" / "passes.py"  # the passes renderer, hashed too


ARTIST_MODULES = ("artist", "artist_plan")  # hashed too for the artist split (only: train and val hashes stay put)


def generator_hash(split: str = "train") -> str:
    digest = hashlib.sha256()
    for name in GENERATOR_MODULES + (ARTIST_MODULES if split == "artist" else ()):
        digest.update((Path(__file__).parent / f"{name}.py").read_bytes())
    digest.update(BLOCKOUT_RENDERER.read_bytes())
    return digest.hexdigest()[:16]


def _parse_res(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--res must look like 192x108, got {text!r}") from None
    if w < 16 or h < 16 or w > 4096 or h > 4096 or w < h:
        raise SystemExit(f"--res {text}: need 16..4096 pixels a side and a landscape frame (width >= height)")
    return w, h


def _init_worker() -> None:
    """Quiet a spawned worker: Blender prints a few lines per rendered frame on C stdout; keep the log to the
    progress bar."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)


def _render_shard(path: Path, plans: list[ClipPlan], frames: int, width: int, height: int, fps: int,
                  long_track: bool, progress, split: str = "train") -> str:
    """Runs in a worker process: render the clips of one shard and write it."""
    import numpy as np

    from model_runtime.data.render import render_clip
    from model_runtime.data.shards import write_shard

    clips = []
    for plan in plans:
        if split == "artist":
            from model_runtime.data.artist import render_artist_clip
            from model_runtime.data.artist_plan import ARTIST_SEED_BASE, arrangement_of

            clips.append(render_artist_clip(plan.scene_seed, arrangement_of(plan.scene_seed - ARTIST_SEED_BASE),
                                            frames, width, height, fps,
                                            plan.time_of_day))
        else:
            clips.append(render_clip(plan.scene_seed, plan.move, frames, width, height, fps, long_track,
                                     plan.setting, plan.time_of_day))
        progress.put(1)
    write_shard(path, np.stack([c.rgb for c in clips]), np.stack([c.depth for c in clips]), [c.meta for c in clips],
                np.stack([c.shade for c in clips]), np.stack([c.objects for c in clips]))
    return path.name


def run(args: argparse.Namespace) -> int:
    if "bpy" in sys.modules:
        # spawned workers start from this process's import path; after `import bpy` it holds Blender's
        # script folders, whose pure-Python `bpy` package would shadow the bpy module in every worker
        raise SystemExit("data render starts its own bpy workers: run it in a process that has not imported "
                         "bpy (python -m model_runtime data render ...)")
    width, height = _parse_res(args.res)
    if args.frames < 2 or args.shard_size < 1 or args.workers < 1:
        raise SystemExit("--frames must be >= 2, --shard-size and --workers >= 1")
    plans = {"train": lambda: train_plan(args.seed, args.scenes), "val": lambda: val_plan(args.scenes),
             "artist": lambda: artist_plan(args.scenes)}[args.split]()
    long_track = args.split == "val" and VAL_LONG_TRACK
    shards = [plans[i:i + args.shard_size] for i in range(0, len(plans), args.shard_size)]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    description = {"format": FORMAT_VERSION, "split": args.split, "seed": args.seed if args.split == "train" else None,
                   "scenes": args.scenes, "frames": args.frames, "width": width, "height": height, "fps": args.fps,
                   "shard_size": args.shard_size, "renderer": "workbench-texture-ssaa2+passes",
                   "generator": generator_hash(args.split),
                   "long_track_frames": 300 if long_track else 0,
                   "shards": [{"file": shard_name(i), "scene_seeds": [p.scene_seed for p in s],
                               "moves": [p.move for p in s]} for i, s in enumerate(shards)]}
    manifest = out / "dataset.json"
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old != description:
            changed = sorted(k for k in description if old.get(k) != description[k])
            raise SystemExit(f"{out} holds a dataset rendered with other parameters ({', '.join(changed)}); "
                             "use a new --out folder")
    else:
        manifest.write_text(json.dumps(description, indent=1))
    todo = [(i, s) for i, s in enumerate(shards) if not (out / shard_name(i)).exists()]
    done_clips = len(plans) - sum(len(s) for _, s in todo)
    print(f"{args.split}: {len(plans)} clips in {len(shards)} shards, {len(shards) - len(todo)} already done, "
          f"{args.workers} worker(s) -> {out}", flush=True)
    if not todo:
        return 0
    start = time.time()
    ctx = mp.get_context("spawn")  # a fresh interpreter per worker: bpy is not fork-safe
    with ctx.Manager() as manager, \
            ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker) as pool, \
            tqdm(total=len(plans), initial=done_clips, unit="clip", file=sys.stderr) as bar:
        progress = manager.Queue()
        pending = {pool.submit(_render_shard, out / shard_name(i), s, args.frames, width, height, args.fps,
                               long_track, progress, args.split) for i, s in todo}
        while pending:
            finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            while True:
                try:
                    bar.update(progress.get_nowait())
                except queue.Empty:
                    break
            for future in finished:
                name = future.result()  # a failed shard stops the run; finished shards stay on disk
                bar.write(f"wrote {name} ({time.time() - start:.0f} s)")
    return 0
