"""Previs export to editorial: mp4 with burn-ins, image sequences, OTIO + EDL, cameras as JSON and USD.

Everything lands under one export folder:

    <out>/previs.mp4                      H.264 from the sequencer, Blender's metadata stamp burnt in
    <out>/frames/<shot>_<take>/<shot>_<take>.NNNN.png   the active takes under editorial names
    <out>/previs.otio, <out>/previs.edl   written by the runtime (opentimelineio), from <out>/edit.json
    <out>/cameras/<shot>.json / .usda    the shot's camera track and the animated camera in USD

Each file is written under a temporary name and renamed, so a failed or cancelled
export never leaves half a file under a final name. The extension stays
stdlib-only: the editorial files are made by the runtime's interpreter.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import bpy

from .camera import camera_track
from .errors import OysterError
from .naming import frame_file_name, sanitise_name
from .timeline import present_frames


class ExportError(OysterError):
    """The export cannot be made; the message says which shot or folder."""


@dataclass
class ShotExport:
    """What the export needs of one shot: its frames on the timeline and its active take."""
    name: str
    frame_start: int
    frame_end: int
    camera: bpy.types.Object
    notes: str
    take_dir: Path


def _check(shots: list[ShotExport], out: Path) -> None:
    if not shots:
        raise ExportError("nothing to export: the sequence has no shots")
    for shot in shots:
        frames = present_frames(shot.take_dir, shot.frame_start, shot.frame_end)
        if len(frames) != shot.frame_end - shot.frame_start + 1:
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir} is missing or incomplete "
                              f"({len(frames)} of {shot.frame_end - shot.frame_start + 1} frames)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".oyster_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ExportError(f"cannot write to the export folder {out}: {error.strerror or error}") from error


def copy_frames(shot: ShotExport, out: Path) -> Path:
    """The take's frames as `<shot>_<take>.NNNN.png`, copied into a temporary folder then renamed."""
    clip = f"{sanitise_name(shot.name)}_{shot.take_dir.name}"
    final, partial = out / "frames" / clip, out / "frames" / f".{clip}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for frame in range(shot.frame_start, shot.frame_end + 1):
        shutil.copyfile(shot.take_dir / frame_file_name(frame), partial / f"{clip}.{frame:04d}.png")
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final


def export_camera(scene: bpy.types.Scene, shot: ShotExport, out: Path) -> tuple[Path, Path]:
    """The shot's camera track (wire format JSON) and its animated camera as USD."""
    folder = out / "cameras"
    folder.mkdir(parents=True, exist_ok=True)
    stem = sanitise_name(shot.name)
    track_path, usd_path = folder / f"{stem}.json", folder / f"{stem}.usda"
    partial = folder / f".{stem}.json.partial"
    partial.write_text(json.dumps(camera_track(scene, shot.camera, shot.frame_start, shot.frame_end)))
    os.replace(partial, track_path)
    partial_usd = folder / f"{stem}.partial.usda"
    frame_range = (scene.frame_start, scene.frame_end)
    selected = [o for o in bpy.context.view_layer.objects if o.select_get()]
    try:
        scene.frame_start, scene.frame_end = shot.frame_start, shot.frame_end
        for obj in selected:
            obj.select_set(False)
        shot.camera.select_set(True)
        bpy.ops.wm.usd_export(filepath=str(partial_usd), selected_objects_only=True, export_animation=True,
                              export_materials=False)
        os.replace(partial_usd, usd_path)
    finally:
        scene.frame_start, scene.frame_end = frame_range
        shot.camera.select_set(False)
        for obj in selected:
            obj.select_set(True)
        partial_usd.unlink(missing_ok=True)
    return track_path, usd_path


