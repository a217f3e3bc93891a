"""A shot's takes on disk, for the take browser and the timeline (no bpy): read take.json,
build a request to regenerate a take, move takes to the trash.

Deleting a take never loses it: the folder moves to `<shot>/.trash/take_NNN` (the
number stays taken, see naming.next_take_number), from where it can be moved back.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.errors import OysterError
from .core.naming import TRASH_FOLDER, frame_file_name, take_numbers, take_folder_name

TAKE_JSON = "take.json"
MAX_SEED = 2**31 - 1  # a new seed stays within what every model's RNG takes


@dataclass(frozen=True)
class TakeRange:
    """Where a take sits on the timeline: its shot (the artist's name), its scene frames and frame size."""
    shot: str
    frame_start: int
    frame_end: int
    width: int
    height: int


def read_take_range(take_dir: Path) -> TakeRange | None:
    """The take's shot and frame range from its take.json; None while it cannot be read."""
    try:
        record = json.loads((take_dir / TAKE_JSON).read_text())
        track = record["request"]["track"]
        return TakeRange(str(record["request"]["shot"]), int(track["frame_start"]), int(track["frame_end"]),
                         int(track["width"]), int(track["height"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Continued:
    """A take continued from another (take.json's `continued_from`): which frames are whose, and the cost."""
    parent: str
    """The parent take's folder name."""
    frame: int
    """The first scene frame made anew; the frames before it are the parent's, bit for bit."""
    reused_frames: int
    replayed_frames: int
    """Frames the model stepped through again, from its nearest stored state, to reach `frame`."""
    full_take: str
    """The ancestor that was generated in full (the parent, unless it was itself continued)."""
    full_seconds: float | None
    """That take's generation time, to set this one's against; None when it cannot be read."""


@dataclass(frozen=True)
class TakeInfo:
    """What the browser shows of a take."""
    path: Path
    name: str
    status: str
    """The runtime's status (queued, running, done, failed, ...), or 'unreadable'."""
    error: str
    """Why the take failed or was interrupted; empty otherwise."""
    notes: str
    seed: int
    model: str
    frames_done: int
    frames_total: int
    first_frame: Path | None
    """The take's first frame on disk (its thumbnail), if any."""
    frame_start: int = 0
    seconds: float | None = None
    """How long the take took to generate (take.json's `timings.total_seconds`), once it ended."""
    continued: Continued | None = None


MAX_ANCESTORS = 100  # a chain of continuations longer than this is not followed to its full take


def _record(take_dir: Path) -> dict[str, Any]:
    return json.loads((take_dir / TAKE_JSON).read_text())


def _continued(record: dict[str, Any]) -> Continued | None:
    """The `continued_from` of a take, with the full take it comes from, followed through the parents."""
    spec = record.get("continued_from")
    if not spec:
        return None
    parent = ancestor = Path(spec["take"])
    full_seconds = None
    for _ in range(MAX_ANCESTORS):
        try:
            ancestor_record = _record(ancestor)
        except (OSError, ValueError):
            break
        if not ancestor_record.get("continued_from"):
            full_seconds = (ancestor_record.get("timings") or {}).get("total_seconds")
            break
        ancestor = Path(ancestor_record["continued_from"]["take"])
    return Continued(parent.name, int(spec["frame"]), int(spec["reused_frames"]), int(spec["replayed_frames"]),
                     ancestor.name, full_seconds)


def read_take_info(take_dir: Path) -> TakeInfo:
    """What the browser shows of a take; a take.json that cannot be read shows as status 'unreadable'."""
    try:
        record = _record(take_dir)
        request = record["request"]
        frames = request["track"]["frames"]
        start = request["track"]["frame_start"]
        continued = _continued(record)
    except (OSError, ValueError, KeyError, TypeError):
        return TakeInfo(take_dir, take_dir.name, "unreadable", f"{TAKE_JSON} cannot be read", "", 0, "", 0, 0, None)
    done = sum(1 for i in range(len(frames)) if (take_dir / frame_file_name(start + i)).is_file())
    first = take_dir / frame_file_name(start)
    return TakeInfo(take_dir, take_dir.name, str(record.get("status", "unknown")), str(record.get("error") or ""),
                    str(request.get("notes", "")), int(record.get("seed", request.get("seed", 0))),
                    str(record.get("model", "")), done, len(frames), first if first.is_file() else None,
                    int(start), (record.get("timings") or {}).get("total_seconds"), continued)


def reuse_lines(take: TakeInfo) -> list[str]:
    """What the browser says of a continued take: which frames are reused and which new, and how long it
    took against the full take it comes from; nothing for a take generated in full."""
    continued = take.continued
    if continued is None:
        return []
    end = take.frame_start + take.frames_total - 1
    lines = [f"from {continued.parent} at frame {continued.frame}: frames {take.frame_start}-{continued.frame - 1} "
             f"reused, {continued.frame}-{end} new ({continued.replayed_frames} replayed)"]
    if take.seconds is not None and continued.full_seconds:
        lines.append(f"{take.seconds:.1f} s against {continued.full_seconds:.1f} s for {continued.full_take} "
                     f"in full ({take.seconds / continued.full_seconds:.2f}x)")
    return lines


def list_takes(shot_dir: Path) -> list[TakeInfo]:
    """The shot's takes (trash excluded), newest first."""
    numbers = [n for n in take_numbers(shot_dir) if (shot_dir / take_folder_name(n)).is_dir()]
    return [read_take_info(shot_dir / take_folder_name(n)) for n in sorted(numbers, reverse=True)]


def trash_take(take_dir: Path) -> Path:
    """Move a take into its shot's trash folder; returns where it went."""
    take_dir = Path(take_dir)
    if not (take_dir / TAKE_JSON).is_file():
        raise OysterError(f"{take_dir} is not a take folder (no {TAKE_JSON})")
    trash = take_dir.parent / TRASH_FOLDER
    trash.mkdir(exist_ok=True)
    target = trash / take_dir.name
    if target.exists():
        raise OysterError(f"the trash already holds {target}; move it away first")
    os.replace(take_dir, target)
    return target


def regenerate_request(take_dir: Path, new_seed: bool = False) -> dict[str, Any]:
    """The request that made a take, to submit again: the same seed (the same frames) or a new random one.

    First-frame inputs, stored relative to the take folder, become absolute paths to
    the take's copies, so the runtime finds them whatever its working folder.
    """
    try:
        request = dict(json.loads((take_dir / TAKE_JSON).read_text())["request"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OysterError(f"cannot read the request of {take_dir}: {error}") from None
    first = request.get("first_frame")
    if first:
        request["first_frame"] = {key: None if value is None else str((take_dir / value).resolve())
                                  for key, value in first.items()}
    if new_seed:
        request["seed"] = secrets.randbelow(MAX_SEED + 1)
    return request


def continue_request(parent: Path, request: dict[str, Any], frame: int) -> dict[str, Any]:
    """The shot's request as it is now (its camera path and notes events) continuing the take `parent` from
    scene `frame` (docs/continuation.md): seed, model and first frame are the parent's, as a continuation
    keeps them; the runtime refuses other changes (base notes, the camera before `frame`) naming them."""
    made = regenerate_request(parent)
    continued = {key: value for key, value in request.items() if key != "first_frame"}
    continued["seed"] = made["seed"]
    continued["model"] = made.get("model", continued.get("model"))
    if made.get("first_frame"):
        continued["first_frame"] = made["first_frame"]
    continued["continue_from"] = {"take": str(parent), "frame": frame}
    return {key: value for key, value in continued.items() if value is not None}
