"""The one runtime connection of this Blender session: started from the panel, stopped with Blender.

`start(settings)` connects to the studio runtime of the preferences (`host:port`
and token) or starts a local one with the preferences' interpreter; an
extension running from a repository checkout falls back to that checkout's
`.venv` (settings.local_runtime). The connection's `tick` runs as a persistent
`bpy.app.timers` callback; the session hands the runtime's events to the take
tracker (progress for the panel) and to the timeline (strips grow as frames
arrive), and the runtime's answers to the tracker (refusals name the fields).

Generate does not need Start Runtime first: `submit` starts the session when
none runs and holds the request until the runtime is ready, so one click makes
a take (the first one waits for the runtime to start). Requests go out in the
order they were made. The session ends, and a runtime it started is stopped,
at `stop()`, when the extension is unregistered, and when Blender quits
(atexit; if Blender is killed, the runtime notices its parent is gone).
"""
from __future__ import annotations

import shutil
from collections import deque
from pathlib import Path
from typing import Any

import bpy

from . import timeline
from .core.errors import OysterError
from .preferences import runtime_settings
from .runtime_process import LocalRuntime, Reply, RuntimeConnection, remote_client
from .runtime_status import ERROR, STATUS
from .settings import RuntimeSettings, local_runtime, parse_address
from .take_progress import TakeTracker


def state_dir() -> Path:
    """The local runtime's queue, token and log (one runtime per user: its queue is kept across sessions)."""
    return Path.home() / ".oyster" / "blender-runtime"


class RuntimeSession:
    """A runtime connection with what the panel shows of it; the connection reports its state here."""

    def __init__(self, settings: RuntimeSettings):
        self._replies: deque[tuple[str, dict[str, Any], Path | None]] = deque()  # (action, request, scratch)
        self._waiting: list[tuple[dict[str, Any], Path | None]] = []  # sent before the runtime was ready
        self._ready = False
        if settings.address:
            parse_address(settings.address)
            self.connection = RuntimeConnection(self, self.on_event, self.on_reply,
                                                client=remote_client(settings.address, settings.token))
        else:
            python, root = local_runtime(settings)
            # A runtime Blender starts serves this user alone (loopback, a private token), so it may
            # write wherever the artist's output folder is: its output root is the file system's.
            # It loads the bundled model at start (the runtime's default); other models load on their first take.
            local = LocalRuntime(python, root, state_dir(), output_root=Path(Path.home().anchor))
            self.connection = RuntimeConnection(self, self.on_event, self.on_reply, local=local)
        self.tick = self.connection.tick
        """The `bpy.app.timers` callback (one bound method: timers are looked up by identity)."""
        bpy.app.timers.register(self.tick, first_interval=0.0, persistent=True)

    @property
    def running(self) -> bool:
        return not self.connection.stopped

    @property
    def models(self) -> list[str]:
        """The runtime's models, once connected."""
        return self.connection.models

    # ------------------------------------------------------------ StatusSink: the connection calls these from tick

    def set_starting(self, message: str) -> None:
        STATUS.set_starting(message)

    def set_ready(self, message: str) -> None:
        STATUS.set_ready(message)
        self._ready = True
        waiting, self._waiting = self._waiting, []
        for request, scratch in waiting:
            self._send(request, scratch)

    def set_error(self, message: str) -> None:
        STATUS.set_error(message)
        if not self._ready and self.connection.local is not None:  # the local runtime did not start
            self._drop_waiting(message)  # (a studio runtime is retried: its requests wait for it)

    # ------------------------------------------------------------ main thread

    def submit(self, request: dict[str, Any], scratch: Path | None = None) -> None:
        """Send a take request (or hold it until the runtime is ready); `scratch` is deleted once answered."""
        TAKES.sent(request)
        if self._ready:
            self._send(request, scratch)
        else:
            self._waiting.append((request, scratch))

    def _send(self, request: dict[str, Any], scratch: Path | None) -> None:
        self._replies.append(("submit", request, scratch))
        self.connection.submit(request)

    def _drop_waiting(self, reason: str) -> None:
        for request, scratch in self._waiting:
            TAKES.report(str(request.get("shot", "")), f"the take was not sent: {reason}")
            _remove(scratch)
        self._waiting.clear()

    def cancel(self, take_id: str) -> None:
        self._replies.append(("cancel", {"take_id": take_id}, None))
        self.connection.cancel(take_id)

    def on_event(self, event: dict[str, Any]) -> None:
        if TAKES.on_event(event) is None:
            return  # another project's take on a shared runtime
        timeline.on_runtime_event(event)

    def on_reply(self, reply: Reply) -> None:
        action, request, scratch = self._replies.popleft()  # calls are answered in the order they were made
        _remove(scratch)  # the runtime copied the first frame into the take (or refused it)
        if reply.error is None:
            return
        if action == "submit":
            TAKES.refused(str(request.get("shot", "")), str(reply.error))
        elif reply.error.status != 409:  # 409: the take had ended already, nothing to cancel
            TAKES.cancel_failed(request["take_id"], str(reply.error))

    def stop(self) -> None:
        if bpy.app.timers.is_registered(self.tick):
            bpy.app.timers.unregister(self.tick)
        self._drop_waiting("the runtime was stopped")
        self.connection.stop()
        for _action, _request, scratch in self._replies:
            _remove(scratch)
        self._replies.clear()


def _remove(scratch: Path | None) -> None:
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


TAKES = TakeTracker()
"""Takes of this Blender session, kept across runtime restarts (the panel shows how they ended)."""
_session: RuntimeSession | None = None


def current() -> RuntimeSession | None:
    """The running session, None when there is none (or its runtime ended)."""
    return _session if _session is not None and _session.running else None


def start(context: bpy.types.Context) -> RuntimeSession:
    """Start (or connect to) the runtime of the preferences; OysterError saying what to set up."""
    global _session
    if current() is not None:
        raise OysterError("the runtime is running already")
    stop()  # a session whose runtime ended: leave nothing of it behind
    _session = RuntimeSession(runtime_settings(context))
    return _session


def stop() -> None:
    """Stop the session and a runtime it started; the panel says no runtime runs."""
    global _session
    if _session is not None:
        session, _session = _session, None
        session.stop()
        STATUS.set_absent()


def submit(context: bpy.types.Context, request: dict[str, Any], scratch: Path | None = None) -> None:
    """Send a take request, starting the runtime first when none runs; returns at once."""
    session = current() or start(context)
    session.submit(request, scratch)


def unavailable_reason(context: bpy.types.Context) -> str | None:
    """Why a take cannot be sent now (the button's tooltip), None when it can (maybe starting a runtime)."""
    session = current()
    if session is not None:
        snap = STATUS.snapshot()
        return f"the runtime is not reachable: {snap.message}" if snap.state == ERROR else None
    settings = runtime_settings(context)
    try:
        if settings.address:
            parse_address(settings.address)
        else:
            local_runtime(settings)
    except OysterError as error:
        return str(error)
    return None


def register() -> None:
    TAKES.clear()


def unregister() -> None:
    stop()
    TAKES.clear()
