"""Evaluation reports: JSON for machines, a Markdown table for people, contact sheets to look at."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from model_runtime.data.shards import Clip
from model_runtime.evaluation import camera_error
from model_runtime.evaluation.harness import HORIZONS, ClipResult

SHEET_FRAMES = (0, 4, 8, 16, 31)
SHEET_CLIPS = 4
NOTES_SHEET_CLIPS = 8


def summarise(results: list[ClipResult]) -> dict:
    """Per move type and overall: PSNR/SSIM per horizon (mean over clips), camera following over pooled pairs."""
    def block(rs: list[ClipResult]) -> dict:
        out: dict = {"clips": len(rs)}
        for h in HORIZONS:
            vals = [r.psnr[h] for r in rs if h in r.psnr]
            if vals:
                out[f"psnr@{h}"] = float(np.mean(vals))
                out[f"ssim@{h}"] = float(np.mean([r.ssim[h] for r in rs if h in r.ssim]))
        out["camera"] = camera_error.summarise([e for r in rs for e in r.model_pose],
                                               [e for r in rs for e in r.floor_pose])
        return out

    moves = sorted({r.move for r in results})
    frames = sum(len(r.frames) for r in results)
    return {"overall": block(results), "by_move": {m: block([r for r in results if r.move == m]) for m in moves},
            "fps": frames / sum(r.seconds for r in results)}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def markdown(report: dict) -> str:
    """The report as Markdown: the command, a table per move type and overall, drift and the notes probe."""
    given = "first frame given" if report["first_frame"] else "no first frame"
    lines = [f"# Evaluation: {report['model']}", "", f"Command: `{report['command']}`", "",
             f"Split: {report['split']} ({report['clips']} clips, {report['frames']} frames each, {given}, "
             f"seed {report['seed']}); metrics as defined in docs/evaluation.md.", ""]
    head = ("| move | clips | " + " | ".join(f"PSNR@{h} | SSIM@{h}" for h in HORIZONS)
            + " | rot err ° (floor) | trans err ° (floor) | camera ratio | unrecovered (floor) |")
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    rows = [("**overall**", report["summary"]["overall"])] + list(report["summary"]["by_move"].items())
    for name, b in rows:
        cam = b["camera"]
        cells = [name, str(b["clips"])] + [f"{_fmt(b.get(f'psnr@{h}'))} | {_fmt(b.get(f'ssim@{h}'), 3)}" for h in HORIZONS]
        cells += [f"{_fmt(cam['rotation_deg'])} ({_fmt(cam['rotation_floor_deg'])})",
                  f"{_fmt(cam['translation_deg'], 1)} ({_fmt(cam['translation_floor_deg'], 1)})",
                  _fmt(cam["ratio"]), f"{_pct(cam['unrecovered'])} ({_pct(cam['unrecovered_floor'])})"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Generation speed: {report['summary']['fps']:.1f} frames/s on {report['machine']}."]
    if report.get("drift"):
        d = report["drift"]
        lines += ["", f"Drift over {d['frames']} frames ({d['clips']} clips): colour shift of the last frame "
                  f"{d['colour_shift_last']:.1f} (worst frame {d['colour_shift_max']:.1f}) in 8-bit levels; layout "
                  f"contrast last/first {d['layout_contrast_ratio']:.2f}; {d['fps']:.1f} frames/s."]
    notes = report.get("notes_probe")
    if notes:
        gt, gen, alone = notes["ground_truth"], notes["generated"], notes["notes_only"]
        kinds = [k for k in gt if k != "mean"]
        lines += ["", f"Notes probe (accuracy, last {notes['frames_per_clip']} frames of each clip; probe sha256 "
                  f"{notes['probe_sha256'][:12]}, trained on {notes['train_clips']} training clips):", "",
                  "| frames | " + " | ".join(kinds) + " | mean |", "|" + "---|" * (len(kinds) + 2)]
        for name, acc in (("ground truth", gt), ("generated, first frame given", gen),
                          ("generated from notes alone", alone)):
            if acc is not None:
                lines.append(f"| {name} | " + " | ".join(f"{acc[k]:.2f}" for k in kinds) + f" | {acc['mean']:.2f} |")
        if alone is None:
            lines += ["", f"From notes alone: not run ({notes['notes_only_error']})."]
    return "\n".join(lines) + "\n"


def spread(items: list, n: int) -> list:
    """n items spread evenly over the list (every len/n-th)."""
    return items[:: max(1, len(items) // n)][:n] if n > 0 else []


def contact_sheet(results: list[ClipResult], clips: list[Clip], path: Path, rows: int = SHEET_CLIPS) -> None:
    """Ground truth above generated at SHEET_FRAMES, for `rows` clips spread over the split (PNG)."""
    strips = []
    for r, clip in spread(list(zip(results, clips)), rows):
        idx = [i for i in SHEET_FRAMES if i < len(r.frames)]
        strips.append(np.concatenate([clip.rgb[i] for i in idx], 1))
        strips.append(np.concatenate([r.frames[i] for i in idx], 1))
        strips.append(np.full((4, strips[-1].shape[1], 3), 255, np.uint8))
    _write_png(path, np.concatenate(strips, 0))


def notes_alone_sheet(alone: list[list[np.ndarray]], clips: list[Clip], path: Path,
                      count: int = NOTES_SHEET_CLIPS) -> None:
    """For `count` clips spread over the split: ground-truth frame 0 (top row), frame 0 made from the clip's
    notes and camera alone (middle) and the last of those frames (bottom), side by side (PNG)."""
    picked = spread(list(zip(alone, clips)), count)
    rows = [[clip.rgb[0] for _, clip in picked], [frames[0] for frames, _ in picked],
            [frames[-1] for frames, _ in picked]]
    _write_png(path, np.concatenate([np.concatenate(row, 1) for row in rows], 0))


def _write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), rgb[..., ::-1]):
        raise OSError(f"could not write {path}")


def write(report: dict, out: Path) -> None:
    """report.json and report.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out / "report.md").write_text(markdown(report))
