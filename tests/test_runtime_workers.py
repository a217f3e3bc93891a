"""Several take workers in one runtime (`serve --workers N`, or one per listed `--device`), through a real
`serve` process over a real socket: two takes at once, a kill -9 of one worker costing only its take, the
live worker beside them, and the flags that cannot work refused (docs/runtime_api.md, "Workers").

Concurrency is judged from what the server reports (the order of its events, the workers' current takes in
/v1/info), never from the clock."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from oyster_blender.client import RuntimeClient
from oyster_blender.live import LiveClient
from runtime_fixtures import HEIGHT, ROOT, WIDTH, Runtime, alive, shot_request, write_first_frame


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("workers")
    server = Runtime(root / "state", root, "t0ken", "--workers", "2")
    server.first = write_first_frame(root / "inputs")
    yield server
    server.stop()


def take_workers(runtime: Runtime, timeout: float = 60) -> list[dict[str, Any]]:
    """/v1/info's take workers, once every one of them has said hello."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, info = runtime.request("GET", "/v1/info")
        workers = [w for w in info["workers"] if w["role"] == "takes"]
        if all(w["state"] in ("idle", "busy") for w in workers):
            return workers
        time.sleep(0.05)
    raise TimeoutError(f"the workers never became ready: {info['workers']}")


def events_of(runtime: Runtime, take_ids: set[str]) -> list[dict[str, Any]]:
    _, page = runtime.request("GET", "/v1/events?cursor=0&limit=1000")
    events, cursor = page["events"], page["cursor"]
    while len(page["events"]) == 1000:
        _, page = runtime.request("GET", f"/v1/events?cursor={cursor}&limit=1000")
        events, cursor = events + page["events"], page["cursor"]
    return [e for e in events if e["take_id"] in take_ids]


def wait_until_running(runtime: Runtime, take_ids: set[str]) -> None:
    """Until each take has written a frame (so each is running on a worker)."""
    cursor, seen = 0, set()
    while seen != take_ids:
        _, page = runtime.request("GET", f"/v1/events?cursor={cursor}&wait=30")
        seen |= {e["take_id"] for e in page["events"] if e["type"] == "frame" and e["take_id"] in take_ids}
        cursor = page["cursor"]


def first_seq(events: list[dict[str, Any]], take_id: str, kind: str) -> int:
    return next(e["seq"] for e in events if e["take_id"] == take_id and e["type"] == kind)


def test_two_workers_take_two_takes_at_once(runtime: Runtime):
    workers = take_workers(runtime)
    assert [w["index"] for w in workers] == [0, 1] and all(w["device"] == "cpu" for w in workers)
    assert len({w["pid"] for w in workers}) == 2
    if "OMP_NUM_THREADS" not in os.environ:  # the cores shared out, so two workers never oversubscribe them
        assert [w["threads"] for w in workers] == [max(1, (os.cpu_count() or 1) // 2)] * 2
    _, info = runtime.request("GET", "/v1/info")
    assert info["worker"] == workers[0]  # the first take worker, as before there were several

    takes = [runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=300, shot=f"at once {i}"))[1]
             for i in range(2)]
    done = [runtime.wait_for(take["id"]) for take in takes]
    assert [t["status"] for t in done] == ["done", "done"] and [t["frames_done"] for t in done] == [300, 300]
    a, b = (take["id"] for take in takes)
    events = events_of(runtime, {a, b})
    started = {e["take_id"]: e["data"] for e in events if e["type"] == "started"}
    assert {started[a]["worker"], started[b]["worker"]} == {0, 1}
    assert {started[a]["pid"], started[b]["pid"]} == {w["pid"] for w in workers}
    # Each take started before the other was done: they ran at the same time, on the two workers.
    assert first_seq(events, a, "started") < first_seq(events, b, "done")
    assert first_seq(events, b, "started") < first_seq(events, a, "done")


def test_a_kill_of_one_worker_fails_only_its_take(runtime: Runtime):
    before = {w["index"]: w for w in take_workers(runtime)}
    _, doomed = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=3000, shot="doomed"))
    _, survivor = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=1500, shot="survivor"))
    wait_until_running(runtime, {doomed["id"], survivor["id"]})
    _, info = runtime.request("GET", "/v1/info")
    running = {w["take_id"]: w for w in info["workers"] if w["take_id"]}
    victim, other = running[doomed["id"]], running[survivor["id"]]
    assert victim["state"] == other["state"] == "busy" and victim["pid"] != other["pid"]

    os.kill(victim["pid"], signal.SIGKILL)
    failed = runtime.wait_for(doomed["id"])
    assert failed["status"] == "failed", failed
    assert failed["error"].startswith("the worker process was killed by SIGKILL during this take"), failed["error"]
    assert 0 < failed["frames_done"] < 3000
    finished = runtime.wait_for(survivor["id"])
    assert finished["status"] == "done" and finished["frames_done"] == 1500 and finished["error"] is None
    events = events_of(runtime, {doomed["id"], survivor["id"]})
    died = first_seq(events, doomed["id"], "failed")
    assert any(e["seq"] > died for e in events if e["take_id"] == survivor["id"] and e["type"] == "frame"), \
        "the survivor wrote no frame after the other worker died"

    after = {w["index"]: w for w in take_workers(runtime)}
    assert after[victim["index"]]["restarts"] == before[victim["index"]]["restarts"] + 1
    assert after[victim["index"]]["pid"] != victim["pid"] and not alive(victim["pid"])
    assert after[other["index"]]["pid"] == other["pid"]
    assert after[other["index"]]["restarts"] == before[other["index"]]["restarts"]
    # The server goes on serving, on both workers.
    again = [runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=3, shot=f"after {i}"))[1]
             for i in range(2)]
    assert [runtime.wait_for(take["id"])["status"] for take in again] == ["done", "done"]


