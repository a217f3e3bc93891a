"""Live-mode frame latency: the model's own frame time, and the plumbing on top of it up to Blender's image.

    .venv/bin/python -m benchmarks.live_latency [--model oyster-tiny] [--size 640x360] [--frames 100] [--threads 0]

In one run, the same camera flight of `frames` updates:
  1. in this process (`LiveSession.step`): the model's own frame time;
  2. through a real `serve` process with the extension's stdlib client (`LiveClient.step`: HTTP, the
     live worker's pipe, BMP encoding); the worker reports the model's time for each frame;
  3. in the real bpy module through `LiveRecorder`, ticked every TICK_INTERVAL as Blender's timer does:
     from reading and keying the camera pose to the frame put into the `Oyster Live` image, plus the
     image's decode, which the next redraw pays in Blender; and how long each `tick()` holds Blender's
     UI (goal: under 50 ms at the worst).
Plumbing is a round trip minus the model's time for that frame (goal: under 20 ms). Prints median and
p95 in ms; the first frame of each (the session starts on it) is left out.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model_runtime.live import LiveSession, LiveStart
from model_runtime.models.registry import get_generator
from oyster_blender.client import RuntimeClient
from oyster_blender.live import LIVE_IMAGE, TICK_INTERVAL, LiveClient, LiveRecorder

ROOT = Path(__file__).resolve().parent.parent
NOTES = "quiet town street at dusk, eye level, slow push in, normal lens"


def pose(i: int, width: int, height: int) -> dict:
    """A dolly forward with a slow pan."""
    yaw = math.radians(0.3 * i)
    c, s = math.cos(yaw), math.sin(yaw)
    return {"c2w": [[c, 0.0, s, 0.0], [0.0, 1.0, 0.0, 0.0], [-s, 0.0, c, 0.02 * i], [0.0, 0.0, 0.0, 1.0]],
            "fx": width * 0.8, "fy": width * 0.8, "cx": width / 2, "cy": height / 2}


def first_frame(folder: Path, width: int, height: int) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    import cv2

    rng = np.random.default_rng(0)
    rgb = cv2.resize(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8), (width, height))  # smooth, like a render
    depth = np.full((height, width), 6.0, np.float32)
    rgb_path, depth_path = folder / "first.png", folder / "first.exr"
    cv2.imwrite(str(rgb_path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(depth_path), depth)
    return rgb_path, depth_path, rgb, depth


def summary(ms: list[float]) -> str:
    ordered = sorted(ms[1:])
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):8.2f} ms   p95 {p95:8.2f} ms"


def fly_in_blender(client: RuntimeClient, start: LiveStart,
                   frames: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """(round trips, model times, decode times, tick times) in ms of a LiveRecorder flight in the bpy
    module."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    recorder = LiveRecorder(scene, camera, client, model=start.model, notes=start.notes,
                            size=(start.width, start.height),
                            first_frame=start.first_frame.model_dump() if start.first_frame else None)
    recorder.start(timer=False)  # the bpy module runs no event loop: this loop is Blender's timer
    decode, ticks = [], []
    try:
        while len(recorder.latency) < frames:
            camera.location = (0.0, -10.0 + 0.02 * recorder.sent, 2.0)
            camera.rotation_euler = (math.radians(90), 0.0, math.radians(0.3 * recorder.sent))
            shown = len(recorder.latency)
            tick = time.perf_counter()
            recorder.tick()
            ticks.append((time.perf_counter() - tick) * 1000)
            if recorder.error:
                raise SystemExit(f"live flight failed: {recorder.error}")
            if len(recorder.latency) > shown:
                tick = time.perf_counter()
                tuple(bpy.data.images[LIVE_IMAGE].size)  # decodes the packed frame, as a redraw would
                decode.append((time.perf_counter() - tick) * 1000)
            time.sleep(TICK_INTERVAL)
    finally:
        recorder.stop()
    return ([r * 1000 for r, _ in recorder.latency[:frames]], [m * 1000 for _, m in recorder.latency[:frames]],
            decode[:frames], ticks)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="oyster-tiny")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads here and in the live worker (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the runtime's processes inherit it
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rgb_path, depth_path, rgb, depth = first_frame(folder, width, height)
        start = LiveStart(model=args.model, notes=NOTES, width=width, height=height,
                          first_frame={"rgb": str(rgb_path), "depth": str(depth_path)})

        session = LiveSession(get_generator(args.model), start, rgb, depth)
        local = []
        for i in range(args.frames):
            tick = time.perf_counter()
            session.step(pose(i, width, height))
            local.append((time.perf_counter() - tick) * 1000)

        server = subprocess.Popen([sys.executable, "-m", "model_runtime", "serve", "--port", "0",
                                   "--state-dir", str(folder / "state"), "--output-root", str(folder),
                                   "--preload", "copy-first-frame"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        try:
            client = RuntimeClient(server.stdout.readline().strip())
            live = LiveClient(client)
            session_id = live.start(start.model_dump(mode="json"))
            remote, worker = [], []
            for i in range(args.frames):
                tick = time.perf_counter()
                frame = live.step(session_id, pose(i, width, height))
                remote.append((time.perf_counter() - tick) * 1000)
                worker.append(frame.model_seconds * 1000)
            live.close(session_id)
            blender, blender_model, decode, ticks = fly_in_blender(client, start, args.frames)
        finally:
            server.terminate()
            server.wait()

    print(f"live latency, {args.model} {width}x{height}, {args.frames} frames")
    print(f"  in-process step                 {summary(local)}")
    print(f"  model in the live worker        {summary(worker)}")
    print(f"  client round trip               {summary(remote)}   (LiveClient.step)")
    print(f"  client plumbing                 {summary([r - w for r, w in zip(remote, worker)])}")
    print(f"  Blender round trip              {summary(blender)}   (LiveRecorder: pose keyed -> frame shown)")
    print(f"  Blender image decode            {summary(decode)}   (paid by the next redraw)")
    print(f"  Blender plumbing                "
          f"{summary([r + d - m for r, d, m in zip(blender, decode, blender_model)])}   "
          "(round trip + decode - model; goal: under 20 ms)")
    print(f"  Blender tick                    {summary(ticks)}   worst {max(ticks[1:]):.2f} ms "
          f"over {len(ticks)} ticks (the UI waits for each; goal: worst under 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
