"""The server's side of the worker: start it, feed it takes in order, restart it when it dies.

One thread owns the worker process. It claims the oldest queued take, sends it,
and turns the worker's messages into queue events until the take ends. If the
worker's stdout closes mid-take, the worker is gone: that take fails with the
exit reason (its frames so far stay on disk), a new worker starts, and the
queue goes on. A worker that cannot even start is retried with a growing pause.
"""
from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_runtime.server.queue import TakeQueue
from model_runtime.takes.folders import now_iso, update_take

log = logging.getLogger("oyster.runtime")

MAX_RESTART_PAUSE = 10.0


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "closed its output"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def mirror_status(queue: TakeQueue, take: dict[str, Any], status: str, error: str | None) -> None:
    """Write a status the worker could not write itself into take.json (frames from the event log)."""
    if not take.get("take_dir"):
        return
    frames = [{key: frame[key] for key in ("frame", "seconds", "write_seconds")} | {"file": Path(frame["path"]).name}
              for frame in queue.frames_of(take["id"])]
    try:
        update_take(Path(take["take_dir"]), status=status, error=error, frames=frames,
                    timings={"finished": now_iso()})
    except (OSError, ValueError) as problem:
        log.warning("could not update take.json of %s: %s", take["id"], problem)


@dataclass
class WorkerState:
    """What /v1/info reports about the worker."""

    state: str = "starting"
    """starting, idle, busy, or down (could not start; retrying)."""
    pid: int | None = None
    device: str | None = None
    """Where the worker runs its models: cpu or cuda:N."""
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    restarts: int = 0
    error: str | None = None


class WorkerSupervisor:
    def __init__(self, queue: TakeQueue, preload: list[str], command: list[str] | None = None, device: str = "cpu"):
        self.queue = queue
        self.preload = preload
        self.device = device  # as asked (auto, cpu, cuda[:N]); the worker resolves it and says where in its hello
        self.command = command or [sys.executable, "-m", "model_runtime.server.worker"]
        self.info = WorkerState()
        self._process: subprocess.Popen[str] | None = None
        self._running_id: str | None = None
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="worker-supervisor")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker; a take it was running becomes `interrupted`, never done."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        self._thread.join(timeout=3)

    def cancel(self, take_id: str) -> bool:
        """Ask the worker to stop a running take after its current frame; False if it is not running."""
        if self._running_id != take_id:
            return False
        self._send({"op": "cancel", "take_id": take_id})
        return True

    def _send(self, message: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        with self._send_lock:
            try:
                process.stdin.write(json.dumps(message) + "\n")
                process.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass  # the worker is dying; the supervisor thread sees its output close and reports it

    def _spawn(self) -> bool:
        """Start a worker and wait for its hello; False (and state `down`) when it dies first."""
        self.info.state = "starting"
        process = subprocess.Popen(self.command + ["--device", self.device, "--preload", *self.preload],
                                   stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self._process = process
        self.info.pid = process.pid
        line = process.stdout.readline()
        if not line:
            self.info.state = "down"
            self.info.error = f"the worker {describe_exit(process.wait())} before it was ready"
            self._process = None
            return False
        hello = json.loads(line)
        self.info.device, self.info.models = hello["device"], hello["models"]
        self.info.state, self.info.error = "idle", None
        return True

    def _loop(self) -> None:
        pause = 0.5
        while not self._stopping.is_set():
            if self._process is not None and self._process.poll() is not None:
                # Died while idle: no take was lost, start another before claiming one.
                log.error("the idle worker %s; restarting it", describe_exit(self._process.returncode))
                self._process = None
                self.info.restarts += 1
            if self._process is None:
                if not self._spawn():
                    log.error(self.info.error)
                    self._stopping.wait(pause)
                    pause = min(pause * 2, MAX_RESTART_PAUSE)
                    continue
                pause = 0.5
            take = self.queue.claim_next(timeout=0.5)
            if take is None:
                continue
            self._run(take)

    def _run(self, take: dict[str, Any]) -> None:
        process = self._process
        self._running_id = take["id"]
        self.info.state = "busy"
        self._send({"op": "run", "take_id": take["id"], "take_dir": take["take_dir"], "model": take["model"]})
        try:
            for line in process.stdout:
                message = json.loads(line)
                kind = message.pop("type")
                message.pop("take_id", None)
                if kind == "started":
                    self.queue.started(take["id"], message)
                elif kind == "frame":
                    self.queue.frame(take["id"], message)
                elif kind == "result":
                    self.queue.finish(take["id"], message["status"], message["error"])
                    return
            self._worker_died(take, process)
        finally:
            self._running_id = None
            if self.info.state == "busy":
                self.info.state = "idle"

    def _worker_died(self, take: dict[str, Any], process: subprocess.Popen[str]) -> None:
        try:
            returncode = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        self._process = None
        if self._stopping.is_set():
            status, reason = "interrupted", "the runtime stopped while this take was running"
        else:
            status = "failed"
            reason = (f"the worker process {describe_exit(returncode)} during this take "
                      f"(out of memory, a GPU error or an outside kill); frames written so far are kept")
            self.info.restarts += 1
            self.info.state = "starting"
        log.error("take %s %s: %s", take["id"], status, reason)
        # take.json first: once the queue says failed, a client may read it. Only this thread ends running takes.
        mirror_status(self.queue, take, status, reason)
        self.queue.finish(take["id"], status, reason)


def recover_interrupted(queue: TakeQueue, reason: str = "the runtime stopped while this take was running") -> int:
    """At startup: takes left `running` by a previous server become `interrupted` (queued ones stay queued)."""
    takes = queue.running()
    for take in takes:
        mirror_status(queue, take, "interrupted", reason)
        queue.finish(take["id"], "interrupted", reason)
    return len(takes)

