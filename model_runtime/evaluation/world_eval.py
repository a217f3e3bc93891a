"""`python -m model_runtime eval-worlds`: worlds built from the validation captions alone, painted, measured.

The protocol is fixed before it is run (docs/evaluation.md, "Worlds from notes"). For each clip of the split
(or its first `--clips`), from its caption alone:

1. the world: the `world` command's own `run` (`model_runtime.worldgen.cli`) with the caption as the notes,
   seed `--seed`, `--frames` frames at the split's size and frame rate, into a scratch .blend (all worlds in
   one child process, so the reader's MiniLM loads once; Blender never shares this process with torch);
2. its passes: `blend_shot(..., shot="world")`, the child Blender that `generate --blend` runs;
3. painted by the default painter (`--painter`: a painter checkpoint, default the shipped one) with the
   caption as notes and the world camera's track, seed `--seed`;
4. measured as the painter's evaluation measures (`painter_metrics.warping_error` and
   `painter_metrics.layout_adherence`), against the world's own passes depth and cameras; the notes probe
   (the one eval-painter uses) on every painted frame, with the clip's labels, as a share of its accuracy
   on the split's ground-truth frames (the same frames and clips).

Beside them, in the same run: the split's ground truth (probe, warping error and layout adherence against
its own passes, as eval-painter computes them) and today's frames from notes alone (`--baseline`, default
`oyster-tiny` with no blockout and no first frame, along the clip's own camera), measured against the clip's
depth and cameras. The contact sheet shows per caption the ground truth's first frame, the world's shading
pass, the painted first and last frames and the notes-alone first and last frames (192x108 tiles).
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from model_runtime.data.shards import Clip, load_clips
from model_runtime.evaluation import painter_metrics as pm
from model_runtime.evaluation.cli import machine
from model_runtime.evaluation.harness import notes_only_frames
from model_runtime.evaluation.probe import file_sha256, load_probe, probe_accuracy, probe_train_clips, train_probe
from model_runtime.models.interface import ShotInput
from model_runtime.painter.examples import passes_depth

TILE = (192, 108)
SHEET_COLUMNS = ("ground truth, frame 1", "world shading, frame 1", "painted world, frame 1",
                 "painted world, last frame", "notes alone, frame 1", "notes alone, last frame")
DEFAULT_PROBE = Path("runs/eval/painter_probe.safetensors")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the split whose captions are the notes (val)")
    parser.add_argument("--out", type=Path, required=True, help="report folder (report.json, report.md, "
                                                                "contact_sheet.png)")
    parser.add_argument("--painter", default=None, help="painter checkpoint (default: the shipped one)")
    parser.add_argument("--baseline", default="oyster-tiny", help="the notes-alone generator (registry name)")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--clips", type=int, default=0, help="0: every clip of the split")
    parser.add_argument("--seed", type=int, default=0, help="world seed and painting seed")
    parser.add_argument("--probe", type=Path, default=DEFAULT_PROBE, help="the notes probe (eval-painter's)")
    parser.add_argument("--train-data", type=Path, nargs="+", help="training split for the probe when it is missing")
    parser.add_argument("--work", type=Path, default=None, help="keep the worlds' .blend files and passes here "
                                                                "(default: a scratch folder, removed)")


def command_line(args: argparse.Namespace) -> str:
    parts = ["python", "-m", "model_runtime", "eval-worlds", "--data", str(args.data), "--out", str(args.out),
             "--frames", str(args.frames), "--clips", str(args.clips), "--seed", str(args.seed),
             "--baseline", args.baseline, "--probe", str(args.probe)]
    parts += ["--painter", str(args.painter)] if args.painter else []
    return shlex.join(parts)


# ------------------------------------------------------------------------------------- worlds (child process)

def world_argv(caption: str, seed: int, n: int, fps: float, size: tuple[int, int], out: Path) -> list[str]:
    """The `world` command's arguments for one caption."""
    return ["--notes", caption, "--seed", str(seed), "--frames", str(n), "--out", str(out),
            "--fps", f"{fps:g}", "--size", f"{size[0]}x{size[1]}"]


