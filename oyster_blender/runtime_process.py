"""Start and stop a local runtime from Blender (stdlib only), or describe a remote one.

Locally the extension runs `<python> -m model_runtime serve --port 0 --parent-pid
<Blender's pid>` with the interpreter named in the preferences, a fresh random
token in a private file, and reads the one ready line (the address) on a thread,
so Blender never waits for the runtime to import torch. `stop()` ends it when
Blender quits (also registered with atexit); if Blender dies instead, the
runtime notices the parent is gone and exits by itself.

`RuntimeConnection` is what the extension holds: its `tick` is the
`bpy.app.timers` callback, which only polls and drains queues, while every HTTP
call runs on background threads.
"""
from __future__ import annotations

import atexit
import os
import queue
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from .client import EventFollower, RuntimeClient, RuntimeClientError
from .core.errors import OysterError


class RuntimeStartError(OysterError):
    """The local runtime could not start; the message carries the end of its log."""


class LocalRuntime:
    """A runtime process this Blender started; poll `ready()` from a timer until it has an address."""

    def __init__(self, python: str, runtime_root: Path, state_dir: Path, output_root: Path | None = None,
                 preload: list[str] | None = None):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_urlsafe(32)
        token_file = state_dir / "token"
        # Private to this user: anyone who can read the token can drive the runtime.
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.token)
        self.log_path = state_dir / "runtime.log"
        command = [python, "-m", "model_runtime", "serve", "--port", "0", "--state-dir", str(state_dir),
                   "--token-file", str(token_file), "--parent-pid", str(os.getpid())]
        if output_root is not None:
            command += ["--output-root", str(output_root)]
        if preload is not None:
            command += ["--preload", *preload]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(runtime_root), os.environ.get("PYTHONPATH"))
                                                          if p))
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                                cwd=runtime_root, env=env)
            except OSError as error:
                raise RuntimeStartError(f"cannot run the runtime's Python {python!r}: {error}") from None
        self.url: str | None = None
        self._reader = threading.Thread(target=self._read_ready_line, daemon=True, name="oyster-runtime-ready")
        self._reader.start()
        atexit.register(self.stop)

    def _read_ready_line(self) -> None:
        line = self.process.stdout.readline().decode("utf-8", "replace").strip()
        if line.startswith("http"):
            self.url = line

    def ready(self) -> str | None:
        """The address once the runtime accepts requests, None while it starts; raises if it died."""
        if self.url is not None:
            return self.url
        if self.process.poll() is not None:
            self._reader.join(timeout=1)
            if self.url is None:
                raise RuntimeStartError(self.exit_message())
        return self.url

    def exit_message(self) -> str:
        """One line for the panel: the exit code and the log's last line (usually the reason), and the log."""
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        last = f": {lines[-1].strip()}" if lines else ""
        return f"the runtime exited with code {self.process.returncode}{last} (log: {self.log_path})"

    def client(self) -> RuntimeClient:
        if self.url is None:
            raise RuntimeStartError("the runtime is not ready yet")
        return RuntimeClient(self.url, self.token)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the runtime to stop (it marks a running take interrupted), then end it if it lingers."""
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(1.0)  # its pipe ends with the process (not closed under a reading thread)
        if self.process.stdout is not None:
            self.process.stdout.close()


def remote_client(host_port: str, token: str) -> RuntimeClient:
    """A studio runtime from the preferences' `host:port` and token."""
    address = host_port if "://" in host_port else f"http://{host_port}"
    return RuntimeClient(address, token)


class StatusSink(Protocol):
    """Where the connection reports its state for the panel (the extension's runtime status)."""

    def set_starting(self, message: str) -> None: ...

    def set_ready(self, message: str) -> None: ...

    def set_error(self, message: str) -> None: ...


@dataclass(frozen=True)
class Reply:
    """The answer to a `submit` or `cancel`, handed over on the main thread by `tick`."""

    action: str
    """"submit" or "cancel"."""
    take: dict[str, Any] | None
    """The take's status (id, take_dir, ...) when the runtime accepted the call."""
    error: RuntimeClientError | None
    """Why it did not (its `fields` name what to fix in the shot)."""


