"""`previs.mp4`: the sequencer rendered to PNG in short chunks with the burn-ins (shot, take, the mattebox
figures, the notes, frame, timecode and lens in Blender's metadata stamp: one note and one camera per
render), then the stamped frames encoded as H.264 in one go through a temporary scene's sequencer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import bpy

from ..core.naming import frame_file_name
from .shots import ExportError, ShotExport, saved

MP4 = "previs.mp4"
STAMPED = ".previs.stamped"  # the stamped frames between the two passes; removed when the export ends

CHUNK_FRAMES = 24  # frames rendered per step: the granularity of progress and cancel

NOTE_CHARS = 200  # the stamp is one line
# Frame, timecode and lens along the bottom; "<shot> <take>  <notes>" as the note, top left, wrapped by
# Blender to the frame's width (the strip-name field sits top right and would overlap it on small frames).
STAMP_FIELDS = ("use_stamp_frame", "use_stamp_time", "use_stamp_lens", "use_stamp_note")


@dataclass(frozen=True)
class Chunk:
    """Frames rendered in one call with one stamp: a piece of a shot, or of a gap between shots."""
    frame_start: int
    frame_end: int
    shot: ShotExport | None


def stamp_chunks(scene: bpy.types.Scene, shots: list[ShotExport]) -> list[Chunk]:
    """The edit's frames (first shot's start to last shot's end) in chunks of one shot and one lens.

    The stamp shows one lens per render, so an animated zoom splits a chunk wherever the lens changes.
    """
    ordered = sorted(shots, key=lambda s: s.frame_start)
    chunks: list[Chunk] = []
    frame = ordered[0].frame_start
    with saved(scene, "frame_current"):
        for shot in ordered:
            if frame < shot.frame_start:
                chunks += [Chunk(f, min(f + CHUNK_FRAMES - 1, shot.frame_start - 1), None)
                           for f in range(frame, shot.frame_start, CHUNK_FRAMES)]
            start, lens = shot.frame_start, None
            for f in range(shot.frame_start, shot.frame_end + 2):
                if f <= shot.frame_end:
                    scene.frame_set(f)
                    now = round(shot.camera.data.lens, 2)
                if f > shot.frame_end or (lens is not None and now != lens) or f - start == CHUNK_FRAMES:
                    chunks.append(Chunk(start, f - 1, shot))
                    start = f
                lens = now
            frame = shot.frame_end + 1
    return chunks


def stamp_note(shot: ShotExport, mattebox: str = "") -> str:
    """The burn-in's note: shot and take, the frame's mattebox figures (focal length, height, tilt), then the
    notes the take was made from, on one line (the figures before the notes, so long notes never hide them)."""
    notes = " ".join(shot.notes.split())
    figures = f" | {mattebox} |" if mattebox else ""
    return f"{shot.name} {shot.take_dir.name}{figures}  {notes}"[:NOTE_CHARS]


def _stamp_font_size(height: int) -> int:
    """Blender draws the stamp in pixels; scale it with the frame so it reads alike at any size."""
    return max(8, round(height / 30))


def render_stamped(scene: bpy.types.Scene, chunk: Chunk, folder: Path, mattebox: dict[int, str] | None = None) -> None:
    """Render the sequencer over a chunk into `folder/NNNN.png` with the burn-ins of its shot.

    `mattebox` maps scene frames to their mattebox figures (techvis.mattebox_text); with it the chunk is
    rendered a frame at a time, since the stamp's note holds one text per render.
    """
    render = scene.render
    stamp_keys = [p.identifier for p in render.bl_rna.properties if p.identifier.startswith("use_stamp")]
    folder.mkdir(parents=True, exist_ok=True)
    with saved(scene, "frame_start", "frame_end", "frame_current", "camera"), \
            saved(render, "filepath", "use_sequencer", "use_file_extension", "stamp_note_text", "stamp_font_size",
                   *stamp_keys), \
            saved(render.image_settings, "file_format", "color_mode", "color_depth"), \
            saved(scene.view_settings, "view_transform", "look", "exposure", "gamma"):
        scene.frame_start, scene.frame_end = chunk.frame_start, chunk.frame_end
        if chunk.shot is not None:
            scene.camera = chunk.shot.camera  # the stamp's camera and lens
        scene.frame_set(chunk.frame_start)
        for key in stamp_keys:
            setattr(render, key, key in ("use_stamp", "use_stamp_labels", *STAMP_FIELDS))
        render.use_stamp_lens = chunk.shot is not None
        render.stamp_note_text = "" if chunk.shot is None else stamp_note(chunk.shot)
        render.stamp_font_size = _stamp_font_size(round(render.resolution_y * render.resolution_percentage / 100))
        render.use_sequencer, render.use_file_extension = True, True
        render.image_settings.file_format = "PNG"
        render.image_settings.color_mode, render.image_settings.color_depth = "RGB", "8"
        # the takes are display-ready sRGB frames: pass them through untouched
        scene.view_settings.view_transform, scene.view_settings.look = "Standard", "None"
        scene.view_settings.exposure, scene.view_settings.gamma = 0.0, 1.0
        render.filepath = str(folder) + os.sep + "####"
        if chunk.shot is None or not mattebox:
            bpy.ops.render.render(animation=True, scene=scene.name)
            return
        for frame in range(chunk.frame_start, chunk.frame_end + 1):
            scene.frame_start = scene.frame_end = frame
            render.stamp_note_text = stamp_note(chunk.shot, mattebox.get(frame, ""))
            bpy.ops.render.render(animation=True, scene=scene.name)


def encode_mp4(scene: bpy.types.Scene, folder: Path, frame_start: int, frame_end: int, out: Path) -> Path:
    """Encode the stamped frames as H.264 `out/previs.mp4` through a temporary scene's sequencer."""
    final, partial = out / MP4, out / f".{MP4}.partial.mp4"
    encoder = bpy.data.scenes.new(".oyster_encode")
    try:
        render = encoder.render
        render.resolution_x = round(scene.render.resolution_x * scene.render.resolution_percentage / 100)
        render.resolution_y = round(scene.render.resolution_y * scene.render.resolution_percentage / 100)
        render.resolution_percentage = 100
        render.fps, render.fps_base = scene.render.fps, scene.render.fps_base
        encoder.view_settings.view_transform = "Standard"
        strip = encoder.sequence_editor_create().strips.new_image(
            name="previs", filepath=str(folder / frame_file_name(frame_start)), channel=1, frame_start=1)
        for frame in range(frame_start + 1, frame_end + 1):
            strip.elements.append(frame_file_name(frame))
        encoder.frame_start, encoder.frame_end = 1, frame_end - frame_start + 1
        render.use_sequencer, render.use_stamp = True, False
        render.image_settings.file_format = "FFMPEG"
        render.ffmpeg.format, render.ffmpeg.codec = "MPEG4", "H264"
        render.ffmpeg.constant_rate_factor = "HIGH"
        render.filepath = str(partial)
        bpy.ops.render.render(animation=True, scene=encoder.name)
        if not partial.is_file():
            raise ExportError(f"Blender wrote no movie to {partial}")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
        bpy.data.scenes.remove(encoder)
    return final
