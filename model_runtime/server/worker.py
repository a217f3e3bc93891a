"""The worker process: owns the models, stays warm, runs one take at a time.

Started by the server (`supervisor.py`) as `python -m model_runtime.server.worker`.
It speaks JSON lines: commands on stdin, messages on stdout. No pickle crosses
the pipe, and a worker that dies (kill -9, out of memory, a CUDA abort) takes
only its current take with it.

    stdin   {"op": "run", "take_id": ..., "take_dir": ..., "model": ...}
            {"op": "cancel", "take_id": ...}
    stdout  {"type": "hello", "models": {name: {"checkpoint_sha256", "error"}}, "device": ...}
            {"type": "started", "take_id", "device", "model", "checkpoint_sha256"}
            {"type": "frame", "take_id", "frame", "path", "index", "total", "seconds"}
            {"type": "result", "take_id", "status", "error"}

When stdin closes (the server is gone, however it went) the worker exits at once.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from model_runtime.takes.continuation import StateStore
from model_runtime.models import device as devices
from model_runtime.takes.run import FrameWritten, device_of, run_take
from model_runtime.models.interface import FrameGenerator
from model_runtime.models.registry import get_generator


class Worker:
    def __init__(self, out: TextIO, device: str = "cpu"):
        self._out = out
        self.device = device  # resolved: cpu or cuda:N; every model of this worker runs there
        self._out_lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._jobs: queue.Queue[dict[str, Any]] = queue.Queue()
        self._load_seconds: dict[str, float] = {}
        self._states = StateStore()  # session snapshots of recent takes, for continuations while warm

    def send(self, message: dict[str, Any]) -> None:
        with self._out_lock:
            self._out.write(json.dumps(message) + "\n")
            self._out.flush()

    def load(self, name: str) -> FrameGenerator:
        """The generator, built once per process (the registry caches it) and timed the first time."""
        tick = time.perf_counter()
        generator = get_generator(name, self.device)
        self._load_seconds.setdefault(name, time.perf_counter() - tick)
        return generator

    def preload(self, names: list[str]) -> None:
        models: dict[str, dict[str, Any]] = {}
        for name in names:
            try:
                generator = self.load(name)
                models[name] = {"checkpoint_sha256": generator.checkpoint_sha256, "error": None}
            except Exception as error:  # noqa: BLE001 - a model that cannot load is reported, the rest still serve
                models[name] = {"checkpoint_sha256": None, "error": f"{type(error).__name__}: {error}"}
        self.send({"type": "hello", "pid": os.getpid(), "device": self.device, "models": models})

    def read_commands(self, commands: TextIO) -> None:
        """Runs on a thread: queue runs, flag cancels at once, exit when the server goes away."""
        for line in commands:
            command = json.loads(line)
            if command["op"] == "cancel":
                self._cancelled.add(command["take_id"])
            elif command["op"] == "run":
                self._jobs.put(command)
        os._exit(0)  # stdin closed: the server died or is stopping us; nothing to save mid-frame

    def serve(self) -> None:
        while True:
            job = self._jobs.get()
            take_id = job["take_id"]
            try:
                generator = self.load(job["model"])
            except Exception as error:  # noqa: BLE001 - reported as this take's failure
                self.send({"type": "result", "take_id": take_id, "status": "failed",
                           "error": f"model {job['model']!r} could not be loaded: {type(error).__name__}: {error}"})
                continue
            self.send({"type": "started", "take_id": take_id, "device": device_of(generator),
                       "model": generator.name, "checkpoint_sha256": generator.checkpoint_sha256})

            def on_frame(frame: FrameWritten) -> None:
                self.send({"type": "frame", "take_id": take_id, "frame": frame.frame, "path": str(frame.path),
                           "index": frame.index, "total": frame.total, "seconds": frame.seconds,
                           "write_seconds": frame.write_seconds})

            result = run_take(generator, Path(job["take_dir"]), on_frame=on_frame,
                              cancelled=lambda: take_id in self._cancelled,
                              model_load_seconds=self._load_seconds.get(job["model"]), states=self._states)
            self._cancelled.discard(take_id)
            self.send({"type": "result", "take_id": take_id, "status": result.status, "error": result.error})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime.server.worker")
    parser.add_argument("--preload", nargs="*", default=[], help="models to load before saying hello")
    devices.add_argument(parser, default="cpu")
    args = parser.parse_args(argv)
    device = devices.name(devices.resolve_or_exit(args.device, "worker"))
    # The protocol owns the real stdout; anything a model prints goes to stderr instead.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    worker = Worker(protocol, device)
    threading.Thread(target=worker.read_commands, args=(sys.stdin,), daemon=True, name="commands").start()
    worker.preload(args.preload)
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
