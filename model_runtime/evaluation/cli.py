"""`python -m model_runtime eval`: a model or baseline against the ground truth of a data split."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from tqdm import tqdm

from model_runtime.data.shards import load_clips
from model_runtime.evaluation import report as reports
from model_runtime.evaluation.harness import DRIFT_FRAMES, drift, evaluate_clip, notes_only
from model_runtime.evaluation.probe import load_probe, probe_accuracy, train_probe
from model_runtime.models.registry import get_generator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="registry name (oyster-tiny, depth-warp, copy-first-frame) "
                                                        "or a world-model checkpoint (.safetensors)")
    parser.add_argument("--split", default="val", help="the split to judge on (only val is fixed for evaluation)")
    parser.add_argument("--data", type=Path, default=Path("data"), help="folder holding the split folders")
    parser.add_argument("--frames", type=int, default=32, help="frames per clip (first frame given)")
    parser.add_argument("--drift-clips", type=int, default=4, help="clips rolled out for 300 frames (0: skip)")
    parser.add_argument("--probe", type=Path, default=Path("runs/probe/probe.safetensors"),
                        help="notes probe; trained on DATA/train when missing")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    clips = load_clips(args.data / args.split)
    generator = get_generator(args.model)
    results = [evaluate_clip(generator, c, args.frames, args.seed) for c in tqdm(clips, desc=f"eval {args.model}")]
    report = {"model": args.model, "checkpoint_sha256": generator.checkpoint_sha256, "split": args.split,
              "clips": len(clips), "frames": args.frames,
              "command": "python -m model_runtime eval " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["eval"] else sys.argv[1:]),
              "summary": reports.summarise(results)}
    if args.drift_clips:
        runs = [drift(generator, c, args.seed, DRIFT_FRAMES) for c in tqdm(clips[:: max(1, len(clips) // args.drift_clips)][:args.drift_clips], desc="drift")]
        report["drift"] = {"frames": DRIFT_FRAMES, "clips": len(runs),
                           **{k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}}
    probe = load_probe(args.probe) if args.probe.exists() else train_probe(load_clips(args.data / "train"), args.probe)
    gt_frames = [f for c in clips for f in c.rgb[:8]]
    gt_labels = [c.labels for c in clips for _ in c.rgb[:8]]
    report["notes_probe"] = {"ground_truth": probe_accuracy(probe, gt_frames, gt_labels),
                             "generated": notes_only(generator, clips, probe, args.seed)}
    reports.write(report, args.out)
    reports.contact_sheet(results, clips, args.out / "contact_sheet.png")
    print(reports.markdown(report))
    return 0
