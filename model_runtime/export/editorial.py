"""`python -m model_runtime editorial`: the previs edit as an OpenTimelineIO timeline, a CMX 3600 EDL and an AAF.

The extension stays stdlib-only, so it writes the edit as plain JSON (`edit.json`)
and asks the runtime's interpreter to turn it into editorial files with
`opentimelineio`, its CMX 3600 adapter and its AAF adapter (`otio-aaf-adapter`, `pyaaf2`):

    {"name": "previs", "fps": 24,
     "shots": [{"name": "sh010", "take": "take_002", "frames": "/abs/export/frames/sh010_take_002",
                "name_prefix": "sh010_take_002.", "frame_start": 1, "frame_end": 48,
                "notes": "...", "camera": {...}}]}

One clip per shot, in scene-frame order, each pointing at its image sequence
(`<name_prefix>NNNN.png` by scene frame; the prefix defaults to none, as in a take
folder) with the shot's notes and camera in the clip metadata. The timeline starts
at the first shot's scene frame and frames between shots are gaps, so record
timecodes are the scene's frames, as in Blender and in the mp4's burn-ins.

The AAF (for Avid Media Composer) is the same timeline: one master mob per clip,
named `<shot> <take>`, with a tape source mob whose timecode is the take's scene
frames and a network locator at the image sequence's first frame (`file://` URL;
the AAF writer takes only a single-file reference). Shot, take, notes and camera go
into the master mob's comments, which Avid shows as bin columns. Mob IDs are made
from the shot, take and frames folder (UUID 5), so exporting again gives the same
IDs and Avid relinks rather than duplicates. Files
are written to a temporary name and renamed, so a failed export never leaves half
a file under the final name.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import uuid

import aaf2.mobid
import opentimelineio as otio

from oyster_blender.core.naming import sanitise_name


EDL_REEL_CHARS = 8
AAF_MOB_NAMESPACE = uuid.UUID("6f1f2c7e-3a51-4a8e-9d0f-0ad5e1e7a018")  # Oyster's namespace for UUID-5 mob IDs


class EditError(ValueError):
    """The edit description is unusable; the message names the field."""


@dataclass(frozen=True)
class EditShot:
    """One shot of edit.json, checked."""
    name: str
    take: str
    frames: Path
    name_prefix: str
    frame_start: int
    frame_end: int
    notes: str
    camera: dict


def _shot(shot: Any, index: int) -> EditShot:
    where = f"shots[{index}]"
    try:
        parsed = EditShot(str(shot["name"]), str(shot["take"]), Path(shot["frames"]), str(shot.get("name_prefix", "")),
                          int(shot["frame_start"]), int(shot["frame_end"]), str(shot.get("notes", "")),
                          dict(shot.get("camera", {})))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise EditError(f"{where} needs name, take, frames, frame_start and frame_end ({error!r})") from None
    if parsed.frame_end < parsed.frame_start:
        raise EditError(f"{where}: frame_end {parsed.frame_end} is before frame_start {parsed.frame_start}")
    if not parsed.frames.is_dir():
        raise EditError(f"{where}: frames folder {parsed.frames} does not exist (missing take)")
    return parsed


def _shots(edit: Any) -> list[EditShot]:
    """The edit's shots in frame order; EditError for an empty sequence, a bad field or overlapping shots."""
    if not isinstance(edit, dict) or not edit.get("shots"):
        raise EditError("the edit holds no shots (empty sequence)")
    if not isinstance(edit["shots"], list):
        raise EditError("shots must be a list")
    shots = sorted((_shot(shot, i) for i, shot in enumerate(edit["shots"])), key=lambda s: s.frame_start)
    for before, after in zip(shots, shots[1:]):
        if after.frame_start <= before.frame_end:
            raise EditError(f"shots '{before.name}' and '{after.name}' overlap at frame {after.frame_start}")
    return shots


def _fps(edit: dict) -> float:
    try:
        fps = float(edit.get("fps", 24))
    except (TypeError, ValueError):
        raise EditError(f"fps must be a number, not {edit.get('fps')!r}") from None
    if not 0 < fps <= 1000:
        raise EditError(f"fps must be within (0, 1000], not {fps}")
    return fps


