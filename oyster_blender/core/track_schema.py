"""The camera-track wire format (version 1): its JSON Schema and a fast validator, stdlib only.

Both sides use it: the extension before it sends a shot, the runtime on every
request. `validate_track` raises TrackError naming the first field that is wrong.
"""
from __future__ import annotations

import math

from .errors import TrackError

TRACK_VERSION = 1
MAX_FRAMES = 10000
MAX_SIDE = 8192
ORTHONORMAL_TOLERANCE = 1e-4

_matrix4 = {"type": "array", "minItems": 4, "maxItems": 4,
            "items": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Oyster camera track",
    "type": "object",
    "required": ["version", "width", "height", "fps", "frame_start", "frame_end", "scale", "frames"],
    "properties": {
        "version": {"const": TRACK_VERSION},
        "width": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
        "height": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
        "fps": {"type": "number", "exclusiveMinimum": 0},
        "frame_start": {"type": "integer"},
        "frame_end": {"type": "integer"},
        "scale": {"type": "number", "exclusiveMinimum": 0},
        "frames": {"type": "array", "minItems": 1, "maxItems": MAX_FRAMES, "items": {
            "type": "object", "required": ["frame", "c2w", "fx", "fy", "cx", "cy", "rel"],
            "properties": {"frame": {"type": "integer"}, "c2w": _matrix4, "rel": _matrix4,
                           "fx": {"type": "number", "exclusiveMinimum": 0}, "fy": {"type": "number", "exclusiveMinimum": 0},
                           "cx": {"type": "number"}, "cy": {"type": "number"}}}},
    },
}


def _number(value: object, field: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TrackError(f"{field} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise TrackError(f"{field} must be positive, got {value!r}")
    return float(value)


def _integer(value: object, field: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TrackError(f"{field} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise TrackError(f"{field} must be within {low}..{high}, got {value}")
    return value


def _pose(value: object, field: str) -> None:
    if not isinstance(value, list) or len(value) != 4 or any(not isinstance(r, list) or len(r) != 4 for r in value):
        raise TrackError(f"{field} must be a 4x4 matrix (list of four rows of four numbers)")
    m = [[_number(x, f"{field}[{i}][{j}]") for j, x in enumerate(row)] for i, row in enumerate(value)]
    if any(abs(m[3][j] - (1.0 if j == 3 else 0.0)) > ORTHONORMAL_TOLERANCE for j in range(4)):
        raise TrackError(f"{field} last row must be [0, 0, 0, 1]")
    for a in range(3):
        for b in range(a, 3):
            dot = sum(m[i][a] * m[i][b] for i in range(3))
            if abs(dot - (1.0 if a == b else 0.0)) > ORTHONORMAL_TOLERANCE:
                raise TrackError(f"{field} rotation is not orthonormal (columns {a} and {b})")
    det = (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
           + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))
    if det < 0:
        raise TrackError(f"{field} rotation is a reflection (determinant {det:.3f})")


def validate_track(track: object) -> None:
    """Raise TrackError naming the first wrong field; return None for a valid version-1 track."""
    if not isinstance(track, dict):
        raise TrackError("camera track must be a JSON object")
    missing = [k for k in SCHEMA["required"] if k not in track]
    if missing:
        raise TrackError(f"camera track lacks {', '.join(missing)}")
    unknown = sorted(set(track) - set(SCHEMA["properties"]))
    if unknown:
        raise TrackError(f"camera track has unknown fields {', '.join(unknown)}")
    if track["version"] != TRACK_VERSION:
        raise TrackError(f"version must be {TRACK_VERSION}, got {track['version']!r}")
    _integer(track["width"], "width", 1, MAX_SIDE)
    _integer(track["height"], "height", 1, MAX_SIDE)
    _number(track["fps"], "fps", positive=True)
    _number(track["scale"], "scale", positive=True)
    start = _integer(track["frame_start"], "frame_start")
    end = _integer(track["frame_end"], "frame_end")
    frames = track["frames"]
    if not isinstance(frames, list) or not 1 <= len(frames) <= MAX_FRAMES:
        raise TrackError(f"frames must be a list of 1..{MAX_FRAMES} frames")
    if end - start + 1 != len(frames):
        raise TrackError(f"frame_start..frame_end ({start}..{end}) does not match {len(frames)} frames")
    for i, frame in enumerate(frames):
        where = f"frames[{i}]"
        if not isinstance(frame, dict):
            raise TrackError(f"{where} must be an object")
        lacking = [k for k in ("frame", "c2w", "fx", "fy", "cx", "cy", "rel") if k not in frame]
        if lacking:
            raise TrackError(f"{where} lacks {', '.join(lacking)}")
        extra = sorted(set(frame) - {"frame", "c2w", "fx", "fy", "cx", "cy", "rel"})
        if extra:
            raise TrackError(f"{where} has unknown fields {', '.join(extra)}")
        if _integer(frame["frame"], f"{where}.frame") != start + i:
            raise TrackError(f"{where}.frame must be {start + i} (consecutive from frame_start)")
        for key in ("fx", "fy"):
            _number(frame[key], f"{where}.{key}", positive=True)
        for key in ("cx", "cy"):
            _number(frame[key], f"{where}.{key}")
        _pose(frame["c2w"], f"{where}.c2w")
        _pose(frame["rel"], f"{where}.rel")
