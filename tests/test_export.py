"""Previs export in the real bpy: mp4 with burn-ins, frames, OTIO/EDL via the runtime, cameras as JSON and USD."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
import cv2  # noqa: E402
import opentimelineio as otio  # noqa: E402

from oyster_blender.export import ExportError, ExportJob, ShotExport, export_previs  # noqa: E402
from oyster_blender.timeline import sync_take  # noqa: E402

W, H = 320, 180


def setup_shots(scene, root: Path) -> list[ShotExport]:
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = W, H, 100
    scene.frame_start, scene.frame_end = 1, 12
    shots = []
    for i, (name, start, end) in enumerate((("sh010", 1, 6), ("sh020", 7, 12))):
        cam = bpy.data.objects.new(f"Cam{i}", bpy.data.cameras.new(f"Cam{i}"))
        scene.collection.objects.link(cam)
        cam.rotation_euler = (math.radians(90), 0, 0)
        cam.location = (0, -10, 1)
        cam.keyframe_insert("location", frame=start)
        cam.location = (0, -6, 1)
        cam.keyframe_insert("location", frame=end)
        take = root / "oyster" / name / "take_001"
        take.mkdir(parents=True)
        for f in range(start, end + 1):
            frame = np.zeros((H, W, 3), np.uint8)
            frame[:, :, i] = 40 + 15 * (f - start)  # a plain ramp: any stamp shows up against it
            cv2.imwrite(str(take / f"{f:04d}.png"), frame)
        sync_take(scene, name, take, start, end)
        shots.append(ShotExport(name, start, end, cam, f"notes for {name}", take))
    return shots


def test_export_writes_every_editorial_form(empty_scene, tmp_path):
    shots = setup_shots(empty_scene, tmp_path)
    out = tmp_path / "export"
    written = export_previs(empty_scene, shots, out, sys.executable)
    video = cv2.VideoCapture(str(written["mp4"]))
    count = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = video.read()
    assert ok and count == 12 and first.shape == (H, W, 3)
    source = cv2.imread(str(shots[0].take_dir / "0001.png"))
    stamp_rows = slice(H - 12, H)  # Blender's stamp sits along the bottom edge
    assert np.abs(first[stamp_rows].astype(int) - source[stamp_rows]).mean() > 10  # burn-in present
    assert np.abs(first[H // 2:H // 2 + 8].astype(int) - source[H // 2:H // 2 + 8]).mean() < 12  # the picture itself
    assert sorted(p.name for p in (out / "frames" / "sh020_take_001").iterdir())[0] == "sh020_take_001.0007.png"
    timeline = otio.adapters.read_from_file(str(written["otio"]))
    assert [c.name for c in timeline.find_clips()] == ["sh010 take_001", "sh020 take_001"]
    edl = otio.adapters.read_from_file(str(written["edl"]), adapter_name="cmx_3600", rate=24)
    assert len(list(edl.find_clips())) == 2
    track_path, usd_path = written["cameras"][1]
    assert json.loads(track_path.read_text())["frame_start"] == 7
    usd = usd_path.read_text()
    assert "def Camera" in usd and "timeSamples" in usd  # an animated camera
    assert not list(out.rglob("*partial*"))


def test_export_refuses_missing_takes_and_empty_sequences(empty_scene, tmp_path):
    shots = setup_shots(empty_scene, tmp_path)
    with pytest.raises(ExportError, match="no shots"):
        export_previs(empty_scene, [], tmp_path / "a", sys.executable)
    (shots[1].take_dir / "0009.png").unlink()
    with pytest.raises(ExportError, match="sh020.*incomplete"):
        export_previs(empty_scene, shots, tmp_path / "b", sys.executable)
    blocked = tmp_path / "file_not_folder"
    blocked.write_text("x")
    with pytest.raises(ExportError, match="cannot write to the export folder"):
        export_previs(empty_scene, shots[:1], blocked, sys.executable)


def test_cancelled_export_leaves_only_finished_files(empty_scene, tmp_path):
    shots = setup_shots(empty_scene, tmp_path)
    job = ExportJob(empty_scene, shots, tmp_path / "export", sys.executable)
    progress = []
    for _ in range(3):  # both shots' frames and the first camera, then the artist cancels
        job.step()
        progress.append(job.progress)
    assert progress == sorted(progress) and 0 < progress[-1] < 1 and not job.finished
    out = tmp_path / "export"
    assert not (out / "previs.mp4").exists() and not (out / "previs.otio").exists()
    assert len(list((out / "frames" / "sh010_take_001").iterdir())) == 6
    assert not list(out.rglob("*partial*"))
