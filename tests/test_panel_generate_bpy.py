"""The panel's runtime buttons in the real bpy module, through a real runtime process over a real socket.

Generate starts `python -m model_runtime serve` from the checkout's .venv (no
preferences set), renders the shot's first frame from the blockout and sends the
take once the runtime is ready; the session's timer (pumped by timer_loop, bpy runs no event
loop) follows the events: progress for the panel, the take's strip growing on
the sequencer. Cancel stops a take in flight; Stop leaves no runtime process.
Continue makes a take that keeps its parent's frames before the playhead.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
import cv2  # noqa: E402
import numpy as np  # noqa: E402

import oyster_blender  # noqa: E402
from examples.example_scene import build_example_scene  # noqa: E402
from oyster_blender import api, runtime_session, take_browser  # noqa: E402
from oyster_blender.runtime_status import READY, STATUS  # noqa: E402
from oyster_blender.take_files import reuse_lines  # noqa: E402
from oyster_blender.timeline import present_frames, take_strip  # noqa: E402
from oyster_blender.ui import panel_state  # noqa: E402
from runtime_fixtures import alive  # noqa: E402
from timer_loop import assert_quick, run_timers  # noqa: E402

WIDTH, HEIGHT = 96, 54


@pytest.fixture
def example_project(tmp_path, monkeypatch):
    """The example scene saved as project/example.blend with shot 'example' (frames 1-6, depth-warp from
    the blockout); the local runtime's state folder under a temporary home."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    oyster_blender.register()
    build_example_scene(tmp_path / "project" / "example.blend")
    scene = bpy.context.scene
    shot = api.add_shot(scene, "example", scene.camera, 1, 6, notes=scene["oyster_notes"],
                        resolution=(WIDTH, HEIGHT), model="depth-warp")
    shot.use_blockout = True
    try:
        yield scene
    finally:
        oyster_blender.unregister()  # stops the session and its runtime


def pump(scene: bpy.types.Scene, until, timeout: float = 60.0, after_tick=lambda: None):
    session = runtime_session.current()
    assert session is not None and bpy.app.timers.is_registered(session.tick)
    return run_timers(session.tick, until, scene, timeout, after_tick)


def take_state(name: str) -> str | None:
    return next((t.state for t in runtime_session.TAKES.takes.values() if t.name == name), None)


class StripWatch:
    """After each tick: (frames on the take's strip, frames on disk from the shot's first frame)."""

    def __init__(self, scene: bpy.types.Scene, take_dir: Path, frames: int):
        self.scene, self.take_dir, self.frames = scene, take_dir, frames
        self.seen: list[tuple[int, int]] = []

    def __call__(self) -> None:
        strip = take_strip(self.scene, "example", self.take_dir.name)
        on_disk = len(present_frames(self.take_dir, 1, self.frames)) if self.take_dir.is_dir() else 0
        self.seen.append((len(strip.elements) if strip is not None else 0, on_disk))

    def lengths(self) -> list[int]:
        return [strip for strip, _ in self.seen]

    def never_ahead_of_the_disk(self) -> bool:
        return all(strip <= disk for strip, disk in self.seen)


