"""Blender's timer loop for the bpy module, which runs none: registered timers never fire by themselves.

`run_timers` calls one registered timer callback whenever it is due and, between
ticks, changes frames as playback would, so the main thread stays busy with
Blender's own work. Each tick is timed (wall and the main thread's CPU time).
"""
from __future__ import annotations

import time
from typing import Callable

import bpy

TICK_LIMIT_SECONDS = 0.005


def run_timers(callback: Callable[[], float | None], until: Callable[[], bool], scene: bpy.types.Scene,
               timeout: float, after_tick: Callable[[], None] = lambda: None) -> list[tuple[float, float]]:
    """Call `callback` as Blender's timer loop would until `until()`; (wall, CPU) seconds of each tick.

    `after_tick` runs after every tick, outside the timing (a test's observations).
    """
    ticks: list[tuple[float, float]] = []
    due = time.monotonic()
    deadline = due + timeout
    frame = scene.frame_start
    while not until():
        assert time.monotonic() < deadline, "timed out"
        if time.monotonic() >= due:
            wall, cpu = time.perf_counter(), time.thread_time()
            interval = callback()
            ticks.append((time.perf_counter() - wall, time.thread_time() - cpu))
            assert interval is not None, "the connection stopped ticking"
            due = time.monotonic() + interval
            after_tick()
        frame = scene.frame_start + (frame - scene.frame_start + 1) % (scene.frame_end - scene.frame_start + 1)
        scene.frame_set(frame)
        time.sleep(0.005)
    return ticks


def assert_quick(ticks: list[tuple[float, float]]) -> str:
    """Every tick's own work (its thread's CPU time) under 5 ms; wall time, which also holds waiting for the
    GIL (the event follower thread parsing JSON), under 5 ms at the 95th percentile. Returns a summary."""
    walls, cpus = sorted(wall for wall, _ in ticks), [cpu for _, cpu in ticks]
    summary = (f"{len(ticks)} ticks: wall median {walls[len(walls) // 2] * 1e3:.3f} ms, max {walls[-1] * 1e3:.3f} ms;"
               f" CPU max {max(cpus) * 1e3:.3f} ms")
    assert max(cpus) < TICK_LIMIT_SECONDS, summary
    assert walls[int(len(walls) * 0.95)] < TICK_LIMIT_SECONDS, summary
    return summary
