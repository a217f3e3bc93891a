"""Faults with real processes: kill -9 of the worker, a server restart, and the parent (Blender) dying."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2

from runtime_fixtures import ROOT, Runtime, alive, shot_request, write_first_frame


def wait_first_frame(runtime: Runtime, take_id: str) -> None:
    cursor = 0
    while True:
        _, page = runtime.request("GET", f"/v1/events?take_id={take_id}&cursor={cursor}&wait=30")
        if any(e["type"] == "frame" for e in page["events"]):
            return
        cursor = page["cursor"]


def test_worker_kill_fails_that_take_keeps_its_frames_and_the_next_take_runs(tmp_path: Path):
    runtime = Runtime(tmp_path / "state", tmp_path)
    try:
        first = write_first_frame(tmp_path / "inputs")
        worker = runtime.worker_pid()
        _, doomed = runtime.request("POST", "/v1/takes", shot_request(first, frames=3000, shot="doomed"))
        _, following = runtime.request("POST", "/v1/takes", shot_request(first, frames=3, shot="after"))
        wait_first_frame(runtime, doomed["id"])
        os.kill(worker, signal.SIGKILL)
        take = runtime.wait_for(doomed["id"])
        assert take["status"] == "failed" and "SIGKILL" in take["error"], take
        assert 0 < take["frames_done"] < 3000
        folder = Path(take["take_dir"])
        frames = sorted(folder.glob("*.png"))
        # Every frame reported is on disk and readable; at most the one being renamed at the kill is extra.
        assert take["frames_done"] <= len(frames) <= take["frames_done"] + 1
        assert all(cv2.imread(str(path)) is not None for path in frames)
        record = json.loads((folder / "take.json").read_text())
        assert record["status"] == "failed" and "SIGKILL" in record["error"]
        assert len(record["frames"]) == take["frames_done"]
        assert runtime.wait_for(following["id"])["status"] == "done"
        _, info = runtime.request("GET", "/v1/info")
        assert info["worker"]["restarts"] == 1 and info["worker"]["pid"] != worker
    finally:
        runtime.stop()


def test_restart_keeps_queued_takes_and_marks_the_running_one_interrupted(tmp_path: Path):
    runtime = Runtime(tmp_path / "state", tmp_path)
    first = write_first_frame(tmp_path / "inputs")
    worker = runtime.worker_pid()
    _, running = runtime.request("POST", "/v1/takes", shot_request(first, frames=3000, shot="cut short"))
    queued = [runtime.request("POST", "/v1/takes", shot_request(first, frames=2, shot=f"waiting {i}"))[1]
              for i in range(3)]
    wait_first_frame(runtime, running["id"])
    runtime.kill()  # kill -9 of the server: no chance to clean up
    deadline = time.monotonic() + 5
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker), "the worker outlived its server"

    restarted = Runtime(tmp_path / "state", tmp_path)
    try:
        take = restarted.wait_for(running["id"])
        assert take["status"] == "interrupted"
        assert json.loads((Path(take["take_dir"]) / "take.json").read_text())["status"] == "interrupted"
        done = [restarted.wait_for(t["id"]) for t in queued]
        assert [t["status"] for t in done] == ["done"] * 3
        started = [t["started"] for t in done]
        assert started == sorted(started)  # still in submission order
    finally:
        restarted.stop()


def test_runtime_exits_within_5_s_of_its_parent(tmp_path: Path):
    """A stand-in for Blender starts the runtime with --parent-pid and is then killed -9."""
    (tmp_path / "state").mkdir()
    launcher = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'model_runtime', 'serve', '--port', '0', '--state-dir', "
        f"{str(tmp_path / 'state')!r}, '--output-root', {str(tmp_path)!r}, '--preload', 'copy-first-frame', "
        "'--parent-pid', str(os.getpid())], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
        "print(p.pid, p.stdout.readline().decode().strip(), flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    pid, url = parent.stdout.readline().split()
    runtime = Runtime.__new__(Runtime)
    runtime.url, runtime.token = url, None
    worker = runtime.worker_pid()
    parent.kill()
    parent.wait()
    time.sleep(5)
    assert not alive(int(pid)), "the runtime outlived its parent by 5 s"
    assert not alive(worker), "the worker outlived its parent by 5 s"
