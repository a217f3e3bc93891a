"""Live-mode frame latency: the model's own frame time, and the plumbing on top of it up to Blender's image.

    .venv/bin/python -m model_runtime.benchmarks.live_latency [--model oyster-painter] [--size 384x216] [--frames 100]
        [--threads 0] [--baseline copy-first-frame] [--json OUT]

The flight looks down the example scene's street (examples/example_scene.py, built here in the bpy module).
A model that paints the blockout (the painter, the default) gets the blockout's triangles with each pose
(`oyster_blender.blockout_mesh`, written once as Go Live does) and the runtime draws the passes at the pose.
In one run, the same camera flight of `frames` updates:
  1. in this process (`LiveSession.step`): the model's own frame time, and of it the passes' drawing;
  2. through a real `serve` process with the extension's stdlib client (`LiveClient.step`: HTTP, the
     live worker's pipe, BMP encoding); the worker reports the model's time for each frame;
  3. in the real bpy module through `LiveRecorder`, ticked every TICK_INTERVAL as Blender's timer does:
     from reading and keying the camera pose to the frame put into the `Oyster Live` image, plus the
     image's decode, which the next redraw pays in Blender; and how long each `tick()` holds Blender's
     UI (goal: under 50 ms at the worst).
Plumbing is a round trip minus the runtime's time for that frame, drawing the passes and painting (goal:
under 20 ms); with a blockout, the tick's time on its file (written when something drawn changed) is
printed on its own and left out of the plumbing. Live fps is frames shown per
second of the Blender flight (camera move to painted image). The baseline (default copy-first-frame: the
plumbing alone, no passes) flies the same Blender loop in the same run. Prints median and p95 in ms; the
first frame of each (the session starts on it) is left out.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model_runtime.live.session import LiveSession, LiveStart
from model_runtime.models.registry import get_generator
from oyster_blender.client import RuntimeClient
from oyster_blender.live import LIVE_IMAGE, TICK_INTERVAL, LiveClient, LiveRecorder, paints_passes

ROOT = Path(__file__).resolve().parents[2]  # the folder holding model_runtime (a checkout or site-packages)
NOTES = "quiet town street at dusk, eye level, slow push in, normal lens"
STEP = 0.03  # metres the camera moves forward per pose


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


def street(folder: Path):
    """The example scene in the bpy module and an unanimated camera `Fly` where its camera starts."""
    import bpy

    from examples.example_scene import build_example_scene

    build_example_scene(folder / "example.blend")
    scene = bpy.context.scene
    scene.frame_set(scene.frame_start)
    fly = bpy.data.objects.new("Fly", scene.camera.data.copy())
    fly.data.animation_data_clear()
    fly.matrix_world = scene.camera.matrix_world.copy()
    scene.collection.objects.link(fly)
    return scene, fly


def place(camera, start, i: int) -> None:
    """Pose i of the flight: forward along the camera's view from `start` (a matrix_world), a slow pan."""
    from mathutils import Matrix, Vector

    forward = start.to_3x3() @ Vector((0.0, 0.0, -STEP * i))
    camera.matrix_world = Matrix.Translation(forward) @ start @ Matrix.Rotation(math.radians(0.2 * i), 4, "Y")


def with_blockout(scene, camera, frames: int, width: int, height: int, folder: Path) -> list[dict]:
    """Each pose's live frame with the blockout's triangles, written once into `folder` (for steps 1 and 2)."""
    from oyster_blender.blockout_mesh import write_blockout
    from oyster_blender.camera import _depsgraph, camera_frame

    start, poses = camera.matrix_world.copy(), []
    blockout = {"file": str(write_blockout(_depsgraph(scene), folder / "blockout.npz")),
                "clip": [camera.data.clip_start, camera.data.clip_end]}
    try:
        for i in range(frames):
            place(camera, start, i)
            pose = camera_frame(camera.evaluated_get(_depsgraph(scene)), scene.render, width, height)
            poses.append(dict(pose, blockout=blockout))
    finally:
        camera.matrix_world = start
    return poses


def fly_in_blender(client: RuntimeClient, start: LiveStart, frames: int, scene, camera,
                   folder: Path) -> dict[str, list[float] | float]:
    """A LiveRecorder flight in the bpy module: round trips, the runtime's times, decode times, tick times,
    the ticks' time on the blockout file (ms) and the frames shown per second."""
    import bpy

    origin = camera.matrix_world.copy()
    recorder = LiveRecorder(scene, camera, client, model=start.model, notes=start.notes,
                            size=(start.width, start.height), blockout_parent=folder,
                            first_frame=start.first_frame.model_dump() if start.first_frame else None)
    recorder.start(timer=False)  # the bpy module runs no event loop: this loop is Blender's timer
    decode, ticks = [], []
    try:
        while len(recorder.latency) < frames:
            place(camera, origin, recorder.sent)
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
        camera.matrix_world = origin
    shown_at = recorder.shown_at[1:frames]  # from the second frame: the first waits for the session to start
    blockout = [s * 1000 for s in recorder.blockout.seconds[:frames]] if recorder.blockout is not None else []
    return {"round_trip": [r * 1000 for r, _ in recorder.latency[:frames]],
            "model": [m * 1000 for _, m in recorder.latency[:frames]], "decode": decode[:frames], "ticks": ticks,
            "blockout": blockout, "fps": (len(shown_at) - 1) / (shown_at[-1] - shown_at[0])}


