"""A keyed notes event changes the notes from its frame on (issue 8): the frames before it are those of
the same shot without it, bit for bit, and the notes probe reads the event's notes in the frames after it.

The shipped oyster-tiny generates a street twice, with the same seed and camera: once "in daylight"
throughout, once with a notes event "at night" at frame 12; from a first frame (a daylight render of the
data renderer, as Start from Blockout gives one) and from the notes alone. The notes probe
(model_runtime/evaluation/probe.py) is trained here on day and night renders of the data renderer, since a
clean checkout has no runs/ folder, and is first shown to read day and night on renders it never saw.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from model_runtime.data.shards import Clip
from model_runtime.evaluation.probe import LABELS, to_input, train_probe
from model_runtime.models.interface import ShotInput
from torch_threads import one_torch_thread  # noqa: F401 - autouse fixture

FRAMES, EVENT = 24, 12  # frames 0-23; the event is keyed at frame 12
BASE = "clear town street in daylight, eye level, slow pan left, normal lens"
EVENT_NOTES = "clear town street at night, eye level, slow pan left, normal lens"
TRAIN_SEEDS, UNSEEN_SEED, FIRST_FRAME_SEED = range(6), 40, 41
NIGHT = LABELS["time_of_day"].index("night")


def render(seed: int, time_of_day: str, frames: int = 3) -> Clip:
    from model_runtime.data.render import render_clip  # bpy: imported only where it renders

    clip = render_clip(seed, "pan", frames, 96, 54, setting="street", time_of_day=time_of_day, weather="clear")
    meta = clip.meta
    return Clip(seed, meta["caption"], meta["labels"], meta["move"], meta["track"], clip.rgb, clip.depth)


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    clips = [render(seed, time) for seed in TRAIN_SEEDS for time in ("day", "night")]
    return train_probe(clips, tmp_path_factory.mktemp("probe") / "probe.safetensors", steps=150, batch=32)


@torch.no_grad()
def night_probability(probe, frames: list[np.ndarray]) -> np.ndarray:
    return torch.softmax(probe(to_input(frames))["time_of_day"], 1)[:, NIGHT].numpy()


def pan(frames: int, width: int = 192, height: int = 108) -> dict:
    """A slow pan left in the wire format (docs/camera_track.md), at the model's native size."""
    out, prev = [], np.eye(4)
    for frame in range(frames):
        yaw = np.radians(-0.8 * frame)
        c2w = np.eye(4)
        c2w[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
        out.append({"frame": frame, "c2w": c2w.tolist(), "rel": (np.linalg.inv(prev) @ c2w).tolist(),
                    "fx": width * 0.8, "fy": width * 0.8, "cx": width / 2, "cy": height / 2})
        prev = c2w
    return {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": 0,
            "frame_end": frames - 1, "scale": 1.0, "frames": out}


@pytest.fixture(scope="module")
def shots() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames without the event, frames with it) from the shipped checkpoint, same seed and camera."""
    from model_runtime.world.generator import OysterWorldModel

    generator = OysterWorldModel()

    def generate(events: list[tuple[int, str]]) -> list[np.ndarray]:
        session = generator.start(ShotInput(notes=BASE, track=pan(FRAMES), seed=3, notes_events=events))
        return [session.step() for _ in range(FRAMES)]

    return generate([]), generate([(EVENT, EVENT_NOTES)])


def test_frames_before_a_notes_event_are_those_without_it_and_the_event_reaches_the_model(shots, probe):
    plain, evented = shots
    assert all(np.array_equal(a, b) for a, b in zip(plain[:EVENT], evented[:EVENT]))
    assert any(not np.array_equal(a, b) for a, b in zip(plain[EVENT:], evented[EVENT:]))
    assert np.array_equal(night_probability(probe, plain[:EVENT]), night_probability(probe, evented[:EVENT]))


def test_the_probe_reads_day_and_night_on_renders_it_never_saw(probe):
    assert (night_probability(probe, list(render(UNSEEN_SEED, "night").rgb)) > 0.5).all()
    assert (night_probability(probe, list(render(UNSEEN_SEED, "day").rgb)) < 0.5).all()


def test_from_notes_alone_a_notes_event_turns_the_probe_to_its_notes_after_its_frame(shots, probe):
    plain, evented = shots
    assert (night_probability(probe, plain) < 0.5).all()  # day all through without the event
    turned = turned_to_night(probe, plain, evented)
    assert turned.sum() >= len(turned) / 2, (night_probability(probe, plain[EVENT:]),
                                             night_probability(probe, evented[EVENT:]))


def turned_to_night(probe, plain: list[np.ndarray], evented: list[np.ndarray]) -> np.ndarray:
    """Per frame from the event on: the probe reads night with the event and not without it."""
    return (night_probability(probe, evented[EVENT:]) > 0.5) & ~(night_probability(probe, plain[EVENT:]) > 0.5)


def test_from_a_first_frame_a_notes_event_turns_the_probe_to_its_notes_after_its_frame(probe):
    from model_runtime.world.generator import OysterWorldModel

    street = render(FIRST_FRAME_SEED, "day", FRAMES)  # the daylight street the shot starts from
    generator = OysterWorldModel()

    def generate(events: list[tuple[int, str]]) -> list[np.ndarray]:
        session = generator.start(ShotInput(notes=BASE, track=street.track, seed=3, first_rgb=street.rgb[0],
                                            first_depth=street.depth[0], notes_events=events))
        return [session.step() for _ in range(FRAMES)]

    event_frame = street.track["frames"][EVENT]["frame"]  # the renderer's frames count from 1
    plain, evented = generate([]), generate([(event_frame, EVENT_NOTES)])
    assert all(np.array_equal(a, b) for a, b in zip(plain[:EVENT], evented[:EVENT]))
    assert (night_probability(probe, plain) < 0.5).all()  # day all through without the event
    assert (night_probability(probe, evented[:EVENT]) < 0.5).all()  # and before it
    turned = turned_to_night(probe, plain, evented)
    assert turned.sum() >= len(turned) / 2, night_probability(probe, evented[EVENT:])


def test_a_notes_event_regrades_the_frames_after_it(shots):
    """The cache covers the whole view after frame 0; the event's look still reaches the picture, in full
    once its ramp is over, and not at all before it."""
    plain, evented = shots
    change = [float(np.abs(a.astype(float) - b.astype(float)).mean()) for a, b in zip(plain, evented)]
    assert max(change[:EVENT]) == 0.0
    assert change[EVENT] < change[-1] and change[-1] > 3.0, change  # fades in, then a clear change


def test_a_continuation_after_a_notes_event_reproduces_the_frames():
    """The event's grade is part of the session's state: restoring mid-ramp goes on exactly."""
    from model_runtime.world.generator import OysterWorldModel

    shot = ShotInput(notes=BASE, track=pan(FRAMES), seed=3, notes_events=[(EVENT, EVENT_NOTES)])
    generator = OysterWorldModel()
    session = generator.start(shot)
    frames = [session.step() for _ in range(EVENT + 3)]
    state = session.snapshot()
    rest = [session.step() for _ in range(FRAMES - EVENT - 3)]
    resumed = generator.start(shot)
    resumed.restore(state)
    assert all(np.array_equal(a, resumed.step()) for a in rest)
    assert len(frames) + len(rest) == FRAMES
