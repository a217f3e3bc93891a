"""The prepared GPU check (issue 16 item 2): the painter's speed on CUDA against the CPU, a short training on
CUDA, and how far the CUDA frames are from the CPU's, in one command that fits a 10-minute window.

    .venv/bin/python -m model_runtime.benchmarks.gpu_check [--device cuda] [--out figures.json]
    .venv/bin/python -m model_runtime.benchmarks.gpu_check --device cpu --quick   # the test-sized run (tests/test_gpu_check.py)

It reads only the runtime: the shipped painter checkpoint, and passes and looks of an analytic scene
(model_runtime/benchmarks/analytic_shot.py: a box on a floor, the camera orbiting it), so it needs no Blender
and runs from an installed runtime as well as from a checkout. Steps:

1. paint the shot (300 frames at 384x216) on the CPU and on `--device`, each from a fresh session with the
   same seed: frames per second after the first 10 frames, in float32 on both;
2. the frame difference: max and mean absolute difference (0-255) of frame 0 (the network alone) and of
   every frame (the memory carries a difference on), and the share of pixels that differ;
3. write a synthetic dataset of the same scene (16 clips of 8 frames at 192x112, about 16 MB, in a
   temporary folder) and run `train-painter --device` on it for 200 steps from the shipped weights:
   steps per second from the trainer's own log.

Prints the figures and, with `--out`, writes them as JSON. It asserts no time; `--device cpu` runs the same
steps with the CPU on both sides (the frame difference then says whether two CPU runs agree).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model_runtime.benchmarks.analytic_shot import AnalyticPasses, look, orbit_track
from model_runtime.data.shards import FORMAT_VERSION, shard_name, write_shard
from model_runtime.models import device as devices
from model_runtime.models.interface import ShotInput
from model_runtime.painter.passes import ArrayPasses
from model_runtime.painter.session import DEFAULT_CHECKPOINT, PainterModel

NOTES = "a red box on a chequered stone floor at dusk"
FULL = {"res": (384, 216), "frames": 300, "warm": 10, "clips": 16, "clip_frames": 8, "clip_res": (192, 112),
        "crop": (192, 112), "steps": 200, "batch": 8}
QUICK = {"res": (64, 36), "frames": 8, "warm": 2, "clips": 2, "clip_frames": 4, "clip_res": (64, 48),
         "crop": (64, 48), "steps": 3, "batch": 2}


def array_passes(track: dict) -> ArrayPasses:
    """The analytic passes of every frame, cast once up front so painting times only the painter."""
    frames = [AnalyticPasses(track).frame(i) for i in range(len(track["frames"]))]
    return ArrayPasses(np.stack([f.depth for f in frames]), np.stack([f.shade for f in frames]))


def paint(checkpoint: Path, device, track: dict, passes: ArrayPasses, seed: int = 0
          ) -> tuple[list[np.ndarray], list[float]]:
    """The shot's frames and the seconds each took, from a fresh session on `device`."""
    model = PainterModel(checkpoint, device=device)
    session = model.start(ShotInput(NOTES, track, seed, passes=passes))
    frames, seconds = [], []
    for _ in track["frames"]:
        tick = time.perf_counter()
        frames.append(session.step())
        if device.type == "cuda":
            import torch

            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - tick)
    return frames, seconds


def frame_difference(a: list[np.ndarray], b: list[np.ndarray]) -> dict:
    first = np.abs(a[0].astype(np.int16) - b[0].astype(np.int16))
    every = np.abs(np.stack(a).astype(np.int16) - np.stack(b).astype(np.int16))
    return {"max_abs_diff_frame_0": int(first.max()), "mean_abs_diff_frame_0": round(float(first.mean()), 4),
            "max_abs_diff_all_frames": int(every.max()), "mean_abs_diff_all_frames": round(float(every.mean()), 4),
            "share_of_pixels_differing": round(float((every.max(-1) > 0).mean()), 6)}


