"""The live worker process: owns the models for live sessions and keeps them warm.

Started by the server (`server/live.py`) on the first live session as
`python -m model_runtime.server.live_worker`. It speaks JSON lines, no pickle:
one command on stdin, one reply on stdout with the same `id`, in order.

    stdin   {"op": "start", "id", "session", "request": <LiveStart>, "rgb": path|null, "depth": path|null}
            {"op": "step", "id", "session", "frame": {c2w, fx, fy, cx, cy}}
            {"op": "close", "id", "session"}
    stdout  {"type": "hello", "pid"}
            {"id", "index", "png": <base64 PNG>, "seconds"}      (step)
            {"id"}                                               (start, close)
            {"id", "status": 404|409|422, "field", "error"}       (refused)

When stdin closes (the server is gone) the worker exits.
"""
from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from model_runtime.live import LiveSession, LiveStart, encode_png
from model_runtime.models.interface import GeneratorInputError
from model_runtime.models.registry import get_generator
from model_runtime.request import RequestError, load_depth, load_rgb


def handle(sessions: dict[str, LiveSession], command: dict[str, Any]) -> dict[str, Any]:
    """The reply to one command; a refusal names the field, any other failure is a 409 on the session."""
    name = command["session"]
    if command["op"] == "start":
        start = LiveStart.model_validate(command["request"])
        try:
            rgb = load_rgb(Path(command["rgb"]), start.track) if command["rgb"] else None
            depth = load_depth(Path(command["depth"]), start.track) if command["depth"] else None
            generator = get_generator(start.model)
        except RequestError as error:
            return {"status": 422, "field": error.field, "error": error.message}
        except Exception as error:  # noqa: BLE001 - a model that cannot load refuses this session only
            return {"status": 409, "field": "model", "error": f"could not be loaded: {type(error).__name__}: {error}"}
        sessions[name] = LiveSession(generator, start, rgb, depth)
        return {}
    session = sessions.get(name)
    if session is None:
        return {"status": 404, "field": "session_id", "error": f"no live session {name} (closed, or never started)"}
    if command["op"] == "close":
        del sessions[name]
        return {}
    tick = time.perf_counter()
    try:
        index, rgb = session.step(command["frame"])
    except GeneratorInputError as error:
        return {"status": 422, "field": "frame", "error": str(error)}
    except Exception as error:  # noqa: BLE001 - the generator failed on this frame; the session stays usable
        return {"status": 409, "field": "frame", "error": f"the generator failed: {type(error).__name__}: {error}"}
    seconds = time.perf_counter() - tick
    return {"index": index, "seconds": seconds, "png": base64.b64encode(encode_png(rgb)).decode("ascii")}


def serve(commands: TextIO, out: TextIO) -> None:
    sessions: dict[str, LiveSession] = {}
    out.write(json.dumps({"type": "hello", "pid": os.getpid()}) + "\n")
    out.flush()
    for line in commands:
        command = json.loads(line)
        out.write(json.dumps({"id": command["id"]} | handle(sessions, command)) + "\n")
        out.flush()


def main() -> int:
    # The protocol owns the real stdout; anything a model prints goes to stderr instead.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin, protocol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
