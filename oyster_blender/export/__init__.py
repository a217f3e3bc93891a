"""Previs export to editorial: mp4 with burn-ins, image sequences, OTIO + EDL + AAF, cameras as JSON, USD,
FBX and Alembic, techvis figures and a review page.

Everything lands under one export folder, one module a format:

    <out>/previs.mp4                      H.264 from the sequencer, Blender's metadata stamp burnt in (movie.py)
    <out>/frames/<shot>_<take>/<shot>_<take>.NNNN.png   the active takes under editorial names (shots.py)
    <out>/edit.json                       the edit, as the runtime reads it (editorial.py, docs/timeline_export.md)
    <out>/previs.otio, .edl, .aaf         written by the runtime (opentimelineio and its adapters), from edit.json
    <out>/cameras/<shot>.json / .usda / .fbx / .abc   the shot's camera track and the animated camera alone
                                          (cameras.py)
    <out>/techvis/<shot>.csv / .json      lens, height, tilt, pan, subject distance, travel, speed (techvis.py)
    <out>/review.html, <out>/review/      the review page and its thumbnails (review.py, review_page.py)

This module runs them as one job (`ExportJob`, `export_previs`); panel.py holds the operator and panel.
Each file is written under a temporary name and renamed, so a failed or cancelled export never leaves
half a file under a final name. The extension stays stdlib-only: the editorial files are made by the
runtime's interpreter.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import bpy

from . import techvis
from .cameras import export_camera
from .editorial import write_edit
from .movie import STAMPED, encode_mp4, render_stamped, stamp_chunks
from .review import write_review
from .shots import ShotExport, check_export, copy_frames


class ExportJob:
    """The export as small steps, so an operator can show progress and cancel between them.

    Every step writes whole files (temporary name, then rename): stopping between
    steps leaves only finished files; `abort` removes the stamped intermediate frames.
    """

    def __init__(self, scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str,
                 runtime_root: Path | None = None):
        self.scene, self.out = scene, Path(out)
        self.shots = sorted(shots, key=lambda s: s.frame_start)
        check_export(scene, self.shots, self.out)
        self.written: dict[str, Any] = {"frames": [], "cameras": [], "techvis": []}
        self.mattebox: dict[int, str] = {}  # scene frame -> the burn-in's figures, filled by the techvis steps
        stamped = self.out / STAMPED
        steps: list[tuple[str, Callable[[], None]]] = []
        for s in self.shots:
            steps.append((f"frames of {s.name}", lambda s=s: self.written["frames"].append(copy_frames(s, self.out))))
            steps.append((f"camera of {s.name}",
                          lambda s=s: self.written["cameras"].append(export_camera(scene, s, self.out))))
            steps.append((f"techvis of {s.name}", lambda s=s: self._techvis(s)))
        steps.append(("OTIO, EDL and AAF", lambda: self.written.update(
            zip(("otio", "edl", "aaf"), write_edit(scene, self.shots, self.out, runtime_python, runtime_root)))))
        for chunk in stamp_chunks(scene, self.shots):
            label = chunk.shot.name if chunk.shot else "gap"
            steps.append((f"burn-ins {label} {chunk.frame_start}-{chunk.frame_end}",
                          lambda c=chunk: render_stamped(scene, c, stamped, self.mattebox)))
        first, last = self.shots[0].frame_start, self.shots[-1].frame_end
        steps.append(("H.264", lambda: self.written.__setitem__("mp4", encode_mp4(scene, stamped, first, last,
                                                                                   self.out))))
        fps = scene.render.fps / scene.render.fps_base
        steps.append(("review page", lambda: self.written.__setitem__(
            "review", write_review(self.shots, self.out, self.written, fps))))
        steps.append(("clean up", self.abort))
        self._steps = steps
        self.done_steps = 0

    def _techvis(self, shot: ShotExport) -> None:
        entry = techvis.export_techvis(self.scene, shot, self.out)
        self.written["techvis"].append(entry)
        self.mattebox.update({row["frame"]: techvis.mattebox_text(row) for row in entry["figures"]["frames"]})

    @property
    def finished(self) -> bool:
        return self.done_steps == len(self._steps)

    @property
    def progress(self) -> float:
        return self.done_steps / len(self._steps)

    @property
    def label(self) -> str:
        """What the next step makes, for the progress bar."""
        return "done" if self.finished else self._steps[self.done_steps][0]

    def step(self) -> None:
        """Run the next step; ExportError (or OSError from the disk) stops the export there."""
        self._steps[self.done_steps][1]()
        self.done_steps += 1

    def abort(self) -> None:
        """Remove what only a finished export would have used (the stamped frames)."""
        shutil.rmtree(self.out / STAMPED, ignore_errors=True)


def export_previs(scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str,
                  runtime_root: Path | None = None) -> dict[str, Any]:
    """The whole export at once; returns the paths written, by kind (mp4, otio, edl, aaf, frames, cameras,
    techvis, review)."""
    job = ExportJob(scene, shots, out, runtime_python, runtime_root)
    try:
        while not job.finished:
            job.step()
    finally:
        job.abort()
    return job.written
