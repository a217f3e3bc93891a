"""Continue a take from frame N: reuse its frames before N, resume the model from its state there.

While a take is generated, the session is snapshotted every SNAPSHOT_EVERY frames:
in the warm worker's memory (`StateStore`, for the most recent takes) and, when the
request asks (`save_states`), beside the take as `states/NNNN.safetensors`, the
state before scene frame NNNN (model_runtime/takes/state_file.py), which outlives the
worker. A long take keeps at most MAX_STATES_PER_TAKE + 1 of them, evenly spread
(`snapshot_spacing` doubles and every other state goes), so a three-minute take's
states stay bounded in memory and on disk; the store also holds at most
STORE_BYTES in all, dropping the oldest takes first. A continuation request names
the parent take and the scene frame N from which its camera path or notes change. The new take gets the parent's frames
before N copied bit for bit, the session is restored from the nearest snapshot at
or before N (memory first, then disk), the few frames between that snapshot and N
are replayed (their pixels are the parent's, only the state matters), and
generation goes on from N with the new request. When no state is left, or the one
on disk was made by another model or checkpoint, the take fails saying that a full
regeneration is needed.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.models.interface import FrameGenerator, Session
from model_runtime.takes.folders import read_take
from model_runtime.takes.request import RequestError, ShotRequest, load_first_frame, resolve_path
from model_runtime.takes.state_file import StateFileError, read_state, write_state
from oyster_blender.core.naming import frame_file_name

SNAPSHOT_EVERY = 8
MAX_STATES_PER_TAKE = 32  # a 4,320-frame take keeps 17-33 states, 128-256 frames apart near its end
KEPT_TAKES = 4
STORE_BYTES = 2 * 1024 ** 3  # the warm worker's snapshots in all (a painter state is up to 48 MB)
STATES = "states"
REGENERATE = "regenerate the take in full"


def snapshot_spacing(index: int, limit: int = MAX_STATES_PER_TAKE) -> int:
    """Frames between a take's kept states once it has reached frame index `index`: SNAPSHOT_EVERY, doubled as
    often as needed for at most `limit` + 1 multiples of it in [0, index]."""
    spacing = SNAPSHOT_EVERY
    while index > spacing * limit:
        spacing *= 2
    return spacing


def _nbytes(value: Any) -> int:
    """Bytes of the arrays in a snapshot (numpy arrays and torch tensors, in dataclasses, dicts and sequences)."""
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    if dataclasses.is_dataclass(value):
        return sum(_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return 0


class StateStore:
    """Session snapshots of the most recent takes, in memory, by take folder and frame index: per take the
    multiples of `snapshot_spacing` of its latest index, in all at most `max_bytes` (oldest takes go first;
    the latest take stays whole)."""

    def __init__(self, kept_takes: int = KEPT_TAKES, max_bytes: int = STORE_BYTES):
        self.kept_takes, self.max_bytes = kept_takes, max_bytes
        self._takes: OrderedDict[str, dict[int, tuple[Any, int]]] = OrderedDict()

    def put(self, take_dir: Path, index: int, state: Any) -> None:
        key = str(take_dir.resolve())
        take = self._takes.setdefault(key, {})
        take[index] = (state, _nbytes(state))
        spacing = snapshot_spacing(max(take))
        for kept in [i for i in take if i % spacing]:
            del take[kept]
        self._takes.move_to_end(key)
        while len(self._takes) > self.kept_takes or (len(self._takes) > 1 and self.nbytes() > self.max_bytes):
            self._takes.popitem(last=False)

    def nbytes(self) -> int:
        return sum(size for take in self._takes.values() for _, size in take.values())

    def up_to(self, take_dir: Path, index: int) -> dict[int, Any]:
        """The snapshots at or before `index` (each is the state before that frame is generated)."""
        return {i: s for i, (s, _) in self._takes.get(str(take_dir.resolve()), {}).items() if i <= index}


def state_path(take_dir: Path, scene_frame: int) -> Path:
    """Where the state before `scene_frame` is kept on disk (named like the frame files)."""
    return take_dir / STATES / frame_file_name(scene_frame).replace(".png", ".safetensors")


def _identity(generator: FrameGenerator) -> dict[str, str]:
    """What made a state; a state only fits the same model with the same checkpoint (and so its config)."""
    return {"model": generator.name, "checkpoint_sha256": generator.checkpoint_sha256 or ""}


def keep_state(session: Session, index: int, request: ShotRequest, take_dir: Path, generator: FrameGenerator,
               states: StateStore | None) -> None:
    """Snapshot the session before frame `index` when it is due: in memory with `states`, on disk when the
    request asks for `save_states`."""
    spacing = snapshot_spacing(index)
    if index % spacing or (states is None and not request.save_states):
        return
    snapshot = session.snapshot()
    if states is not None:
        states.put(take_dir, index, snapshot)
    if request.save_states:
        frames = request.track["frames"]
        write_state(state_path(take_dir, frames[index]["frame"]), snapshot, _identity(generator))
        if spacing > SNAPSHOT_EVERY:  # the states between the new spacing's go (kept before it doubled)
            for dropped in range(spacing // 2, index, spacing):
                state_path(take_dir, frames[dropped]["frame"]).unlink(missing_ok=True)


@dataclass
class Continuation:
    parent: Path
    start_index: int
    """Index of frame N in the track: frames before it are the parent's."""
    snapshot_index: int
    snapshot: Any
    source: str
    """Where the state came from: "memory" (the warm worker) or "disk" (the parent's states folder)."""


