"""Take folders as the runtime writes them (real PNG frames, take.json), made without a model."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

IDENTITY = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]


def frame_image(frame: int, width: int, height: int) -> np.ndarray:
    """A plain grey ramp over the frames: any burn-in shows against it, and grey survives any YUV matrix."""
    return np.full((height, width, 3), 40 + (7 * frame) % 160, np.uint8)


def write_frames(take_dir: Path, frames: range, width: int = 64, height: int = 36) -> None:
    take_dir.mkdir(parents=True, exist_ok=True)
    for f in frames:
        assert cv2.imwrite(str(take_dir / f"{f:04d}.png"), frame_image(f, width, height))


def write_take(root: Path, shot: str, number: int, frame_start: int, frame_end: int, frames: range | None = None,
               notes: str = "rain-soaked neon alley, night", seed: int = 7, status: str = "done",
               width: int = 64, height: int = 36) -> Path:
    """`<root>/oyster/<shot>/take_NNN` with take.json and the frames of `frames` (all by default)."""
    take_dir = root / "oyster" / shot / f"take_{number:03d}"
    take_dir.mkdir(parents=True)
    track = {"version": 1, "width": width, "height": height, "fps": 24, "frame_start": frame_start,
             "frame_end": frame_end, "scale": 1.0,
             "frames": [{"frame": f, "c2w": IDENTITY, "fx": 50.0, "fy": 50.0, "cx": width / 2, "cy": height / 2,
                         "rel": IDENTITY} for f in range(frame_start, frame_end + 1)]}
    request = {"shot": shot, "notes": notes, "seed": seed, "model": "copy-first-frame", "track": track,
               "output": str(root), "first_frame": {"rgb": "inputs/first_rgb.png", "depth": None}}
    (take_dir / "take.json").write_text(json.dumps({
        "format": "oyster-take", "version": 1, "id": f"{shot}-{number}", "shot": shot, "take": number,
        "status": status, "error": None, "request": request, "seed": seed, "model": "copy-first-frame"}))
    write_frames(take_dir, range(frame_start, frame_end + 1) if frames is None else frames, width, height)
    return take_dir
