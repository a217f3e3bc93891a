"""The worker process: owns the models on one device, stays warm, runs takes and live sessions.

Started by the server (`supervisor.py` for takes, `live.py` for live sessions) as
`python -m model_runtime.server.worker --device D --preload M ...`. It speaks the one
line protocol of `protocol.py` (docs/runtime_api.md, "The worker protocol"): takes run
one at a time on the main thread, live commands are answered in order on a thread of
their own, so a worker can hold a take and live sessions at once. A worker that dies
(kill -9, out of memory, a CUDA abort) takes only its current take (and its live
sessions) with it.

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
from typing import Any, BinaryIO

import torch

from model_runtime.models import device as devices
from model_runtime.takes.continuation import StateStore
from model_runtime.takes.run import FrameWritten, device_of, run_take
from model_runtime.live.session import LiveSession, LiveStart, encode_frame
from model_runtime.models.interface import FrameGenerator, GeneratorInputError
from model_runtime.models.registry import get_generator
from model_runtime.painter.passes import PassesError
from model_runtime.takes.request import RequestError, load_depth, load_rgb
from model_runtime.server.protocol import write_message

LIVE_OPS = ("live_start", "live_step", "live_close")


class Worker:
    def __init__(self, out: BinaryIO, device: str = "cpu"):
        self._out = out
        self.device = device  # resolved: cpu or cuda:N; every model of this worker runs there
        self._out_lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._jobs: queue.Queue[dict[str, Any]] = queue.Queue()
        self._live: queue.Queue[dict[str, Any]] = queue.Queue()
        self._sessions: dict[str, LiveSession] = {}
        self._load_seconds: dict[str, float] = {}
        self._states = StateStore()  # session snapshots of recent takes, for continuations while warm

    def send(self, message: dict[str, Any], payload: bytes = b"") -> None:
        with self._out_lock:
            write_message(self._out, message, payload)

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
        self.send({"type": "hello", "pid": os.getpid(), "device": self.device, "models": models,
                   "threads": torch.get_num_threads()})

    def read_commands(self, commands: BinaryIO) -> None:
        """Runs on a thread: queue takes and live commands, flag cancels at once, exit when the server goes away."""
        for line in commands:
            command = json.loads(line)
            if command["op"] == "cancel":
                self._cancelled.add(command["take_id"])
            elif command["op"] == "run":
                self._jobs.put(command)
            elif command["op"] in LIVE_OPS:
                self._live.put(command)
        os._exit(0)  # stdin closed: the server died or is stopping us; nothing to save mid-frame

    # ------------------------------------------------------------ takes (the main thread)

    def serve_takes(self) -> None:
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

    # ------------------------------------------------------------ live sessions (their own thread)

    def serve_live(self) -> None:
        while True:
            command = self._live.get()
            reply, frame = self.live(command)
            self.send({"type": "reply", "id": command["id"]} | reply, frame)

    def live(self, command: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """The reply to one live command and the frame that follows it (empty but for a step); a refusal names
        the field, any other failure is a 409 on the session."""
        name = command["session"]
        if command["op"] == "live_start":
            start = LiveStart.model_validate(command["request"])
            try:
                rgb = load_rgb(Path(command["rgb"]), start.track) if command["rgb"] else None
                depth = load_depth(Path(command["depth"]), start.track) if command["depth"] else None
                generator = self.load(start.model)
            except RequestError as error:
                return {"status": 422, "field": error.field, "error": error.message}, b""
            except Exception as error:  # noqa: BLE001 - a model that cannot load refuses this session only
                return {"status": 409, "field": "model",
                        "error": f"could not be loaded: {type(error).__name__}: {error}"}, b""
            self._sessions[name] = LiveSession(generator, start, rgb, depth)
            return {}, b""
        session = self._sessions.get(name)
        if session is None:
            return {"status": 404, "field": "session_id",
                    "error": f"no live session {name} (closed, or never started)"}, b""
        if command["op"] == "live_close":
            del self._sessions[name]
            return {}, b""
        try:
            index, rgb = session.step(command["frame"])
        except PassesError as error:  # the frame's passes or blockout: a missing or unreadable file, wrong size, NaN
            field = error.field if error.field.split(".")[0] in ("passes", "blockout") else f"passes.{error.field}"
            return {"status": 422, "field": field, "error": str(error)}, b""
        except GeneratorInputError as error:
            return {"status": 422, "field": "frame", "error": str(error)}, b""
        except Exception as error:  # noqa: BLE001 - the generator failed on this frame; the session stays usable
            return {"status": 409, "field": "frame",
                    "error": f"the generator failed: {type(error).__name__}: {error}"}, b""
        frame = encode_frame(rgb)
        return {"index": index, "seconds": session.model_seconds}, frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime.server.worker")
    parser.add_argument("--preload", nargs="*", default=[], help="models to load before saying hello")
    devices.add_argument(parser, default="cpu")
    args = parser.parse_args(argv)
    device = devices.name(devices.resolve_or_exit(args.device, "worker"))
    # The protocol owns the real stdout; anything a model prints goes to stderr instead.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    worker = Worker(protocol, device)
    threading.Thread(target=worker.read_commands, args=(sys.stdin.buffer,), daemon=True, name="commands").start()
    worker.preload(args.preload)
    threading.Thread(target=worker.serve_live, daemon=True, name="live").start()
    worker.serve_takes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
