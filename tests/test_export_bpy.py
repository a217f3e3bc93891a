"""Previs export in the real bpy: mp4 with burn-ins, frames, OTIO/EDL via the runtime, cameras as JSON and USD."""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
import cv2  # noqa: E402
import opentimelineio as otio  # noqa: E402

from oyster_blender.export import ExportJob, export_previs  # noqa: E402
from oyster_blender.export.movie import Chunk, render_stamped, stamp_chunks  # noqa: E402
from oyster_blender.export.shots import ExportError, ShotExport  # noqa: E402
from oyster_blender.timeline import sync_take  # noqa: E402
from timeline_fixtures import frame_image, write_take  # noqa: E402

W, H = 128, 72
SHOTS = (("sh010", 1, 6, "dusk street, rain"), ("sh020", 9, 14, "neon alley, low fog"))  # frames 7-8: a gap
REPO = Path(__file__).resolve().parent.parent


def add_camera(scene, name: str, start: int, end: int):
    cam = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    scene.collection.objects.link(cam)
    cam.rotation_euler = (math.radians(90), 0, 0)
    for frame, y, lens in ((start, -10.0, 35.0), (end, -6.0, 35.0)):
        cam.location = (0, y, 1)
        cam.keyframe_insert("location", frame=frame)
        cam.data.lens = lens
    return cam


def setup_shots(scene, root: Path) -> list[ShotExport]:
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = W, H, 100
    scene.frame_start, scene.frame_end = 1, 14
    shots = []
    for i, (name, start, end, notes) in enumerate(SHOTS):
        take = write_take(root, name, 1, start, end, notes=notes, width=W, height=H)
        sync_take(scene, name, take, start, end)
        shots.append(ShotExport(name, start, end, add_camera(scene, f"Cam{i}", start, end), notes, take))
    return shots


