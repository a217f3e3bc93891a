"""What the panel knows about the model runtime: one small, thread-safe status object (no bpy).

The runtime session (runtime_session.py) reports here with `set_starting`,
`set_ready` and `set_error`, also from the connection's background threads;
the panel and the operators' polls only read. The bpy side (`ui.py`) redraws
the panel from a timer when `version` changes.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

ABSENT, STARTING, READY, ERROR = "ABSENT", "STARTING", "READY", "ERROR"
NO_RUNTIME = "no runtime running: press Start Runtime (or Generate)"


@dataclass(frozen=True)
class Snapshot:
    """The status at one moment, read in one piece."""

    state: str
    message: str
    """One line for the panel."""
    version: int
    """Grows with every change; the panel redraws when it moves."""


class RuntimeStatus:
    """The runtime as the extension sees it; starts ABSENT until a session reports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = Snapshot(ABSENT, NO_RUNTIME, 0)

    def _set(self, state: str, message: str) -> None:
        with self._lock:
            self._snapshot = Snapshot(state, message, self._snapshot.version + 1)

    def set_absent(self, message: str = NO_RUNTIME) -> None:
        self._set(ABSENT, message)

    def set_starting(self, message: str) -> None:
        self._set(STARTING, message)

    def set_ready(self, message: str) -> None:
        self._set(READY, message)

    def set_error(self, message: str) -> None:
        self._set(ERROR, message)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot


STATUS = RuntimeStatus()
"""The one status of this Blender session."""
