"""Takes on the Video Sequencer: one image-sequence strip per take, at its shot's frames.

A take's strip is named `<shot> <take>` and holds the contiguous run of frames
on disk from the shot's first frame: while a take is generating, the strip grows
as frames land, and the frames not yet made are simply not in it (the timeline
shows nothing there, never a stale frame). Each take of a shot has its own
channel; the active take sits on the top channel of its shot and the others are
muted. Strip folders are stored relative to the .blend (`//...`) once the file
is saved, so the project opens elsewhere with its output folder beside it.
"""
from __future__ import annotations

from pathlib import Path

import bpy

from .naming import frame_file_name

FIRST_CHANNEL = 2  # channel 1 stays free for the artist's own blockout renders or sound


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


def _strips(scene: bpy.types.Scene):
    editor = scene.sequence_editor
    return [] if editor is None else list(editor.strips_all)


def shot_strips(scene: bpy.types.Scene, shot: str) -> list:
    """The take strips of a shot, bottom channel first."""
    prefix = f"{shot} take_"
    return sorted((s for s in _strips(scene) if s.name.startswith(prefix) and s.type == "IMAGE"),
                  key=lambda s: s.channel)


def _folder_for_blend(take_dir: Path) -> str:
    """The take folder as Blender stores it: relative to the saved .blend when there is one."""
    folder = str(take_dir.resolve()) + "/"
    return bpy.path.relpath(folder) if bpy.data.filepath else folder


def sync_take(scene: bpy.types.Scene, shot: str, take_dir: Path, frame_start: int, frame_end: int):
    """Create or grow the strip of a take from the frames on disk; returns it, or None before the first frame.

    A new take goes on a channel above the shot's other takes and becomes the active one.
    """
    take_dir = Path(take_dir)
    names = present_frames(take_dir, frame_start, frame_end)
    if not names:
        return None
    name = strip_name(shot, take_dir.name)
    strip = next((s for s in _strips(scene) if s.name == name), None)
    if strip is None:
        editor = scene.sequence_editor or scene.sequence_editor_create()
        others = shot_strips(scene, shot)
        channel = max([s.channel for s in others], default=FIRST_CHANNEL - 1) + 1
        strip = editor.strips.new_image(name=name, filepath=str(take_dir / names[0]), channel=channel,
                                        frame_start=frame_start)
        strip.directory = _folder_for_blend(take_dir)
        set_active_take(scene, shot, take_dir.name)
    for filename in names[len(strip.elements):]:
        strip.elements.append(filename)
    return strip


def set_active_take(scene: bpy.types.Scene, shot: str, take: str) -> None:
    """Put the take's strip on its shot's top channel, unmuted, and mute the shot's other takes."""
    strips = shot_strips(scene, shot)
    active = next((s for s in strips if s.name == strip_name(shot, take)), None)
    if active is None:
        raise KeyError(f"shot '{shot}' has no take '{take}' on the timeline")
    top = strips[-1]
    if top is not active:
        # swap through a free channel: two strips of one shot overlap in time and cannot share a channel
        top_channel, active_channel = top.channel, active.channel
        free = max(s.channel for s in _strips(scene)) + 1
        top.channel = free
        active.channel = top_channel
        top.channel = active_channel
    for strip in strips:
        strip.mute = strip is not active
