"""The server's side of the take workers: start them, feed them takes in queue order, restart one that dies.

One thread owns each worker process (`TakeWorker`). When its worker is free it
claims the oldest queued take, sends it (the protocol: `protocol.py`) and turns
the worker's messages into queue events until the take ends. If the worker's
stdout closes mid-take, the worker is gone: that take fails with the exit reason
(its frames so far stay on disk), a new worker starts, and the queue goes on;
the other workers and their takes are untouched. A worker that cannot even
start is retried with a growing pause.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from model_runtime.takes.continuation import KEPT_TAKES
from model_runtime.server.protocol import WorkerProcess, describe_exit
from model_runtime.server.queue import TakeQueue
from model_runtime.takes.folders import now_iso, update_take

log = logging.getLogger("oyster.runtime")

MAX_RESTART_PAUSE = 10.0
STOPPED_REASON = "the runtime stopped while this take was running"


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
    """What /v1/info reports about one worker."""

    index: int = 0
    """The worker's place in `serve`'s worker list (0, 1, ...)."""
    state: str = "starting"
    """starting, idle, busy, or down (could not start; retrying)."""
    pid: int | None = None
    device: str | None = None
    """Where the worker runs its models: cpu or cuda:N (None until its first hello)."""
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: int | None = None
    """Its torch CPU threads (from its hello)."""
    restarts: int = 0
    error: str | None = None
    take_id: str | None = None
    """The take it runs now."""


class TakeWorker:
    """One take worker process and the thread that owns it: claim the oldest queued take, send it, turn the
    worker's messages into queue events until the take ends, restart the worker when it dies."""

    def __init__(self, index: int, queue: TakeQueue, preload: list[str], device: str, stopping: threading.Event,
                 threads: int | None = None, command: list[str] | None = None,
                 accept: Callable[[int, str], bool] = lambda index, take_id: True):
        self.queue = queue
        self.accept = accept
        """Whether this worker may claim a queued take (by index and take id): the supervisor's affinity."""
        self.recent: tuple[str, ...] = ()
        """The take folders this worker process ran last, whose states its memory may hold (continuation.py)."""
        self.preload = preload
        self.device = device  # as asked (auto, cpu, cuda[:N]); the worker resolves it and says where in its hello
        self.threads = threads
        self.command = command
        self.info = WorkerState(index=index)
        self._worker: WorkerProcess | None = None
        self._stopping = stopping
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"take-worker-{index}")

    def start(self) -> None:
        self._thread.start()

    def kill(self) -> None:
        worker = self._worker
        if worker is not None:
            worker.kill()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def cancel(self, take_id: str) -> bool:
        """Ask the worker to stop a running take after its current frame; False if it is not running it."""
        worker = self._worker
        if self.info.take_id != take_id or worker is None:
            return False
        worker.send({"op": "cancel", "take_id": take_id})
        return True

    def _spawn(self) -> bool:
        """Start a worker and wait for its hello; False (and state `down`) when it dies first."""
        self.info.state = "starting"
        worker = WorkerProcess(self.device, self.preload, self.threads, self.command)
        self._worker = worker
        self.recent = ()  # replaced, never changed in place: other workers' threads read it
        self.info.pid = worker.pid
        hello = worker.hello()
        if hello is None:
            self.info.state = "down"
            self.info.error = f"the worker {describe_exit(worker.wait())} before it was ready"
            self._worker = None
            return False
        self.info.device, self.info.models, self.info.threads = hello["device"], hello["models"], hello["threads"]
        self.info.state, self.info.error = "idle", None
        return True

    def _loop(self) -> None:
        pause = 0.5
        while not self._stopping.is_set():
            if self._worker is not None and not self._worker.alive():
                # Died while idle: no take was lost, start another before claiming one.
                log.error("the idle worker %d %s; restarting it", self.info.index,
                          describe_exit(self._worker.process.returncode))
                self._worker = None
                self.info.restarts += 1
            if self._worker is None:
                if not self._spawn():
                    log.error(self.info.error)
                    self._stopping.wait(pause)
                    pause = min(pause * 2, MAX_RESTART_PAUSE)
                    continue
                pause = 0.5
            take = self.queue.claim_next(timeout=0.5, accept=lambda take_id: self.accept(self.info.index, take_id))
            if take is None:
                continue
            self._run(take)

    def _run(self, take: dict[str, Any]) -> None:
        worker = self._worker
        if take["take_dir"]:
            self.recent = (*self.recent, str(Path(take["take_dir"]).resolve()))[-KEPT_TAKES:]
        self.info.take_id = take["id"]
        self.info.state = "busy"
        worker.send({"op": "run", "take_id": take["id"], "take_dir": take["take_dir"], "model": take["model"]})
        try:
            while (message := worker.read()) is not None:
                message = message[0]
                kind = message.pop("type")
                message.pop("take_id", None)
                if kind == "started":
                    self.queue.started(take["id"], message | {"worker": self.info.index, "pid": worker.pid})
                elif kind == "frame":
                    self.queue.frame(take["id"], message)
                elif kind == "result":
                    self.queue.finish(take["id"], message["status"], message["error"])
                    return
            self._worker_died(take, worker)
        finally:
            self.info.take_id = None
            if self.info.state == "busy":
                self.info.state = "idle"

    def _worker_died(self, take: dict[str, Any], worker: WorkerProcess) -> None:
        returncode = worker.wait()
        self._worker = None
        if self._stopping.is_set():
            status, reason = "interrupted", STOPPED_REASON
        else:
            status = "failed"
            reason = (f"the worker process {describe_exit(returncode)} during this take "
                      f"(out of memory, a GPU error or an outside kill); frames written so far are kept")
            self.info.restarts += 1
            self.info.state = "starting"
        log.error("take %s %s: %s", take["id"], status, reason)
        # take.json first: once the queue says failed, a client may read it. Only this thread ends its takes.
        mirror_status(self.queue, take, status, reason)
        self.queue.finish(take["id"], status, reason)


