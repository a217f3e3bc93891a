"""Live mode over HTTP: `/v1/live` routes and the live worker process behind them (docs/runtime_api.md).

Live sessions run in their own worker process (`worker.py`, the same program and
protocol as the take workers, sent only live commands), started on the first
session and kept warm, so a take running in a take worker never delays a live
frame and torch never loads in the server. Commands carry an id; one reader
thread hands each reply to the request waiting for it. A step holds its
session's lock until its frame is back, so the steps of a session are answered
in the order they are taken. A frame comes back through the pipe and out in the
response as the worker encoded it (a BMP: docs/runtime_api.md, "Live mode").
"""
from __future__ import annotations

import itertools
import logging
import secrets
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Path as PathParam
from fastapi.params import Depends
from fastapi.responses import Response
from pydantic import BaseModel

from model_runtime.live.session import FRAME_MEDIA_TYPE, LiveStart, check_frame
from model_runtime.takes.request import RequestError, load_first_frame, resolve_path
from model_runtime.server.protocol import WorkerProcess, describe_exit

log = logging.getLogger("oyster.runtime")

MAX_SESSIONS = 8
START_TIMEOUT = 600.0  # the first session of a model waits for it to load
STEP_TIMEOUT = 120.0
INDEX_HEADER = "X-Oyster-Frame-Index"
SECONDS_HEADER = "X-Oyster-Model-Seconds"


class LiveWorkerError(RuntimeError):
    """The live worker died or could not start; its sessions are gone."""