class RuntimeConnection:
    """One runtime as Blender uses it; register `tick` with `bpy.app.timers`, call `stop` at quit.

    HTTP calls run one at a time on a daemon thread, in the order they were asked
    for, so takes queue in the artist's order. Their results, and the runtime's
    events (from an EventFollower), wait in queues until `tick` hands them to
    `on_reply` and `on_event` on the main thread, where bpy may be touched.
    """

    TICK_SECONDS = 0.1
    RETRY_SECONDS = 2.0
    JOIN_SECONDS = 2.0

    def __init__(self, status: StatusSink, on_event: Callable[[dict[str, Any]], None],
                 on_reply: Callable[[Reply], None], local: LocalRuntime | None = None,
                 client: RuntimeClient | None = None, cursor: int | None = None):
        if (local is None) == (client is None):
            raise ValueError("a connection needs either a local runtime or a client")
        self.status, self.on_event, self.on_reply = status, on_event, on_reply
        self.local, self.client = local, client
        self.cursor = cursor
        """Last event handed over (persist it to resume); None: follow from the runtime's latest at connect."""
        self._calls: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._main: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()  # work for the main thread
        self._follower: EventFollower | None = None
        self._connecting, self._retry_at, self._lost, self._stopped = False, 0.0, False, False
        self._ready_message = ""
        self.models: list[str] = []
        """The runtime's models (`/v1/info`), once connected."""
        self._calls_thread = threading.Thread(target=self._serve_calls, daemon=True, name="oyster-runtime-calls")
        self._calls_thread.start()
        status.set_starting("starting the local runtime" if local else f"connecting to {client.base_url}")

    # ------------------------------------------------------------ background thread

    def _serve_calls(self) -> None:
        while (call := self._calls.get()) is not None:
            call()

    def _connect(self, client: RuntimeClient) -> None:
        self._connecting = True

        def call() -> None:
            try:
                info = client.info()
            except RuntimeClientError as error:
                # bound now: Python unbinds `error` when the except block ends, before the main thread runs this
                self._main.put(lambda failure=error: self._connect_failed(failure))
                return
            self._main.put(lambda: self._connected(client, info))

        self._calls.put(call)

    def _ask(self, action: str, call: Callable[[RuntimeClient], dict[str, Any]]) -> None:
        client = self.client

        def run() -> None:
            if client is None:
                reply = Reply(action, None, RuntimeClientError("the runtime is not ready yet"))
            else:
                try:
                    reply = Reply(action, call(client), None)
                except RuntimeClientError as error:
                    reply = Reply(action, None, error)
            self._main.put(lambda: self.on_reply(reply))

        self._calls.put(run)

    # ------------------------------------------------------------ main thread

    def submit(self, request: dict[str, Any]) -> None:
        """Queue a take; returns at once, the answer comes to `on_reply`."""
        self._ask("submit", lambda client: client.submit(request))

    def cancel(self, take_id: str) -> None:
        self._ask("cancel", lambda client: client.cancel(take_id))

    def _connected(self, client: RuntimeClient, info: dict[str, Any]) -> None:
        self._connecting = False
        self.client = client
        if self.cursor is None:
            self.cursor = info["event_cursor"]
        self._follower = EventFollower(client, cursor=self.cursor).start()
        self.models = [m["name"] for m in info["models"]]
        loaded = [m["name"] for m in info["models"] if m["loaded"]]
        self._ready_message = (f"runtime {info['version']} on {info['device'] or 'an unknown device'}, "
                               f"models {', '.join(loaded) or 'none loaded yet'}")
        self.status.set_ready(self._ready_message)

    def _connect_failed(self, error: RuntimeClientError) -> None:
        self._connecting = False
        self._retry_at = time.monotonic() + self.RETRY_SECONDS
        self.status.set_error(str(error))

    def tick(self) -> float | None:
        """The bpy.app.timers callback: seconds until the next tick, None once stopped or the runtime died."""
        if self._stopped:
            return None
        if self.local is not None:
            try:
                url = self.local.ready()  # raises if the process ended before its ready line
            except RuntimeStartError as error:
                self.status.set_error(str(error))
                self.stop()
                return None
            if url is not None and self.local.process.poll() is not None:
                self.status.set_error(self.local.exit_message())
                self.stop()
                return None
            if url is not None and self.client is None and not self._connecting:
                self._connect(self.local.client())
        elif self._follower is None and not self._connecting and time.monotonic() >= self._retry_at:
            self._connect(self.client)
        while True:
            try:
                self._main.get_nowait()()
            except queue.Empty:
                break
        if self._follower is not None:
            for event in self._follower.drain():
                self.cursor = event["seq"]
                self.on_event(event)
            lost = self._follower.error
            if lost and not self._lost:
                self.status.set_error(f"lost the runtime: {lost}")
            elif self._lost and not lost:
                self.status.set_ready(self._ready_message)
            self._lost = bool(lost)
        return self.TICK_SECONDS

    @property
    def stopped(self) -> bool:
        """True once stopped, by `stop()` or because the local runtime ended."""
        return self._stopped

    def stop(self) -> None:
        """Stop following and calling; a runtime this Blender started is stopped too (at quit).

        Waits briefly for the background threads to end: the bpy module hung at exit in 4 of 7 runs
        while a daemon thread was still inside a call. A local runtime is stopped first, so that their
        calls fail at once; a studio runtime's long poll may outlast the wait.
        """
        self._stopped = True
        if self._follower is not None:
            self._follower.stop()
        self._calls.put(None)
        if self.local is not None:
            self.local.stop()
        self._calls_thread.join(self.JOIN_SECONDS)
        if self._follower is not None:
            self._follower.join(self.JOIN_SECONDS)
