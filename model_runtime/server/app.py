"""The HTTP API, version 1 (docs/runtime_api.md): FastAPI routes under `/v1`.

Every route but `/v1/health` needs `Authorization: Bearer <token>` when the
server has a token. Every 4xx body is `{"detail": [{"field", "message"}]}`,
the field a dotted path into the request, so the panel can say what to fix.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_runtime import __version__
from model_runtime.models.registry import DEFAULT_MODEL, available_models
from model_runtime.takes.request import (RequestError, ShotRequest, blockout_file, field_errors, frame_count,
                                         load_first_frame, passes_folder, resolve_path)
from model_runtime.server.live import LiveSupervisor, live_router
from model_runtime.server.queue import TakeQueue
from model_runtime.server.supervisor import WorkerSupervisor, mirror_status, recover_interrupted
from model_runtime.takes.folders import create_take

API_VERSION = 1
TAKE_ID = r"^[0-9a-f]{16}$"
MAX_WAIT = 30.0
log = logging.getLogger("oyster.runtime")


@dataclass
class ServerConfig:
    """What `serve` was asked for; see server/cli.py for the flags."""

    state_dir: Path
    output_root: Path
    token: str | None = None
    preload: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    devices: list[str] = field(default_factory=lambda: ["auto"])
    """One take worker per entry, each as asked (auto, cpu, cuda[:N]); the worker resolves it and /v1/info
    reports what it resolved to. The live worker runs on the first."""
    threads: int | None = None
    """Each worker's torch CPU threads (OMP_NUM_THREADS); None: torch's default (server/cli.py decides)."""
    max_body_bytes: int = 32 * 1024 * 1024
    """A 10,000-frame track is about 7 MB of JSON."""
    on_ready: Any = None
    """Called once the API is about to accept requests (prints the ready line)."""


# ---------------------------------------------------------------- response models

class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    detail: list[FieldError]


class Health(BaseModel):
    status: str
    version: str
    api_version: int


class ModelInfo(BaseModel):
    name: str
    loaded: bool
    checkpoint_sha256: str | None
    error: str | None


class WorkerInfo(BaseModel):
    index: int
    """The take worker's place in `serve`'s list (0, 1, ...); the live worker has none (-1)."""
    role: str
    """takes, or live (the worker of live sessions, listed while it runs)."""
    device: str | None
    """cpu or cuda:N, once the worker said hello."""
    threads: int | None
    """Its torch CPU threads: the cores shared out between the workers when there are several."""
    state: str
    """starting, idle, busy or down (a take worker); live (the live worker)."""
    pid: int | None
    restarts: int
    error: str | None
    take_id: str | None
    """The take it runs now."""
    live_sessions: int
    """Open live sessions (the live worker; 0 for a take worker)."""


class Info(BaseModel):
    version: str
    api_version: int
    device: str | None
    default_model: str
    models: list[ModelInfo]
    queue_length: int
    event_cursor: int
    """seq of the latest event: a client that wants only what happens from now on follows from here."""
    output_root: str
    worker: WorkerInfo
    """The first take worker (as before there were several)."""
    workers: list[WorkerInfo]
    """Every take worker, in `serve`'s order, then the live worker while it runs."""


class TakeStatus(BaseModel):
    id: str
    shot: str
    take_number: int | None
    take_dir: str | None
    model: str
    status: str
    """queued, running, done, failed, cancelled or interrupted."""
    error: str | None
    frames_done: int
    frames_total: int
    submitted: str
    started: str | None
    finished: str | None


class TakeList(BaseModel):
    takes: list[TakeStatus]


class Event(BaseModel):
    seq: int
    take_id: str
    type: str
    """queued, started, frame, done, failed, cancelled or interrupted."""
    time: str
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[Event]
    cursor: int
    """Pass back as `cursor` to get the events after these."""


# ---------------------------------------------------------------- plumbing

def _errors(status: int, field_name: str, message: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status, detail=[{"field": field_name, "message": message}], headers=headers)