def test_cancel_reaches_the_worker_running_the_take(runtime: Runtime):
    take_workers(runtime)
    takes = [runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=3000, shot=f"long {i}"))[1]
             for i in range(2)]
    wait_until_running(runtime, {take["id"] for take in takes})
    for take in reversed(takes):
        status, _ = runtime.request("POST", f"/v1/takes/{take['id']}/cancel")
        assert status == 200
    for take in takes:
        ended = runtime.wait_for(take["id"])
        assert ended["status"] == "cancelled" and ended["frames_done"] < 3000


def test_a_continuation_waits_for_the_worker_holding_its_parents_states(runtime: Runtime):
    take_workers(runtime)
    _, parent = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=8, shot="parent"))
    assert runtime.wait_for(parent["id"])["status"] == "done"
    holder = next(e["data"]["worker"] for e in events_of(runtime, {parent["id"]}) if e["type"] == "started")
    long = [runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=3000, shot=f"busy {i}"))[1]
            for i in range(2)]
    wait_until_running(runtime, {take["id"] for take in long})
    continuation = shot_request(runtime.first, frames=8, shot="parent",
                                continue_from={"take": parent["take_dir"], "frame": 6})
    _, child = runtime.request("POST", "/v1/takes", continuation)
    _, info = runtime.request("GET", "/v1/info")
    on = {w["index"]: w["take_id"] for w in info["workers"] if w["role"] == "takes"}
    # The other worker comes free first: it leaves the continuation queued and takes the take behind it.
    assert runtime.request("POST", f"/v1/takes/{on[1 - holder]}/cancel")[0] == 200
    _, behind = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=3, shot="behind"))
    assert runtime.wait_for(behind["id"])["status"] == "done"
    runtime.request("POST", f"/v1/takes/{on[holder]}/cancel")  # 409 if it ended meanwhile
    done = runtime.wait_for(child["id"])
    assert done["status"] == "done", done["error"]
    started = {e["take_id"]: e["data"]["worker"] for e in events_of(runtime, {child["id"], behind["id"]})
               if e["type"] == "started"}
    assert started == {child["id"]: holder, behind["id"]: 1 - holder}
    record = json.loads((Path(done["take_dir"]) / "take.json").read_text())
    assert record["continued_from"]["state_from"] == "memory"


def test_the_live_worker_runs_beside_the_take_workers(runtime: Runtime):
    take_pids = {w["pid"] for w in take_workers(runtime)}
    live = LiveClient(RuntimeClient(runtime.url, runtime.token))
    session = live.start({"model": "copy-first-frame", "width": WIDTH, "height": HEIGHT,
                          "first_frame": {"rgb": str(runtime.first[0])}})
    frame = live.step(session, {"c2w": [[float(i == j) for j in range(4)] for i in range(4)],
                                "fx": WIDTH * 0.8, "fy": WIDTH * 0.8, "cx": WIDTH / 2, "cy": HEIGHT / 2})
    assert frame.index == 0
    _, info = runtime.request("GET", "/v1/info")
    (worker,) = [w for w in info["workers"] if w["role"] == "live"]
    assert worker["live_sessions"] == 1 and worker["device"] == "cpu" and worker["pid"] not in take_pids
    live.close(session)


@pytest.mark.parametrize("flags, message", [
    (["--workers", "0"], "serve: --workers must be at least 1 (got 0)"),
    (["--device", "cpu,gpu"], "unknown device 'gpu'"),
    (["--device", "cpu,cpu", "--workers", "3"], "--workers 3 does not match the 2 devices of --device cpu,cpu"),
    (["--device", "cuda:0,cuda:7"], "was asked, but torch sees"),
])
def test_workers_that_cannot_be_started_are_refused(tmp_path: Path, flags: list[str], message: str):
    result = subprocess.run([sys.executable, "-m", "model_runtime", "serve", "--state-dir", str(tmp_path),
                             "--output-root", str(tmp_path), *flags],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and message in result.stderr and result.stdout == "", result.stderr
