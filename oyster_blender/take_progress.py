"""Takes in flight as the panel shows them, from the runtime's events (no bpy).

The runtime connection hands every event (docs/runtime_api.md, "Events") to
`TakeTracker.on_event` on the main thread. Only takes written below an output
folder this Blender sent takes to are tracked, so another artist's takes on a
shared studio runtime do not show up in this panel. The tracker also keeps the
last problem per shot: a request the runtime refused (with the fields to fix)
or a take that failed, was interrupted or cancelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.naming import inside

IN_FLIGHT = ("queued", "running")
_STATE_OF_EVENT = {"queued": "queued", "started": "running", "frame": "running", "done": "done",
                   "failed": "failed", "cancelled": "cancelled", "interrupted": "interrupted"}


@dataclass
class TakeProgress:
    """One take of this session, as its events told."""

    take_id: str
    shot: str
    take_dir: Path
    state: str = "queued"
    """queued, running, done, failed, cancelled or interrupted."""
    frames_done: int = 0
    frames_total: int = 0
    reason: str = ""
    """Why the take failed or was interrupted."""

    @property
    def name(self) -> str:
        return self.take_dir.name

    @property
    def fraction(self) -> float:
        return self.frames_done / self.frames_total if self.frames_total else 0.0

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT


@dataclass
class TakeTracker:
    """Takes and problems per shot name, for the panel and the Cancel operator."""

    takes: dict[str, TakeProgress] = field(default_factory=dict)
    """By runtime take id, in the order they were queued."""
    problems: dict[str, str] = field(default_factory=dict)
    """By shot name: the last thing that went wrong, shown until the shot's next request is sent."""
    roots: set[Path] = field(default_factory=set)
    """Output folders this session sent takes to."""
    version: int = 0
    """Grows with every change; the panel redraws when it moves."""

    def clear(self) -> None:
        self.takes.clear()
        self.problems.clear()
        self.roots.clear()
        self.version += 1

    def sent(self, request: dict[str, Any]) -> None:
        """A request is on its way: its output folder's takes are ours; the shot's old problem is moot."""
        if request.get("output"):
            self.roots.add(Path(request["output"]))
        self.problems.pop(str(request.get("shot", "")), None)
        self.version += 1

    def report(self, shot: str, message: str) -> None:
        """A problem of the shot's takes for the panel."""
        self.problems[shot] = message
        self.version += 1

    def refused(self, shot: str, message: str) -> None:
        self.report(shot, f"the runtime refused the take: {message}")

    def cancel_failed(self, take_id: str, message: str) -> None:
        take = self.takes.get(take_id)
        if take is not None:
            self.report(take.shot, f"could not cancel {take.name}: {message}")

    def on_event(self, event: dict[str, Any]) -> TakeProgress | None:
        """Update the event's take; returns it, or None for a take that is not ours."""
        kind, take_id, data = event.get("type"), str(event.get("take_id", "")), event.get("data") or {}
        take = self.takes.get(take_id)
        if kind == "queued" and take is None:
            take_dir = Path(data.get("take_dir", ""))
            if not any(inside(root, take_dir) for root in self.roots):
                return None
            take = self.takes[take_id] = TakeProgress(take_id, str(data.get("shot", "")), take_dir,
                                                      frames_total=int(data.get("frames_total", 0)))
        if take is None or kind not in _STATE_OF_EVENT:
            return take
        self.version += 1
        take.state = _STATE_OF_EVENT[kind]
        if kind == "frame":
            take.frames_done = int(data.get("index", take.frames_done)) + 1
            take.frames_total = int(data.get("total", take.frames_total))
        elif kind in ("failed", "interrupted"):
            take.reason = str(data.get("reason", ""))
            self.problems[take.shot] = f"{take.name} {kind}: {take.reason}"
        elif kind == "cancelled":
            self.problems[take.shot] = f"{take.name} cancelled after {take.frames_done} of {take.frames_total} frames"
        return take

    def of_shot(self, shot: str) -> list[TakeProgress]:
        """The shot's takes of this session, oldest first."""
        return [take for take in self.takes.values() if take.shot == shot]

    def in_flight(self, shot: str) -> list[TakeProgress]:
        return [take for take in self.of_shot(shot) if take.in_flight]