def plumbing_ms(flight: dict) -> list[float]:
    """Each frame's round trip and decode less the runtime's time and the tick's time on the blockout file."""
    blockout = flight["blockout"] or [0.0] * len(flight["round_trip"])
    return [r + d - m - b for r, d, m, b in zip(flight["round_trip"], flight["decode"], flight["model"], blockout)]


def report(name: str, flight: dict) -> None:
    plumbing = plumbing_ms(flight)
    print(f"  [{name}] Blender round trip    {summary(flight['round_trip'])}   (LiveRecorder: pose read -> frame shown)")
    print(f"  [{name}] runtime in the worker {summary(flight['model'])}   (drawing the passes and painting)")
    if flight["blockout"]:
        print(f"  [{name}] blockout file         {summary(flight['blockout'])}   worst "
              f"{max(flight['blockout'][1:]):.2f} ms (in the tick that sends the pose: written when it changed)")
    print(f"  [{name}] Blender image decode  {summary(flight['decode'])}   (paid by the next redraw)")
    print(f"  [{name}] Blender plumbing      {summary(plumbing)}   (round trip + decode - runtime"
          + (" - blockout file" if flight["blockout"] else "") + "; goal: under 20 ms)")
    print(f"  [{name}] Blender tick          {summary(flight['ticks'])}   worst {max(flight['ticks'][1:]):.2f} ms "
          f"over {len(flight['ticks'])} ticks (the UI waits for each)")
    print(f"  [{name}] live fps              {flight['fps']:8.2f} frames/s   (camera move to image in Blender)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="oyster-painter")
    parser.add_argument("--size", default="384x216")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads here and in the live worker (0: torch's default)")
    parser.add_argument("--baseline", default="copy-first-frame",
                        help="a model flown in the same Blender loop in the same run ('' for none)")
    parser.add_argument("--json", type=Path, help="also write the model's Blender flight as JSON (live_fps, "
                        "live_plumbing_ms, live_blockout_ms, live_model_ms, live_drawing_ms: medians in ms)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the runtime's processes inherit it
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rgb_path, depth_path, rgb, depth = first_frame(folder, width, height)
        scene, camera = street(folder)

        def start_for(model: str) -> LiveStart:
            if paints_passes(model):
                return LiveStart(model=model, notes=NOTES, width=width, height=height)
            return LiveStart(model=model, notes=NOTES, width=width, height=height,
                             first_frame={"rgb": str(rgb_path), "depth": str(depth_path)})

        start = start_for(args.model)
        with_passes = paints_passes(args.model)
        poses = with_blockout(scene, camera, args.frames, width, height, folder) if with_passes else \
            [pose(i, width, height) for i in range(args.frames)]

        session = LiveSession(get_generator(args.model), start, None if with_passes else rgb,
                              None if with_passes else depth)
        local, drawing = [], []
        for i in range(args.frames):
            tick = time.perf_counter()
            session.step(poses[i])
            local.append((time.perf_counter() - tick) * 1000)
            drawing.append(session.drawing_seconds * 1000)

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
                frame = live.step(session_id, poses[i])
                remote.append((time.perf_counter() - tick) * 1000)
                worker.append(frame.model_seconds * 1000)
            live.close(session_id)
            flights = {args.model: fly_in_blender(client, start, args.frames, scene, camera, folder / "live")}
            if args.baseline:
                flights[args.baseline] = fly_in_blender(client, start_for(args.baseline), args.frames, scene, camera,
                                                        folder / "live")
        finally:
            server.terminate()
            server.wait()

    print(f"live latency, {args.model} {width}x{height}, {args.frames} frames"
          + (", the passes drawn from the blockout" if with_passes else ""))
    print(f"  in-process step                 {summary(local)}")
    if with_passes:
        print(f"  of it, drawing the passes       {summary(drawing)}   (painter/raster.py)")
    print(f"  model in the live worker        {summary(worker)}")
    print(f"  client round trip               {summary(remote)}   (LiveClient.step)")
    print(f"  client plumbing                 {summary([r - w for r, w in zip(remote, worker)])}")
    for name, flight in flights.items():
        report(name, flight)
    if args.json is not None:
        flight = flights[args.model]
        args.json.write_text(json.dumps({
            "model": args.model, "size": [width, height], "frames": args.frames, "live_fps": round(flight["fps"], 2),
            "live_plumbing_ms": round(statistics.median(plumbing_ms(flight)[1:]), 2),
            "live_blockout_ms": round(statistics.median(flight["blockout"][1:]), 2) if flight["blockout"] else 0.0,
            "live_model_ms": round(statistics.median(flight["model"][1:]), 2),
            "live_drawing_ms": round(statistics.median(drawing[1:]), 2) if with_passes else 0.0}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