def render_mp4(scene: bpy.types.Scene, shots: list[ShotExport], out: Path) -> Path:
    """H.264 of the sequencer over the shots' range, with shot/take, frame, timecode, lens and notes stamped."""
    render = scene.render
    saved = {key: getattr(render, key) for key in (
        "filepath", "use_sequencer", "use_stamp", "use_stamp_frame", "use_stamp_time", "use_stamp_lens",
        "use_stamp_note", "stamp_note_text", "use_stamp_sequencer_strip", "use_stamp_date", "use_stamp_render_time",
        "use_stamp_camera", "use_stamp_scene", "use_stamp_filename", "use_stamp_marker")}
    saved_range = (scene.frame_start, scene.frame_end)
    saved_format = (render.image_settings.file_format, render.ffmpeg.format, render.ffmpeg.codec)
    final, partial = out / "previs.mp4", out / "previs.partial.mp4"
    try:
        scene.frame_start = min(s.frame_start for s in shots)
        scene.frame_end = max(s.frame_end for s in shots)
        render.image_settings.file_format = "FFMPEG"
        render.ffmpeg.format, render.ffmpeg.codec = "MPEG4", "H264"
        render.use_sequencer = True
        render.use_stamp = True  # burnt into the pixels: editorial sees what previs meant
        render.use_stamp_frame = render.use_stamp_time = render.use_stamp_lens = True
        render.use_stamp_sequencer_strip = render.use_stamp_note = render.use_stamp_camera = True
        render.use_stamp_date = render.use_stamp_render_time = render.use_stamp_filename = False
        render.stamp_note_text = " | ".join(f"{s.name}: {s.notes}"[:120] for s in shots)
        render.filepath = str(partial)
        bpy.ops.render.render(animation=True, scene=scene.name)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
        for key, value in saved.items():
            setattr(render, key, value)
        scene.frame_start, scene.frame_end = saved_range
        render.image_settings.file_format = saved_format[0]
        render.ffmpeg.format, render.ffmpeg.codec = saved_format[1], saved_format[2]
    return final


def write_edit(scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str) -> tuple[Path, Path]:
    """edit.json for the runtime, then the .otio and .edl it writes with opentimelineio."""
    edit = {"name": "previs", "fps": scene.render.fps / scene.render.fps_base, "shots": [
        {"name": s.name, "take": s.take_dir.name, "frames": str(s.take_dir.resolve()), "frame_start": s.frame_start,
         "frame_end": s.frame_end, "notes": s.notes, "camera": {"name": s.camera.name, "lens_mm": s.camera.data.lens}}
        for s in shots]}
    edit_path = out / "edit.json"
    edit_path.write_text(json.dumps(edit, indent=1))
    result = subprocess.run([runtime_python, "-m", "model_runtime", "editorial", "--edit", str(edit_path),
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ExportError(f"the runtime could not write the OTIO/EDL: {(result.stdout + result.stderr).strip()}")
    return out / "previs.otio", out / "previs.edl"


class ExportJob:
    """The export as small steps, so an operator can show progress and cancel between them.

    Every step writes whole files (temporary name, then rename): cancelling between steps
    leaves only finished files behind.
    """

    def __init__(self, scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str):
        self.scene, self.shots, self.out, self.runtime_python = scene, shots, Path(out), runtime_python
        _check(shots, self.out)
        self.written: dict = {"frames": [], "cameras": []}
        self._steps = [lambda s=s: self.written["frames"].append(copy_frames(s, self.out)) for s in shots]
        self._steps += [lambda s=s: self.written["cameras"].append(export_camera(scene, s, self.out)) for s in shots]
        self._steps += [self._edit, self._mp4]
        self.done_steps = 0

    def _edit(self) -> None:
        self.written["otio"], self.written["edl"] = write_edit(self.scene, self.shots, self.out, self.runtime_python)

    def _mp4(self) -> None:
        self.written["mp4"] = render_mp4(self.scene, self.shots, self.out)

    @property
    def finished(self) -> bool:
        return self.done_steps == len(self._steps)

    @property
    def progress(self) -> float:
        return self.done_steps / len(self._steps)

    def step(self) -> None:
        self._steps[self.done_steps]()
        self.done_steps += 1


def export_previs(scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str) -> dict:
    """The whole export at once; returns the paths written, by kind."""
    job = ExportJob(scene, shots, out, runtime_python)
    while not job.finished:
        job.step()
    return job.written
