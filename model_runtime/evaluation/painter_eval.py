"""`python -m model_runtime eval-painter`: the painter and its baselines against Blender's ground truth.

The harness is fixed before tuning (docs/evaluation.md, "Painter evaluation"):
every clip of the split, its first `--frames` frames, generation seed 0, the
blockout passes of the clip as the painter's only picture of the scene.
Generators, in the same run:

- `workbench`: the blockout's own Workbench render (the grey shading pass as
  RGB): what Blender shows for free;
- `oyster-painter-no-memory`: the painter frame by frame (as per-frame depth
  ControlNet add-ons work);
- `oyster-painter`: the painter with its memory;
- `oyster-tiny`: the model the painter replaces, started from the blockout's
  Workbench render of frame 1 (its first-frame path);
- on request (`--generators ... oyster-painter-whole-frame`): the painter with
  its network run on the whole frame, as before it ran on the new ground's
  boxes only (painter/regions.py).

Revisit and drift run on ping-pong tracks of the first `--revisit-clips`
clips: the clip's frames forward and back until 300 frames, so the camera
returns to frame 0's pose at least twice with exact passes.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from model_runtime.data.shards import Clip, load_clips
from model_runtime.evaluation import painter_metrics as pm
from model_runtime.evaluation.drift import frame_drift
from model_runtime.evaluation.metrics import psnr, ssim
from model_runtime.evaluation.probe import load_probe, probe_accuracy, train_probe
from model_runtime.models import device as devices
from model_runtime.models.interface import ShotInput
from model_runtime.models.registry import get_generator
from model_runtime.painter.examples import passes_depth
from model_runtime.painter.passes import ArrayPasses

GENERATORS = ("workbench", "oyster-painter-no-memory", "oyster-painter", "oyster-tiny")
WHOLE_FRAME = "oyster-painter-whole-frame"  # on request: the painter's network run on the whole frame every frame
PING_PONG_FRAMES = 300


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the split to evaluate (val or artist)")
    parser.add_argument("--out", type=Path, required=True, help="report folder (report.json, report.md, sheets)")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--clips", type=int, default=0, help="0: every clip of the split")
    parser.add_argument("--revisit-clips", type=int, default=4)
    parser.add_argument("--painter", default="oyster-painter", help="model name or painter checkpoint path")
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS))
    parser.add_argument("--probe", type=Path, default=Path("runs/eval/painter_probe.safetensors"))
    parser.add_argument("--train-data", type=Path, nargs="+", help="training split for the probe when it is missing")
    devices.add_argument(parser)


def _truncated(track: dict, indices: list[int]) -> dict:
    frames = [dict(track["frames"][i], frame=k + 1) for k, i in enumerate(indices)]
    return dict(track, frames=frames, frame_start=1, frame_end=len(frames))


def _generator(name: str, painter: str, device):
    from model_runtime.painter.session import DEFAULT_CHECKPOINT, PainterModel

    path = Path(painter) if painter.endswith(".safetensors") else DEFAULT_CHECKPOINT
    if name == WHOLE_FRAME:
        return PainterModel(path, name=name, device=device, new_ground_only=False)
    if name in ("oyster-painter", "oyster-painter-no-memory") and painter.endswith(".safetensors"):
        return PainterModel(path, name=name, use_memory=name == "oyster-painter", device=device)
    return get_generator(name, device=str(device))


def rollout(name: str, generator, clip: Clip, indices: list[int]) -> list[np.ndarray]:
    """Frames of the clip at `indices` (track order) made by one generator."""
    if name == "workbench":
        return [np.repeat(clip.shade[i][..., None], 3, -1) for i in indices]
    track = _truncated(clip.track, indices)
    depth = np.stack([passes_depth(clip, i) for i in indices])
    passes = ArrayPasses(depth, clip.shade[indices], None if clip.objects is None else clip.objects[indices])
    if name == "oyster-tiny":  # its first-frame path, with the blockout's free render as that frame
        shot = ShotInput(clip.caption, track, 0, np.repeat(clip.shade[indices[0]][..., None], 3, -1),
                         np.where(depth[0] > 0, depth[0], np.inf).astype(np.float32))
    else:
        shot = ShotInput(clip.caption, track, 0, passes=passes)
    session = generator.start(shot)
    return [session.step() for _ in indices]


def ping_pong(n_clip: int, total: int = PING_PONG_FRAMES) -> list[int]:
    cycle = list(range(n_clip)) + list(range(n_clip - 2, 0, -1))
    return [cycle[i % len(cycle)] for i in range(total)] + [0]


def clip_figures(frames: list[np.ndarray], clip: Clip, n: int) -> dict:
    truth = clip.rgb[:n]
    depth = [passes_depth(clip, t) for t in range(n)]
    cams = clip.track["frames"][:n]
    return {"psnr": float(np.mean([psnr(a, b) for a, b in zip(frames, truth)])),
            "ssim": float(np.mean([ssim(a, b) for a, b in zip(frames, truth)])),
            "sharpness": pm.sharpness_ratio(frames, list(truth)),
            "warping_error": pm.warping_error(frames, depth, cams),
            "layout": pm.mean_of_numbers([pm.layout_adherence(f, d) for f, d in zip(frames, depth)]),
            "sky_streaks": pm.mean_of_numbers([pm.sky_streaks(f, d) for f, d in zip(frames, depth)]),
            "colour_drift": pm.colour_drift(frames, list(truth), depth)}


def _sheet(rows: list[list[np.ndarray]], path: Path) -> None:
    small = [np.concatenate([cv2.resize(f, (192, 108), interpolation=cv2.INTER_AREA) for f in row], 1) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(small, 0), cv2.COLOR_RGB2BGR))


def run(args: argparse.Namespace) -> int:
    device = devices.resolve_or_exit(args.device, "eval-painter")
    clips = [c for c in load_clips(args.data) if c.shade is not None]
    if not clips:
        raise SystemExit(f"{args.data} has no clips with blockout passes")
    clips = clips[:args.clips] if args.clips else clips
    n = min(args.frames, len(clips[0].rgb))
    if args.probe.exists():
        probe = load_probe(args.probe)
    elif args.train_data:
        probe = train_probe([c for d in args.train_data for c in load_clips(d)], args.probe)
    else:
        raise SystemExit(f"no probe at {args.probe}: give --train-data to train one on the training split")
    started = time.time()
    report: dict = {"data": str(args.data), "clips": len(clips), "frames": n, "seed": 0,
                    "device": devices.describe(device), "generators": {}}
    truth_frames = [c.rgb[t] for c in clips for t in range(n)]
    labels = [c.labels for c in clips for _ in range(n)]
    gt = {"probe": probe_accuracy(probe, truth_frames, labels),
          "warping_error": float(np.mean([pm.warping_error(list(c.rgb[:n]), [passes_depth(c, t) for t in range(n)],
                                                            c.track["frames"][:n]) for c in clips])),
          "layout": pm.mean_of_numbers([pm.layout_adherence(c.rgb[t], passes_depth(c, t)) for c in clips
                                        for t in range(0, n, 4)]),
          "sky_streaks": pm.mean_of_numbers([pm.sky_streaks(c.rgb[t], passes_depth(c, t)) for c in clips for t in range(n)])}
    report["ground_truth"] = gt
    sheet_rows = {c.scene_seed: [np.repeat(c.shade[0][..., None], 3, -1), c.rgb[0], c.rgb[n - 1]]
                  for c in clips[::max(1, len(clips) // 6)]}
    for name in args.generators:
        generator = None if name == "workbench" else _generator(name, args.painter, device)
        per_clip, generated, tick = [], [], time.time()
        for clip in clips:
            frames = rollout(name, generator, clip, list(range(n)))
            per_clip.append(clip_figures(frames, clip, n))
            generated += frames
            if clip.scene_seed in sheet_rows:
                sheet_rows[clip.scene_seed] += [frames[0], frames[n - 1]]
        seconds = time.time() - tick
        figures = {k: float(np.mean([c[k] for c in per_clip])) for k in per_clip[0]}
        figures["sky_streaks"] = pm.mean_of_numbers([c["sky_streaks"] for c in per_clip])  # over the clips with sky
        figures["colour_drift"] = pm.mean_of_numbers([c["colour_drift"] for c in per_clip])  # over the clips with surfaces
        probe_share = probe_accuracy(probe, generated, labels)
        figures["probe"] = probe_share
        figures["probe_share"] = probe_share["mean"] / gt["probe"]["mean"]
        figures["warping_over_truth"] = figures["warping_error"] / gt["warping_error"]
        figures["seconds_per_frame"] = seconds / (len(clips) * n)
        if name != "workbench" and args.revisit_clips:
            revisits, drifts = [], []
            for clip in clips[:args.revisit_clips]:
                indices = ping_pong(n)
                frames = rollout(name, generator, clip, indices)
                revisits.append(psnr(frames[-1], frames[0]))
                drifts.append(frame_drift(frames))
            figures["revisit_psnr"] = float(np.mean(revisits))
            figures["drift"] = {k: float(np.mean([d[k] for d in drifts])) for k in drifts[0]}
        report["generators"][name] = figures
        print(name, json.dumps(figures), flush=True)
    report["seconds"] = round(time.time() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    (args.out / "report.md").write_text(markdown(report))
    _sheet(list(sheet_rows.values()), args.out / "contact_sheet.png")
    return 0


def markdown(report: dict) -> str:
    gt = report["ground_truth"]
    lines = [f"# Painter evaluation: {report['data']}", "",
             f"{report['clips']} clips, {report['frames']} frames each, seed {report['seed']}; ground truth: "
             f"probe {gt['probe']['mean']:.2f}, warping error {gt['warping_error']:.5f}, layout {gt['layout']:.3f}, "
             f"sky streaks {gt['sky_streaks']:.2f}.",
             "", "| generator | PSNR | SSIM | sharpness | warping / GT | layout | sky streaks | colour drift | probe share "
             "| revisit PSNR | s/frame |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, f in report["generators"].items():
        revisit = f"{f['revisit_psnr']:.1f}" if "revisit_psnr" in f else "-"
        lines.append(f"| {name} | {f['psnr']:.2f} | {f['ssim']:.3f} | {f['sharpness']:.2f} | "
                     f"{f['warping_over_truth']:.2f} | {f['layout']:.3f} | {f['sky_streaks']:.2f} | "
                     f"{f['colour_drift']:+.2f} | "
                     f"{f['probe_share']:.2f} | {revisit} | "
                     f"{f['seconds_per_frame']:.2f} |")
    lines += ["", "Contact sheet (`contact_sheet.png`): per row the blockout's shading, ground truth at the first "
              "and last frame, then each generator's first and last frame in the order of the table."]
    return "\n".join(lines) + "\n"