def write_dataset(folder: Path, clips: int, clip_frames: int, width: int, height: int) -> int:
    """A dataset folder (data/shards.py format) of the analytic scene: clips start round the orbit; bytes."""
    long = orbit_track(clips * 45, width, height)["frames"]
    rgb, depth, shade, metas = [], [], [], []
    for c in range(clips):
        frames = [dict(f, frame=i + 1) for i, f in enumerate(long[c * 45:c * 45 + clip_frames * 3:3])]
        track = {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": 1,
                 "frame_end": clip_frames, "scale": 1.0, "frames": frames}
        passes = [AnalyticPasses(track).frame(i) for i in range(clip_frames)]
        rgb.append(np.stack([look(f, width, height) for f in frames]))
        depth.append(np.stack([np.where(p.depth > 0, p.depth, np.inf) for p in passes]))  # shards: sky is inf
        shade.append(np.stack([p.shade for p in passes]))
        metas.append({"scene_seed": c, "caption": NOTES, "labels": {"time_of_day": "dusk"}, "move": "orbit",
                      "track": track})
    folder.mkdir(parents=True, exist_ok=True)
    write_shard(folder / shard_name(0), np.stack(rgb), np.stack(depth), metas, np.stack(shade))
    (folder / "dataset.json").write_text(json.dumps({"format": FORMAT_VERSION,
                                                     "generator": "model_runtime.benchmarks.gpu_check",
                                                     "split": "train", "shards": [shard_name(0)]}))
    return sum(p.stat().st_size for p in folder.iterdir())


def train(folder: Path, run: Path, device: str, size: dict, checkpoint: Path) -> dict:
    """`train-painter --device` for size["steps"] steps from the shipped weights; its log's figures."""
    from model_runtime.__main__ import main

    crop = "x".join(str(v) for v in size["crop"])
    steps = size["steps"]
    code = main(["train-painter", "--data", str(folder), "--run", str(run), "--steps", str(steps),
                 "--batch", str(size["batch"]), "--crop", crop, "--save-every", str(steps), "--init", str(checkpoint),
                 "--device", device])
    if code != 0:
        raise SystemExit(f"train-painter ended with {code}")
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    return {"train_steps": steps, "train_batch": size["batch"], "train_crop": list(size["crop"]),
            "train_seconds": last["seconds"], "train_steps_per_s": round(steps / max(last["seconds"], 1e-9), 3),
            "train_final_loss": round(last["loss"], 5)}


def run(args: argparse.Namespace) -> dict:
    import torch

    size = QUICK if args.quick else FULL
    device = devices.resolve_or_exit(args.device, "gpu_check")
    cpu = torch.device("cpu")
    width, height = size["res"]
    track = orbit_track(size["frames"], width, height)
    passes = array_passes(track)
    figures: dict = {"device": devices.describe(device), "torch": torch.__version__,
                     "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
                     "quick": args.quick, "resolution": [width, height], "frames": size["frames"],
                     "precision": "float32 (no autocast: not measured yet)"}
    cpu_frames, cpu_seconds = paint(args.checkpoint, cpu, track, passes)
    dev_frames, dev_seconds = paint(args.checkpoint, device, track, passes)
    warm = size["warm"]
    figures["cpu_fps"] = round(1 / float(np.mean(cpu_seconds[warm:])), 2)
    figures["device_fps"] = round(1 / float(np.mean(dev_seconds[warm:])), 2)
    figures["device_over_cpu_fps"] = round(figures["device_fps"] / figures["cpu_fps"], 3)
    figures["device_first_frame_ms"] = round(1000 * dev_seconds[0], 1)
    figures.update(frame_difference(cpu_frames, dev_frames))
    with tempfile.TemporaryDirectory(prefix="oyster_gpu_check_") as tmp:
        data = Path(tmp) / "data"
        written = write_dataset(data, size["clips"], size["clip_frames"], *size["clip_res"])
        figures["dataset_mb"] = round(written / 1e6, 2)
        figures.update(train(data, Path(tmp) / "run", devices.name(device), size, args.checkpoint))
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    devices.add_argument(parser, default="cuda")
    parser.add_argument("--quick", action="store_true", help="test-sized: 64x36, 8 frames, 3 training steps")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime.benchmarks.gpu_check",
                                     description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    figures = run(args)
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
