"""What the panel knows about the model runtime: one small, thread-safe status object (no bpy).

The runtime connection (client.py, runtime_process.py) runs partly on background
threads; it reports here with `set_starting`, `set_ready` and `set_error`, and
the panel and the Generate operator's poll only read. `ready` carries a
`submit(request) -> None` callable that must return at once (the connection
does the HTTP call off the main thread), so Generate never blocks Blender.
The bpy side (`ui.py`) redraws the panel from a timer when `version` changes.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

Submit = Callable[[dict[str, Any]], None]

ABSENT, STARTING, READY, ERROR = "ABSENT", "STARTING", "READY", "ERROR"


@dataclass(frozen=True)
class Snapshot:
    """The status at one moment, read in one piece."""

    state: str
    message: str
    """One line for the panel."""
    version: int
    """Grows with every change; the panel redraws when it moves."""
    submit: Submit | None = None


class RuntimeStatus:
    """The runtime as the extension sees it; starts ABSENT until a connection reports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = Snapshot(ABSENT, "no runtime: set one up in the add-on preferences", 0)

    def _set(self, state: str, message: str, submit: Submit | None = None) -> None:
        with self._lock:
            self._snapshot = Snapshot(state, message, self._snapshot.version + 1, submit)

    def set_absent(self, message: str = "no runtime: set one up in the add-on preferences") -> None:
        self._set(ABSENT, message)

    def set_starting(self, message: str) -> None:
        self._set(STARTING, message)

    def set_ready(self, message: str, submit: Submit) -> None:
        self._set(READY, message, submit)

    def set_error(self, message: str) -> None:
        self._set(ERROR, message)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def unavailable_reason(self) -> str | None:
        """Why a take cannot be submitted now, or None when it can."""
        snap = self.snapshot()
        if snap.state == READY and snap.submit is not None:
            return None
        if snap.state == STARTING:
            return f"the runtime is starting: {snap.message}"
        if snap.state == ERROR:
            return f"the runtime is not reachable: {snap.message}"
        return snap.message


STATUS = RuntimeStatus()
"""The one status of this Blender session."""
