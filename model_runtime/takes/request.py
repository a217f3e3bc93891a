"""The shot request: what the extension (or a script) asks the runtime to generate.

One pydantic model serves the HTTP API (`POST /v1/takes`), `generate --shot-json`
and the `request` stored in every take.json, so a take regenerates from its own
record. Field-level checks live here; checks that need the file system (first
frame files, the output folder against the server's root) are the functions
below, which raise RequestError naming the field.
"""
from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from model_runtime.models.registry import DEFAULT_MODEL, available_models
from oyster_blender.core.errors import TrackError
from oyster_blender.core.naming import inside
from oyster_blender.core.track_schema import SCHEMA as TRACK_SCHEMA
from oyster_blender.core.track_schema import validate_track

# OpenCV reads OpenEXR only when asked before its first EXR decode (off by default upstream).
os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
import cv2  # noqa: E402

from model_runtime.painter.passes import PassesError, read_passes  # noqa: E402

# The track schema allows 8192x8192; the runtime caps the pixel count at UHD so one
# request cannot ask for terabytes of frames.
MAX_PIXELS = 3840 * 2160
MAX_NOTES = 10_000

_track_json_schema = {k: v for k, v in TRACK_SCHEMA.items() if k not in ("$schema", "title")}


class RequestError(ValueError):
    """A request field is unusable; `field` is its dotted path (e.g. `first_frame.rgb`)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _known_model(model: str) -> str:
    if model not in available_models():
        raise ValueError(f"unknown model {model!r}; available: {', '.join(available_models())}")
    return model


ModelName = Annotated[str, AfterValidator(_known_model)]
"""The name of a registered model (`/v1/info` lists them): shot requests and live sessions."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotesEvent(_Strict):
    frame: int
    """Scene frame from which `notes` replace the notes in force."""
    notes: str = Field(max_length=MAX_NOTES)


class FirstFrame(_Strict):
    """The shot's first frame rendered from the blockout (files on the runtime's machine)."""

    rgb: str = Field(min_length=1, max_length=4096)
    """PNG, 8-bit RGB or RGBA (alpha ignored), exactly the track's width x height."""
    depth: str | None = Field(default=None, min_length=1, max_length=4096)
    """OpenEXR, float32 z-depth in metres in the first channel; 0 or inf is sky."""


class PassesRef(_Strict):
    """The blockout's passes, rendered already (oyster_blender.passes): files on the runtime's machine."""

    folder: str = Field(min_length=1, max_length=4096)
    """Holds depth_NNNN.exr (float32 z-depth in metres, 0 for sky) and shade_NNNN.png (8-bit grey) per frame,
    and object_NNNN.png (object ids) where anything but the camera moves."""
    frames: list[int] = Field(max_length=100_000)
    """The scene frames the folder holds: exactly the track's frames, in order."""


class Blockout(_Strict):
    """A saved copy of the artist's .blend; the runtime renders the passes from it (no UI waits)."""

    blend: str = Field(min_length=1, max_length=4096)
    scene: str = Field(min_length=1, max_length=256)
    camera: str = Field(min_length=1, max_length=256)


class ContinueFrom(_Strict):
    """Continue an earlier take: its frames before `frame` are reused bit for bit and the model resumes
    from its state there (kept by the warm worker), so only `frame` onwards is generated."""

    take: str = Field(min_length=1, max_length=4096)
    """The parent take's folder (absolute, or relative to the output folder)."""
    frame: int
    """Scene frame from which the new camera path or notes apply."""


class ShotRequest(_Strict):
    """One take to generate. Resolution and fps are the camera track's `width`, `height`, `fps`."""

    shot: str = Field(min_length=1, max_length=256)
    """Shot name; sanitised into the folder name `<output>/oyster/<shot>/`."""
    notes: str = Field(default="", max_length=MAX_NOTES)
    notes_events: list[NotesEvent] = Field(default_factory=list, max_length=10_000)
    track: Annotated[dict[str, Any], WithJsonSchema(_track_json_schema)]
    """Camera track, wire format version 1 (docs/camera_track.md)."""
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    model: ModelName = DEFAULT_MODEL
    first_frame: FirstFrame | None = None
    """A look frame for the track's first frame: the painter's memory starts from it."""
    passes: PassesRef | None = None
    blockout: Blockout | None = None
    output: str | None = Field(default=None, min_length=1, max_length=4096)
    """Project output folder; relative paths are below the runtime's output root, which is the default."""
    continue_from: ContinueFrom | None = None
    save_states: bool = False
    """Also keep the model's states beside the take (`states/`, 6.5 MB each for oyster-tiny, one every
    8 frames), so that it can be continued after the runtime restarted (docs/continuation.md)."""

    @field_validator("track")
    @classmethod
    def _valid_track(cls, track: dict[str, Any]) -> dict[str, Any]:
        try:
            validate_track(track)
        except TrackError as error:
            raise ValueError(str(error)) from None
        if track["width"] * track["height"] > MAX_PIXELS:
            raise ValueError(f"{track['width']}x{track['height']} exceeds the runtime's limit of "
                             f"{MAX_PIXELS} pixels a frame (3840x2160)")
        return track

    @field_validator("output")
    @classmethod
    def _no_parent_steps(cls, output: str | None) -> str | None:
        if output is not None:
            _check_path_text(output)
        return output

    @field_validator("notes", "shot")
    @classmethod
    def _no_nul(cls, text: str) -> str:
        if "\x00" in text:
            raise ValueError("must not contain NUL characters")
        return text


