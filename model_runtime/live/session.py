"""Live mode: a generator session fed one camera frame at a time (docs/runtime_api.md, "Live mode").

Generators read their camera from `shot.track["frames"][i]` by index, so a live
session is an ordinary session whose track grows: each received frame is
appended (with `rel` computed from the previous pose) before `step()` is called.
The session itself starts on the first frame, since baselines and the world
model read frame 0 when they start.

A frame may carry the blockout for the painter in one of two ways: `blockout: {file,
clip}`, the blockout's triangles that Go Live writes (oyster_blender/blockout_mesh.py),
from which the session draws the passes at the frame's pose itself (painter/raster.py:
depth, shading and object ids, about 20 ms at 384x216), or `passes: {folder, frame}`,
passes a client rendered (the files `oyster_blender.passes` writes, read and checked
as a take's passes are). The painter paints each live frame over them, and its memory
keeps what it painted, so flying back shows the same picture. A session whose first
frame has passes (either way) needs them on every frame; a model that paints no passes
ignores them.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # the passes' depth is EXR; before cv2 is imported

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, field_validator  # noqa: E402

from model_runtime.models.interface import FrameGenerator, GeneratorInputError, Session, ShotInput  # noqa: E402
from model_runtime.models.registry import LIVE_MODEL  # noqa: E402
from model_runtime.painter.passes import FramePasses, PassesError, read_frame  # noqa: E402
from model_runtime.painter.raster import Blockout  # noqa: E402
from model_runtime.takes.request import MAX_NOTES, MAX_PIXELS, FirstFrame, ModelName  # noqa: E402
from oyster_blender.core.camera_math import relative_pose  # noqa: E402
from oyster_blender.core.errors import TrackError  # noqa: E402
from oyster_blender.core.track_schema import MAX_FRAMES, MAX_SIDE, TRACK_VERSION, validate_track  # noqa: E402

FRAME_KEYS = ("c2w", "fx", "fy", "cx", "cy")
PASSES_KEYS = ("folder", "frame")
BLOCKOUT_KEYS = ("file", "clip")
GEOMETRY_KEYS = ("passes", "blockout")
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

    The track validator checks the camera, as the only frame of a one-frame track, so live frames
    obey exactly the rules of a take's frames. `passes`, when there, must name a folder and a frame
    (its files are read and checked by the session: `read_live_passes`); `blockout` a file and the
    camera's clip distances (read and checked by `LiveBlockout`); never both.
    """
    if not isinstance(frame, dict):
        return "body", "a live frame must be a JSON object with c2w, fx, fy, cx, cy (and passes or blockout)"
    unknown = sorted(set(frame) - set(FRAME_KEYS) - set(GEOMETRY_KEYS))
    if unknown:
        return unknown[0], ("unknown field (the runtime computes `rel` itself; a live frame has c2w, fx, fy, cx, "
                            "cy and passes or blockout)")
    if "passes" in frame and "blockout" in frame:
        return "blockout", "send the blockout's triangles or its rendered passes, not both"
    for key, keys, what in (("blockout", BLOCKOUT_KEYS, "the blockout's triangles and the camera's clip range"),
                            ("passes", PASSES_KEYS, "the folder of depth_NNNN.exr and shade_NNNN.png")):
        if key in frame and (problem := _file_object(frame[key], key, keys, what)) is not None:
            return problem
    if "blockout" in frame and not _clip_range(frame["blockout"]["clip"]):
        return "blockout.clip", "must be [start, end], the camera's clip distances, 0 < start < end"
    if "passes" in frame and (isinstance(frame["passes"]["frame"], bool) or
                              not isinstance(frame["passes"]["frame"], int)):
        return "passes.frame", "must be an integer frame number (the NNNN of the files)"
    camera = {key: value for key, value in frame.items() if key not in GEOMETRY_KEYS}
    probe = dict(track, frame_start=0, frame_end=0, frames=[dict(camera, frame=0, rel=IDENTITY)])
    try:
        validate_track(probe)
    except TrackError as error:
        message = str(error).removeprefix("frames[0].")
        field, _, rest = message.partition(" ")
        return (field, rest) if field.split("[")[0] in FRAME_KEYS else ("body", message)
    return None


def _file_object(value: Any, field: str, keys: tuple[str, str], what: str) -> tuple[str, str] | None:
    """(field, message) unless `value` is an object of exactly `keys` whose first names a path."""
    if not isinstance(value, dict) or set(value) != set(keys):
        return field, f"must be an object {{{', '.join(keys)}}}: {what}"
    if not isinstance(value[keys[0]], str) or not value[keys[0]]:
        return f"{field}.{keys[0]}", "must be a path"
    return None


def _clip_range(clip: Any) -> bool:
    """Whether `clip` is [start, end] with 0 < start < end, both finite numbers."""
    return isinstance(clip, list) and len(clip) == 2 and all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in clip) and \
        0 < clip[0] < clip[1]


