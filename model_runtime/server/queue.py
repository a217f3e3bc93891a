"""The persistent, ordered take queue and its event log, in one SQLite file in the state dir.

Takes run in submission order (`seq`). Every change of a take appends an event
whose `seq` is the cursor clients resume from; events survive restarts, so a
client that was away catches up exactly. The database is the single source of
truth for statuses; take.json mirrors it for people and scripts.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from model_runtime.takes.folders import FINAL_STATUSES, now_iso

_SCHEMA = """
CREATE TABLE IF NOT EXISTS takes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    shot TEXT NOT NULL,
    take_number INTEGER,
    take_dir TEXT,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    frames_done INTEGER NOT NULL DEFAULT 0,
    frames_total INTEGER NOT NULL,
    submitted TEXT NOT NULL,
    started TEXT,
    finished TEXT
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    take_id TEXT NOT NULL,
    type TEXT NOT NULL,
    time TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_take ON events (take_id, seq);
"""
_TAKE_COLUMNS = ("id", "shot", "take_number", "take_dir", "model", "status", "error",
                 "frames_done", "frames_total", "submitted", "started", "finished")


class TakeQueue:
    """Thread-safe: the HTTP handlers and the worker supervisor share one instance."""

    def __init__(self, path: Path):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._listeners: list[Callable[[], None]] = []

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def on_event(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from any thread) after every appended event."""
        self._listeners.append(listener)

    # ------------------------------------------------------------ helpers (lock held)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # Explicit, so a failed write (e.g. a full disk) rolls back instead of leaving a transaction open.
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _event(self, take_id: str, kind: str, data: dict[str, Any]) -> None:
        self._db.execute("INSERT INTO events (take_id, type, time, data) VALUES (?, ?, ?, ?)",
                         (take_id, kind, now_iso(), json.dumps(data)))

    def _take(self, take_id: str) -> dict[str, Any] | None:
        row = self._db.execute(f"SELECT {', '.join(_TAKE_COLUMNS)} FROM takes WHERE id = ?", (take_id,)).fetchone()
        return dict(zip(_TAKE_COLUMNS, row)) if row else None

    def _notify(self) -> None:
        self._work.notify_all()
        for listener in self._listeners:
            listener()

    # ------------------------------------------------------------ takes

    def add(self, take_id: str, shot: str, take_number: int | None, take_dir: str | None, model: str,
            frames_total: int, error: str | None = None) -> dict[str, Any]:
        """Append a take; with `error` it is recorded as already failed (its folder could not be made)."""
        status = "failed" if error else "queued"
        with self._lock:
            with self._transaction():
                self._db.execute(
                    "INSERT INTO takes (id, shot, take_number, take_dir, model, status, error, frames_total,"
                    " submitted, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (take_id, shot, take_number, take_dir, model, status, error, frames_total, now_iso(),
                     now_iso() if error else None))
                self._event(take_id, "queued", {"shot": shot, "take_number": take_number, "take_dir": take_dir,
                                                "frames_total": frames_total})
                if error:
                    self._event(take_id, "failed", {"reason": error})
            self._notify()
            return self._take(take_id)

    def get(self, take_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._take(take_id)

    def list(self, limit: int) -> list[dict[str, Any]]:
        """The latest `limit` takes, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_TAKE_COLUMNS)} FROM takes ORDER BY seq DESC LIMIT ?",
                                    (limit,)).fetchall()
        return [dict(zip(_TAKE_COLUMNS, row)) for row in reversed(rows)]

    def queue_length(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM takes WHERE status IN ('queued', 'running')").fetchone()[0]

    def claim_next(self, timeout: float,
                   accept: Callable[[str], bool] = lambda take_id: True) -> dict[str, Any] | None:
        """Mark the oldest queued take whose id `accept` takes running and return it; wait up to `timeout` s
        for one."""
        with self._lock:
            take_id = self._first_queued(accept)
            if take_id is None:
                self._work.wait(timeout)
                take_id = self._first_queued(accept)
                if take_id is None:
                    return None
            self._db.execute("UPDATE takes SET status = 'running', started = ? WHERE id = ?", (now_iso(), take_id))
            return self._take(take_id)

    def _first_queued(self, accept: Callable[[str], bool]) -> str | None:
        rows = self._db.execute("SELECT id FROM takes WHERE status = 'queued' ORDER BY seq").fetchall()
        return next((row[0] for row in rows if accept(row[0])), None)

    def started(self, take_id: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._event(take_id, "started", data)
            self._notify()

    def frame(self, take_id: str, data: dict[str, Any]) -> None:
        with self._lock:
            with self._transaction():
                self._db.execute("UPDATE takes SET frames_done = frames_done + 1 WHERE id = ?", (take_id,))
                self._event(take_id, "frame", data)
            self._notify()

    def finish(self, take_id: str, status: str, error: str | None = None) -> dict[str, Any] | None:
        """Move a take to a final status; None if it already was final (the first ending wins)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"{status!r} is not a final status")
        placeholders = ", ".join("?" * len(FINAL_STATUSES))
        with self._lock:
            with self._transaction():
                changed = self._db.execute(
                    f"UPDATE takes SET status = ?, error = ?, finished = ? WHERE id = ? AND status NOT IN ({placeholders})",
                    (status, error, now_iso(), take_id, *FINAL_STATUSES)).rowcount
                if changed:
                    self._event(take_id, status, {"reason": error} if error else {})
            if changed:
                self._notify()
                return self._take(take_id)
            return None

    def running(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_TAKE_COLUMNS)} FROM takes WHERE status = 'running'").fetchall()
        return [dict(zip(_TAKE_COLUMNS, row)) for row in rows]

    # ------------------------------------------------------------ events

    def frames_of(self, take_id: str) -> list[dict[str, Any]]:
        """The `frame` events of a take, in order (take.json's frame list after a worker death)."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM events WHERE take_id = ? AND type = 'frame' ORDER BY seq",
                                    (take_id,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def latest_seq(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def events_after(self, cursor: int, take_id: str | None, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Events with seq > cursor (of one take if given) and the cursor to resume from."""
        with self._lock:
            latest = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            query = "SELECT seq, take_id, type, time, data FROM events WHERE seq > ?"
            params: list[Any] = [cursor]
            if take_id is not None:
                query += " AND take_id = ?"
                params.append(take_id)
            rows = self._db.execute(query + " ORDER BY seq LIMIT ?", (*params, limit)).fetchall()
        events = [{"seq": s, "take_id": t, "type": k, "time": when, "data": json.loads(d)} for s, t, k, when, d in rows]
        # With fewer than `limit` rows every matching event up to `latest` was returned.
        next_cursor = events[-1]["seq"] if len(events) == limit else max(cursor, latest)
        return events, next_cursor
