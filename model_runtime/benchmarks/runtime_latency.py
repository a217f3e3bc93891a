"""Submit-to-first-frame latency through the server, and the server path's overhead against in-process.

    .venv/bin/python -m model_runtime.benchmarks.runtime_latency [--model copy-first-frame] [--frames 24] [--repeats 5]

In one run: the same shot is generated `repeats` times in this process (generator
already loaded, `run_take` into a take folder) and `repeats` times through a real
`serve` process with a warm worker, followed with the extension's stdlib client
(submit, then long-poll events). Prints medians and the ratio server / in-process.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
import cv2  # noqa: E402

from model_runtime.models.registry import get_generator  # noqa: E402
from model_runtime.takes.folders import create_take  # noqa: E402
from model_runtime.takes.request import ShotRequest  # noqa: E402
from model_runtime.takes.run import run_take  # noqa: E402
from oyster_blender.client import RuntimeClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]  # the folder holding model_runtime (a checkout or site-packages)


def dolly_track(frames: int, width: int, height: int) -> dict:
    def pose(z: float) -> list[list[float]]:
        return [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, z], [0, 0, 0, 1.0]]

    return {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": 1, "frame_end": frames,
            "scale": 1.0, "frames": [{"frame": i + 1, "c2w": pose(0.05 * i), "rel": pose(0.05 if i else 0.0),
                                      "fx": width * 0.8, "fy": width * 0.8, "cx": width / 2, "cy": height / 2}
                                     for i in range(frames)]}


def shot(folder: Path, model: str, frames: int, width: int, height: int) -> dict:
    rng = np.random.default_rng(0)
    rgb, depth = folder / "first.png", folder / "first.exr"
    cv2.imwrite(str(rgb), rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    cv2.imwrite(str(depth), rng.uniform(2, 10, (height, width)).astype(np.float32))
    return {"shot": "bench", "notes": "street at dusk, light rain", "model": model, "seed": 1,
            "track": dolly_track(frames, width, height), "first_frame": {"rgb": str(rgb), "depth": str(depth)}}


def in_process(request: dict, out: Path, repeats: int) -> tuple[list[float], list[float]]:
    generator = get_generator(request["model"])
    validated = ShotRequest.model_validate(request)
    rgb, depth = Path(request["first_frame"]["rgb"]), Path(request["first_frame"]["depth"])
    firsts, totals = [], []
    for _ in range(repeats):
        tick = time.perf_counter()
        first: list[float] = []
        take = create_take(out, validated.model_dump(mode="json"), rgb, depth)
        result = run_take(generator, take.path, on_frame=lambda f: first or first.append(time.perf_counter() - tick))
        assert result.status == "done", result.error
        totals.append(time.perf_counter() - tick)
        firsts.append(first[0])
    return firsts, totals


def through_server(request: dict, folder: Path, repeats: int) -> tuple[list[float], list[float]]:
    state = folder / "state"
    state.mkdir()
    (state / "token").write_text("bench")
    server = subprocess.Popen([sys.executable, "-m", "model_runtime", "serve", "--port", "0", "--state-dir",
                               str(state), "--output-root", str(folder), "--token-file", str(state / "token"),
                               "--preload", request["model"], "--log-level", "warning"],
                              stdout=subprocess.PIPE, cwd=ROOT)
    try:
        client = RuntimeClient(server.stdout.readline().decode().strip(), "bench", timeout=120)
        while client.info()["worker"]["state"] != "idle":  # measure a warm worker, as in use
            time.sleep(0.05)
        _, cursor = client.events()
        firsts, totals = [], []
        for _ in range(repeats):
            tick = time.perf_counter()
            take = client.submit(dict(request, output="server"))
            first = None
            while True:
                events, cursor = client.events(cursor, wait=30, take_id=take["id"])
                for event in events:
                    if event["type"] == "frame" and first is None:
                        first = time.perf_counter() - tick
                    if event["type"] in ("failed", "cancelled", "interrupted"):
                        raise RuntimeError(f"take {event['type']}: {event['data']}")
                if any(e["type"] == "done" for e in events):
                    break
            totals.append(time.perf_counter() - tick)
            firsts.append(first)
        return firsts, totals
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="copy-first-frame")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--height", type=int, default=108)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        request = shot(folder, args.model, args.frames, args.width, args.height)
        local_first, local_total = in_process(request, folder / "local", args.repeats)
        server_first, server_total = through_server(request, folder, args.repeats)
    median = statistics.median
    print(f"model {args.model}, {args.frames} frames at {args.width}x{args.height}, median of {args.repeats}")
    print(f"first frame      in-process {median(local_first) * 1000:8.1f} ms   "
          f"server (submit to event) {median(server_first) * 1000:8.1f} ms")
    print(f"whole take       in-process {median(local_total) * 1000:8.1f} ms   "
          f"server {median(server_total) * 1000:8.1f} ms")
    print(f"server / in-process: first frame {median(server_first) / median(local_first):.2f}x, "
          f"whole take {median(server_total) / median(local_total):.2f}x, "
          f"overhead {(median(server_total) - median(local_total)) / args.frames * 1000:.2f} ms a frame")


if __name__ == "__main__":
    main()
