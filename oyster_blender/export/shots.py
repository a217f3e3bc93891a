"""The shots an export takes: each shot's frames on the timeline, its camera and its active take, the
checks that refuse what cannot be exported, and the take's frames copied under editorial names
(`frames/<shot>_<take>/<shot>_<take>.NNNN.png`).
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import bpy

from ..core.errors import OysterError
from ..core.naming import frame_file_name, sanitise_name
from ..take_files import TAKE_JSON
from ..timeline import active_strip, present_frames, strip_folder

RUNNING = ("queued", "running", "starting", "pending")  # take.json statuses of a take still being made


UNIFORM_SCALE = 1e-5  # relative spread of a parent's scale axes that still counts as uniform


class ExportError(OysterError):
    """The export cannot be made; the message says which shot or folder."""


@dataclass(frozen=True)
class ShotExport:
    """What the export needs of one shot: its frames on the timeline, its camera and its active take."""
    name: str
    frame_start: int
    frame_end: int
    camera: bpy.types.Object
    notes: str
    take_dir: Path

    @property
    def clip(self) -> str:
        """The editorial name of the shot's take, `<shot>_<take>`."""
        return f"{sanitise_name(self.name)}_{self.take_dir.name}"


def _take_notes(take_dir: Path, fallback: str) -> str:
    """The notes a take was made from (its take.json), else the shot's current notes."""
    try:
        return str(json.loads((take_dir / TAKE_JSON).read_text())["request"]["notes"])
    except (OSError, ValueError, KeyError, TypeError):
        return fallback


def scene_shots(scene: bpy.types.Scene, selected_only: bool = False) -> list[ShotExport]:
    """The scene's Oyster shots with their active takes on the timeline, in timeline order.

    With `selected_only`, only the shots whose active take strip is selected in the sequencer.
    """
    shots = []
    for shot in scene.oyster.shots:
        strip = active_strip(scene, shot.name)
        if strip is None:
            if not selected_only:
                raise ExportError(f"shot '{shot.name}' has no take on the timeline: generate one or make one active")
            continue
        if selected_only and not strip.select:
            continue
        if shot.camera is None:
            raise ExportError(f"shot '{shot.name}' has no camera")
        take_dir = strip_folder(strip)
        shots.append(ShotExport(shot.name, shot.frame_start, shot.frame_end, shot.camera,
                                _take_notes(take_dir, shot.notes), take_dir))
    return sorted(shots, key=lambda s: s.frame_start)


def _take_status(take_dir: Path) -> str:
    try:
        return str(json.loads((take_dir / TAKE_JSON).read_text()).get("status", "unknown"))
    except (OSError, ValueError, AttributeError):
        return "unreadable"


def non_uniform_parent(camera: bpy.types.Object) -> tuple[bpy.types.Object, tuple[float, float, float]] | None:
    """The first of the camera's parents whose world scale is not the same on all three axes, with that scale.

    Under such a parent the camera's world matrix is sheared: FBX and Alembic cannot hold it, and a
    camera's view stops being a rotation. Checked at the scene's current frame.
    """
    parent = camera.parent
    while parent is not None:
        scale = tuple(parent.matrix_world.to_scale())
        if max(scale) - min(scale) > UNIFORM_SCALE * max(abs(v) for v in scale):
            return parent, scale
        parent = parent.parent
    return None


def check_export(scene: bpy.types.Scene | None, shots: list[ShotExport], out: Path) -> None:
    """ExportError for an empty sequence, overlapping shots, a shot of one frame, a missing, running or
    incomplete take, a camera under a non-uniformly scaled parent, an unwritable folder."""
    if not shots:
        raise ExportError("nothing to export: the sequence has no shots")
    ordered = sorted(shots, key=lambda s: s.frame_start)
    for before, after in zip(ordered, ordered[1:]):
        if after.frame_start <= before.frame_end:
            raise ExportError(f"shots '{before.name}' and '{after.name}' overlap (frames {after.frame_start}-"
                              f"{before.frame_end}): an edit has one shot at a time")
    for shot in shots:
        if shot.camera is None or shot.camera.type != "CAMERA":
            raise ExportError(f"shot '{shot.name}' has no camera")
        if shot.frame_end <= shot.frame_start:
            raise ExportError(f"shot '{shot.name}' is one frame long (frame {shot.frame_start}): the camera files "
                              "and the techvis travel and speed need at least two frames; lengthen the shot")
        if not (shot.take_dir / TAKE_JSON).is_file():
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir} is missing")
        status = _take_status(shot.take_dir)
        if status in RUNNING:
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir.name} is still running ({status}): "
                              "wait for it to finish, or make a finished take active")
        if status != "done":
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir.name} is not finished (status {status}): "
                              "make a finished take active")
        frames = present_frames(shot.take_dir, shot.frame_start, shot.frame_end)
        if len(frames) != shot.frame_end - shot.frame_start + 1:
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir} is incomplete "
                              f"({len(frames)} of {shot.frame_end - shot.frame_start + 1} frames)")
    if scene is not None:
        with saved(scene, "frame_current"):
            for shot in shots:
                for frame in range(shot.frame_start, shot.frame_end + 1):
                    scene.frame_set(frame)
                    found = non_uniform_parent(shot.camera)
                    if found is not None:
                        parent, scale = found
                        raise ExportError(
                            f"shot '{shot.name}': camera '{shot.camera.name}' has a parent with a non-uniform scale "
                            f"('{parent.name}', {', '.join(f'{v:g}' for v in scale)} at frame {frame}): FBX and "
                            "Alembic cannot hold the sheared camera; apply the parent's scale or make it uniform")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".oyster_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ExportError(f"cannot write to the export folder {out}: {error.strerror or error}") from error


def copy_frames(shot: ShotExport, out: Path) -> Path:
    """The take's frames as `<shot>_<take>.NNNN.png` (hard links where the disk allows, else copies).

    Takes are never rewritten in place, so a link is as safe as a copy. The folder is
    filled under a temporary name and renamed.
    """
    final, partial = out / "frames" / shot.clip, out / "frames" / f".{shot.clip}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for frame in range(shot.frame_start, shot.frame_end + 1):
        source, target = shot.take_dir / frame_file_name(frame), partial / f"{shot.clip}.{frame_file_name(frame)}"
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final


@contextmanager
def saved(owner: Any, *keys: str) -> Iterator[None]:
    """Restore the given properties of `owner` afterwards, whatever happens in between."""
    values = {key: getattr(owner, key) for key in keys}
    try:
        yield
    finally:
        for key, value in values.items():
            setattr(owner, key, value)
