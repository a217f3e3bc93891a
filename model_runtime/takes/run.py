"""Run one take: read its request from take.json, drive a generator frame by frame, write the frames.

The server's worker and `python -m model_runtime generate` both call `run_take`,
so a take made through the server and one made from a script are made the same
way. Failures never raise: they end the take with status `failed` and a reason
that names what went wrong (bad input, the disk, the model), and the frames
written so far stay.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from model_runtime.models.interface import FrameGenerator, GeneratorInputError, ShotInput
from model_runtime.painter.ahead import DrawnPast, reaching
from model_runtime.painter.blend_shot import blend_shot
from model_runtime.painter.passes import FolderPasses, PassesError, read_passes
from model_runtime.takes.continuation import StateStore, copy_parent_frames, inherit_states, keep_state, plan
from model_runtime.takes.folders import INPUTS, now_iso, read_take, update_take, write_frame
from model_runtime.takes.request import RequestError, ShotRequest, blockout_file, load_first_frame, passes_folder


@dataclass
class FrameWritten:
    """One frame on disk; `index` counts from 0 within the take, `frame` is the scene frame."""

    frame: int
    path: Path
    index: int
    total: int
    seconds: float
    """Time the generator took for this frame (writing excluded)."""
    write_seconds: float

    def as_json(self) -> dict[str, Any]:
        return {"frame": self.frame, "file": self.path.name, "seconds": round(self.seconds, 6),
                "write_seconds": round(self.write_seconds, 6)}


@dataclass
class TakeResult:
    status: str
    """done, failed or cancelled."""
    error: str | None = None
    frames: list[FrameWritten] = field(default_factory=list)


def device_of(generator: FrameGenerator) -> str:
    """Where a generator runs, as take.json and the server write it: `cpu` or `cuda:N` (the numpy baselines: cpu)."""
    device = str(getattr(generator, "device", "cpu"))
    return "cuda:0" if device == "cuda" else device


def _describe(error: BaseException) -> str:
    if isinstance(error, (GeneratorInputError, RequestError, PassesError)):
        return str(error)
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"could not write the take: {error.strerror or error}{where}"
    return f"the generator failed: {type(error).__name__}: {error}"


def blockout_passes(request: ShotRequest, take_dir: Path) -> FolderPasses | DrawnPast | None:
    """The take's passes: its copied passes folder, or rendered once from its copied blockout .blend into
    `inputs/passes/` (a regenerated take renders them again from the same file); drawn past the frame where
    the blockout's triangles came with them (painter/ahead.py)."""
    track = request.track
    frames = [f["frame"] for f in track["frames"]]
    folder = passes_folder(request, take_dir)
    blend = blockout_file(request, take_dir)
    if blend is not None:
        folder = take_dir / INPUTS / "passes"
        if not folder.is_dir():
            scratch = take_dir / INPUTS / ".render"
            blend_shot(blend, scratch, scene=request.blockout.scene, camera=request.blockout.camera,
                       frames=f"{frames[0]}-{frames[-1]}", size=f"{track['width']}x{track['height']}",
                       passes_only=True)
            (scratch / "passes").rename(folder)
            scratch.rmdir()
        read_passes(folder, frames, track["width"], track["height"])
    return None if folder is None else reaching(FolderPasses(folder, frames, track["width"], track["height"]), track)


def run_take(generator: FrameGenerator, take_dir: Path,
             on_frame: Callable[[FrameWritten], None] = lambda written: None,
             cancelled: Callable[[], bool] = lambda: False,
             model_load_seconds: float | None = None, states: StateStore | None = None) -> TakeResult:
    """Generate the take described by `take_dir/take.json` into that folder.

    A snapshot of the session is kept every few frames, in `states` (memory) and, when the request asks,
    on disk beside the take; a request that continues an earlier take resumes from that take's state
    (model_runtime/takes/continuation.py).
    """
    result = TakeResult("failed")
    started = time.perf_counter()
    first_frame_seconds = None  # from the start of the take to its first frame on disk
    try:
        request = ShotRequest.model_validate(read_take(take_dir)["request"])
        update_take(take_dir, status="running", device=device_of(generator),
                    checkpoint_sha256=generator.checkpoint_sha256,
                    timings={"started": now_iso(), "model_load_seconds": model_load_seconds})
        _, _, first_rgb, first_depth = load_first_frame(request, take_dir)
        shot = ShotInput(notes=request.notes, track=request.track, seed=request.seed,
                         first_rgb=first_rgb, first_depth=first_depth,
                         notes_events=[(e.frame, e.notes) for e in request.notes_events],
                         passes=blockout_passes(request, take_dir))
        session = generator.start(shot)
        frames = request.track["frames"]
        size = (request.track["height"], request.track["width"], 3)
        first_index = 0
        if request.continue_from is not None:
            continuation = plan(request, take_dir, states, generator)
            copy_parent_frames(continuation, request, take_dir)
            inherit_states(continuation, request, take_dir, generator, states)
            session.restore(continuation.snapshot)
            for _ in range(continuation.snapshot_index, continuation.start_index):
                session.step()  # the parent's frames: only the state they lead to matters
            first_index = continuation.start_index
            update_take(take_dir, continued_from={
                "take": str(continuation.parent), "frame": request.continue_from.frame,
                "reused_frames": continuation.start_index,
                "replayed_frames": continuation.start_index - continuation.snapshot_index,
                "state_from": continuation.source})
        for index, track_frame in enumerate(frames):
            if index < first_index:
                continue
            keep_state(session, index, request, take_dir, generator, states)
            if cancelled():
                result.status = "cancelled"
                break
            tick = time.perf_counter()
            rgb = session.step()
            if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.shape != size:
                raise TypeError(f"frame {track_frame['frame']} is not uint8 {size}")
            written = time.perf_counter()
            path = write_frame(take_dir, track_frame["frame"], rgb)
            frame = FrameWritten(track_frame["frame"], path, index, len(frames),
                                 written - tick, time.perf_counter() - written)
            result.frames.append(frame)
            if first_frame_seconds is None:
                first_frame_seconds = round(time.perf_counter() - started, 6)
            on_frame(frame)
        else:
            result.status = "done"
    except Exception as error:  # noqa: BLE001 - any failure ends this take, never the caller
        result.status, result.error = "failed", _describe(error)
    total = time.perf_counter() - started
    try:
        update_take(take_dir, status=result.status, error=result.error,
                    frames=[f.as_json() for f in result.frames],
                    timings={"finished": now_iso(), "total_seconds": round(total, 6),
                             "first_frame_seconds": first_frame_seconds})
    except (OSError, ValueError) as error:  # a full disk may refuse take.json too; the caller still gets the outcome
        if result.status != "failed":
            result.status, result.error = "failed", _describe(error)
    return result