class BodyLimit:
    """Refuse request bodies over a size with 413 before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                response = JSONResponse({"detail": [{"field": "body", "message":
                                                     f"request body exceeds {self.max_bytes} bytes"}]}, 413)
                await response(scope, receive, send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class Notifier:
    """Wakes long-polling `/v1/events` requests when the queue appends an event (from any thread)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def _wake(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def notify(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._wake)


# ---------------------------------------------------------------- the app

def create_app(config: ServerConfig) -> FastAPI:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    output_root = config.output_root.resolve()
    queue = TakeQueue(config.state_dir / "queue.sqlite3")
    supervisor = WorkerSupervisor(queue, config.preload, config.devices, config.threads)
    live = LiveSupervisor(config.devices[0], config.threads)
    notifier = Notifier()
    queue.on_event(notifier.notify)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifier.loop = asyncio.get_running_loop()
        interrupted = recover_interrupted(queue)
        if interrupted:
            log.warning("%d take(s) were running when the runtime last stopped: marked interrupted", interrupted)
        supervisor.start()
        if config.on_ready is not None:
            config.on_ready()
        yield
        live.stop()
        supervisor.stop()
        queue.close()

    app = FastAPI(title="Oyster model runtime", version=__version__, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody},
                             422: {"model": ErrorBody}})
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    bearer = HTTPBearer(auto_error=False, description="the token from the server's --token-file")

    def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if config.token is None:
            return
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), config.token.encode()):
            raise _errors(401, "Authorization", "a valid 'Authorization: Bearer <token>' header is required",
                          {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = list(error.errors())
        malformed = [e for e in errors if e.get("type") == "json_invalid"]
        if malformed:
            where = malformed[0]["loc"][-1]
            message = f"malformed JSON at character {where}: {malformed[0].get('ctx', {}).get('error', 'invalid')}"
            return JSONResponse({"detail": [{"field": "body", "message": message}]}, 400)
        return JSONResponse({"detail": field_errors(errors)}, 422)

    secured = [Depends(require_token)]
    app.include_router(live_router(live, output_root, secured))

    @app.get("/v1/health", response_model=Health, tags=["runtime"])
    def health() -> dict[str, Any]:
        """Liveness, without a token."""
        return {"status": "ok", "version": __version__, "api_version": API_VERSION}

    @app.get("/v1/openapi.json", dependencies=secured, include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/v1/info", response_model=Info, dependencies=secured, tags=["runtime"])
    def info() -> dict[str, Any]:
        """Version, models with their checkpoints, device, queue length and the workers' states."""
        worker = supervisor.info  # the models and device of the first take worker (all load the same preloads)
        models = [{"name": name, "loaded": name in worker.models and not worker.models[name]["error"],
                   "checkpoint_sha256": worker.models.get(name, {}).get("checkpoint_sha256"),
                   "error": worker.models.get(name, {}).get("error")} for name in available_models()]
        workers = [{"index": w.index, "role": "takes", "device": w.device, "threads": w.threads, "state": w.state,
                    "pid": w.pid, "restarts": w.restarts, "error": w.error, "take_id": w.take_id, "live_sessions": 0}
                   for w in (slot.info for slot in supervisor.workers)]
        if live.pid is not None:
            workers.append({"index": -1, "role": "live", "device": live.hello.get("device"),
                            "threads": live.hello.get("threads"), "state": "live",
                            "pid": live.pid, "restarts": live.restarts, "error": None, "take_id": None,
                            "live_sessions": len(live.sessions)})
        return {"version": __version__, "api_version": API_VERSION, "device": worker.device,
                "default_model": DEFAULT_MODEL, "models": models, "queue_length": queue.queue_length(),
                "event_cursor": queue.latest_seq(), "output_root": str(output_root),
                "worker": workers[0], "workers": workers}

    @app.post("/v1/takes", response_model=TakeStatus, status_code=202, dependencies=secured, tags=["takes"])
    def submit(shot: ShotRequest) -> dict[str, Any]:
        """Queue a take; answers at once with its id, folder and status."""
        try:
            output = resolve_path(shot.output or ".", output_root, "output", output_root)
            rgb_path, depth_path, _, _ = load_first_frame(shot, output_root, output_root)
            passes = passes_folder(shot, output_root, output_root)
            blockout = blockout_file(shot, output_root, output_root)
        except RequestError as error:
            raise _errors(422, error.field, error.message) from None
        take_id = secrets.token_hex(8)
        if shot.continue_from is not None:
            try:  # the worker that ran the parent may hold its states: the take waits for it (supervisor.py)
                supervisor.continues(take_id, resolve_path(shot.continue_from.take, output, "continue_from.take",
                                                           output_root))
            except RequestError:
                pass  # a parent the worker cannot find fails the take there, with the reason
        try:
            take = create_take(output, shot.model_dump(mode="json"), rgb_path, depth_path, take_id, passes, blockout)
        except OSError as error:
            # An unwritable or full output folder fails this take (reported like any failure); nothing else moves.
            reason = f"could not create the take folder under {str(output)!r}: {error.strerror or error}"
            return queue.add(take_id, shot.shot, None, None, shot.model, frame_count(shot), error=reason)
        return queue.add(take_id, shot.shot, take.number, str(take.path), shot.model, frame_count(shot))

    @app.get("/v1/takes", response_model=TakeList, dependencies=secured, tags=["takes"])
    def list_takes(limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        """The latest takes, oldest first."""
        return {"takes": queue.list(limit)}

    def _take(take_id: str) -> dict[str, Any]:
        take = queue.get(take_id)
        if take is None:
            raise _errors(404, "take_id", f"no take {take_id}")
        return take

    @app.get("/v1/takes/{take_id}", response_model=TakeStatus, dependencies=secured, tags=["takes"])
    def take_status(take_id: str = PathParam(pattern=TAKE_ID)) -> dict[str, Any]:
        return _take(take_id)

    @app.post("/v1/takes/{take_id}/cancel", response_model=TakeStatus, dependencies=secured, tags=["takes"],
              responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}})
    def cancel(take_id: str = PathParam(pattern=TAKE_ID)) -> dict[str, Any]:
        """Cancel a queued take at once, or a running one after its current frame (watch for `cancelled`)."""
        take = _take(take_id)
        if take["status"] == "queued":
            finished = queue.finish(take_id, "cancelled")
            if finished is not None:
                mirror_status(queue, finished, "cancelled", None)
                return finished
            take = _take(take_id)
        if take["status"] == "running" and supervisor.cancel(take_id):
            return take
        raise _errors(409, "take_id", f"take {take_id} is already {take['status']}")

    @app.get("/v1/events", response_model=EventPage, dependencies=secured, tags=["events"],
             responses={409: {"model": ErrorBody}})
    async def events(cursor: int = Query(0, ge=0, le=2**62, description="seq of the last event seen; 0 for all"),
                     wait: float = Query(0.0, ge=0.0, le=MAX_WAIT, description="seconds to wait for an event"),
                     take_id: str | None = Query(None, pattern=TAKE_ID, description="only this take's events"),
                     limit: int = Query(500, ge=1, le=1000)) -> dict[str, Any]:
        """Events after `cursor`, long-polling up to `wait` seconds when there are none yet."""
        latest = queue.latest_seq()
        if cursor > latest:
            raise _errors(409, "cursor", f"cursor {cursor} is ahead of the event log (latest {latest}): "
                                         "the runtime's state was reset; start again from 0")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            woken = notifier.current()  # taken before reading, so an event appended meanwhile still wakes us
            page, next_cursor = queue.events_after(cursor, take_id, limit)
            remaining = deadline - loop.time()
            if page or remaining <= 0:
                return {"events": page, "cursor": next_cursor}
            try:
                await asyncio.wait_for(woken.wait(), remaining)
            except TimeoutError:
                pass

    return app
