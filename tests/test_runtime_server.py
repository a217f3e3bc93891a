"""The runtime server over a real socket: token, ordering, events, cancel, and bad input with named fields."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest

from runtime_fixtures import ROOT, Runtime, make_track, shot_request, write_first_frame


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("runtime")
    server = Runtime(root / "state", root)
    server.first = write_first_frame(root / "inputs")
    yield server
    server.stop()


def test_health_is_open_everything_else_needs_the_token(runtime: Runtime):
    assert runtime.request("GET", "/v1/health", token=None) == (200, {"status": "ok", "version": "0.1.0",
                                                                       "api_version": 1})
    for path in ("/v1/info", "/v1/takes", "/v1/events", "/v1/openapi.json"):
        status, body = runtime.request("GET", path, token=None)
        assert status == 401 and body["detail"][0]["field"] == "Authorization"
        assert runtime.request("GET", path, token="wrong")[0] == 401
        assert runtime.request("GET", path)[0] == 200
    status, _ = runtime.request("POST", "/v1/takes", shot_request(runtime.first), token="t0ke")
    assert status == 401


def test_info_names_models_device_and_queue(runtime: Runtime):
    runtime.worker_pid()
    status, info = runtime.request("GET", "/v1/info")
    assert status == 200
    models = {m["name"]: m for m in info["models"]}
    assert {"oyster-tiny", "copy-first-frame", "depth-warp"} <= set(models)
    assert models["copy-first-frame"]["loaded"] and models["copy-first-frame"]["checkpoint_sha256"] is None
    assert info["device"] == "cpu" and info["queue_length"] >= 0 and info["version"] == "0.1.0"


def test_non_loopback_bind_without_token_is_refused(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "model_runtime", "serve", "--host", "0.0.0.0",
                             "--state-dir", str(tmp_path), "--output-root", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "without --token-file" in result.stderr and result.stdout == ""


def test_two_clients_ten_takes_each_all_done_in_order(runtime: Runtime):
    submitted: dict[str, list[dict]] = {"a": [], "b": []}

    def client(name: str) -> None:
        for i in range(10):
            status, take = runtime.request("POST", "/v1/takes",
                                           shot_request(runtime.first, frames=3, shot=f"client {name}", seed=i))
            assert status == 202, take
            submitted[name].append(take)

    threads = [threading.Thread(target=client, args=(name,)) for name in submitted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    takes = [runtime.wait_for(t["id"]) for name in submitted for t in submitted[name]]
    assert all(t["status"] == "done" and t["frames_done"] == 3 for t in takes)
    for name, mine in submitted.items():
        assert [t["take_number"] for t in mine] == list(range(1, 11))  # each client's shot, numbered in order
        for take in mine:
            folder = Path(take["take_dir"])
            assert sorted(p.name for p in folder.glob("*.png")) == ["0001.png", "0002.png", "0003.png"]
            assert json.loads((folder / "take.json").read_text())["status"] == "done"
    # The queue ran the takes in submission order: `done` events follow the order of the `queued` ones.
    _, page = runtime.request("GET", "/v1/events?cursor=0&limit=1000")
    ours = {t["id"] for name in submitted for t in submitted[name]}
    queued = [e["take_id"] for e in page["events"] if e["type"] == "queued" and e["take_id"] in ours]
    done = [e["take_id"] for e in page["events"] if e["type"] == "done" and e["take_id"] in ours]
    assert queued == done and len(done) == 20


def test_events_resume_from_a_cursor_and_long_poll_wakes_up(runtime: Runtime):
    _, page = runtime.request("GET", "/v1/events?cursor=0&limit=1000")
    cursor = page["cursor"]
    result: dict = {}

    def poll() -> None:
        tick = time.monotonic()
        result["page"] = runtime.request("GET", f"/v1/events?cursor={cursor}&wait=20")[1]
        result["seconds"] = time.monotonic() - tick

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    _, take = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=2, shot="poll"))
    poller.join()
    assert result["seconds"] < 5 and result["page"]["events"][0]["take_id"] == take["id"]
    runtime.wait_for(take["id"])
    seen, resume = [], cursor
    while True:  # page through two events at a time: nothing lost, nothing repeated
        _, page = runtime.request("GET", f"/v1/events?cursor={resume}&limit=2&take_id={take['id']}")
        if not page["events"]:
            break
        seen += [e["type"] for e in page["events"]]
        resume = page["cursor"]
    assert seen == ["queued", "started", "frame", "frame", "done"]
    assert runtime.request("GET", f"/v1/events?cursor={resume + 10**6}")[0] == 409


def test_cancel_queued_and_running_takes(runtime: Runtime):
    _, long = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=2000, shot="long"))
    _, queued = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=2, shot="long"))
    status, cancelled = runtime.request("POST", f"/v1/takes/{queued['id']}/cancel")
    assert status == 200 and cancelled["status"] == "cancelled"
    runtime.wait_for(long["id"], ("running",))
    _, page = runtime.request("GET", f"/v1/events?take_id={long['id']}&wait=20&cursor=0")
    while not any(e["type"] == "frame" for e in page["events"]):
        _, page = runtime.request("GET", f"/v1/events?take_id={long['id']}&wait=20&cursor={page['cursor']}")
    assert runtime.request("POST", f"/v1/takes/{long['id']}/cancel")[0] == 200
    take = runtime.wait_for(long["id"])
    assert take["status"] == "cancelled" and 0 < take["frames_done"] < 2000
    assert len(list(Path(take["take_dir"]).glob("*.png"))) == take["frames_done"]
    assert json.loads((Path(queued["take_dir"]) / "take.json").read_text())["status"] == "cancelled"
    status, body = runtime.request("POST", f"/v1/takes/{long['id']}/cancel")
    assert status == 409 and "cancelled" in body["detail"][0]["message"]
    assert runtime.request("GET", "/v1/takes/0123456789abcdef")[0] == 404


def _bad_requests(first: tuple[Path, Path], root: Path) -> list[tuple[str, dict | bytes, int, str, str]]:
    """(case, body, expected status, field named, words in the message)."""
    (root / "notes.png").write_text("not an image")
    small = write_first_frame(root / "small", width=32, height=18)
    nan_track = make_track(3)
    nan_track["frames"][1]["c2w"][0][3] = float("nan")
    skew = make_track(3)
    skew["frames"][2]["c2w"][0][1] = 0.5
    huge = make_track(2)
    huge["width"] = 100_000
    too_many = make_track(1)
    too_many.update(frame_end=100_000, frames=[{}] * 100_000)
    zero = make_track(1)
    zero.update(frame_end=0, frames=[])
    good = shot_request(first)
    return [
        ("malformed json", b'{"shot": "x", "track": ', 400, "body", ""),
        ("unknown field", dict(good, colour="red"), 422, "colour", "not permitted"),
        ("missing track", {k: v for k, v in good.items() if k != "track"}, 422, "track", "required"),
        ("nan in track", dict(good, track=nan_track), 422, "track", "frames[1].c2w[0][3]"),
        ("non-orthonormal rotation", dict(good, track=skew), 422, "track", "orthonormal"),
        ("zero frames", dict(good, track=zero), 422, "track", "frames"),
        ("100,000 frames", dict(good, track=too_many), 422, "track", "frames"),
        ("absurd resolution", dict(good, track=huge), 422, "track", "width"),
        ("output with ..", dict(good, output="proj/../../etc"), 422, "output", ".."),
        ("output outside the root", dict(good, output="/etc/oyster"), 422, "output", "outside"),
        ("first frame missing", dict(good, first_frame={"rgb": str(root / "nope.png")}), 422, "first_frame.rgb",
         "does not exist"),
        ("first frame not an image", dict(good, first_frame={"rgb": str(root / "notes.png")}), 422,
         "first_frame.rgb", "not an image"),
        ("first frame of the wrong size", dict(good, first_frame={"rgb": str(small[0])}), 422, "first_frame.rgb",
         "32x18"),
        ("depth that is not float", dict(good, first_frame={"rgb": str(first[0]), "depth": str(first[0])}), 422,
         "first_frame.depth", "float32"),
        ("first frame outside the root", dict(good, first_frame={"rgb": "/etc/hostname"}), 422, "first_frame.rgb",
         "outside"),
        ("unknown model", dict(good, model="sora"), 422, "model", "unknown model"),
        ("negative seed", dict(good, seed=-1), 422, "seed", "greater than or equal"),
        ("track not an object", dict(good, track=[1, 2]), 422, "track", "dictionary"),
    ]


def test_each_bad_input_gets_a_4xx_naming_the_field(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory):
    root = Path(runtime.output_root)
    _, before = runtime.request("GET", "/v1/takes?limit=1000")
    for case, body, expected, field, words in _bad_requests(runtime.first, root):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, answer = runtime.request("POST", "/v1/takes", raw=raw)
        assert status == expected, (case, answer)
        assert any(e["field"] == field and words in e["message"] for e in answer["detail"]), (case, answer)
    _, after = runtime.request("GET", "/v1/takes?limit=1000")
    assert len(after["takes"]) == len(before["takes"])  # nothing was queued
    _, take = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=2, shot="after bad input"))
    assert runtime.wait_for(take["id"])["status"] == "done"


def test_unwritable_output_fails_the_take_with_the_reason(runtime: Runtime):
    root = Path(runtime.output_root)
    _, earlier = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=2, shot="blocked",
                                                                   output="blocked"))
    earlier = runtime.wait_for(earlier["id"])
    (root / "jammed" / "oyster").mkdir(parents=True)
    (root / "jammed" / "oyster" / "blocked").write_text("a file where the shot folder should be")
    status, take = runtime.request("POST", "/v1/takes", shot_request(runtime.first, frames=2, shot="blocked",
                                                                     output="jammed"))
    assert status == 202 and take["status"] == "failed" and "could not create the take folder" in take["error"]
    assert earlier["status"] == "done" and len(list(Path(earlier["take_dir"]).glob("*.png"))) == 2


def test_first_frame_and_depth_are_copied_into_the_take(runtime: Runtime):
    rgb, depth = runtime.first
    request = shot_request(runtime.first, frames=3, shot="warp", model="depth-warp")
    request["first_frame"]["depth"] = str(depth)
    _, take = runtime.request("POST", "/v1/takes", request)
    take = runtime.wait_for(take["id"])
    assert take["status"] == "done", take
    folder = Path(take["take_dir"])
    record = json.loads((folder / "take.json").read_text())
    assert record["request"]["first_frame"] == {"rgb": "inputs/first_rgb.png", "depth": "inputs/first_depth.exr"}
    assert (folder / "inputs" / "first_rgb.png").read_bytes() == rgb.read_bytes()
    assert (cv2.imread(str(folder / "0001.png")) == cv2.imread(str(rgb))).all()
