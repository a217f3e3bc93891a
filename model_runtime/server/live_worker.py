"""The live worker process: owns the models for live sessions and keeps them warm.

Started by the server (`server/live.py`) on the first live session as
`python -m model_runtime.server.live_worker`. It speaks JSON lines, no pickle:
one command on stdin, one reply on stdout with the same `id`, in order. A step's
reply line is followed by the frame's bytes, `frame_bytes` of them (a BMP), so
a frame crosses the pipe as it is, with no base64 or JSON around it.

    stdin   {"op": "start", "id", "session", "request": <LiveStart>, "rgb": path|null, "depth": path|null}
            {"op": "step", "id", "session", "frame": {c2w, fx, fy, cx, cy[, passes: {folder, frame}]}}
            {"op": "close", "id", "session"}
    stdout  {"type": "hello", "pid"}
            {"id", "index", "seconds", "frame_bytes"} + the frame   (step)
            {"id"}                                                  (start, close)
            {"id", "status": 404|409|422, "field", "error"}          (refused)

When stdin closes (the server is gone) the worker exits.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from model_runtime.live.session import LiveSession, LiveStart, encode_frame
from model_runtime.models.interface import GeneratorInputError
from model_runtime.models.registry import get_generator
from model_runtime.painter.passes import PassesError
from model_runtime.takes.request import RequestError, load_depth, load_rgb


def handle(sessions: dict[str, LiveSession], command: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The reply to one command and the frame that follows it (empty but for a step); a refusal names the
    field, any other failure is a 409 on the session."""
    name = command["session"]
    if command["op"] == "start":
        start = LiveStart.model_validate(command["request"])
        try:
            rgb = load_rgb(Path(command["rgb"]), start.track) if command["rgb"] else None
            depth = load_depth(Path(command["depth"]), start.track) if command["depth"] else None
            generator = get_generator(start.model)
        except RequestError as error:
            return {"status": 422, "field": error.field, "error": error.message}, b""
        except Exception as error:  # noqa: BLE001 - a model that cannot load refuses this session only
            return {"status": 409, "field": "model",
                    "error": f"could not be loaded: {type(error).__name__}: {error}"}, b""
        sessions[name] = LiveSession(generator, start, rgb, depth)
        return {}, b""
    session = sessions.get(name)
    if session is None:
        return {"status": 404, "field": "session_id",
                "error": f"no live session {name} (closed, or never started)"}, b""
    if command["op"] == "close":
        del sessions[name]
        return {}, b""
    try:
        index, rgb = session.step(command["frame"])
    except PassesError as error:  # the frame's passes: a missing or unreadable file, wrong size, NaN depth
        field = "passes" if error.field == "passes" else f"passes.{error.field}"
        return {"status": 422, "field": field, "error": str(error)}, b""
    except GeneratorInputError as error:
        return {"status": 422, "field": "frame", "error": str(error)}, b""
    except Exception as error:  # noqa: BLE001 - the generator failed on this frame; the session stays usable
        return {"status": 409, "field": "frame",
                "error": f"the generator failed: {type(error).__name__}: {error}"}, b""
    frame = encode_frame(rgb)
    return {"index": index, "seconds": session.model_seconds, "frame_bytes": len(frame)}, frame


def serve(commands: TextIO, out: BinaryIO) -> None:
    sessions: dict[str, LiveSession] = {}
    out.write(json.dumps({"type": "hello", "pid": os.getpid()}).encode() + b"\n")
    out.flush()
    for line in commands:
        command = json.loads(line)
        reply, frame = handle(sessions, command)
        out.write(json.dumps({"id": command["id"]} | reply).encode() + b"\n")
        out.write(frame)  # as it is: a large write goes past the buffer, no copy
        out.flush()


def main() -> int:
    # The protocol owns the real stdout; anything a model prints goes to stderr instead.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin, protocol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