def test_export_writes_every_editorial_form(empty_scene, tmp_path):
    shots = setup_shots(empty_scene, tmp_path)
    out = tmp_path / "export"
    written = export_previs(empty_scene, shots, out, sys.executable, REPO)

    # the mp4: every frame of the edit (gap included) at the scene's size, H.264, burn-ins in the stamp rows
    video = cv2.VideoCapture(str(written["mp4"]))
    assert video.isOpened() and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 14
    fourcc = int(video.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc in ("avc1", "h264", "H264")
    frames = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame.astype(int))
    assert len(frames) == 14 and frames[0].shape == (H, W, 3)
    for index, scene_frame in ((0, 1), (10, 11)):
        source = frame_image(scene_frame, W, H).astype(int)
        bottom = np.abs(frames[index][H - 9:] - source[H - 9:]).mean()
        middle = np.abs(frames[index][H // 2 - 3:H // 2 + 3, W // 3:] - source[H // 2 - 3:H // 2 + 3, W // 3:]).mean()
        assert bottom > 15 > 4 > middle  # burn-in in the stamp rows, the picture itself elsewhere
    assert frames[6][H // 2 - 3:H // 2 + 3, W // 3:].mean() < 10  # the gap is black

    # the frames under editorial names
    clip_dir = out / "frames" / "sh020_take_001"
    assert sorted(p.name for p in clip_dir.iterdir()) == [f"sh020_take_001.{f:04d}.png" for f in range(9, 15)]

    # OTIO: one clip per shot at its scene frames, pointing at the exported frames, notes and camera in metadata
    timeline = otio.adapters.read_from_file(str(written["otio"]))
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["sh010 take_001", "sh020 take_001"]
    assert [(c.source_range.start_time.value, c.source_range.duration.value) for c in clips] == [(1, 6), (9, 6)]
    assert [c.range_in_parent().start_time.value for c in clips] == [0, 8]  # the gap is kept
    url = clips[1].media_reference.target_url_for_image_number(0)
    assert Path(otio.url_utils.filepath_from_url(url)) == (clip_dir / "sh020_take_001.0009.png").resolve()
    assert clips[1].metadata["oyster"]["notes"] == "neon alley, low fog"
    assert clips[1].metadata["oyster"]["camera"]["name"] == "Cam1"

    # the EDL: record timecodes at the scene frames, as the burn-ins show them
    edl = otio.adapters.read_from_file(str(written["edl"]), adapter_name="cmx_3600", rate=24)
    edl_clips = list(edl.find_clips())
    assert [c.source_range.duration.value for c in edl_clips] == [6, 6]
    edl_text = written["edl"].read_text()
    assert "00:00:00:09 00:00:00:15" in edl_text and "sh020_take_001.[9-14].png" in edl_text

    # the cameras: track JSON and an animated camera in USD
    track_path, usd_path = written["cameras"][1]["track"], written["cameras"][1]["usd"]
    track = json.loads(track_path.read_text())
    assert (track["frame_start"], track["frame_end"], len(track["frames"])) == (9, 14, 6)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.usd_import(filepath=str(usd_path))
    scene = bpy.context.scene
    (camera,) = [o for o in scene.objects if o.type == "CAMERA"]
    positions = []
    for frame in (9, 14):
        scene.frame_set(frame)
        positions.append(tuple(camera.matrix_world.translation))
    assert positions[0] == pytest.approx((0, -10, 1), abs=1e-4) and positions[1] == pytest.approx((0, -6, 1), abs=1e-4)

    assert not [p for p in out.rglob("*") if "partial" in p.name or "stamped" in p.name]


def test_burn_in_carries_each_shots_notes_and_lens(empty_scene, tmp_path):
    """The stamp is rendered per shot: another note or lens changes the stamp rows, not the picture."""
    shots = setup_shots(empty_scene, tmp_path)
    shot = shots[0]
    empty_scene.render.resolution_x, empty_scene.render.resolution_y = 480, 270  # room for the whole stamp line

    def stamped(notes: str, lens: float) -> np.ndarray:
        shot.camera.data.lens = lens
        folder = tmp_path / f"stamped_{len(notes)}_{lens}"
        render_stamped(empty_scene, Chunk(1, 1, ShotExport(shot.name, 1, 6, shot.camera, notes, shot.take_dir)),
                       folder)
        return cv2.imread(str(folder / "0001.png")).astype(int)

    # the strip keeps its size (fit when it was added): the take's 128x72 frame sits in the middle
    plain = np.zeros((270, 480, 3), int)
    plain[99:171, 176:304] = frame_image(1, W, H)
    a, b, c = stamped("fog", 35.0), stamped("fog rolls in from the harbour", 35.0), stamped("fog", 85.0)
    assert np.abs(a[-12:] - plain[-12:]).mean() > 8  # the stamp differs from the frame without it
    assert np.array_equal(a[100:170], plain[100:170])  # and leaves the picture alone
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    assert empty_scene.render.use_stamp is False and empty_scene.frame_end == 14  # settings restored


def test_chunks_follow_shots_gaps_and_zoom(empty_scene, tmp_path):
    shots = setup_shots(empty_scene, tmp_path)
    zoom = shots[1].camera.data
    zoom.lens = 35.0
    zoom.keyframe_insert("lens", frame=11)
    zoom.lens = 50.0
    zoom.keyframe_insert("lens", frame=12)
    chunks = stamp_chunks(empty_scene, shots)
    assert [(c.frame_start, c.frame_end, c.shot.name if c.shot else None) for c in chunks] == [
        (1, 6, "sh010"), (7, 8, None), (9, 11, "sh020"), (12, 14, "sh020")]


def test_export_refuses_bad_input_before_writing(empty_scene, tmp_path):
    shots = setup_shots(empty_scene, tmp_path)
    with pytest.raises(ExportError, match="no shots"):
        export_previs(empty_scene, [], tmp_path / "a", sys.executable, REPO)
    overlapping = ShotExport("sh030", 5, 10, shots[0].camera, "", shots[1].take_dir)
    with pytest.raises(ExportError, match="'sh010' and 'sh030' overlap"):
        export_previs(empty_scene, [shots[0], overlapping], tmp_path / "b", sys.executable, REPO)
    gone = ShotExport("sh010", 1, 6, shots[0].camera, "", tmp_path / "oyster" / "sh010" / "take_009")
    with pytest.raises(ExportError, match="sh010.*take_009 is missing"):
        export_previs(empty_scene, [gone], tmp_path / "c", sys.executable, REPO)
    (shots[1].take_dir / "0011.png").unlink()
    with pytest.raises(ExportError, match="sh020.*incomplete \\(2 of 6 frames\\)"):
        export_previs(empty_scene, shots, tmp_path / "d", sys.executable, REPO)
    blocked = tmp_path / "file_not_folder"
    blocked.write_text("x")
    with pytest.raises(ExportError, match="cannot write to the export folder"):
        export_previs(empty_scene, shots[:1], blocked / "export", sys.executable, REPO)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ExportError, match="cannot write to the export folder"):
            export_previs(empty_scene, shots[:1], locked, sys.executable, REPO)
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_cancelled_or_failed_export_leaves_only_finished_files(empty_scene, tmp_path):
    shots = setup_shots(empty_scene, tmp_path)
    out = tmp_path / "export"
    job = ExportJob(empty_scene, shots, out, sys.executable, REPO)
    progress, labels = [], []
    while "burn-ins sh010" not in job.label:
        labels.append(job.label)
        job.step()
        progress.append(job.progress)
    job.step()  # one chunk of stamped frames rendered, then the artist cancels
    job.abort()
    assert labels[:3] == ["frames of sh010", "camera of sh010", "techvis of sh010"] and "OTIO, EDL and AAF" in labels
    assert progress == sorted(progress) and 0 < progress[-1] < 1 and not job.finished
    assert not (out / "previs.mp4").exists()
    assert len(list((out / "frames" / "sh010_take_001").iterdir())) == 6 and (out / "previs.otio").is_file()
    assert not [p for p in out.rglob("*") if "partial" in p.name or "stamped" in p.name]

    failing = ExportJob(empty_scene, shots, tmp_path / "export2", str(tmp_path / "no-python"), REPO)
    with pytest.raises(ExportError, match="cannot run the runtime's Python"):
        while not failing.finished:
            failing.step()
    assert not list((tmp_path / "export2").glob("*.otio")) and not (tmp_path / "export2" / "previs.mp4").exists()
