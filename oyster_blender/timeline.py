"""Takes on the Video Sequencer: one image-sequence strip per take, at its shot's frames.

A take's strip is named `<shot> <take>` and holds the contiguous run of frames
on disk from the shot's first frame: while a take is generating, the strip grows
as frames land, and the frames not yet made are simply not in it (the timeline
shows nothing there, never a stale frame). Each take of a shot has its own
channel; the active take sits on the top channel of its shot and the others are
muted. Strip folders are stored relative to the .blend (`//...`), also when the
file is saved for the first time after the takes arrived, so the project opens
elsewhere with its output folder beside it.

The runtime connection calls `on_runtime_event` with each event it drains (main
thread); a frame event grows its take's strip in the scenes that hold the shot.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bpy

from .core.naming import frame_file_name
from .take_files import TakeRange, read_take_range

FIRST_CHANNEL = 2  # channel 1 stays free for the artist's own blockout renders or sound
NOT_A_FRAME = ".new_strip"  # a strip made from a file name that is no file opens nothing
SHOT_KEY, TAKE_KEY = "oyster_shot", "oyster_take"  # custom properties that mark a strip as a take
TAKE_EVENTS = ("queued", "started", "frame", "done", "failed", "cancelled", "interrupted")

_event_take_dirs: dict[str, Path] = {}  # runtime take id -> take folder, from the events seen so far
_take_ranges: dict[Path, TakeRange] = {}  # a take's shot and frames never change: take.json is read once


def strip_name(shot: str, take: str) -> str:
    return f"{shot} {take}"


def present_frames(take_dir: Path, frame_start: int, frame_end: int) -> list[str]:
    """File names of the frames on disk from frame_start, up to the first one missing."""
    names = []
    for frame in range(frame_start, frame_end + 1):
        name = frame_file_name(frame)
        if not (take_dir / name).is_file():
            break
        names.append(name)
    return names


def _strips(scene: bpy.types.Scene) -> list[bpy.types.Strip]:
    editor = scene.sequence_editor
    return [] if editor is None else list(editor.strips_all)


def shot_strips(scene: bpy.types.Scene, shot: str) -> list[bpy.types.Strip]:
    """The take strips of a shot, bottom channel first."""
    return sorted((s for s in _strips(scene) if s.get(SHOT_KEY) == shot), key=lambda s: s.channel)


def take_strip(scene: bpy.types.Scene, shot: str, take: str) -> bpy.types.Strip | None:
    return next((s for s in shot_strips(scene, shot) if s.get(TAKE_KEY) == take), None)


def active_strip(scene: bpy.types.Scene, shot: str) -> bpy.types.Strip | None:
    """The shot's active take strip: the top unmuted one, None when the shot has no take on the timeline."""
    return next((s for s in reversed(shot_strips(scene, shot)) if not s.mute), None)


def strip_folder(strip: bpy.types.Strip) -> Path:
    """The absolute folder of a take strip (its stored folder may be relative to the .blend)."""
    return Path(bpy.path.abspath(strip.directory))


def _folder_for_blend(take_dir: Path) -> str:
    """The take folder as Blender stores it: relative to the saved .blend when there is one."""
    folder = str(take_dir.resolve()) + os.sep
    return bpy.path.relpath(folder) if bpy.data.filepath else folder


def _new_strip(scene: bpy.types.Scene, name: str, take_dir: Path, first: str, channel: int, frame_start: int,
               size: tuple[int, int] | None) -> bpy.types.Strip:
    """An image strip of one frame, fitted to the scene's frame.

    Blender decodes the file it is given to size the strip: 5-20 ms for a 960x540 frame, too long for
    a timer tick. With the take's size known, the strip is made from a name that is no file and fitted
    here the way FIT does (the smaller of the two scale factors), then pointed at the frame.
    """
    editor = scene.sequence_editor or scene.sequence_editor_create()
    if size is None:
        return editor.strips.new_image(name=name, filepath=str(take_dir / first), channel=channel,
                                       frame_start=frame_start, fit_method="FIT")
    strip = editor.strips.new_image(name=name, filepath=str(take_dir / NOT_A_FRAME), channel=channel,
                                    frame_start=frame_start, fit_method="ORIGINAL")
    strip.elements[0].filename = first
    strip.transform.scale_x = strip.transform.scale_y = min(scene.render.resolution_x / size[0],
                                                            scene.render.resolution_y / size[1])
    return strip


