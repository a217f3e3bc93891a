"""Live-mode frame latency: a step through the server against the same generator stepped in this process.

    python benchmarks/live_latency.py [--model depth-warp] [--size 64x36] [--frames 100]

In one run: a live session of `frames` camera updates in this process (`LiveSession.step`,
the model's own frame time) and the same updates through a real `serve` process with the
extension's stdlib client (`LiveClient.step`: HTTP, the live worker's pipe, PNG encoding).
Prints median and p95 of both, of the model's time inside the live worker (a response header),
and of the plumbing per frame (round trip minus that model time) in ms.
The first step of each is left out (the session starts on it).
"""
from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model_runtime.live import LiveSession, LiveStart
from model_runtime.models.registry import get_generator
from model_runtime.server.live import SECONDS_HEADER
from oyster_blender.client import RuntimeClient
from oyster_blender.live import LiveClient

ROOT = Path(__file__).resolve().parent.parent


def pose(i: int, width: int, height: int) -> dict:
    """A dolly forward with a slow pan."""
    yaw = math.radians(0.3 * i)
    c, s = math.cos(yaw), math.sin(yaw)
    return {"c2w": [[c, 0.0, s, 0.0], [0.0, 1.0, 0.0, 0.0], [-s, 0.0, c, 0.02 * i], [0.0, 0.0, 0.0, 1.0]],
            "fx": width * 0.8, "fy": width * 0.8, "cx": width / 2, "cy": height / 2}


def first_frame(folder: Path, width: int, height: int) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    import cv2

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    depth = rng.uniform(2.0, 10.0, (height, width)).astype(np.float32)
    rgb_path, depth_path = folder / "first.png", folder / "first.exr"
    cv2.imwrite(str(rgb_path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(depth_path), depth)
    return rgb_path, depth_path, rgb, depth


def summary(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds[1:])
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="depth-warp")
    parser.add_argument("--size", default="64x36")
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rgb_path, depth_path, rgb, depth = first_frame(folder, width, height)
        start = LiveStart(model=args.model, width=width, height=height,
                          first_frame={"rgb": str(rgb_path), "depth": str(depth_path)})

        session = LiveSession(get_generator(args.model), start, rgb, depth)
        local = []
        for i in range(args.frames):
            tick = time.perf_counter()
            session.step(pose(i, width, height))
            local.append(time.perf_counter() - tick)

        server = subprocess.Popen([sys.executable, "-m", "model_runtime", "serve", "--port", "0",
                                   "--state-dir", str(folder / "state"), "--output-root", str(folder),
                                   "--preload", "copy-first-frame"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        try:
            live = LiveClient(RuntimeClient(server.stdout.readline().strip()))
            session_id = live.start(start.model_dump(mode="json"))
            remote, worker = [], []
            for i in range(args.frames):
                tick = time.perf_counter()
                headers, _ = live._request("POST", f"/live/{session_id}/frames", pose(i, width, height))
                remote.append(time.perf_counter() - tick)
                worker.append(float(headers[SECONDS_HEADER]))  # the model's own time in the live worker
            live.close(session_id)
        finally:
            server.terminate()
            server.wait()

    (local_median, local_p95), (remote_median, remote_p95) = summary(local), summary(remote)
    plumbing_median, plumbing_p95 = summary([r - w for r, w in zip(remote, worker)])
    print(f"live latency, {args.model} {width}x{height}, {args.frames} frames")
    print(f"  in-process step      median {local_median:8.2f} ms   p95 {local_p95:8.2f} ms")
    print(f"  through the server   median {remote_median:8.2f} ms   p95 {remote_p95:8.2f} ms")
    print(f"  model in the worker  median {summary(worker)[0]:8.2f} ms   p95 {summary(worker)[1]:8.2f} ms")
    print(f"  plumbing per frame   median {plumbing_median:8.2f} ms   p95 {plumbing_p95:8.2f} ms   "
          "(round trip minus the worker's model time; goal: under 20 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
