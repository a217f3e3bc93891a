"""The README's main job, end to end in a real Blender (bpy) and the runtime's generate path."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2

from oyster_blender.core.track_schema import validate_track

REPO = Path(__file__).resolve().parent.parent


def test_demo_generates_the_example_shot(tmp_path):
    out = tmp_path / "demo"
    # the README's main job as it is: the default model (the painter) over the blockout's passes
    result = subprocess.run([sys.executable, "-m", "examples.demo", "--out", str(out)],
                            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    track = json.loads((out / "camera_track.json").read_text())
    validate_track(track)
    take = out / "oyster" / "example" / "take_001"
    record = json.loads((take / "take.json").read_text())
    assert record["status"] == "done" and record["model"] == "oyster-painter"
    assert len(list((take / "inputs" / "passes").glob("depth_*.exr"))) == len(track["frames"])
    frames = sorted(take.glob("[0-9]*.png"))
    assert [f.stem for f in frames] == [f"{n:04d}" for n in range(track["frame_start"], track["frame_end"] + 1)]
    first = cv2.imread(str(frames[0]))
    assert first.shape == (track["height"], track["width"], 3) and first.std() > 10  # a picture, not a flat frame
    assert (out / "example.blend").stat().st_size > 10_000
    export = out / "export"
    # every deliverable (docs/timeline_export.md): editorial, cameras, techvis and the review page
    for name in ("previs.mp4", "previs.otio", "previs.edl", "previs.aaf", "edit.json", "cameras/example.json",
                 "cameras/example.usda", "cameras/example.fbx", "cameras/example.abc", "techvis/example.csv",
                 "techvis/example.json", "review.html"):
        assert (export / name).is_file(), name
    assert len(list((export / "review").glob("*.png"))) >= 6  # the review page's thumbnail strip
    assert "previs.mp4" in (export / "review.html").read_text()
    video = cv2.VideoCapture(str(export / "previs.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames)

    # the README's sequencer picture, drawn from the demo's saved .blend
    picture_path = tmp_path / "sequencer.png"
    result = subprocess.run([sys.executable, "-m", "examples.sequencer_picture", "--blend", str(out / "example.blend"),
                             "--out", str(picture_path), "--frame", "10"],
                            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    check_sequencer_picture(cv2.imread(str(picture_path)), cv2.imread(str(take / "0010.png")))


def check_sequencer_picture(picture, frame_10):
    """The preview shows the take's frame at the playhead; the take's strip lies on its channel."""
    from examples.sequencer_picture import PREVIEW_HEIGHT, WIDTH, IMAGE_STRIP

    assert picture.shape[1] == WIDTH
    width = round(frame_10.shape[1] * PREVIEW_HEIGHT / frame_10.shape[0])
    left = (WIDTH - width) // 2
    preview = picture[30:30 + PREVIEW_HEIGHT, left:left + width].astype(float)
    expected = cv2.resize(frame_10, (width, PREVIEW_HEIGHT), interpolation=cv2.INTER_AREA).astype(float)
    assert abs(preview - expected).mean() < 1  # the same picture through Blender's sequencer (a neighbour: > 1.3)
    timeline = picture[30 + PREVIEW_HEIGHT + 40:]
    assert (abs(timeline.astype(int) - IMAGE_STRIP).sum(-1) == 0).sum() > 5000  # the active strip's colour
