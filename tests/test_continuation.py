"""Continue a take from frame N: frames before N reused bit for bit, the model resumes from its state,
kept in memory while warm and on disk beside the take when asked (docs/continuation.md).

The world model here is a `micro` one with random weights: continuation is about the state, not the pictures.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from model_runtime.models.baselines import DepthWarp
from model_runtime.takes.continuation import MAX_STATES_PER_TAKE, StateStore, snapshot_spacing, state_path
from model_runtime.takes.folders import create_take, read_take
from model_runtime.takes.run import run_take
from model_runtime.world.checkpoint import save_checkpoint
from model_runtime.world.config import preset
from model_runtime.world.generator import OysterWorldModel
from model_runtime.world.model import WorldModel
from runtime_fixtures import Runtime, write_first_frame
from torch_threads import one_torch_thread  # noqa: F401 - autouse fixture

FRAMES = 96
N = 40  # scene frame (the track starts at 0) from which the camera changes, as in issue 8


def track(turn_after: int | None = None, frames: int = FRAMES) -> dict:
    """A slow pan and truck; with `turn_after`, the pan speeds up from that frame on."""
    out, prev = [], None
    for frame in range(frames):
        yaw = np.radians(0.5 * frame + (1.5 * (frame - turn_after) if turn_after and frame >= turn_after else 0.0))
        c2w = np.eye(4)
        c2w[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
        c2w[:3, 3] = [0.03 * frame, 0, 0]
        rel = np.eye(4) if prev is None else np.linalg.inv(prev) @ c2w
        out.append({"frame": frame, "c2w": c2w.tolist(), "fx": 50.0, "fy": 50.0, "cx": 32.0, "cy": 18.0,
                    "rel": rel.tolist()})
        prev = c2w
    return {"version": 1, "width": 64, "height": 36, "fps": 24.0, "frame_start": 0, "frame_end": frames - 1,
            "scale": 1.0, "frames": out}


def micro_checkpoint(path, seed: int):
    torch.manual_seed(seed)
    model = WorldModel(preset("micro"))
    for p in model.dynamics.parameters():
        torch.nn.init.normal_(p, std=0.05)
    save_checkpoint(path, model.config, model.state_dict())
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return micro_checkpoint(tmp_path_factory.mktemp("ckpt") / "micro.safetensors", seed=0)


@pytest.fixture(scope="module")
def generator(checkpoint):
    return OysterWorldModel(checkpoint, name="oyster-tiny")


class Counting:
    """Counts the frames a generator really computes (the runtime's view of the work done)."""

    def __init__(self, inner):
        self.inner, self.steps = inner, 0
        self.name, self.checkpoint_sha256 = inner.name, inner.checkpoint_sha256

    def start(self, shot):
        session, counter = self.inner.start(shot), self

        class Wrapped:
            def __getattr__(self, name):
                return getattr(session, name)

            def step(self):
                counter.steps += 1
                return session.step()

        return Wrapped()


def request(t: dict, model: str = "oyster-tiny", **extra) -> dict:
    return {"shot": "sh010", "notes": "foggy street at dusk", "notes_events": [], "track": t, "seed": 5,
            "model": model, "first_frame": None, "output": None, "continue_from": None, **extra}


def continuing(parent, frame: int, t: dict | None = None, **extra) -> dict:
    return request(t or track(), continue_from={"take": str(parent), "frame": frame}, **extra)


def frames_of(take, count: int = FRAMES) -> list[bytes]:
    return [(take / f"{f:04d}.png").read_bytes() for f in range(count)]


@pytest.fixture(scope="module")
def parent(generator, tmp_path_factory):
    """A 96-frame take with its states kept in memory and on disk; (its folder, its memory store)."""
    states = StateStore()
    take = create_take(tmp_path_factory.mktemp("out"), request(track(), save_states=True), None, None).path
    assert run_take(generator, take, states=states).status == "done"
    return take, states


def test_continuing_from_frame_40_of_96_reuses_frames_0_to_39_and_computes_only_40_to_95(generator, parent,
                                                                                         tmp_path):
    take, states = parent
    counting = Counting(generator)
    child = create_take(tmp_path, continuing(take, N, track(turn_after=N)), None, None).path
    result = run_take(counting, child, states=states)
    assert result.status == "done", result.error
    assert frames_of(child)[:N] == frames_of(take)[:N]            # frames 0-39 bit for bit
    assert all(a != b for a, b in zip(frames_of(child)[N + 1:], frames_of(take)[N + 1:]))  # the new camera shows
    assert [f.frame for f in result.frames] == list(range(N, FRAMES))
    assert counting.steps == FRAMES - N  # 56 frames computed instead of 96: a snapshot sits at frame 40
    assert read_take(child)["continued_from"] == {"take": str(take), "frame": N, "reused_frames": N,
                                                  "replayed_frames": 0, "state_from": "memory"}


def test_continuing_between_snapshots_replays_from_the_one_before_and_reproduces_exactly(generator, parent,
                                                                                        tmp_path):
    take, states = parent
    counting = Counting(generator)
    same = create_take(tmp_path, continuing(take, 45), None, None).path
    assert run_take(counting, same, states=states).status == "done"
    assert frames_of(same) == frames_of(take)  # the parent's own camera from its state: the parent again
    record = read_take(same)["continued_from"]
    assert record["replayed_frames"] == 5 and counting.steps == FRAMES - 45 + 5  # from the snapshot at 40


def test_a_long_take_keeps_its_states_bounded_and_evenly_spread_and_still_continues(generator, tmp_path):
    assert [snapshot_spacing(i) for i in (0, 256, 257, 512, 513, 4_319)] == [8, 8, 16, 16, 32, 256]
    long = 600
    states = StateStore()
    take = create_take(tmp_path, request(track(frames=long), save_states=True), None, None).path
    assert run_take(generator, take, states=states).status == "done"
    spread = list(range(0, long, 32))  # past frame 512 the spacing is 32: every other state of 16 went
    on_disk = sorted(int(p.stem) for p in (take / "states").glob("*.safetensors"))
    assert on_disk == spread and len(on_disk) <= MAX_STATES_PER_TAKE + 1
    assert sorted(states.up_to(take, long)) == spread

    child = create_take(tmp_path, continuing(take, 590, track(frames=long)), None, None).path
    counting = Counting(generator)
    assert run_take(counting, child, states=StateStore()).status == "done"  # from disk, as after a restart
    assert frames_of(child, long) == frames_of(take, long)
    assert read_take(child)["continued_from"]["replayed_frames"] == 590 - 576 and counting.steps == long - 576


def test_the_store_drops_the_oldest_takes_past_its_byte_budget(tmp_path):
    one = {"points": np.zeros((1000, 3), np.float32)}  # 12,000 bytes a state
    store = StateStore(kept_takes=8, max_bytes=50_000)
    for name in ("a", "b", "c"):
        for index in (0, 8):
            store.put(tmp_path / name, index, one)
    assert store.nbytes() <= 50_000 and not store.up_to(tmp_path / "a", 8) and len(store.up_to(tmp_path / "c", 8)) == 2


def test_states_on_disk_continue_the_take_after_a_restart_exactly(checkpoint, parent, tmp_path):
    take, _ = parent
    written = sorted(p.name for p in (take / "states").iterdir())
    assert written == [f"{i:04d}.safetensors" for i in range(0, FRAMES, 8)]  # atomically: no temporaries
    restarted = OysterWorldModel(checkpoint, name="oyster-tiny")  # a new process: the model loaded again
    counting = Counting(restarted)
    same = create_take(tmp_path, continuing(take, 45), None, None).path
    result = run_take(counting, same, states=StateStore())  # nothing in memory
    assert result.status == "done", result.error
    assert frames_of(same) == frames_of(take)
    assert read_take(same)["continued_from"]["state_from"] == "disk" and counting.steps == FRAMES - 45 + 5

    changed = create_take(tmp_path, continuing(take, N, track(turn_after=N)), None, None).path
    assert run_take(restarted, changed).status == "done"  # not even a store: `generate` on a render farm
    assert frames_of(changed)[:N] == frames_of(take)[:N] and frames_of(changed)[N + 1] != frames_of(take)[N + 1]


def test_a_continued_take_continues_again_from_before_its_own_frame_n(generator, parent, tmp_path):
    """The parent's states before N are the child's too, in memory and (hard-linked) on disk."""
    take, states = parent
    child = create_take(tmp_path, continuing(take, N, track(turn_after=N), save_states=True), None, None).path
    assert run_take(generator, child, states=states).status == "done"
    assert (state_path(child, 16)).stat().st_ino == state_path(take, 16).stat().st_ino
    for store in (states, StateStore()):  # warm, then after a restart (from the links on disk)
        grandchild = create_take(tmp_path, continuing(child, 20, track(turn_after=N)), None, None).path
        assert run_take(generator, grandchild, states=store).status == "done"
        assert frames_of(grandchild) == frames_of(child)


def test_a_gone_or_foreign_state_asks_for_a_full_regeneration(checkpoint, generator, parent, tmp_path):
    take, _ = parent
    gone = create_take(tmp_path, request(track(frames=24)), None, None).path
    assert run_take(generator, gone).status == "done"  # no store, no save_states: nothing kept
    result = run_take(generator, create_take(tmp_path, continuing(gone, 13, track(frames=24)), None, None).path,
                      states=StateStore())
    assert result.status == "failed"
    assert "holds no state of take_" in result.error and "ask for save_states" in result.error
    assert result.error.endswith("regenerate the take in full")

    other = OysterWorldModel(micro_checkpoint(tmp_path / "other.safetensors", seed=1), name="oyster-tiny")
    result = run_take(other, create_take(tmp_path, continuing(take, 45), None, None).path)
    assert result.status == "failed"
    assert f"was made by oyster-tiny (checkpoint sha256 {generator.checkpoint_sha256[:12]})" in result.error
    assert f"now runs oyster-tiny (checkpoint sha256 {other.checkpoint_sha256[:12]})" in result.error

    damaged = create_take(tmp_path, request(track(frames=24), save_states=True), None, None).path
    assert run_take(generator, damaged).status == "done"
    state = state_path(damaged, 8)
    state.write_bytes(state.read_bytes()[:1000])
    result = run_take(generator, create_take(tmp_path, continuing(damaged, 13, track(frames=24)), None, None).path)
    assert result.status == "failed" and "states/0008.safetensors cannot be used" in result.error
    assert "not a readable safetensors file" in result.error and result.error.endswith("regenerate the take in full")

    # a state of the previous format (it named the runtime's classes) is refused once, saying what to do
    tree = {"dataclass": {"class": "model_runtime.world.generator:_State", "fields": {"index": {"value": 8}}}}
    save_file({"t0": torch.ones(1)}, str(state), metadata={
        "format": "oyster-session-state", "format_version": "1", "tree": json.dumps(tree),
        "model": generator.name, "checkpoint_sha256": generator.checkpoint_sha256})
    result = run_take(generator, create_take(tmp_path, continuing(damaged, 13, track(frames=24)), None, None).path)
    assert result.status == "failed" and "format version 1, which named the runtime's Python classes" in result.error
    assert result.error.endswith("regenerate the take in full") and result.error.count("regenerate") == 1


def test_a_changed_past_is_refused_naming_what_changed(generator, parent, tmp_path):
    take, states = parent
    early = create_take(tmp_path, continuing(take, N, track(turn_after=30)), None, None).path
    result = run_take(generator, early, states=states)
    assert result.status == "failed" and "camera changed at frame 31, before frame 40" in result.error
    reseeded = create_take(tmp_path, continuing(take, N, seed=6), None, None).path
    result = run_take(generator, reseeded, states=states)
    assert result.status == "failed" and "seed differs from the parent take's" in result.error

    first, other_first = write_first_frame(tmp_path / "in", seed=0), write_first_frame(tmp_path / "in", seed=1)
    warp = DepthWarp()

    def with_first(files, **extra):
        return dict(request(track(frames=16), model="depth-warp", save_states=True, **extra),
                    first_frame={"rgb": str(files[0]), "depth": str(files[1])})

    warped = create_take(tmp_path, with_first(first), *first).path
    assert run_take(warp, warped).status == "done"
    moved = create_take(tmp_path, with_first(other_first, continue_from={"take": str(warped), "frame": 9}),
                        *other_first).path
    result = run_take(warp, moved)
    assert result.status == "failed" and result.error.startswith("first_frame: differs from the parent take's")


def test_a_take_continues_exactly_after_the_runtime_restarted(tmp_path, monkeypatch):
    """The real runtime with the shipped oyster-tiny: states kept on disk outlive the server and its worker."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the runtime's torch, on a shared CPU (see torch_threads.py)
    short = track(frames=12)

    def generate(body: dict) -> dict:
        server = Runtime(tmp_path / "state", tmp_path)  # the same state dir each time: a restart
        try:
            status, take = server.request("POST", "/v1/takes", body)
            assert status == 202, take
            return server.wait_for(take["id"], timeout=300)
        finally:
            server.stop()

    parent = generate(request(short, save_states=True))
    assert parent["status"] == "done", parent["error"]
    parent_dir = Path(parent["take_dir"])
    child = generate(continuing(parent_dir, 10, short))
    assert child["status"] == "done", child["error"]
    child_dir = Path(child["take_dir"])
    assert frames_of(child_dir, 12) == frames_of(parent_dir, 12)
    record = read_take(child_dir)
    assert record["continued_from"]["state_from"] == "disk" and record["continued_from"]["replayed_frames"] == 2
    assert [f["frame"] for f in record["frames"]] == [10, 11]  # only frames 10 and 11 were generated
