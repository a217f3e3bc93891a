"""A shot's takes on disk, for the take browser (no bpy): read take.json, move takes to the trash.

Deleting a take never loses it: the folder moves to `<shot>/.trash/take_NNN` (the
number stays taken, see naming.next_take_number), from where it can be moved back.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import OysterError
from .naming import TRASH_FOLDER, frame_file_name, take_numbers, take_folder_name

TAKE_JSON = "take.json"


@dataclass
class TakeInfo:
    path: Path
    name: str
    status: str
    notes: str
    seed: int
    model: str
    frames_done: int
    frames_total: int
    first_frame: Path | None
    """The take's first frame on disk (its thumbnail), if any."""


def read_take_info(take_dir: Path) -> TakeInfo:
    """What the browser shows of a take; a take.json that cannot be read shows as status 'unreadable'."""
    try:
        record = json.loads((take_dir / TAKE_JSON).read_text())
        request = record["request"]
        frames = request["track"]["frames"]
        start = request["track"]["frame_start"]
    except (OSError, ValueError, KeyError, TypeError):
        return TakeInfo(take_dir, take_dir.name, "unreadable", "", 0, "", 0, 0, None)
    done = sum(1 for i in range(len(frames)) if (take_dir / frame_file_name(start + i)).is_file())
    first = take_dir / frame_file_name(start)
    return TakeInfo(take_dir, take_dir.name, str(record.get("status", "unknown")), str(request.get("notes", "")),
                    int(record.get("seed", request.get("seed", 0))), str(record.get("model", "")), done, len(frames),
                    first if first.is_file() else None)


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
