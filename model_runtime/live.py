"""Live mode: a generator session fed one camera frame at a time (docs/runtime_api.md, "Live mode").

Generators read their camera from `shot.track["frames"][i]` by index, so a live
session is an ordinary session whose track grows: each received frame is
appended (with `rel` computed from the previous pose) before `step()` is called.
The session itself starts on the first frame, since baselines and the world
model read frame 0 when they start.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from model_runtime.models.interface import FrameGenerator, GeneratorInputError, Session, ShotInput
from model_runtime.models.registry import LIVE_MODEL
from model_runtime.request import MAX_NOTES, MAX_PIXELS, FirstFrame, ModelName
from oyster_blender.core.camera_math import relative_pose
from oyster_blender.core.errors import TrackError
from oyster_blender.core.track_schema import MAX_FRAMES, MAX_SIDE, TRACK_VERSION, validate_track

FRAME_KEYS = ("c2w", "fx", "fy", "cx", "cy")
IDENTITY = [[float(i == j) for j in range(4)] for i in range(4)]
FRAME_MEDIA_TYPE = "image/bmp"


class LiveStart(BaseModel):
    """POST /v1/live: what stays fixed for a live session (the camera comes one frame per step)."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName = LIVE_MODEL
    notes: str = Field(default="", max_length=MAX_NOTES)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    width: int = Field(ge=1, le=MAX_SIDE)
    height: int = Field(ge=1, le=MAX_SIDE)
    fps: float = Field(default=24.0, gt=0)
    scale: float = Field(default=1.0, gt=0)
    """Metres per scene unit, as the track's `scale`."""
    first_frame: FirstFrame | None = None

    @field_validator("height")
    @classmethod
    def _pixel_cap(cls, height: int, info: Any) -> int:
        if info.data.get("width", 1) * height > MAX_PIXELS:
            raise ValueError(f"{info.data['width']}x{height} exceeds the runtime's limit of {MAX_PIXELS} pixels")
        return height

    @property
    def track(self) -> dict[str, Any]:
        """The track header (no frames yet): `load_first_frame` checks the first frame's size against it."""
        return {"version": TRACK_VERSION, "width": self.width, "height": self.height, "fps": self.fps,
                "frame_start": 0, "frame_end": -1, "scale": self.scale, "frames": []}


def check_frame(frame: Any, track: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) of the first wrong field of one live camera frame, None when it is valid.

    The track validator checks it, as the only frame of a one-frame track, so live frames
    obey exactly the rules of a take's frames.
    """
    if not isinstance(frame, dict):
        return "body", "a live frame must be a JSON object with c2w, fx, fy, cx, cy"
    unknown = sorted(set(frame) - set(FRAME_KEYS))
    if unknown:
        return unknown[0], "unknown field (the runtime computes `rel` itself; a live frame has c2w, fx, fy, cx, cy)"
    probe = dict(track, frame_start=0, frame_end=0, frames=[dict(frame, frame=0, rel=IDENTITY)])
    try:
        validate_track(probe)
    except TrackError as error:
        message = str(error).removeprefix("frames[0].")
        field, _, rest = message.partition(" ")
        return (field, rest) if field.split("[")[0] in FRAME_KEYS else ("body", message)
    return None


class LiveSession:
    """One live session: the generator's session over a track that grows by one frame per step."""

    def __init__(self, generator: FrameGenerator, start: LiveStart, first_rgb: np.ndarray | None,
                 first_depth: np.ndarray | None):
        self.generator = generator
        self.shot = ShotInput(notes=start.notes, track=start.track, seed=start.seed,
                              first_rgb=first_rgb, first_depth=first_depth)
        self.session: Session | None = None

    def step(self, frame: dict[str, Any]) -> tuple[int, np.ndarray]:
        """(index, uint8 RGB frame) for the next camera frame; GeneratorInputError when it cannot be used."""
        track = self.shot.track
        frames = track["frames"]
        if len(frames) >= MAX_FRAMES:
            raise GeneratorInputError(f"a live session holds at most {MAX_FRAMES} frames: start a new one")
        rel = relative_pose(frames[-1]["c2w"], frame["c2w"]) if frames else IDENTITY
        frames.append({"frame": len(frames), "c2w": frame["c2w"], "fx": frame["fx"], "fy": frame["fy"],
                       "cx": frame["cx"], "cy": frame["cy"], "rel": rel})
        track["frame_end"] = len(frames) - 1
        try:
            if self.session is None:
                self.session = self.generator.start(self.shot)
            index = self.session.frame_index
            rgb = self.session.step()
        except Exception:
            frames.pop()  # the frame was not generated: the next step is the same index again
            track["frame_end"] = len(frames) - 1
            raise
        return index, rgb


def encode_frame(rgb: np.ndarray) -> bytes:
    """A live frame as an uncompressed BMP (docs/runtime_api.md, "Live mode": why not PNG).

    Encoding is a copy (0.7 ms at 640x360, where zlib level 1 PNG takes 13-31 ms), and Blender
    decodes a packed BMP in C when the image is drawn, so the extension needs no pixel loop.
    """
    ok, data = cv2.imencode(".bmp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode the frame as BMP")
    return data.tobytes()