def sync_take(scene: bpy.types.Scene, shot: str, take_dir: Path, frame_start: int,
              frame_end: int, size: tuple[int, int] | None = None) -> bpy.types.Strip | None:
    """Create or grow the strip of a take from the frames on disk; returns it, or None before the first frame.

    A new take goes on a channel above the shot's other takes and becomes the active one. `size`, the
    take's (width, height), spares decoding its first frame (the runtime's events call this in a timer).
    """
    take_dir = Path(take_dir)
    strip = take_strip(scene, shot, take_dir.name)
    known = 0 if strip is None else len(strip.elements)
    names = present_frames(take_dir, frame_start + known, frame_end)
    if strip is None:
        if not names:
            return None
        channel = max([s.channel for s in shot_strips(scene, shot)], default=FIRST_CHANNEL - 1) + 1
        strip = _new_strip(scene, strip_name(shot, take_dir.name), take_dir, names[0], channel, frame_start, size)
        strip[SHOT_KEY], strip[TAKE_KEY] = shot, take_dir.name
        strip.directory = _folder_for_blend(take_dir)
        names = names[1:]
        set_active_take(scene, shot, take_dir.name)
    for filename in names:
        strip.elements.append(filename)
    return strip


def set_active_take(scene: bpy.types.Scene, shot: str, take: str) -> None:
    """Put the take's strip on its shot's top channel, unmuted, and mute the shot's other takes."""
    strips = shot_strips(scene, shot)
    active = take_strip(scene, shot, take)
    if active is None:
        raise KeyError(f"shot '{shot}' has no take '{take}' on the timeline")
    top = strips[-1]
    if top != active:
        # swap through a free channel: two strips of one shot overlap in time and cannot share a channel
        top_channel, active_channel = top.channel, active.channel
        top.channel = max(s.channel for s in _strips(scene)) + 1
        active.channel = top_channel
        top.channel = active_channel
    for strip in strips:
        strip.mute = strip != active


def remove_take(scene: bpy.types.Scene, shot: str, take: str) -> None:
    """Take a take's strip off the timeline; if it was the active one, the next take down becomes active."""
    strip = take_strip(scene, shot, take)
    if strip is None:
        return
    was_active = not strip.mute
    scene.sequence_editor.strips.remove(strip)
    rest = shot_strips(scene, shot)
    if was_active and rest:
        set_active_take(scene, shot, rest[-1][TAKE_KEY])


def sync_take_folder(scene: bpy.types.Scene, take_dir: Path) -> bpy.types.Strip | None:
    """`sync_take` for a take folder, its shot and frame range read from its take.json."""
    take_range = read_take_range(take_dir)
    if take_range is None:
        return None
    return sync_take(scene, take_range.shot, take_dir, take_range.frame_start, take_range.frame_end,
                     (take_range.width, take_range.height))


def _scenes_with_shot(shot: str) -> list[bpy.types.Scene]:
    """Scenes whose Oyster shot list holds `shot`; the current scene when none does."""
    scenes = [s for s in bpy.data.scenes if getattr(s, "oyster", None) is not None
              and any(item.name == shot for item in s.oyster.shots)]
    return scenes or ([bpy.context.scene] if bpy.context.scene is not None else [])


def on_runtime_event(event: dict[str, Any]) -> None:
    """Runtime event (docs/runtime_api.md) -> the take's strip created or grown; call on the main thread.

    `queued` events carry the take folder and `frame` events a frame's path; the
    take id remembers the folder for the events that carry neither.
    """
    if event.get("type") not in TAKE_EVENTS:
        return
    data, take_id = event.get("data") or {}, str(event.get("take_id", ""))
    if data.get("take_dir"):
        _event_take_dirs[take_id] = Path(data["take_dir"])
    elif data.get("path"):
        _event_take_dirs[take_id] = Path(data["path"]).parent
    take_dir = _event_take_dirs.get(take_id)
    if take_dir is None or not take_dir.is_dir():  # a studio runtime's folder this machine cannot see
        return
    take_range = _take_ranges.get(take_dir) or read_take_range(take_dir)
    if take_range is None:
        return
    _take_ranges[take_dir] = take_range
    for scene in _scenes_with_shot(take_range.shot):
        sync_take(scene, take_range.shot, take_dir, take_range.frame_start, take_range.frame_end,
                  (take_range.width, take_range.height))
    _redraw()


def _redraw() -> None:
    """Redraw the sequencers and sidebars: a grown strip or a new take status shows at once."""
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in ("SEQUENCE_EDITOR", "VIEW_3D"):
                area.tag_redraw()


@bpy.app.handlers.persistent
def _relative_take_folders(filepath: str, *_args: Any) -> None:
    """save_pre: store take strip folders relative to the .blend being written (first save included)."""
    start = os.path.dirname(filepath)
    for scene in bpy.data.scenes:
        for strip in _strips(scene):
            if strip.get(TAKE_KEY) is not None and not strip.directory.startswith("//"):
                try:
                    strip.directory = bpy.path.relpath(strip.directory, start=start).rstrip("/\\") + "/"
                except ValueError:  # another drive (Windows): stays absolute
                    continue


def register() -> None:
    bpy.app.handlers.save_pre.append(_relative_take_folders)


def unregister() -> None:
    if _relative_take_folders in bpy.app.handlers.save_pre:
        bpy.app.handlers.save_pre.remove(_relative_take_folders)
    _event_take_dirs.clear()
    _take_ranges.clear()
