"""Take folders on disk: `<output>/oyster/<shot>/take_NNN/` with `NNNN.png` frames and `take.json`.

Every file is written to a hidden temporary name in the same folder and renamed,
so a reader (Blender's sequencer, a render farm) never sees half a PNG. A take
number is claimed with `mkdir`, which fails if the folder exists, so two writers
never share a take; numbers come from `oyster_blender.core.naming` and are never reused.
The take's first-frame inputs are copied into `inputs/`, so take.json plus the
folder are enough to regenerate it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from model_runtime import __version__
from model_runtime.painter.passes import pass_files
from oyster_blender.core.naming import frame_file_name, next_take_number, sanitise_name, take_folder_name

TAKE_JSON = "take.json"
TAKE_FORMAT_VERSION = 1
INPUTS = "inputs"
# Statuses after which nothing writes to the take again.
FINAL_STATUSES = ("done", "failed", "cancelled", "interrupted")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a hidden temporary file and a rename; the temporary never lingers."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_json(path: Path, record: dict[str, Any]) -> None:
    write_atomic(path, (json.dumps(record, indent=1) + "\n").encode())


def read_take(take_dir: Path) -> dict[str, Any]:
    return json.loads((take_dir / TAKE_JSON).read_text())


def update_take(take_dir: Path, **changes: Any) -> dict[str, Any]:
    """Merge `changes` into take.json (`timings` is merged key by key) and rewrite it atomically."""
    record = read_take(take_dir)
    timings = changes.pop("timings", None)
    record.update(changes)
    if timings:
        record["timings"].update(timings)
    write_json(take_dir / TAKE_JSON, record)
    return record


def write_frame(take_dir: Path, frame: int, rgb: np.ndarray) -> Path:
    """Write one uint8 (H, W, 3) RGB frame as `NNNN.png` (scene frame number)."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"could not encode frame {frame} as PNG")
    path = take_dir / frame_file_name(frame)
    write_atomic(path, png.tobytes())
    return path


@dataclass(frozen=True)
class Take:
    number: int
    path: Path


def claim_take(output: Path, shot: str) -> Take:
    """Create the next free `take_NNN` folder of a shot (mkdir is the lock between writers)."""
    shot_dir = output / "oyster" / sanitise_name(shot)
    shot_dir.mkdir(parents=True, exist_ok=True)
    number = next_take_number(shot_dir)
    while True:
        path = shot_dir / take_folder_name(number)
        try:
            path.mkdir()
            return Take(number, path)
        except FileExistsError:
            number += 1


def _copy_input(source: Path, take_dir: Path, stem: str) -> str:
    relative = f"{INPUTS}/{stem}{source.suffix.lower()}"
    write_atomic(take_dir / relative, source.read_bytes())
    return relative


def create_take(output: Path, request: dict[str, Any], rgb_path: Path | None, depth_path: Path | None,
                take_id: str | None = None, passes: Path | None = None, blockout: Path | None = None) -> Take:
    """Claim a take folder, copy the inputs into it (first frame, passes, blockout .blend) and write
    take.json (status queued).

    `request` is the validated request as JSON; take.json keeps it with the input paths pointing at the
    copies (relative to the take folder), so a take regenerates from its own folder.
    """
    take = claim_take(output, request["shot"])
    request = dict(request, output=str(output))
    if rgb_path is not None or passes is not None or blockout is not None:
        (take.path / INPUTS).mkdir()
    if passes is not None:
        (take.path / INPUTS / "passes").mkdir()
        for source in pass_files(passes, request["passes"]["frames"]):
            write_atomic(take.path / INPUTS / "passes" / source.name, source.read_bytes())
        request["passes"] = dict(request["passes"], folder=f"{INPUTS}/passes")
    if blockout is not None:
        request["blockout"] = dict(request["blockout"], blend=_copy_input(blockout, take.path, "blockout"))
    if rgb_path is not None:
        first = {"rgb": _copy_input(rgb_path, take.path, "first_rgb"), "depth": None}
        if depth_path is not None:
            first["depth"] = _copy_input(depth_path, take.path, "first_depth")
        request["first_frame"] = first
    write_json(take.path / TAKE_JSON, {
        "format": "oyster-take",
        "version": TAKE_FORMAT_VERSION,
        "id": take_id,
        "shot": request["shot"],
        "take": take.number,
        "status": "queued",
        "error": None,
        "request": request,
        "seed": request["seed"],
        "model": request["model"],
        "checkpoint_sha256": None,
        "device": None,
        "runtime_version": __version__,
        "frames_total": len(request["track"]["frames"]),
        "timings": {"submitted": now_iso(), "started": None, "finished": None,
                    "model_load_seconds": None, "first_frame_seconds": None, "total_seconds": None},
        "frames": [],
    })
    return take

