"""`python -m model_runtime eval`: a model or baseline against the ground truth of a data split.

Example (the baseline report, docs/reports/baselines.md):

    python -m model_runtime eval --model depth-warp --split val --data data --out docs/reports/depth-warp
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model_runtime.data.shards import Clip, load_clips
from model_runtime.evaluation import report as reports
from model_runtime.evaluation.drift import DRIFT_FRAMES, rollout_drift
from model_runtime.evaluation.harness import PROBE_FRAMES, evaluate_clip, notes_only_frames
from model_runtime.evaluation.probe import file_sha256, load_probe, probe_accuracy, probe_train_clips, train_probe
from model_runtime.models import device as devices
from model_runtime.models.interface import FrameGenerator, GeneratorInputError
from model_runtime.models.registry import UnknownModelError, get_generator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="registry name (oyster-tiny, depth-warp, copy-first-frame) "
                                                        "or a world-model checkpoint (.safetensors)")
    parser.add_argument("--split", default="val", help="split folder under --data (val is the fixed evaluation split)")
    parser.add_argument("--data", type=Path, default=Path("data"), help="folder holding the split folders")
    parser.add_argument("--frames", type=int, default=32, help="frames per clip, the first one included")
    parser.add_argument("--first-frame", action=argparse.BooleanOptionalAction, default=True,
                        help="give the generator each clip's first frame and depth (default) or only notes and camera")
    parser.add_argument("--drift-clips", type=int, default=4,
                        help=f"clips rolled out for {DRIFT_FRAMES} frames on their long track (0: skip drift)")
    parser.add_argument("--probe", type=Path, default=Path("runs/eval/probe.safetensors"),
                        help="notes probe (safetensors); trained on --train-data and saved here when missing")
    parser.add_argument("--train-data", type=Path, default=None,
                        help="training split for the notes probe (default: DATA/train); never the evaluated split")
    parser.add_argument("--probe-steps", type=int, default=600, help="training steps when the probe is trained here")
    parser.add_argument("--no-probe", action="store_true", help="skip the notes probe")
    parser.add_argument("--seed", type=int, default=0, help="generation seed")
    parser.add_argument("--out", type=Path, required=True,
                        help="report folder (report.json, report.md, contact_sheet.png and, where the generator "
                             "can start from notes alone, contact_sheet_notes_alone.png)")
    devices.add_argument(parser)


def command_line(args: argparse.Namespace) -> str:
    """The full command that reproduces a run, every option spelled out."""
    parts = ["python", "-m", "model_runtime", "eval", "--model", args.model, "--split", args.split,
             "--data", str(args.data), "--frames", str(args.frames),
             "--first-frame" if args.first_frame else "--no-first-frame", "--drift-clips", str(args.drift_clips)]
    parts += ["--no-probe"] if args.no_probe else ["--probe", str(args.probe), "--train-data", str(args.train_data),
                                                   "--probe-steps", str(args.probe_steps)]
    return shlex.join(parts + ["--seed", str(args.seed), "--device", args.device, "--out", str(args.out)])


def machine() -> str:
    """What ran the evaluation, for the frames-per-second figure."""
    import torch

    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{os.cpu_count()}-core {platform.machine()} CPU{gpu}"


def notes_probe(args: argparse.Namespace, generator: FrameGenerator, clips: list[Clip],
                generated: list[list[np.ndarray]]) -> tuple[dict, list[list[np.ndarray]] | None]:
    """Probe accuracy on the last PROBE_FRAMES ground-truth and generated frames, and from notes alone; and
    the frames from notes alone (None for a generator that needs a first frame)."""
    if args.probe.exists():
        probe = load_probe(args.probe)
    else:
        print(f"training the notes probe on {args.train_data} -> {args.probe}", file=sys.stderr)
        probe = train_probe(load_clips(args.train_data), args.probe, steps=args.probe_steps)
    last = [slice(max(0, len(frames) - PROBE_FRAMES), len(frames)) for frames in generated]
    labels = [c.labels for c, s in zip(clips, last) for _ in range(s.start, s.stop)]
    gt = [f for c, s in zip(clips, last) for f in c.rgb[s]]
    gen = [f for frames, s in zip(generated, last) for f in frames[s]]
    frames, alone, error = None, None, None
    try:
        frames = [notes_only_frames(generator, c, PROBE_FRAMES, args.seed) for c in tqdm(clips, desc="notes only")]
        alone = probe_accuracy(probe, [f for fs in frames for f in fs], [c.labels for c in clips for _ in range(PROBE_FRAMES)])
    except GeneratorInputError as exc:
        error = str(exc)
    return {"probe_sha256": file_sha256(args.probe), "train_clips": probe_train_clips(args.probe),
            "frames_per_clip": PROBE_FRAMES,
            "ground_truth": probe_accuracy(probe, gt, labels), "generated": probe_accuracy(probe, gen, labels),
            "notes_only": alone, "notes_only_error": error}, frames


def run(args: argparse.Namespace) -> int:
    args.train_data = args.train_data or args.data / "train"
    split = args.data / args.split
    if args.frames < 2:
        print("--frames must be at least 2", file=sys.stderr)
        return 2
    if not args.no_probe and not args.probe.exists() and args.train_data.resolve() == split.resolve():
        print("the notes probe must not be trained on the split it is evaluated on", file=sys.stderr)
        return 2
    device = devices.name(devices.resolve_or_exit(args.device, "eval"))
    try:
        clips = load_clips(split)
        generator = get_generator(args.model, device)
    except (FileNotFoundError, ValueError, UnknownModelError) as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    if not clips:
        print(f"eval: {split} holds no clips", file=sys.stderr)
        return 2
    try:
        results = [evaluate_clip(generator, c, args.frames, args.seed, args.first_frame)
                   for c in tqdm(clips, desc=f"eval {args.model}")]
    except GeneratorInputError as exc:
        print(f"eval: {args.model} cannot run this evaluation: {exc}", file=sys.stderr)
        return 2
    dataset = json.loads((split / "dataset.json").read_text())
    report = {"model": args.model, "checkpoint_sha256": generator.checkpoint_sha256, "split": args.split,
              "data": str(split), "data_generator": dataset.get("generator"), "clips": len(clips),
              "frames": min(args.frames, len(clips[0].rgb)), "first_frame": args.first_frame, "seed": args.seed,
              "command": command_line(args), "machine": machine(), "device": device, "summary": reports.summarise(results)}
    drift_clips = [c for c in reports.spread(clips, args.drift_clips) if c.long_track is not None]  # costly
    if drift_clips and args.first_frame:
        runs = [rollout_drift(generator, c, args.seed, DRIFT_FRAMES) for c in tqdm(drift_clips, desc="drift")]
        report["drift"] = {"frames": DRIFT_FRAMES, "clips": len(runs),
                           **{k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}}
    alone = None
    if not args.no_probe:
        report["notes_probe"], alone = notes_probe(args, generator, clips, [r.frames for r in results])
    reports.write(report, args.out)
    reports.contact_sheet(results, clips, args.out / "contact_sheet.png")
    if alone is not None:
        reports.notes_alone_sheet(alone, clips, args.out / "contact_sheet_notes_alone.png")
    print(reports.markdown(report))
    return 0
