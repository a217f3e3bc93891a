"""`python -m model_runtime eval-ahead`: the painter painting ahead of a pan against painting within the frame.

Painting ahead (painter/ahead.py) needs passes past the frame, which Go Live
draws and a dataset does not have. So each clip is cropped: the frame is its
inner part, RING pixels in from every side (its camera's principal point moved
to match), and the ring is the passes that can be drawn past that frame; the
ground truth is the same crop. Both runs paint the same crops with the same
checkpoint and seed; only the ring's availability differs. The figures are the
painter evaluation's (`painter_eval.clip_figures`), with the network's calls,
pixels and seconds. The split and the metrics are those of docs/evaluation.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from model_runtime.data.shards import Clip, load_clips
from model_runtime.evaluation import painter_metrics as pm
from model_runtime.evaluation.painter_eval import clip_figures
from model_runtime.models import device as devices
from model_runtime.models.interface import ShotInput
from model_runtime.painter.ahead import PAINT_AHEAD
from model_runtime.painter.examples import passes_depth
from model_runtime.painter.passes import FramePasses
from model_runtime.painter.session import DEFAULT_CHECKPOINT, PainterModel

RING = PAINT_AHEAD  # the widest reach past the frame the painter asks for
RUNS = ("ahead", "within the frame")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the split to evaluate (val or artist)")
    parser.add_argument("--out", type=Path, required=True, help="report folder (report.json, report.md)")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--clips", type=int, default=0, help="0: every clip of the split")
    parser.add_argument("--painter", type=Path, default=DEFAULT_CHECKPOINT)
    devices.add_argument(parser)


class RingPasses:
    """A clip's passes cropped by RING on every side; with `ahead`, the ring can be drawn past the crop."""

    def __init__(self, clip: Clip, frames: int, ahead: bool):
        self.clip, self.frames, self.ahead = clip, frames, ahead

    def __len__(self) -> int:
        return self.frames

    def _crop(self, index: int, rows: slice, cols: slice) -> FramePasses:
        objects = self.clip.objects
        return FramePasses(passes_depth(self.clip, index)[rows, cols], self.clip.shade[index][rows, cols],
                           None if objects is None else objects[index][rows, cols])

    def frame(self, index: int) -> FramePasses:
        passes = self._crop(index, slice(RING, -RING), slice(RING, -RING))
        if self.ahead:
            passes.beyond = lambda box: self._crop(index, slice(box[0] + RING, box[1] + RING),
                                                   slice(box[2] + RING, box[3] + RING))
        return passes


def cropped(clip: Clip, frames: int) -> Clip:
    """The clip's first `frames` frames, RING pixels in from every side, its track's camera moved to match."""
    inner = (slice(None, frames), slice(RING, -RING), slice(RING, -RING))
    track = clip.track
    cams = [dict(f, cx=f["cx"] - RING, cy=f["cy"] - RING, frame=k + 1) for k, f in enumerate(track["frames"][:frames])]
    return dataclasses.replace(
        clip, rgb=clip.rgb[inner], depth=clip.depth[inner], shade=clip.shade[inner],
        objects=None if clip.objects is None else clip.objects[inner], long_track=None,
        track=dict(track, frames=cams, width=track["width"] - 2 * RING, height=track["height"] - 2 * RING,
                   frame_start=1, frame_end=frames))


def run(args: argparse.Namespace) -> int:
    model = PainterModel(args.painter, device=devices.resolve_or_exit(args.device, "eval-ahead"))
    counting = {"calls": 0, "kpx": 0.0}  # what the hook counts into: the warm-up's (not reported), then each run's

    def count(_, inputs, __) -> None:
        counting["calls"] += 1
        counting["kpx"] += inputs[0].shape[-1] * inputs[0].shape[-2] / 1000

    model.net.register_forward_hook(count)
    clips = [c for c in load_clips(args.data) if c.shade is not None]
    if not clips:
        raise SystemExit(f"{args.data} has no clips with blockout passes")
    clips = clips[:args.clips] if args.clips else clips
    figures: dict[str, list[dict]] = {name: [] for name in RUNS}
    warm = cropped(clips[0], 2)  # numba compiles its loops on first use: not in either run's seconds
    for name in RUNS:
        session = model.start(ShotInput(clips[0].caption, warm.track, 0,
                                        passes=RingPasses(clips[0], 2, ahead=name == "ahead")))
        session.step(), session.step()
    network = {name: {"calls": 0, "kpx": 0.0, "seconds": 0.0} for name in RUNS}
    for clip in clips:
        n = min(args.frames, len(clip.rgb))
        crop = cropped(clip, n)
        for name in RUNS:
            counting = network[name]
            passes = RingPasses(clip, n, ahead=name == "ahead")
            tick = time.perf_counter()
            session = model.start(ShotInput(clip.caption, crop.track, 0, passes=passes))
            frames = [session.step() for _ in range(n)]
            counting["seconds"] += time.perf_counter() - tick
            figures[name].append(clip_figures(frames, crop, n))
        print(f"{clip.caption[:48]:48s} " + "  ".join(f"{name}: {figures[name][-1]['psnr']:.2f} dB" for name in RUNS),
              flush=True)
    report = {"data": str(args.data), "clips": len(clips), "frames": args.frames, "ring": RING,
              "runs": {name: {metric: pm.mean_of_numbers([f[metric] for f in figures[name]])
                              for metric in figures[name][0]} | {"network": network[name]} for name in RUNS},
              "clip_figures": [{"caption": clip.caption} | {name: figures[name][i] for name in RUNS}
                               for i, clip in enumerate(clips)]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    (args.out / "report.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    metrics = [m for m in report["runs"][RUNS[0]] if m != "network"]
    lines = [f"# Painting ahead: {report['data']}, {report['clips']} clips x {report['frames']} frames, "
             f"cropped {report['ring']} pixels in from every side", "",
             "| run | " + " | ".join(metrics) + " | network calls | network kpx | seconds painting |",
             "|---|" + "---|" * (len(metrics) + 3)]
    for name, run_figures in report["runs"].items():
        network = run_figures["network"]
        lines.append(f"| {name} | " + " | ".join(f"{run_figures[m]:.4g}" for m in metrics)
                     + f" | {network['calls']} | {network['kpx']:.0f} | {network['seconds']:.1f} |")
    return "\n".join(lines) + "\n"

