"""Evaluation reports: JSON for machines, a Markdown table for people, a contact sheet to look at."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from model_runtime.data.shards import Clip
from model_runtime.evaluation.harness import HORIZONS, ClipResult, pose_summary

SHEET_FRAMES = (0, 4, 8, 16, 31)


def summarise(results: list[ClipResult]) -> dict:
    """Per move type and overall: PSNR/SSIM per horizon, camera-following errors and ratio."""
    def block(rs: list[ClipResult]) -> dict:
        out = {"clips": len(rs)}
        for h in HORIZONS:
            vals = [r.psnr[h] for r in rs if h in r.psnr]
            if vals:
                out[f"psnr@{h}"] = float(np.mean(vals))
                out[f"ssim@{h}"] = float(np.mean([r.ssim[h] for r in rs if h in r.ssim]))
        out["camera"] = pose_summary(rs)
        return out

    moves = sorted({r.move for r in results})
    frames = sum(len(r.frames) for r in results)
    return {"overall": block(results), "by_move": {m: block([r for r in results if r.move == m]) for m in moves},
            "fps": frames / sum(r.seconds for r in results)}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown(report: dict) -> str:
    lines = [f"# Evaluation: {report['model']}", "", f"Command: `{report['command']}`", "",
             f"Split: {report['split']} ({report['clips']} clips, {report['frames']} frames each, first frame given)", ""]
    head = "| move | clips | " + " | ".join(f"PSNR@{h} | SSIM@{h}" for h in HORIZONS) + \
        " | rot err (deg) | rot floor | trans err (deg) | trans floor | ratio |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    rows = [("**overall**", report["summary"]["overall"])] + list(report["summary"]["by_move"].items())
    for name, b in rows:
        cam = b["camera"]
        cells = [name, str(b["clips"])] + [f"{_fmt(b.get(f'psnr@{h}'))} | {_fmt(b.get(f'ssim@{h}'), 3)}" for h in HORIZONS]
        cells += [_fmt(cam["rotation_deg"]), _fmt(cam["rotation_floor_deg"]), _fmt(cam["translation_deg"]),
                  _fmt(cam["translation_floor_deg"]), _fmt(cam["ratio"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Generation speed: {report['summary']['fps']:.1f} frames/s (this machine, first-frame runs)."]
    if report.get("drift"):
        d = report["drift"]
        lines += ["", f"Drift over {d['frames']} frames ({d['clips']} clips): colour shift of the last frame "
                  f"{d['colour_shift_last']:.1f} (max {d['colour_shift_max']:.1f}) in 8-bit levels; layout contrast "
                  f"last/first {d['layout_contrast_ratio']:.2f}; {d['fps']:.1f} frames/s."]
    notes = report.get("notes_probe")
    if notes:
        gen, gt = notes["generated"], notes["ground_truth"]
        if gen is None:
            lines += ["", f"Notes probe: ground-truth accuracy {gt['mean']:.2f}; this generator cannot start "
                      "without a first frame."]
        else:
            lines += ["", "Notes probe (no first frame): " + ", ".join(
                f"{k} {gen[k]:.2f} (GT {gt[k]:.2f})" for k in gen) + f"; ratio {gen['mean'] / gt['mean']:.2f}."]
    return "\n".join(lines) + "\n"


def contact_sheet(results: list[ClipResult], clips: list[Clip], path: Path, rows: int = 4) -> None:
    """Pairs of rows, ground truth above generated, at SHEET_FRAMES, for the first clips."""
    strips = []
    for r, clip in list(zip(results, clips))[:rows]:
        idx = [i for i in SHEET_FRAMES if i < len(r.frames)]
        strips.append(np.concatenate([clip.rgb[i] for i in idx], 1))
        strips.append(np.concatenate([r.frames[i] for i in idx], 1))
        strips.append(np.full((4, strips[-1].shape[1], 3), 255, np.uint8))
    cv2.imwrite(str(path), np.concatenate(strips, 0)[..., ::-1])


def write(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    (out / "report.md").write_text(markdown(report))