def _check_path_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    if ".." in PurePath(text.replace("\\", "/")).parts:
        raise ValueError("must not contain '..'")


def resolve_path(text: str, base: Path, field: str, root: Path | None = None) -> Path:
    """`text` as an absolute path (relative ones are below `base`), inside `root` when one is given."""
    try:
        _check_path_text(text)
    except ValueError as error:
        raise RequestError(field, str(error)) from None
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    if root is not None and not inside(root, path):
        raise RequestError(field, f"{text!r} is outside the runtime's output root {str(root)!r}")
    return path


def _read_image(path: Path, field: str) -> np.ndarray:
    if not path.is_file():
        raise RequestError(field, f"{str(path)!r} does not exist or is not a file")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise RequestError(field, f"{str(path)!r} is not an image OpenCV can read")
    return image


def _check_size(image: np.ndarray, track: dict, field: str) -> None:
    if image.shape[:2] != (track["height"], track["width"]):
        raise RequestError(field, f"is {image.shape[1]}x{image.shape[0]}, the track is "
                                  f"{track['width']}x{track['height']}")


def load_rgb(path: Path, track: dict, field: str = "first_frame.rgb") -> np.ndarray:
    """The first frame as uint8 (H, W, 3) RGB."""
    image = _read_image(path, field)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise RequestError(field, f"must be an 8-bit RGB or RGBA image, got {image.dtype} {image.shape}")
    _check_size(image, track, field)
    return np.ascontiguousarray(cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB))


def load_depth(path: Path, track: dict, field: str = "first_frame.depth") -> np.ndarray:
    """The first frame's z-depth as float32 (H, W) metres."""
    image = _read_image(path, field)
    if image.dtype != np.float32:
        raise RequestError(field, f"must be a float32 OpenEXR image (z-depth in metres), got {image.dtype}")
    depth = image if image.ndim == 2 else image[:, :, 0]
    _check_size(depth, track, field)
    if np.isnan(depth).any() or (depth < 0).any():
        raise RequestError(field, "has NaN or negative depths (use 0 or inf for sky)")
    return np.ascontiguousarray(depth)


def load_first_frame(request: ShotRequest, base: Path,
                     root: Path | None = None) -> tuple[Path | None, Path | None, np.ndarray | None, np.ndarray | None]:
    """Resolve and read the first frame files: (rgb path, depth path, rgb, depth), all None without one."""
    if request.first_frame is None:
        return None, None, None, None
    rgb_path = resolve_path(request.first_frame.rgb, base, "first_frame.rgb", root)
    rgb = load_rgb(rgb_path, request.track)
    if request.first_frame.depth is None:
        return rgb_path, None, rgb, None
    depth_path = resolve_path(request.first_frame.depth, base, "first_frame.depth", root)
    return rgb_path, depth_path, rgb, load_depth(depth_path, request.track)


def passes_folder(request: ShotRequest, base: Path, root: Path | None = None) -> Path | None:
    """The passes folder of a request that has one, checked: every track frame there, the right size,
    finite non-negative depth. RequestError names `passes` and the frame."""
    if request.passes is None:
        return None
    if request.blockout is not None:
        raise RequestError("passes", "give the passes or a blockout to render them from, not both")
    folder = resolve_path(request.passes.folder, base, "passes.folder", root)
    track_frames = [f["frame"] for f in request.track["frames"]]
    if request.passes.frames != track_frames:
        raise RequestError("passes.frames", f"{len(request.passes.frames)} frames "
                                            f"({_span(request.passes.frames)}); the track has {len(track_frames)} "
                                            f"({_span(track_frames)})")
    try:
        read_passes(folder, track_frames, request.track["width"], request.track["height"])
    except PassesError as error:
        raise RequestError("passes" if error.frame is None else f"passes.frame {error.frame}.{error.field}",
                           str(error)) from None
    return folder


def blockout_file(request: ShotRequest, base: Path, root: Path | None = None) -> Path | None:
    if request.blockout is None:
        return None
    path = resolve_path(request.blockout.blend, base, "blockout.blend", root)
    if not path.is_file():
        raise RequestError("blockout.blend", f"{str(path)!r} does not exist or is not a file")
    return path


def _span(frames: list[int]) -> str:
    return f"{frames[0]}-{frames[-1]}" if frames else "none"


def frame_count(request: ShotRequest) -> int:
    return len(request.track["frames"])


def field_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic errors as `{"field": "track", "message": ...}`, the field a dotted path into the request."""
    described = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        message = error.get("msg", "invalid")
        message = message.removeprefix("Value error, ")
        described.append({"field": ".".join(loc) or "body", "message": message})
    return described