def _build_here(jobs_file: Path) -> int:
    """In the child: the `world` command's `run` for every job, its exit status into the jobs' results."""
    from model_runtime.worldgen import cli

    jobs = json.loads(jobs_file.read_text())
    results = []
    for argv in jobs:
        parser = argparse.ArgumentParser(prog="python -m model_runtime world")
        cli.add_arguments(parser)
        try:
            results.append(cli.run(parser.parse_args(argv)))
        except Exception as error:  # one world's failure is reported, the others are still built
            print(f"world failed: {error!r}", file=sys.stderr, flush=True)
            results.append(1)
    jobs_file.with_suffix(".results.json").write_text(json.dumps(results))
    return 0


def build_worlds(jobs: list[list[str]], work: Path) -> list[int]:
    """Every job's `world` run in one child Python; exit statuses in job order (its output in worlds.log)."""
    jobs_file = work / "worlds.json"
    jobs_file.write_text(json.dumps(jobs))
    with open(work / "worlds.log", "w") as log:
        done = subprocess.run([sys.executable, "-m", "model_runtime.evaluation.world_eval", str(jobs_file)],
                              stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
    results = jobs_file.with_suffix(".results.json")
    if done.returncode != 0 or not results.is_file():
        raise SystemExit(f"eval-worlds: building the worlds failed (exit {done.returncode}); see {work}/worlds.log")
    return json.loads(results.read_text())


# ------------------------------------------------------------------------------------------------- measures

def figures(frames: list[np.ndarray], depths: list[np.ndarray], cameras: list[dict]) -> dict[str, float]:
    """Warping error and layout adherence of one clip's frames, as the painter's evaluation computes them."""
    layout = [pm.layout_adherence(f, d) for f, d in zip(frames, depths)]
    return {"warping_error": pm.warping_error(frames, depths, cameras),
            "layout": pm.mean_of_numbers(layout)}


def _mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if np.isfinite(r[key])]
    return float(np.mean(values)) if values else float("nan")


def summary(per_clip: list[dict], frames: list[np.ndarray], labels: list[dict], probe, gt: dict) -> dict:
    accuracy = probe_accuracy(probe, frames, labels)
    warping, layout = _mean(per_clip, "warping_error"), _mean(per_clip, "layout")
    return {"probe": accuracy, "probe_share": accuracy["mean"] / gt["probe"]["mean"],
            "warping_error": warping, "warping_over_truth": warping / gt["warping_error"],
            "layout": layout, "layout_over_truth": layout / gt["layout"], "per_clip": per_clip}


def _tile(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, -1)
    return cv2.resize(frame, TILE, interpolation=cv2.INTER_AREA)


def write_sheet(rows: list[list[np.ndarray]], path: Path) -> None:
    image = np.concatenate([np.concatenate([_tile(f) for f in row], 1) for row in rows], 0)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {path}")


# ------------------------------------------------------------------------------------------------------ run

def _probe(args: argparse.Namespace):
    if args.probe.exists():
        return load_probe(args.probe)
    if not args.train_data:
        raise SystemExit(f"eval-worlds: no probe at {args.probe}: give --train-data to train one on the training split")
    if any(d.resolve() == args.data.resolve() for d in args.train_data):
        raise SystemExit("eval-worlds: the notes probe must not be trained on the split it is evaluated on")
    print(f"training the notes probe on {args.train_data} -> {args.probe}", flush=True)
    return train_probe([c for d in args.train_data for c in load_clips(d)], args.probe)


def _painter(path: str | None):
    from model_runtime.painter.session import DEFAULT_CHECKPOINT, PainterModel

    return PainterModel(Path(path) if path else DEFAULT_CHECKPOINT)


def ground_truth(clips: list[Clip], n: int, probe) -> dict:
    """The split's own frames against its own passes, as eval-painter computes them."""
    return {"probe": probe_accuracy(probe, [c.rgb[t] for c in clips for t in range(n)],
                                    [c.labels for c in clips for _ in range(n)]),
            "warping_error": float(np.mean([pm.warping_error(list(c.rgb[:n]), [passes_depth(c, t) for t in range(n)],
                                                              c.track["frames"][:n]) for c in clips])),
            "layout": pm.mean_of_numbers([pm.layout_adherence(c.rgb[t], passes_depth(c, t)) for c in clips
                                          for t in range(0, n, 4)])}


