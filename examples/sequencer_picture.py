"""A picture of a .blend's Video Sequencer with its takes, for the README.

    python -m examples.sequencer_picture --blend oyster_demo/example.blend --out docs/images/sequencer.jpg

bpy as a Python module never opens a window, so there is no sequencer editor to
screenshot. This draws what that editor shows, from the saved file itself: the
preview at the playhead is rendered by Blender through the sequencer (the top
unmuted strip wins, as in the editor), and below it the channels hold every
strip at its frames, with its name, thumbnails of its own frames, and muted
takes greyed out. Nothing is drawn that the .blend does not hold.
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
import cv2
import numpy as np

WIDTH = 1280
PREVIEW_HEIGHT = 360
CHANNEL_HEIGHT = 64
RULER_HEIGHT = 28
LABEL_WIDTH = 70
BACKGROUND, LANE, LANE_ALT, TEXT = (38, 38, 38), (52, 52, 52), (46, 46, 46), (225, 225, 225)
IMAGE_STRIP, MUTED_STRIP, PLAYHEAD = (150, 110, 130), (90, 90, 90), (60, 120, 240)  # BGR, near Blender's theme
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class StripView:
    """One strip as the sequencer shows it."""

    name: str
    channel: int
    start: int
    end: int
    """Last frame shown, inclusive."""
    muted: bool
    frames: list[Path]
    """The image files of an image strip, in order; empty for other strips."""


def read_strips(scene: bpy.types.Scene) -> list[StripView]:
    editor = scene.sequence_editor
    views = []
    for strip in [] if editor is None else editor.strips_all:
        frames = []
        if strip.type == "IMAGE":
            folder = Path(bpy.path.abspath(strip.directory))
            frames = [folder / element.filename for element in strip.elements]
        views.append(StripView(strip.name, strip.channel, strip.frame_final_start, strip.frame_final_end - 1,
                               strip.mute, frames))
    return views


def render_preview(scene: bpy.types.Scene, frame: int, height: int) -> np.ndarray:
    """The sequencer's output at `frame`, rendered by Blender (BGR, `height` pixels high)."""
    scene.frame_set(frame)
    scene.render.use_sequencer = True
    scene.view_settings.view_transform = "Standard"  # the take's pixels as they are, as the export shows them
    scene.view_settings.look = "None"
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    with tempfile.TemporaryDirectory() as folder:
        scene.render.filepath = str(Path(folder) / "preview.png")
        bpy.ops.render.render(write_still=True)
        image = cv2.imread(scene.render.filepath)
    if image is None:
        raise RuntimeError("Blender rendered no sequencer preview")
    return cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height), interpolation=cv2.INTER_AREA)


