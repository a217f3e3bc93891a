"""The runtime's HTTP API (docs/runtime_api.md) from Blender: stdlib only, nothing blocks the UI.

`RuntimeClient` makes one request per call and is for background threads or
quick calls (submit, cancel). `EventFollower` long-polls `/v1/events` on a
daemon thread and queues what arrives; a `bpy.app.timers` callback calls
`drain()`, which never waits, and updates the panel from the events.
"""
from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .core.errors import OysterError

API = "/v1"


class RuntimeClientError(OysterError):
    """The runtime refused a request (the message names the fields) or could not be reached."""

    def __init__(self, message: str, status: int | None = None, fields: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        """HTTP status, None when the runtime was not reached."""
        self.fields = fields or []
        """The server's `[{"field", "message"}]` for 4xx answers."""


def _describe(status: int, body: bytes) -> tuple[str, list[dict[str, str]]]:
    try:
        detail = json.loads(body)["detail"]
    except (ValueError, KeyError, TypeError):
        return f"the runtime answered {status}", []
    if isinstance(detail, list) and all(isinstance(d, dict) and "field" in d for d in detail):
        return "; ".join(f"{d['field']}: {d.get('message', '')}" for d in detail), detail
    return f"the runtime answered {status}: {detail}", []


class RuntimeClient:
    """One runtime at `base_url` (e.g. `http://127.0.0.1:8765`), with its bearer token."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base_url + API + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            message, fields = _describe(error.code, error.read())
            raise RuntimeClientError(message, error.code, fields) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise RuntimeClientError(f"the runtime at {self.base_url} is not reachable: {reason}") from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/info")

    def submit(self, shot_request: dict[str, Any]) -> dict[str, Any]:
        """Queue a take; returns its status (id, take_dir, take_number) at once."""
        return self._call("POST", "/takes", shot_request)

    def take(self, take_id: str) -> dict[str, Any]:
        return self._call("GET", f"/takes/{urllib.parse.quote(take_id)}")

    def takes(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._call("GET", f"/takes?limit={int(limit)}")["takes"]

    def cancel(self, take_id: str) -> dict[str, Any]:
        return self._call("POST", f"/takes/{urllib.parse.quote(take_id)}/cancel")

    def events(self, cursor: int = 0, wait: float = 0.0, take_id: str | None = None,
               limit: int = 500) -> tuple[list[dict[str, Any]], int]:
        """Events after `cursor` and the cursor to pass next; waits up to `wait` s for the first one."""
        query = {"cursor": cursor, "wait": wait, "limit": limit}
        if take_id is not None:
            query["take_id"] = take_id
        page = self._call("GET", f"/events?{urllib.parse.urlencode(query)}", timeout=self.timeout + wait)
        return page["events"], page["cursor"]


class EventFollower:
    """Follows the event stream on a daemon thread; `drain()` hands over what arrived, without waiting."""

    def __init__(self, client: RuntimeClient, cursor: int = 0, take_id: str | None = None, wait: float = 10.0,
                 retry_seconds: float = 1.0):
        self.client = client
        self.cursor = cursor
        """Resume point: after a restart of Blender or the runtime, pass the last one back."""
        self.take_id = take_id
        self.wait = wait
        self.retry_seconds = retry_seconds
        self.error: str | None = None
        """The last connection problem, None once events flow again (the panel shows it)."""
        self._events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="oyster-events")

    def start(self) -> "EventFollower":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following; the thread ends after its current long-poll (at once when the runtime is gone)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` s for the thread to end after `stop()`."""
        self._thread.join(timeout)

    def drain(self) -> list[dict[str, Any]]:
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                events, cursor = self.client.events(self.cursor, self.wait, self.take_id)
            except RuntimeClientError as error:
                if error.status == 409:  # the runtime's log was reset: its events start again from 0
                    self.cursor = 0
                    continue
                self.error = str(error)
                self._stop.wait(self.retry_seconds)
                continue
            self.error = None
            for event in events:
                self._events.put(event)
            self.cursor = cursor