def test_panel_generates_grows_the_strip_cancels_and_stops_the_runtime(example_project, tmp_path):
    scene = example_project
    project = tmp_path / "project"
    # Generate with no runtime running: it starts one (the checkout's .venv) and sends the take once it is
    # ready. The first frame is rendered from the blockout; the strip only ever holds frames on disk.
    assert runtime_session.current() is None and bpy.ops.oyster.generate_take.poll()
    assert bpy.ops.oyster.generate_take() == {"FINISHED"}
    session = runtime_session.current()
    server_pid = session.connection.local.process.pid
    assert alive(server_pid) and not bpy.ops.oyster.start_runtime.poll()
    assert STATUS.snapshot().state == "STARTING" and panel_state(scene).in_flight == ()
    take_dir = project / "oyster" / "example" / "take_001"
    watch = StripWatch(scene, take_dir, 6)
    ticks = pump(scene, lambda: take_state("take_001") == "done", timeout=120, after_tick=watch)
    assert STATUS.snapshot().state == READY and "depth-warp" in session.models
    assert sorted(p.name for p in take_dir.glob("*.png")) == [f"{n:04d}.png" for n in range(1, 7)]
    assert all(cv2.imread(str(take_dir / f"{n:04d}.png")).shape == (HEIGHT, WIDTH, 3) for n in range(1, 7))
    record = json.loads((take_dir / "take.json").read_text())
    assert record["status"] == "done" and record["model"] == "depth-warp"
    first_rgb = cv2.imread(str(take_dir / record["request"]["first_frame"]["rgb"]))
    first_depth = cv2.imread(str(take_dir / record["request"]["first_frame"]["depth"]), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(first_rgb, cv2.imread(str(take_dir / "0001.png")))  # depth-warp's frame 0 is it
    assert first_depth.dtype == np.float32 and 0 < np.median(first_depth) < 200  # metres, sky 0
    assert not any((project / "oyster" / "example" / ".first").iterdir())  # scratch removed once sent
    assert watch.never_ahead_of_the_disk() and watch.lengths() == sorted(watch.lengths()), watch.seen
    assert watch.seen[-1] == (6, 6)
    strip = take_strip(scene, "example", "take_001")
    assert (strip.frame_final_start, strip.frame_final_end, strip.mute) == (1, 7, False)
    state = panel_state(scene)
    assert state.in_flight == () and state.take_problem is None and state.status_icon == "CHECKMARK"

    # A refusal names the field; a long take grows on the timeline tick by tick, and is cancelled.
    shot = api.active_shot(scene)
    shot.model = "no-such-model"
    assert bpy.ops.oyster.generate_take() == {"FINISHED"}
    ticks += pump(scene, lambda: panel_state(scene).take_problem is not None)
    assert panel_state(scene).take_problem.startswith("the runtime refused the take: model: unknown model")
    # 48 frames at 960x540: depth-warp takes a good fraction of a second a frame, cancel comes well before the end
    shot.model, shot.frame_end, shot.resolution_x, shot.resolution_y = "depth-warp", 48, 960, 540
    assert not bpy.ops.oyster.cancel_take.poll()
    assert bpy.ops.oyster.generate_take() == {"FINISHED"}
    watch = StripWatch(scene, project / "oyster" / "example" / "take_002", 48)
    ticks += pump(scene, lambda: len(set(watch.lengths()) - {0}) >= 2, timeout=120, after_tick=watch)
    (in_flight,) = panel_state(scene).in_flight
    assert in_flight.state == "running" and 0 < in_flight.fraction < 1
    assert bpy.ops.oyster.cancel_take() == {"FINISHED"}
    ticks += pump(scene, lambda: take_state("take_002") == "cancelled", timeout=60)
    cancelled = runtime_session.TAKES.in_flight("example") == [] and panel_state(scene).take_problem
    assert cancelled and cancelled.startswith("take_002 cancelled after"), cancelled
    frames = sorted((project / "oyster" / "example" / "take_002").glob("*.png"))
    assert 2 <= len(frames) < 48 and len(take_strip(scene, "example", "take_002").elements) == len(frames)
    assert watch.never_ahead_of_the_disk() and watch.lengths() == sorted(watch.lengths()), watch.seen
    print(assert_quick(ticks))

    # Stop: the runtime and its worker are gone, nothing is left running.
    worker_pid = session.connection.client.info()["worker"]["pid"]
    assert bpy.ops.oyster.stop_runtime() == {"FINISHED"}
    deadline = time.monotonic() + 10
    while (alive(server_pid) or alive(worker_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server_pid) and not alive(worker_pid)
    assert runtime_session.current() is None and not bpy.app.timers.is_registered(session.tick)
    assert STATUS.snapshot().state == "ABSENT"


def test_continue_from_frame_4_reuses_the_frames_before_it(example_project, tmp_path):
    scene = example_project
    shot_dir = tmp_path / "project" / "oyster" / "example"
    assert bpy.ops.oyster.generate_take() == {"FINISHED"}
    pump(scene, lambda: take_state("take_001") == "done", timeout=120)
    assert bpy.ops.oyster.continue_take.poll()  # take_001 is the shot's active take on the timeline

    # From frame 4 on: the camera drifts sideways and the notes change. Before it, nothing changes.
    camera = scene.camera
    for frame, offset in ((4, 0.0), (6, 0.6)):
        camera.delta_location = (offset, 0.0, 0.0)
        camera.keyframe_insert("delta_location", frame=frame)
    api.add_notes_event(scene, "example", 4, "the street lights go out")
    scene.frame_set(4)
    assert bpy.ops.oyster.continue_take() == {"FINISHED"}
    pump(scene, lambda: take_state("take_002") == "done")
    parent, child = shot_dir / "take_001", shot_dir / "take_002"
    same = [(child / f"{n:04d}.png").read_bytes() == (parent / f"{n:04d}.png").read_bytes() for n in range(1, 7)]
    assert same[:3] == [True, True, True] and same[4:] == [False, False]  # frame 4: the move has not begun
    record = json.loads((child / "take.json").read_text())
    assert record["continued_from"]["reused_frames"] == 3 and record["continued_from"]["frame"] == 4
    assert record["request"]["notes_events"] == [{"frame": 4, "notes": "the street lights go out"}]
    take_browser._listings.clear()
    info = take_browser.shot_takes(shot_dir)[0]
    lines = reuse_lines(info)
    assert lines[0] == "from take_001 at frame 4: frames 1-3 reused, 4-6 new (3 replayed)"
    parent_seconds = json.loads((parent / "take.json").read_text())["timings"]["total_seconds"]
    assert lines[1] == (f"{info.seconds:.1f} s against {parent_seconds:.1f} s for take_001 in full "
                        f"({info.seconds / parent_seconds:.2f}x)")
    assert take_strip(scene, "example", "take_002") is not None and len(take_strip(scene, "example",
                                                                                   "take_002").elements) == 6

    # Changing what a continuation must keep (the base notes) fails the take with the runtime's reason.
    api.active_shot(scene).notes = "a different street"
    assert bpy.ops.oyster.continue_take(take_dir=str(parent), frame=5) == {"FINISHED"}
    pump(scene, lambda: take_state("take_003") == "failed")
    assert panel_state(scene).take_problem.startswith("take_003 failed: continue_from: notes differs")