def build_timeline(edit: dict) -> otio.schema.Timeline:
    """The edit as an OTIO timeline with one video track, starting at the first shot's scene frame."""
    shots = _shots(edit)
    fps = _fps(edit)

    def frames(count: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(count, fps)

    timeline = otio.schema.Timeline(name=str(edit.get("name", "previs")))
    timeline.global_start_time = frames(shots[0].frame_start)
    track = otio.schema.Track(name="Oyster previs", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    position = shots[0].frame_start
    for shot in shots:
        if shot.frame_start > position:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(frames(0),
                                                                             frames(shot.frame_start - position))))
        available = otio.opentime.TimeRange(frames(shot.frame_start), frames(shot.frame_end - shot.frame_start + 1))
        media = otio.schema.ImageSequenceReference(
            target_url_base=shot.frames.resolve().as_uri() + "/", name_prefix=shot.name_prefix, name_suffix=".png",
            start_frame=shot.frame_start, frame_step=1, rate=fps, frame_zero_padding=4, available_range=available)
        clip = otio.schema.Clip(name=f"{shot.name} {shot.take}", media_reference=media, source_range=available)
        clip.metadata["oyster"] = {"shot": shot.name, "take": shot.take, "notes": shot.notes, "camera": shot.camera}
        clip.metadata["cmx_3600"] = {"reel": reel_name(shot.name)}
        track.append(clip)
        position = shot.frame_end + 1
    return timeline


def reel_name(shot: str) -> str:
    """The EDL reel: the shot's letters and digits, upper case, at most 8 (CMX 3600's limit)."""
    return re.sub(r"[^A-Za-z0-9]", "", shot).upper()[:EDL_REEL_CHARS] or "AX"


def edl_timeline(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """The timeline as the EDL writer needs it: the adapter counts record timecode from 0 and ignores
    the global start, so a leading gap puts each shot's record timecode at its scene frame."""
    start = timeline.global_start_time
    copy = timeline.deepcopy()
    if start is not None and start.value > 0:
        copy.tracks[0].insert(0, otio.schema.Gap(source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, start.rate), start)))
        copy.global_start_time = None
    return copy


def aaf_timeline(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """The timeline as the AAF writer takes it: each clip's image sequence as a reference to its first frame,
    a stable mob ID, and the shot, take, notes and camera as the master mob's user comments."""
    copy = timeline.deepcopy()
    for clip in copy.find_clips():
        sequence, oyster = clip.media_reference, clip.metadata["oyster"]
        clip.media_reference = otio.schema.ExternalReference(
            target_url=sequence.target_url_for_image_number(0), available_range=sequence.available_range)
        mob_id = aaf2.mobid.MobID.new()
        mob_id.material = uuid.uuid5(AAF_MOB_NAMESPACE, f"{oyster['shot']}\0{oyster['take']}\0"
                                                        f"{sequence.target_url_base}")
        camera = oyster.get("camera") or {}
        comments = {"Shot": oyster["shot"], "Take": oyster["take"], "Notes": oyster["notes"],
                    "Camera": str(camera.get("name", "")), "Frames": sequence.target_url_base}
        if isinstance(camera.get("lens_mm"), (int, float)):
            comments["Lens mm"] = f"{camera['lens_mm']:g}"
        clip.metadata["AAF"] = {"MobID": mob_id.urn, "UserComments": comments}
    return copy


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    partial = path.with_name(f".{path.name}.partial{path.suffix}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_editorial(edit: dict, out: Path) -> tuple[Path, Path, Path]:
    """Write `<name>.otio`, `<name>.edl` and `<name>.aaf` into `out`; returns their paths."""
    timeline = build_timeline(edit)
    out.mkdir(parents=True, exist_ok=True)
    stem = sanitise_name(timeline.name, fallback="previs")
    otio_path, edl_path, aaf_path = out / f"{stem}.otio", out / f"{stem}.edl", out / f"{stem}.aaf"
    _write_atomic(otio_path, lambda p: otio.adapters.write_to_file(timeline, str(p), adapter_name="otio_json"))
    _write_atomic(edl_path, lambda p: otio.adapters.write_to_file(edl_timeline(timeline), str(p),
                                                                   adapter_name="cmx_3600"))
    _write_atomic(aaf_path, lambda p: otio.adapters.write_to_file(aaf_timeline(timeline), str(p), adapter_name="AAF"))
    return otio_path, edl_path, aaf_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--edit", type=Path, required=True, help="edit.json written by the extension")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .otio, .edl and .aaf")


def run(args: argparse.Namespace) -> int:
    try:
        edit = json.loads(args.edit.read_text())
        paths = write_editorial(edit, args.out)
    except (OSError, json.JSONDecodeError, EditError, otio.exceptions.OTIOError) as error:
        print(f"editorial: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0
