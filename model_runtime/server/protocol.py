"""The one line protocol between the server and its worker processes, for takes and live frames alike.

Every worker is `python -m model_runtime.server.worker` (`worker.py`); the server holds each one as a
`WorkerProcess`. Commands go down the worker's stdin, messages come up its stdout; both are JSON
objects, one a line (UTF-8). A message with `frame_bytes` is followed at once by that many raw bytes
(a live frame, a BMP), so a frame crosses the pipe as it is, with no base64 or JSON around it. No
pickle crosses the pipe. docs/runtime_api.md, "The worker protocol", is the reference:

    stdin   {"op": "run", "take_id", "take_dir", "model"}            a take: the worker runs one at a time
            {"op": "cancel", "take_id"}                              stop that take after its current frame
            {"op": "live_start", "id", "session", "request", "rgb", "depth"}
            {"op": "live_step", "id", "session", "frame"}
            {"op": "live_close", "id", "session"}
    stdout  {"type": "hello", "pid", "device", "models", "threads"}  once, when the preloads are loaded
            {"type": "started", "take_id", "device", "model", "checkpoint_sha256"}
            {"type": "frame", "take_id", "frame", "path", "index", "total", "seconds", "write_seconds"}
            {"type": "result", "take_id", "status", "error"}
            {"type": "reply", "id", ...}                             the answer to a live command, same id:
                ... "index", "seconds", "frame_bytes"} + the frame      a step's frame
                ...}                                                    a start or close
                ... "status": 404|409|422, "field", "error"}            refused

Takes and live commands are independent streams within one worker: the live commands of a worker are
answered in order, on their own thread, while a take runs. When stdin closes (the server is gone,
however it went) the worker exits at once.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any, BinaryIO

WORKER_MODULE = "model_runtime.server.worker"


def write_message(out: BinaryIO, message: dict[str, Any], payload: bytes = b"") -> None:
    """One message, and its payload after it (`frame_bytes` is set here); the caller serialises writers."""
    if payload:
        message = message | {"frame_bytes": len(payload)}
    out.write(json.dumps(message).encode() + b"\n")
    if payload:
        out.write(payload)  # as it is: a large write goes past the buffer, no copy
    out.flush()


def read_message(stream: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """The next message and its payload; None when the stream ends (the other side is gone), even mid-frame."""
    line = stream.readline()
    if not line:
        return None
    message = json.loads(line)
    size = message.pop("frame_bytes", 0)
    payload = stream.read(size) if size else b""
    if len(payload) < size:
        return None
    return message, payload


def describe_exit(returncode: int | None) -> str:
    """How a worker ended, in words: `was killed by SIGKILL`, `exited with code 1`."""
    if returncode is None:
        return "closed its output"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class WorkerProcess:
    """The server's handle on one worker process: start it, read its hello, send commands, read messages.

    One thread reads (`read`); any thread may `send`. `threads`, when set, is the worker's torch CPU
    threads (OMP_NUM_THREADS), unless the server's own environment already sets OMP_NUM_THREADS.
    """

    def __init__(self, device: str, preload: list[str], threads: int | None = None,
                 command: list[str] | None = None):
        env = dict(os.environ)
        if threads is not None and "OMP_NUM_THREADS" not in env:
            env["OMP_NUM_THREADS"] = str(threads)
        self.process = subprocess.Popen([*(command or [sys.executable, "-m", WORKER_MODULE]),
                                         "--device", device, "--preload", *preload],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.pid = self.process.pid
        self._send_lock = threading.Lock()

    def hello(self) -> dict[str, Any] | None:
        """The worker's hello (pid, device, models); None when it ended before it was ready."""
        message = read_message(self.process.stdout)
        return message[0] if message is not None else None

    def send(self, command: dict[str, Any]) -> None:
        with self._send_lock:
            try:
                write_message(self.process.stdin, command)
            except (BrokenPipeError, ValueError, OSError):
                pass  # the worker is dying: its reader sees the output close and reports why

    def read(self) -> tuple[dict[str, Any], bytes] | None:
        return read_message(self.process.stdout)

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float = 5) -> int:
        """Its exit status, killing it if it has not ended within `timeout` s."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
