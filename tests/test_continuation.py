"""Continue a take from frame N: frames before N reused bit for bit, the model resumes from its state."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model_runtime.continuation import StateStore
from model_runtime.generation import run_take
from model_runtime.takes import create_take, read_take
from model_runtime.world.checkpoint import save_checkpoint
from model_runtime.world.config import preset
from model_runtime.world.generator import OysterWorldModel
from model_runtime.world.model import WorldModel

FRAMES = 32
N = 13  # scene frame from which the camera changes


def track(turn_after: int | None = None) -> dict:
    frames, prev = [], None
    for i in range(FRAMES):
        frame = i + 1
        yaw = np.radians(0.5 * i + (1.5 * (frame - turn_after) if turn_after and frame >= turn_after else 0.0))
        c2w = np.eye(4)
        c2w[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
        c2w[:3, 3] = [0.03 * i, 0, 0]
        rel = np.eye(4) if prev is None else np.linalg.inv(prev) @ c2w
        frames.append({"frame": frame, "c2w": c2w.tolist(), "fx": 50.0, "fy": 50.0, "cx": 32.0, "cy": 18.0,
                       "rel": rel.tolist()})
        prev = c2w
    return {"version": 1, "width": 64, "height": 36, "fps": 24.0, "frame_start": 1, "frame_end": FRAMES,
            "scale": 1.0, "frames": frames}


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    torch.manual_seed(0)
    model = WorldModel(preset("micro"))
    for p in model.dynamics.parameters():
        torch.nn.init.normal_(p, std=0.05)
    path = tmp_path_factory.mktemp("ckpt") / "micro.safetensors"
    save_checkpoint(path, model.config, model.state_dict())
    return OysterWorldModel(path, name=str(path))


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


def request(t: dict, model: str, **extra) -> dict:
    return {"shot": "sh010", "notes": "foggy street at dusk", "notes_events": [], "track": t, "seed": 5,
            "model": model, "first_frame": None, "output": None, "continue_from": None, **extra}


def frames_of(take):
    return [(take / f"{f:04d}.png").read_bytes() for f in range(1, FRAMES + 1)]


def test_continuation_reuses_frames_and_resumes_from_state(generator, tmp_path):
    states = StateStore()
    counting = Counting(generator)
    parent = create_take(tmp_path, request(track(), "oyster-tiny"), None, None).path
    assert run_take(counting, parent, states=states).status == "done"
    full_steps, counting.steps = counting.steps, 0
    changed = request(track(turn_after=N), "oyster-tiny", continue_from={"take": str(parent), "frame": N})
    child = create_take(tmp_path, changed, None, None).path
    result = run_take(counting, child, states=states)
    assert result.status == "done", result.error
    assert frames_of(child)[:N - 1] == frames_of(parent)[:N - 1]      # frames 1-12 bit for bit
    assert frames_of(child)[N:] != frames_of(parent)[N:]              # the new camera shows
    record = read_take(child)["continued_from"]
    assert record["reused_frames"] == N - 1 and record["replayed_frames"] < 8
    assert counting.steps == FRAMES - (N - 1) + record["replayed_frames"] < full_steps
    # continuing with the parent's own camera reproduces the parent exactly: the state was exact
    same = create_take(tmp_path, request(track(), "oyster-tiny", continue_from={"take": str(parent), "frame": N}),
                       None, None).path
    assert run_take(generator, same, states=states).status == "done"
    assert frames_of(same) == frames_of(parent)


def test_gone_state_and_changed_past_are_refused(generator, tmp_path):
    parent = create_take(tmp_path, request(track(), "oyster-tiny"), None, None).path
    assert run_take(generator, parent).status == "done"  # no store: nothing kept
    child = create_take(tmp_path, request(track(turn_after=N), "oyster-tiny",
                                          continue_from={"take": str(parent), "frame": N}), None, None).path
    result = run_take(generator, child, states=StateStore())
    assert result.status == "failed" and "regenerate the take in full" in result.error
    early = create_take(tmp_path, request(track(turn_after=10), "oyster-tiny",
                                          continue_from={"take": str(parent), "frame": N}), None, None).path
    result = run_take(generator, early, states=StateStore())
    assert result.status == "failed" and "camera changed at frame 11" in result.error
