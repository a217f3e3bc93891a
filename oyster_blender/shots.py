"""Shot rules without bpy: names, notes and output settings that the runtime will accept.

The Blender side (`api.py`) reads a shot's properties into `ShotSettings` and
calls `check_settings`; the panel shows the first problem as its message and the
API raises it as ShotError. Limits match the runtime's request model
(model_runtime/takes/request.py), so a shot that passes here is not refused there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .core.errors import ShotError
from .core.naming import sanitise_name
from .core.track_schema import MAX_SIDE

MAX_NAME = 256  # characters, the runtime's limit for `shot`
MAX_NOTES = 10_000  # characters, the runtime's limit for `notes`
MAX_PIXELS = 3840 * 2160  # the runtime refuses more pixels a frame than UHD
MAX_SEED = 2**31 - 1  # Blender integer properties are 32-bit
MAX_FPS = 1000.0
MAX_NOTES_EVENTS = 10_000  # the runtime's limit for `notes_events`


@dataclass
class ShotSettings:
    """What a shot asks the model for, besides its camera and frame range."""

    name: str
    """The artist's name for the shot; its folder is `sanitise_name(name)`."""
    notes: str = ""
    """Scene notes, the text conditioning (any Unicode, up to MAX_NOTES characters)."""
    seed: int = 0
    width: int = 1920
    height: int = 1080
    fps: float = 24.0


def check_name(name: str) -> None:
    """ShotError unless `name` can name a shot (the folder name is derived, so few names are refused)."""
    if not name.strip():
        raise ShotError("the shot needs a name")
    if len(name) > MAX_NAME:
        raise ShotError(f"the shot name is {len(name)} characters long; at most {MAX_NAME}")
    _check_text(name, "the shot name")


def check_notes(notes: str) -> None:
    """ShotError for notes the model cannot take whole: too long, a NUL, or broken Unicode."""
    if len(notes) > MAX_NOTES:
        raise ShotError(f"the notes are {len(notes):,} characters long; at most {MAX_NOTES:,} (shorten them)")
    _check_text(notes, "the notes")


def _check_text(text: str, what: str) -> None:
    # Blender stores strings as UTF-8 C strings: a NUL would silently cut the text there,
    # and a lone surrogate cannot be stored at all.
    if "\x00" in text:
        raise ShotError(f"{what} contain a NUL character at position {text.index(chr(0))}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ShotError(f"{what} contain an invalid Unicode character at position {error.start}") from None


def check_settings(settings: ShotSettings) -> None:
    """ShotError naming the first setting the runtime would refuse."""
    check_name(settings.name)
    check_notes(settings.notes)
    if not 0 <= settings.seed <= MAX_SEED:
        raise ShotError(f"the seed must be within 0..{MAX_SEED}, got {settings.seed}")
    for side, value in (("width", settings.width), ("height", settings.height)):
        if not 1 <= value <= MAX_SIDE:
            raise ShotError(f"the {side} must be within 1..{MAX_SIDE} pixels, got {value}")
    if settings.width * settings.height > MAX_PIXELS:
        raise ShotError(f"{settings.width}x{settings.height} is more pixels than UHD (3840x2160)")
    if not math.isfinite(settings.fps) or not 0 < settings.fps <= MAX_FPS:
        raise ShotError(f"the fps must be within 0..{MAX_FPS:g}, got {settings.fps}")


def check_notes_events(events: list[tuple[int, str]], frame_start: int, frame_end: int) -> None:
    """ShotError for the first notes event (frame, notes) the shot cannot use: outside its frames (it would
    never apply, or apply from before the shot began), two on one frame, or notes that are empty or refused."""
    seen: set[int] = set()
    for frame, notes in events:
        if not frame_start <= frame <= frame_end:
            raise ShotError(f"the notes event at frame {frame} lies outside the shot's frames {frame_start}-{frame_end}")
        if frame in seen:
            raise ShotError(f"two notes events on frame {frame}: merge them into one")
        seen.add(frame)
        if not notes.strip():
            raise ShotError(f"the notes event at frame {frame} has no notes: type what changes there")
        try:
            check_notes(notes)
        except ShotError as error:
            raise ShotError(f"the notes event at frame {frame}: {error}") from None
    if len(events) > MAX_NOTES_EVENTS:
        raise ShotError(f"a shot holds at most {MAX_NOTES_EVENTS:,} notes events, this one {len(events):,}")


def marker_notes(markers: list[tuple[str, int]], prefix: str, frame_start: int,
                 frame_end: int) -> list[tuple[int, str]]:
    """Notes events from timeline markers `(name, frame)` named `<prefix><notes>` within the shot's frames,
    by frame (a marker's name is short: Blender keeps 63 bytes, so longer notes are typed in the panel)."""
    return sorted((frame, name[len(prefix):].strip()) for name, frame in markers
                  if name.startswith(prefix) and frame_start <= frame <= frame_end)


def folder_clash(name: str, others: list[str]) -> str | None:
    """The other shot whose folder `name` would share, if any (compared case-insensitively:
    macOS and Windows file systems fold case, so `Shot` and `shot` are one folder there)."""
    folder = sanitise_name(name).casefold()
    return next((other for other in others if sanitise_name(other).casefold() == folder), None)


def default_name(existing: list[str]) -> str:
    """The next free previs-style name: sh010, sh020, ... (gaps of ten leave room for inserts)."""
    taken = {sanitise_name(n).casefold() for n in existing}
    number = 10
    while f"sh{number:03d}" in taken:
        number += 10
    return f"sh{number:03d}"


@dataclass(frozen=True)
class MarkerShot:
    """A cut read from a timeline marker bound to a camera."""

    name: str
    camera: str
    frame_start: int
    frame_end: int


def marker_shots(markers: list[tuple[str, int, str]], scene_start: int, scene_end: int) -> list[MarkerShot]:
    """Shots from camera-bound markers `(marker name, frame, camera name)`.

    Blender switches to a marker's camera at its frame and keeps it until the next
    camera-bound marker, so each marker starts a shot that ends one frame before the
    next one (the last ends with the scene). Markers outside the scene range cut
    nothing; a marker before the scene start makes the first shot start at the scene
    start. Two camera markers on one frame are ambiguous: ShotError names them.
    """
    ordered = sorted(markers, key=lambda m: m[1])
    for (name_a, frame_a, _), (name_b, frame_b, _) in zip(ordered, ordered[1:]):
        if frame_a == frame_b:
            raise ShotError(f"markers '{name_a}' and '{name_b}' both bind a camera on frame {frame_a}: "
                            "move one of them")
    shots = []
    for i, (name, frame, camera) in enumerate(ordered):
        end = ordered[i + 1][1] - 1 if i + 1 < len(ordered) else scene_end
        start, end = max(frame, scene_start), min(end, scene_end)
        if start <= end:
            shots.append(MarkerShot(name, camera, start, end))
    return shots
