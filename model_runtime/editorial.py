"""`python -m model_runtime editorial`: the previs edit as an OpenTimelineIO timeline and a CMX 3600 EDL.

The extension stays stdlib-only, so it writes the edit as plain JSON (`edit.json`)
and asks the runtime's interpreter to turn it into editorial files with
`opentimelineio` and its CMX 3600 adapter:

    {"name": "previs", "fps": 24,
     "shots": [{"name": "sh010", "take": "take_002", "frames": "/abs/path/to/take_002",
                "frame_start": 1, "frame_end": 48, "notes": "...", "camera": {...}}]}

One clip per shot, in order, each pointing at its image sequence (`NNNN.png` by
scene frame) with the shot's notes and camera in the clip metadata. Files are
written to a temporary name and renamed, so a failed export never leaves half a
file under the final name.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import opentimelineio as otio

from oyster_blender.naming import sanitise_name


class EditError(ValueError):
    """The edit description is unusable; the message names the field."""


def _shot_fields(shot: dict, index: int) -> tuple[str, str, Path, int, int]:
    where = f"shots[{index}]"
    try:
        name, take, frames = str(shot["name"]), str(shot["take"]), Path(shot["frames"])
        start, end = int(shot["frame_start"]), int(shot["frame_end"])
    except (KeyError, TypeError, ValueError) as error:
        raise EditError(f"{where} needs name, take, frames, frame_start and frame_end ({error})") from error
    if end < start:
        raise EditError(f"{where}: frame_end {end} is before frame_start {start}")
    if not frames.is_dir():
        raise EditError(f"{where}: take folder {frames} does not exist (missing take)")
    return name, take, frames, start, end


def build_timeline(edit: dict) -> otio.schema.Timeline:
    """The edit as an OTIO timeline with one video track."""
    shots = edit.get("shots")
    if not shots:
        raise EditError("the edit holds no shots (empty sequence)")
    fps = float(edit.get("fps", 24))
    timeline = otio.schema.Timeline(name=str(edit.get("name", "previs")))
    timeline.global_start_time = otio.opentime.RationalTime(0, fps)
    track = otio.schema.Track(name="Oyster previs", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for i, shot in enumerate(shots):
        name, take, frames, start, end = _shot_fields(shot, i)
        duration = end - start + 1
        available = otio.opentime.TimeRange(otio.opentime.RationalTime(start, fps),
                                             otio.opentime.RationalTime(duration, fps))
        media = otio.schema.ImageSequenceReference(
            target_url_base=frames.resolve().as_uri() + "/", name_prefix="", name_suffix=".png",
            start_frame=start, frame_step=1, rate=fps, frame_zero_padding=4, available_range=available)
        clip = otio.schema.Clip(name=f"{name} {take}", media_reference=media, source_range=available)
        clip.metadata["oyster"] = {"shot": name, "take": take, "notes": shot.get("notes", ""),
                                   "camera": shot.get("camera", {})}
        track.append(clip)
    return timeline


def _write_atomic(path: Path, write: callable) -> None:
    partial = path.with_name(path.name + ".partial" + path.suffix)
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_editorial(edit: dict, out: Path) -> tuple[Path, Path]:
    """Write `<name>.otio` and `<name>.edl` into `out`; returns their paths."""
    timeline = build_timeline(edit)
    out.mkdir(parents=True, exist_ok=True)
    stem = sanitise_name(timeline.name, fallback="previs")
    otio_path, edl_path = out / f"{stem}.otio", out / f"{stem}.edl"
    _write_atomic(otio_path, lambda p: otio.adapters.write_to_file(timeline, str(p), adapter_name="otio_json"))
    _write_atomic(edl_path, lambda p: otio.adapters.write_to_file(timeline, str(p), adapter_name="cmx_3600"))
    return otio_path, edl_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--edit", type=Path, required=True, help="edit.json written by the extension")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .otio and .edl")


def run(args: argparse.Namespace) -> int:
    try:
        edit = json.loads(args.edit.read_text())
        paths = write_editorial(edit, args.out)
    except (OSError, json.JSONDecodeError, EditError) as error:
        print(f"editorial: {error}")
        return 2
    for path in paths:
        print(path)
    return 0