def _same_camera(a: dict, b: dict) -> bool:
    return np.allclose(a["c2w"], b["c2w"], atol=1e-6) and all(
        abs(a[k] - b[k]) < 1e-6 for k in ("fx", "fy", "cx", "cy"))


def _same_first_frame(request: ShotRequest, take_dir: Path, parent_request: ShotRequest, parent: Path) -> bool:
    mine, theirs = load_first_frame(request, take_dir)[2:], load_first_frame(parent_request, parent)[2:]
    return all((a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
               for a, b in zip(mine, theirs))


def _disk_states(take_dir: Path, track: dict, index: int) -> dict[int, Path]:
    """The state files of a take at or before `index`, by index."""
    paths = {i: state_path(take_dir, f["frame"]) for i, f in enumerate(track["frames"][:index + 1])}
    return {i: path for i, path in paths.items() if path.is_file()}


def _read_checked(path: Path, parent: Path, scene_frame: int, generator: FrameGenerator) -> Any:
    """The snapshot in a state file, or the reason (naming the file) why a full regeneration is needed."""
    try:
        snapshot, metadata = read_state(path)
    except StateFileError as error:
        why = str(error) if REGENERATE in str(error) else f"{error}; {REGENERATE}"  # said once
        raise RequestError("continue_from", f"the state file {path.relative_to(parent.parent)} cannot be "
                                            f"used: {why}") from None
    made_by = {key: metadata.get(key) for key in ("model", "checkpoint_sha256")}
    if made_by != _identity(generator):
        def describe(who: dict) -> str:
            return f"{who['model']} (checkpoint sha256 {who['checkpoint_sha256'][:12] or 'none'})"
        raise RequestError("continue_from", f"the state of {parent.name} before frame {scene_frame} was made by "
                                            f"{describe(made_by)}, the runtime now runs "
                                            f"{describe(_identity(generator))}: {REGENERATE}")
    return snapshot


def plan(request: ShotRequest, take_dir: Path, states: StateStore | None, generator: FrameGenerator) -> Continuation:
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
    if not _same_first_frame(request, take_dir, parent_request, parent):
        raise RequestError("first_frame", "differs from the parent take's first frame; only the camera after frame "
                                          f"{spec.frame} and notes events from it on may change")
    missing = [f["frame"] for f in old["frames"][:index] if not (parent / frame_file_name(f["frame"])).is_file()]
    if missing:
        raise RequestError(f"{field}.take", f"the parent take lacks frames {missing[:5]} before frame {spec.frame}")

    in_memory = states.up_to(parent, index) if states is not None else {}
    on_disk = _disk_states(parent, old, index)
    best_memory, best_disk = max(in_memory, default=-1), max(on_disk, default=-1)
    if best_memory < 0 and best_disk < 0:
        raise RequestError(field, f"the runtime holds no state of {parent.name} at or before frame {spec.frame} "
                                  f"(it restarted, or the take is older than the {KEPT_TAKES} it keeps in memory) and "
                                  f"the take kept none on disk (ask for save_states): {REGENERATE}")
    if best_memory >= best_disk:
        return Continuation(parent, index, best_memory, in_memory[best_memory], "memory")
    snapshot = _read_checked(on_disk[best_disk], parent, old["frames"][best_disk]["frame"], generator)
    return Continuation(parent, index, best_disk, snapshot, "disk")


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


def inherit_states(continuation: Continuation, request: ShotRequest, take_dir: Path, generator: FrameGenerator,
                   states: StateStore | None) -> None:
    """The parent's states before frame N are the new take's too (its past is the parent's), so that a later
    continuation of the new take from before N finds them: in memory, and on disk when asked (hard links)."""
    parent, start = continuation.parent, continuation.start_index
    in_memory = states.up_to(parent, start - 1) if states is not None else {}
    if continuation.snapshot_index < start:
        in_memory[continuation.snapshot_index] = continuation.snapshot
    if states is not None:
        for index, snapshot in in_memory.items():
            states.put(take_dir, index, snapshot)
    if not request.save_states:
        return
    frames = request.track["frames"]
    on_disk = _disk_states(parent, request.track, start - 1)
    for index in sorted(set(in_memory) | set(on_disk)):
        target = state_path(take_dir, frames[index]["frame"])
        if index in on_disk:
            target.parent.mkdir(exist_ok=True)
            _link_or_copy(on_disk[index], target)
        else:
            write_state(target, in_memory[index], _identity(generator))


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link (no space, no time) where the file system allows one, else a copy; atomic either way."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        try:
            os.link(source, partial)
        except OSError:
            shutil.copyfile(source, partial)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