def run(args: argparse.Namespace) -> int:
    from model_runtime.models.registry import get_generator
    from model_runtime.painter.blend_shot import blend_shot
    from model_runtime.painter.passes import FolderPasses, PassesError

    started = time.time()
    if args.frames < 2:
        raise SystemExit("eval-worlds: --frames must be at least 2")
    clips = load_clips(args.data)
    clips = clips[:args.clips] if args.clips else clips
    if not clips:
        raise SystemExit(f"eval-worlds: {args.data} holds no clips")
    dataset = json.loads((args.data / "dataset.json").read_text())
    n = min(args.frames, len(clips[0].rgb))
    size = (clips[0].track["width"], clips[0].track["height"])
    fps = float(clips[0].track.get("fps", 24.0))
    probe = _probe(args)
    painter = _painter(args.painter)
    seconds: dict[str, float] = {}
    work = args.work or Path(tempfile.mkdtemp(prefix="oyster_worlds_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        tick = time.time()
        blends = [work / f"world_{i:02d}" / "world.blend" for i in range(len(clips))]
        for blend in blends:
            blend.parent.mkdir(parents=True, exist_ok=True)
        statuses = build_worlds([world_argv(c.caption, args.seed, n, fps, size, b) for c, b in zip(clips, blends)],
                                work)
        seconds["worlds"] = time.time() - tick
        tick, shots = time.time(), []
        for i, (blend, status) in enumerate(zip(blends, statuses)):
            try:
                shots.append(blend_shot(blend, blend.parent / "shot", shot="world") if status == 0 else None)
            except PassesError as error:  # reported with the world, the others are still measured
                print(f"world {i + 1}: {error}", file=sys.stderr, flush=True)
                shots.append(None)
                statuses[i] = str(error)
        seconds["passes"] = time.time() - tick

        gt = ground_truth(clips, n, probe)
        worlds, painted_all, painted_labels, rows, refused = [], [], [], [], []
        baseline_rows, baseline_all = [], []
        baseline = get_generator(args.baseline)
        seconds["paint"] = seconds["baseline"] = 0.0
        for i, (clip, shot) in enumerate(zip(clips, shots)):
            alone_tick = time.time()
            alone = notes_only_frames(baseline, clip, n, args.seed)
            seconds["baseline"] += time.time() - alone_tick
            baseline_rows.append(figures(alone, [passes_depth(clip, t) for t in range(n)], clip.track["frames"][:n]))
            baseline_all += alone
            if shot is None:
                refused.append({"clip": i, "caption": clip.caption, "exit": statuses[i]})
                rows.append([clip.rgb[0], np.zeros_like(clip.rgb[0]), np.zeros_like(clip.rgb[0]),
                             np.zeros_like(clip.rgb[0]), alone[0], alone[-1]])
                continue
            request = json.loads((shot / "request.json").read_text())
            track = request["track"]
            frames_numbers = [f["frame"] for f in track["frames"]]
            passes = FolderPasses(shot / "passes", frames_numbers, track["width"], track["height"])
            paint_tick = time.time()
            session = painter.start(ShotInput(request["notes"], track, args.seed, passes=passes))
            painted = [session.step() for _ in frames_numbers]
            seconds["paint"] += time.time() - paint_tick
            world_passes = [passes.frame(t) for t in range(len(frames_numbers))]
            depths = [p.depth for p in world_passes]
            description = json.loads(blends[i].with_suffix(".world.json").read_text())
            fields = {k: description["fields"][k]["value"] for k in ("setting", "time_of_day", "weather")}
            worlds.append({"clip": i, "caption": clip.caption, "labels": clip.labels, "world": fields,
                           "layout_seed": description["layout_seed"],
                           "sky_share": float(np.mean([np.mean(d <= 0) for d in depths])),
                           **figures(painted, depths, track["frames"])})
            painted_all += painted
            painted_labels += [clip.labels] * len(painted)
            rows.append([clip.rgb[0], world_passes[0].shade, painted[0], painted[-1], alone[0], alone[-1]])
            print(f"world {i + 1}/{len(clips)}: layout {worlds[-1]['layout']:.3f}, "
                  f"warping {worlds[-1]['warping_error']:.5f}", flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    baseline_labels = [c.labels for c in clips for _ in range(n)]
    report = {"command": command_line(args), "data": str(args.data), "data_generator": dataset.get("generator"),
              "clips": len(clips), "frames": n, "size": list(size), "seed": args.seed, "machine": machine(),
              "painter": {"checkpoint": str(args.painter or "model_runtime/checkpoints/oyster-painter.safetensors"),
                          "checkpoint_sha256": painter.checkpoint_sha256},
              "probe": {"path": str(args.probe), "sha256": file_sha256(args.probe),
                        "train_clips": probe_train_clips(args.probe)},
              "ground_truth": gt,
              "worlds": {**summary(worlds, painted_all, painted_labels, probe, gt), "built": len(worlds),
                         "refused": refused,
                         "reader_matches": {k: float(np.mean([w["world"][k] == w["labels"][k] for w in worlds]))
                                            for k in ("setting", "time_of_day", "weather")} if worlds else {}},
              "notes_alone": {"model": args.baseline, "checkpoint_sha256": baseline.checkpoint_sha256,
                              **summary(baseline_rows, baseline_all, baseline_labels, probe, gt)},
              "sheet_columns": list(SHEET_COLUMNS)}
    report["seconds"] = {**{k: round(v, 1) for k, v in seconds.items()}, "total": round(time.time() - started, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    write_sheet(rows, args.out / "contact_sheet.png")
    print(markdown(report), flush=True)
    return 0


def markdown(report: dict) -> str:
    gt, w, a = report["ground_truth"], report["worlds"], report["notes_alone"]

    def row(name: str, f: dict, probe_share: str, warp: str, layout: str) -> str:
        p = f["probe"]
        return (f"| {name} | {p['time_of_day']:.2f} / {p['weather']:.2f} / {p['setting']:.2f} | {p['mean']:.3f} | "
                f"{probe_share} | {f['warping_error']:.5f} | {warp} | {f['layout']:.3f} | {layout} |")

    lines = [f"# Worlds from notes alone: {report['data']}", "",
             f"`{report['command']}`", "",
             f"{report['clips']} captions, {report['frames']} frames at {report['size'][0]}x{report['size'][1]}, "
             f"seed {report['seed']}; {w['built']} worlds built ({len(w['refused'])} refused); painter "
             f"`{report['painter']['checkpoint']}` (sha256 {report['painter']['checkpoint_sha256'][:12]}), probe "
             f"sha256 {report['probe']['sha256'][:12]} ({report['probe']['train_clips']} training clips); "
             f"{report['machine']}; {report['seconds']['total']:.0f} s in all "
             f"({', '.join(f'{k} {v:.0f} s' for k, v in report['seconds'].items() if k != 'total')}).", "",
             "| frames | probe time / weather / setting | probe mean | probe share | warping error | warping / GT | "
             "layout | layout / GT |", "|---|---|---|---|---|---|---|---|",
             row("ground truth (val)", gt, "1.00", "1.00", "1.00"),
             row("painted worlds from the captions", w, f"{w['probe_share']:.2f}", f"{w['warping_over_truth']:.2f}",
                 f"{w['layout_over_truth']:.2f}"),
             row(f"{a['model']} from the notes alone", a, f"{a['probe_share']:.2f}", f"{a['warping_over_truth']:.2f}",
                 f"{a['layout_over_truth']:.2f}"), "",
             "Painted worlds are measured against their own passes (depth, cameras); the notes-alone frames and the "
             "ground truth against the clip's. The world reader's setting / time of day / weather matched the "
             "clip's labels on " + ", ".join(f"{k} {v:.0%}" for k, v in w["reader_matches"].items()) +
             f" of the worlds; the worlds' frames are {np.mean([c['sky_share'] for c in w['per_clip']]):.0%} sky "
             "on average." if w["per_clip"] else "No world was built.", "",
             "Contact sheet (`contact_sheet.png`), one row per caption in split order: " +
             "; ".join(report["sheet_columns"]) + ".", "",
             "| clip | caption | world (setting, time, weather) | sky | layout | warping error |", "|---|---|---|---|---|---|"]
    for c in w["per_clip"]:
        lines.append(f"| {c['clip']} | {c['caption']} | {', '.join(c['world'].values())} | {c['sky_share']:.2f} | "
                     f"{c['layout']:.3f} | {c['warping_error']:.5f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # the child that builds the worlds: python -m model_runtime.evaluation.world_eval JOBS
    sys.exit(_build_here(Path(sys.argv[1])))