def draw_timeline(strips: list[StripView], frame_start: int, frame_end: int, playhead: int) -> np.ndarray:
    channels = sorted({s.channel for s in strips}, reverse=True) or [1]
    canvas = np.full((RULER_HEIGHT + CHANNEL_HEIGHT * len(channels), WIDTH, 3), BACKGROUND, np.uint8)
    span = max(frame_end - frame_start + 1, 1)

    def x_of(frame: float) -> int:
        return LABEL_WIDTH + round((frame - frame_start) / span * (WIDTH - LABEL_WIDTH - 10))

    step = max(1, round(span / 12 / 5) * 5) if span > 12 else 1
    for frame in range(-(-frame_start // step) * step, frame_end + 1, step):
        cv2.line(canvas, (x_of(frame), RULER_HEIGHT - 8), (x_of(frame), RULER_HEIGHT), TEXT, 1)
        cv2.putText(canvas, str(frame), (x_of(frame) + 3, RULER_HEIGHT - 10), FONT, 0.4, TEXT, 1, cv2.LINE_AA)
    for row, channel in enumerate(channels):
        top = RULER_HEIGHT + row * CHANNEL_HEIGHT
        canvas[top:top + CHANNEL_HEIGHT, LABEL_WIDTH:] = LANE if row % 2 == 0 else LANE_ALT
        cv2.putText(canvas, f"Ch {channel}", (8, top + CHANNEL_HEIGHT // 2 + 5), FONT, 0.5, TEXT, 1, cv2.LINE_AA)
        for strip in (s for s in strips if s.channel == channel):
            draw_strip(canvas, strip, x_of(strip.start), x_of(strip.end + 1), top + 4, top + CHANNEL_HEIGHT - 4)
    cv2.line(canvas, (x_of(playhead + 0.5), 0), (x_of(playhead + 0.5), canvas.shape[0]), PLAYHEAD, 2)
    cv2.putText(canvas, str(playhead), (x_of(playhead + 0.5) + 4, canvas.shape[0] - 6), FONT, 0.45, PLAYHEAD, 1,
                cv2.LINE_AA)
    return canvas


def draw_strip(canvas: np.ndarray, strip: StripView, left: int, right: int, top: int, bottom: int) -> None:
    colour = MUTED_STRIP if strip.muted else IMAGE_STRIP
    canvas[top:bottom, left:right] = colour
    thumb_height = bottom - top - 18
    x = left + 2
    while strip.frames:  # as the editor does: thumbnails side by side, each the frame under it
        index = min(len(strip.frames) - 1, (x - left) * (strip.end - strip.start + 1) // max(right - left, 1))
        thumb = cv2.imread(str(strip.frames[index]))
        if thumb is None:
            break
        width = round(thumb.shape[1] * thumb_height / thumb.shape[0])
        if x + width > right - 2:
            break
        small = cv2.resize(thumb, (width, thumb_height), interpolation=cv2.INTER_AREA)
        if strip.muted:  # a muted strip's pictures read as switched off
            small = (0.35 * small + 0.65 * np.array(MUTED_STRIP)).astype(np.uint8)
        canvas[top + 16:top + 16 + thumb_height, x:x + width] = small
        x += width + 1
    label = f"{strip.name}  {strip.start}-{strip.end}" + ("  (muted)" if strip.muted else "")
    cv2.putText(canvas, label, (left + 4, top + 12), FONT, 0.4, TEXT, 1, cv2.LINE_AA)
    cv2.rectangle(canvas, (left, top), (right - 1, bottom - 1), (20, 20, 20), 1)


def sequencer_picture(blend: Path, frame: int | None = None) -> np.ndarray:
    """The preview over the channels, as one BGR image `WIDTH` pixels wide."""
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    strips = read_strips(scene)
    if not strips:
        raise ValueError(f"{blend} has no strips on its sequencer")
    start = min(min(s.start for s in strips), scene.frame_start)
    end = max(max(s.end for s in strips), scene.frame_end)
    playhead = frame if frame is not None else (start + end) // 2
    preview = render_preview(scene, playhead, PREVIEW_HEIGHT)
    top = np.full((PREVIEW_HEIGHT + 40, WIDTH, 3), BACKGROUND, np.uint8)
    left = (WIDTH - preview.shape[1]) // 2
    top[30:30 + PREVIEW_HEIGHT, left:left + preview.shape[1]] = preview[:, :WIDTH]
    cv2.putText(top, f"{blend.name}: Video Sequencer, preview at frame {playhead}", (10, 20), FONT, 0.5, TEXT, 1,
                cv2.LINE_AA)
    return np.concatenate([top, draw_timeline(strips, start, end, playhead)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blend", type=Path, required=True, help="a .blend with takes on its sequencer")
    parser.add_argument("--out", type=Path, required=True, help="the picture to write (.jpg or .png, by its suffix)")
    parser.add_argument("--frame", type=int, help="playhead frame (default: the middle of the strips)")
    args = parser.parse_args(argv)
    picture = sequencer_picture(args.blend.resolve(), args.frame)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), picture):
        raise OSError(f"cannot write {args.out}")
    print(f"{args.out}: {picture.shape[1]}x{picture.shape[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