class WorkerSupervisor:
    """The take workers, one per device in `devices`; each takes the oldest queued take when it is free.

    One exception to queue order: a take that continues an earlier one (`continue_from`) waits for the
    worker that ran its parent while that worker may still hold the parent's states in memory (its last
    KEPT_TAKES takes since it started), since another worker would have to find them on disk or fail the
    take; the other workers go on with the takes behind it.
    """

    def __init__(self, queue: TakeQueue, preload: list[str], devices: list[str] | None = None,
                 threads: int | None = None, command: list[str] | None = None):
        self._stopping = threading.Event()
        self._parents: dict[str, str] = {}
        """Queued continuations: take id -> the parent's take folder (resolved)."""
        self.workers = [TakeWorker(index, queue, preload, device, self._stopping, threads, command, self._accepts)
                        for index, device in enumerate(devices or ["cpu"])]

    def continues(self, take_id: str, parent: Path) -> None:
        """Say that a queued take continues the take in `parent` (before the workers may claim it)."""
        self._parents[take_id] = str(parent.resolve())

    def _accepts(self, index: int, take_id: str) -> bool:
        parent = self._parents.get(take_id)
        if parent is None:
            return True
        holders = [worker.info.index for worker in self.workers if parent in worker.recent]
        accepted = not holders or index in holders
        if accepted:
            self._parents.pop(take_id, None)  # claimed now (the queue holds its lock until it is marked running)
        return accepted

    @property
    def info(self) -> WorkerState:
        """The first worker's state (what /v1/info's `worker` reports)."""
        return self.workers[0].info

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        """Stop the workers; a take one was running becomes `interrupted`, never done."""
        self._stopping.set()
        for worker in self.workers:
            worker.kill()
        for worker in self.workers:
            worker.join(timeout=3)

    def cancel(self, take_id: str) -> bool:
        """Ask the worker running a take to stop it after its current frame; False if none runs it."""
        return any(worker.cancel(take_id) for worker in self.workers)


def recover_interrupted(queue: TakeQueue, reason: str = STOPPED_REASON) -> int:
    """At startup: takes left `running` by a previous server become `interrupted` (queued ones stay queued)."""
    takes = queue.running()
    for take in takes:
        mirror_status(queue, take, "interrupted", reason)
        queue.finish(take["id"], "interrupted", reason)
    return len(takes)

