"""The extension's stdlib client against a runtime it started itself (real process, real socket)."""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from oyster_blender.client import EventFollower, RuntimeClient, RuntimeClientError
from oyster_blender.runtime_process import LocalRuntime, RuntimeStartError, remote_client
from runtime_fixtures import ROOT, alive, shot_request, write_first_frame


def started(tmp_path: Path) -> LocalRuntime:
    runtime = LocalRuntime(sys.executable, ROOT, tmp_path / "state", output_root=tmp_path,
                           preload=["copy-first-frame"])
    deadline = time.monotonic() + 60
    while runtime.ready() is None:
        assert time.monotonic() < deadline, runtime.log_path.read_text()
        time.sleep(0.02)
    return runtime


def test_start_submit_follow_cancel_and_stop(tmp_path: Path):
    runtime = started(tmp_path)
    try:
        client = runtime.client()
        assert client.health()["status"] == "ok"
        info = client.info()
        assert "copy-first-frame" in [m["name"] for m in info["models"]]
        assert (tmp_path / "state" / "token").stat().st_mode & 0o077 == 0  # the token file is private
        first = write_first_frame(tmp_path / "inputs")
        take = client.submit(shot_request(first, frames=5, shot="client"))
        follower = EventFollower(client, take_id=take["id"], wait=5).start()
        seen: list[dict] = []
        deadline = time.monotonic() + 60
        while not any(e["type"] == "done" for e in seen):
            assert time.monotonic() < deadline, seen
            seen += follower.drain()  # what a bpy.app.timers callback does: never waits
            time.sleep(0.01)
        follower.stop()
        frames = [e["data"]["path"] for e in seen if e["type"] == "frame"]
        assert [Path(p).name for p in frames] == [f"{i:04d}.png" for i in range(1, 6)]
        assert all(Path(p).is_file() for p in frames)
        assert client.take(take["id"])["status"] == "done"
        assert [t["id"] for t in client.takes()] == [take["id"]]

        with pytest.raises(RuntimeClientError) as refused:
            client.submit(shot_request(first, seed=-1, output="../elsewhere"))
        assert refused.value.status == 422
        assert {f["field"] for f in refused.value.fields} == {"seed", "output"}
        assert "seed:" in str(refused.value) and "output:" in str(refused.value)
        with pytest.raises(RuntimeClientError) as unauthorised:
            RuntimeClient(runtime.url, "not the token").info()
        assert unauthorised.value.status == 401

        long = client.submit(shot_request(first, frames=3000, shot="client long"))
        queued = client.submit(shot_request(first, frames=2, shot="client long"))
        assert client.cancel(queued["id"])["status"] == "cancelled"
        while client.take(long["id"])["frames_done"] == 0:
            time.sleep(0.02)
        client.cancel(long["id"])
        while client.take(long["id"])["status"] == "running":
            time.sleep(0.02)
        assert client.take(long["id"])["status"] == "cancelled"
        worker = info["worker"]["pid"]
    finally:
        runtime.stop()
    assert runtime.process.poll() is not None
    deadline = time.monotonic() + 5
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker)


def test_unreachable_runtime_and_failed_start_say_why(tmp_path: Path):
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RuntimeClientError, match="not reachable") as error:
        remote_client(f"127.0.0.1:{port}", "token").health()
    assert error.value.status is None
    follower = EventFollower(RuntimeClient(f"http://127.0.0.1:{port}"), retry_seconds=0.05).start()
    deadline = time.monotonic() + 5
    while follower.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    follower.stop()
    assert "not reachable" in follower.error and follower.drain() == []

    broken = LocalRuntime(sys.executable, ROOT, tmp_path / "state", output_root=tmp_path / "missing")
    deadline = time.monotonic() + 30
    with pytest.raises(RuntimeStartError, match="is not a folder"):
        while time.monotonic() < deadline:
            broken.ready()
            time.sleep(0.02)
    with pytest.raises(RuntimeStartError, match="cannot run"):
        LocalRuntime(str(tmp_path / "no-python"), ROOT, tmp_path / "state2")
