"""Shared by the runtime, take and client tests: tiny shots and a real server process on a real socket."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # before cv2's first EXR use, as the runtime does
import cv2  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 64, 36


def make_track(frames: int, width: int = WIDTH, height: int = HEIGHT, start: int = 1) -> dict[str, Any]:
    """A dolly forward along the OpenCV z axis, in the wire format (docs/camera_track.md)."""
    def pose(z: float) -> list[list[float]]:
        return [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, z], [0.0, 0.0, 0.0, 1.0]]

    return {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": start,
            "frame_end": start + frames - 1, "scale": 1.0,
            "frames": [{"frame": start + i, "c2w": pose(0.1 * i), "rel": pose(0.1 if i else 0.0),
                        "fx": width * 0.8, "fy": width * 0.8, "cx": width / 2, "cy": height / 2}
                       for i in range(frames)]}


def write_first_frame(folder: Path, width: int = WIDTH, height: int = HEIGHT, seed: int = 0) -> tuple[Path, Path]:
    """A noise RGB PNG and a float32 EXR depth (metres) at width x height."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    depth = rng.uniform(2.0, 10.0, (height, width)).astype(np.float32)
    rgb_path, depth_path = folder / f"first_{seed}.png", folder / f"first_{seed}.exr"
    cv2.imwrite(str(rgb_path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(depth_path), depth)
    return rgb_path, depth_path


def shot_request(first: tuple[Path, Path] | Path, frames: int = 4, shot: str = "sh010", seed: int = 0,
                 model: str = "copy-first-frame", **extra: Any) -> dict[str, Any]:
    rgb = first[0] if isinstance(first, tuple) else first
    request = {"shot": shot, "notes": "rain-soaked neon alley, night", "track": make_track(frames),
               "seed": seed, "model": model, "first_frame": {"rgb": str(rgb)}}
    request.update(extra)
    return request


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone, only not yet reaped
    except (OSError, IndexError):
        return False


class Runtime:
    """`python -m model_runtime serve` as a child process, with its ready line read and logs in a file."""

    def __init__(self, state_dir: Path, output_root: Path, token: str | None = "t0ken", *extra: str,
                 python: str | None = None, cwd: Path | None = None):
        """`python`: an interpreter with the runtime installed (the wheel), started from `cwd` without the
        repository on PYTHONPATH; by default this interpreter runs the repository's runtime from ROOT."""
        self.state_dir, self.output_root, self.token = state_dir, output_root, token
        state_dir.mkdir(parents=True, exist_ok=True)
        args = [python or sys.executable, "-m", "model_runtime", "serve", "--port", "0", "--state-dir", str(state_dir),
                "--output-root", str(output_root), "--preload", "copy-first-frame", *extra]
        if token is not None:
            token_file = state_dir / "token"
            token_file.write_text(token)
            args += ["--token-file", str(token_file)]
        self.log = open(state_dir / "server.log", "ab")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        if python is not None:
            del env["PYTHONPATH"]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=env, cwd=cwd or ROOT)
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            self.process.kill()
            raise RuntimeError(f"no ready line; server log:\n{(state_dir / 'server.log').read_text()}")
        self.url = line

    def request(self, method: str, path: str, body: Any = None, token: str | None = "default",
                raw: bytes | None = None, timeout: float = 40) -> tuple[int, Any]:
        token = self.token if token == "default" else token
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def wait_for(self, take_id: str, statuses: tuple[str, ...] = ("done", "failed", "cancelled", "interrupted"),
                 timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, take = self.request("GET", f"/v1/takes/{take_id}")
            assert status == 200, take
            if take["status"] in statuses:
                return take
            time.sleep(0.05)
        raise TimeoutError(f"take {take_id} still {take['status']}")

    def worker_pid(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, info = self.request("GET", "/v1/info")
            if info["worker"]["state"] in ("idle", "busy"):
                return info["worker"]["pid"]
            time.sleep(0.05)
        raise TimeoutError("worker never became ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self.log.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        self.log.close()


def new_token() -> str:
    return secrets.token_urlsafe(16)