class LiveSupervisor:
    """Starts the live worker on demand, sends it commands and routes its replies by id.

    The live worker is a worker like the take workers (`worker.py`, the same protocol), given only live
    commands: it runs on `device` (the first of `serve`'s devices) with no preloads, and loads a model on
    the first session that asks for it.
    """

    def __init__(self, device: str = "cpu", threads: int | None = None, command: list[str] | None = None):
        self.device, self.threads, self.command = device, threads, command
        self.sessions: dict[str, threading.Lock] = {}
        """Open sessions, each with the lock that keeps its steps in order."""
        self.restarts = 0
        self.hello: dict[str, Any] = {}
        self._worker: WorkerProcess | None = None
        self._pending: dict[int, Future[tuple[dict[str, Any], bytes]]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The live worker's pid while it runs; None before the first session and after it died."""
        worker = self._worker
        return worker.pid if worker is not None and worker.alive() else None

    def _ensure_worker(self) -> WorkerProcess:
        """The running live worker, started (and its hello read) if there is none. Call with _lock held."""
        if self._worker is not None and self._worker.alive():
            return self._worker
        worker = WorkerProcess(self.device, [], self.threads, self.command)
        hello = worker.hello()
        if hello is None:
            raise LiveWorkerError(f"the live worker {describe_exit(worker.wait())} before it was ready")
        self._worker, self.hello = worker, hello
        threading.Thread(target=self._read, args=(worker,), daemon=True, name="live-worker-reader").start()
        return worker

    def _read(self, worker: WorkerProcess) -> None:
        while (message := worker.read()) is not None:
            reply, frame = message
            if reply.pop("type") != "reply":
                continue  # the live worker runs no takes; nothing else is addressed to a request
            future = self._pending.pop(reply.pop("id"), None)
            if future is not None:
                future.set_result((reply, frame))
        reason = f"the live worker {describe_exit(worker.wait())}; its sessions are gone, start a new one"
        with self._lock:
            if self._worker is worker:  # not stopped by `stop()`: it died
                log.error(reason)
                self._worker = None
                self.restarts += 1
                self.sessions.clear()
            for future in self._pending.values():
                future.set_exception(LiveWorkerError(reason))
            self._pending.clear()

    def call(self, command: dict[str, Any], timeout: float) -> tuple[dict[str, Any], bytes]:
        """The worker's reply to `command` and the frame bytes that came with it (empty but for a step)."""
        future: Future[tuple[dict[str, Any], bytes]] = Future()
        with self._lock:
            worker = self._ensure_worker()
            command_id = next(self._ids)
            self._pending[command_id] = future
            worker.send({"id": command_id} | command)  # a dying worker: the reader fails this future with why
        return future.result(timeout)

    def stop(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()


class LiveSessionInfo(BaseModel):
    session_id: str
    model: str
    width: int
    height: int


def _refused(status: int, field: str, message: str) -> HTTPException:
    return HTTPException(status, detail=[{"field": field, "message": message}])


def _answer(reply: tuple[dict[str, Any], bytes]) -> tuple[dict[str, Any], bytes]:
    if "status" in reply[0]:
        raise _refused(reply[0]["status"], reply[0]["field"], reply[0]["error"])
    return reply


def live_router(supervisor: LiveSupervisor, output_root: Path, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/v1/live", dependencies=dependencies, tags=["live"])

    def call(command: dict[str, Any], timeout: float) -> tuple[dict[str, Any], bytes]:
        try:
            return _answer(supervisor.call(command, timeout))
        except LiveWorkerError as error:
            raise _refused(503, "session_id", str(error)) from None
        except TimeoutError:
            raise _refused(504, "session_id", f"the live worker did not answer within {timeout:.0f} s") from None

    @router.post("", response_model=LiveSessionInfo, status_code=201)
    def start(request: LiveStart) -> dict[str, Any]:
        """Open a live session; its camera comes one frame per step."""
        try:
            rgb, depth, _, _ = load_first_frame(request, output_root, output_root)
        except RequestError as error:
            raise _refused(422, error.field, error.message) from None
        if len(supervisor.sessions) >= MAX_SESSIONS:
            raise _refused(409, "session_id", f"{MAX_SESSIONS} live sessions are open: close one first")
        session_id = secrets.token_hex(8)
        call({"op": "live_start", "session": session_id, "request": request.model_dump(mode="json"),
              "rgb": str(rgb) if rgb else None, "depth": str(depth) if depth else None}, START_TIMEOUT)
        supervisor.sessions[session_id] = threading.Lock()
        return {"session_id": session_id, "model": request.model, "width": request.width, "height": request.height}

    def session_lock(session_id: str) -> threading.Lock:
        lock = supervisor.sessions.get(session_id)
        if lock is None:
            raise _refused(404, "session_id", f"no live session {session_id} (closed, or never started)")
        return lock

    @router.post("/{session_id}/frames", response_class=Response,
                 responses={200: {"content": {FRAME_MEDIA_TYPE: {}}}, 404: {}, 422: {}})
    def step(session_id: str = PathParam(max_length=64), frame: Any = Body(...)) -> Response:
        """One camera frame in (c2w 4x4 OpenCV, fx, fy, cx, cy, and for the painter the blockout's triangles,
        `blockout: {file, clip}`, or its passes at that pose as files, `passes: {folder, frame}`); the generated
        frame out as a BMP."""
        lock = session_lock(session_id)
        problem = check_frame(frame, {"version": 1, "width": 1, "height": 1, "fps": 1.0, "scale": 1.0})
        if problem is not None:
            raise _refused(422, *problem)
        if "passes" in frame:  # files inside the output root only, as a take's inputs
            try:
                folder = resolve_path(frame["passes"]["folder"], output_root, "passes.folder", output_root)
            except RequestError as error:
                raise _refused(422, error.field, error.message) from None
            frame = dict(frame, passes=dict(frame["passes"], folder=str(folder)))
        if "blockout" in frame:
            try:
                path = resolve_path(frame["blockout"]["file"], output_root, "blockout.file", output_root)
            except RequestError as error:
                raise _refused(422, error.field, error.message) from None
            frame = dict(frame, blockout=dict(frame["blockout"], file=str(path)))
        with lock:
            reply, image = call({"op": "live_step", "session": session_id, "frame": frame}, STEP_TIMEOUT)
        return Response(image, media_type=FRAME_MEDIA_TYPE,
                        headers={INDEX_HEADER: str(reply["index"]), SECONDS_HEADER: f"{reply['seconds']:.6f}"})

    @router.delete("/{session_id}", status_code=204, response_class=Response)
    def close(session_id: str = PathParam(max_length=64)) -> Response:
        """Close a live session; later steps to it are 404."""
        with session_lock(session_id):
            supervisor.sessions.pop(session_id, None)
            call({"op": "live_close", "session": session_id}, STEP_TIMEOUT)
        return Response(status_code=204)

    return router