def read_live_passes(passes: dict[str, Any], width: int, height: int) -> FramePasses:
    """One live frame's passes from their files, checked like a take's (size, NaN or infinite or negative
    depth, missing or unreadable file); PassesError names the frame and the field (`depth`, `shade`)."""
    return read_frame(Path(passes["folder"]), passes["frame"], width, height)


class LiveBlockout:
    """The blockout a live session draws its passes from: loaded again only when the frame names another file
    or the file changed (the extension writes a new one when the scene's geometry changes); the passes are
    drawn again only when the camera or the blockout changed (a held camera is sent again every frame)."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.blockout: Blockout | None = None
        self.drawn: tuple[tuple, FramePasses] | None = None

    def passes(self, blockout: dict[str, Any], frame: dict[str, Any], track: dict[str, Any]) -> FramePasses:
        path, clip = Path(blockout["file"]), (float(blockout["clip"][0]), float(blockout["clip"][1]))
        try:
            stat = path.stat()
        except OSError:
            raise PassesError(None, "blockout.file", f"no blockout file at {path}") from None
        key = (path, stat.st_mtime_ns, stat.st_size, clip)
        if key != self.key:
            self.blockout, self.key = Blockout.load(path, clip), key
        view = (key, str(frame["c2w"]), frame["fx"], frame["fy"], frame["cx"], frame["cy"])
        if self.drawn is None or self.drawn[0] != view:
            self.drawn = view, self.blockout.passes(frame, track["width"], track["height"], track["scale"])
        return self.drawn[1]


class LivePasses:
    """The passes of a live session, one frame at a time: the painter asks only for the frame it paints,
    so only the newest is kept (a long flight holds no growing list of passes)."""

    def __init__(self) -> None:
        self.count = 0
        self.newest: FramePasses | None = None

    def __len__(self) -> int:
        return self.count

    def push(self, passes: FramePasses) -> None:
        self.newest, self.count = passes, self.count + 1

    def pop(self) -> None:
        self.newest, self.count = None, self.count - 1

    def frame(self, index: int) -> FramePasses:
        if index != self.count - 1 or self.newest is None:
            raise IndexError(f"live passes hold only the newest frame ({self.count - 1}), not {index}")
        return self.newest


class LiveSession:
    """One live session: the generator's session over a track that grows by one frame per step."""

    def __init__(self, generator: FrameGenerator, start: LiveStart, first_rgb: np.ndarray | None,
                 first_depth: np.ndarray | None):
        self.generator = generator
        self.shot = ShotInput(notes=start.notes, track=start.track, seed=start.seed,
                              first_rgb=first_rgb, first_depth=first_depth)
        self.session: Session | None = None
        self.passes = LivePasses()
        self.blockout = LiveBlockout()
        self.kind: str | None = None
        """How this session's frames carry the blockout: "passes", "blockout" or None (the first frame says)."""
        self.model_seconds = 0.0
        """The runtime's own time for the last frame: drawing its passes from a blockout, and the generator's
        step (reading passes files is not in it)."""
        self.drawing_seconds = 0.0
        """Of that, drawing the last frame's passes from the blockout (0 for passes files)."""

    def step(self, frame: dict[str, Any]) -> tuple[int, np.ndarray]:
        """(index, uint8 RGB frame) for the next camera frame; GeneratorInputError when it cannot be used,
        PassesError when its passes cannot (naming the field)."""
        track = self.shot.track
        frames = track["frames"]
        if len(frames) >= MAX_FRAMES:
            raise GeneratorInputError(f"a live session holds at most {MAX_FRAMES} frames: start a new one")
        sent = [key for key in GEOMETRY_KEYS if key in frame]
        kind = self.kind if self.session is not None else (sent[0] if sent else None)
        if sent != ([kind] if kind else []):
            field = kind or sent[0]
            raise PassesError(len(frames), field, f"this session's frames carry the blockout ({kind}): every frame "
                              "needs them" if kind else "this session started without passes: start a new session "
                              "to send them")
        camera = {"frame": len(frames), "c2w": frame["c2w"], "fx": frame["fx"], "fy": frame["fy"],
                  "cx": frame["cx"], "cy": frame["cy"]}
        tick = time.perf_counter()
        if kind == "passes":
            self.passes.push(read_live_passes(frame["passes"], track["width"], track["height"]))
            tick = time.perf_counter()
        elif kind == "blockout":
            self.passes.push(self.blockout.passes(frame["blockout"], camera, track))
        drawn = time.perf_counter()
        if kind:
            self.shot.passes = self.passes
        self.kind = kind
        camera["rel"] = relative_pose(frames[-1]["c2w"], frame["c2w"]) if frames else IDENTITY
        frames.append(camera)
        track["frame_end"] = len(frames) - 1
        try:
            if self.session is None:
                self.session = self.generator.start(self.shot)
            index = self.session.frame_index
            rgb = self.session.step()
        except Exception:
            frames.pop()  # the frame was not generated: the next step is the same index again
            track["frame_end"] = len(frames) - 1
            if kind:
                self.passes.pop()
            if self.session is None:
                self.shot.passes = None
            raise
        self.model_seconds = time.perf_counter() - tick
        self.drawing_seconds = drawn - tick
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
