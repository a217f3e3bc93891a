"""Continue a take from frame N: reuse its frames before N, resume the model from its state there.

While a take is generated, the warm worker keeps a snapshot of the session every
SNAPSHOT_EVERY frames (`StateStore`, in memory, for the most recent takes). A
continuation request names the parent take and the scene frame N from which its
camera path or notes change. The new take gets the parent's frames before N
copied bit for bit, the session is restored from the nearest snapshot at or
before N, the few frames between that snapshot and N are replayed (their
pixels are the parent's, only the state matters), and generation goes on from N
with the new request. When the runtime no longer holds the parent's states (it
restarted, or the take is older than the store keeps), the take fails saying
that a full regeneration is needed.
"""
from __future__ import annotations

import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.request import RequestError, ShotRequest, resolve_path
from model_runtime.takes import read_take
from oyster_blender.naming import frame_file_name

SNAPSHOT_EVERY = 8
KEPT_TAKES = 4


class StateStore:
    """Session snapshots of the most recent takes, by take folder and frame index."""

    def __init__(self, kept_takes: int = KEPT_TAKES):
        self.kept_takes = kept_takes
        self._takes: OrderedDict[str, dict[int, Any]] = OrderedDict()

    def put(self, take_dir: Path, index: int, state: Any) -> None:
        key = str(take_dir.resolve())
        self._takes.setdefault(key, {})[index] = state
        self._takes.move_to_end(key)
        while len(self._takes) > self.kept_takes:
            self._takes.popitem(last=False)

    def nearest(self, take_dir: Path, index: int) -> tuple[int, Any] | None:
        """The latest snapshot at or before `index` (the state before that frame is generated)."""
        states = self._takes.get(str(take_dir.resolve()), {})
        usable = [i for i in states if i <= index]
        return (max(usable), states[max(usable)]) if usable else None


@dataclass
class Continuation:
    parent: Path
    start_index: int
    """Index of frame N in the track: frames before it are the parent's."""
    snapshot_index: int
    snapshot: Any


def _same_camera(a: dict, b: dict) -> bool:
    return np.allclose(a["c2w"], b["c2w"], atol=1e-6) and all(
        abs(a[k] - b[k]) < 1e-6 for k in ("fx", "fy", "cx", "cy"))


def plan(request: ShotRequest, take_dir: Path, states: StateStore | None) -> Continuation:
    """Check the request against its parent take and find the state to resume from."""
    spec = request.continue_from
    field = "continue_from"
    parent = resolve_path(spec.take, take_dir.parent.parent.parent, f"{field}.take")
    try:
        parent_request = ShotRequest.model_validate(read_take(parent)["request"])
    except (OSError, ValueError, KeyError) as error:
        raise RequestError(f"{field}.take", f"{str(parent)!r} is not a readable take: {error}") from None
    track, old = request.track, parent_request.track
    index = spec.frame - track["frame_start"]
    if track["frame_start"] != old["frame_start"] or not 0 < index < len(track["frames"]):
        raise RequestError(f"{field}.frame", f"frame {spec.frame} must lie after the first frame of both takes "
                                             f"(parent starts at {old['frame_start']}, this one at {track['frame_start']})")
    if index > len(old["frames"]):
        raise RequestError(f"{field}.frame", f"the parent take has only {len(old['frames'])} frames")
    for new, before in zip(track["frames"][:index], old["frames"][:index]):
        if not _same_camera(new, before):
            raise RequestError(f"{field}.frame", f"the camera changed at frame {new['frame']}, before frame "
                                                 f"{spec.frame}: continue from there or regenerate")
    for key in ("seed", "model", "notes"):
        if getattr(request, key) != getattr(parent_request, key):
            raise RequestError(field, f"{key} differs from the parent take's; only the camera after frame "
                                      f"{spec.frame} and notes events from it on may change")
    early_events = [e for e in request.notes_events if e.frame < spec.frame]
    if early_events != [e for e in parent_request.notes_events if e.frame < spec.frame]:
        raise RequestError(f"{field}.frame", f"notes events before frame {spec.frame} differ from the parent's")
    missing = [f["frame"] for f in old["frames"][:index] if not (parent / frame_file_name(f["frame"])).is_file()]
    if missing:
        raise RequestError(f"{field}.take", f"the parent take lacks frames {missing[:5]} before frame {spec.frame}")
    found = states.nearest(parent, index) if states is not None else None
    if found is None:
        raise RequestError(field, f"the runtime no longer holds the state of {parent.name} at frame {spec.frame} "
                                  "(it restarted or the take is too old): regenerate the take in full")
    return Continuation(parent, index, found[0], found[1])


def copy_parent_frames(continuation: Continuation, request: ShotRequest, take_dir: Path) -> list[Path]:
    """The parent's frames before N, copied bit for bit (temporary name, then rename)."""
    copied = []
    for frame in request.track["frames"][:continuation.start_index]:
        name = frame_file_name(frame["frame"])
        partial = take_dir / f".{name}.partial"
        shutil.copyfile(continuation.parent / name, partial)
        partial.replace(take_dir / name)
        copied.append(take_dir / name)
    return copied
