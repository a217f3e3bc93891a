"""Previs deliverables in the real bpy: FBX and Alembic cameras, techvis figures, the mattebox burn-in,
the review page in headless Chromium, and the refusals of bad input."""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
import cv2  # noqa: E402

from oyster_blender.export import export_previs  # noqa: E402
from oyster_blender.export.cameras import export_camera  # noqa: E402
from oyster_blender.export.shots import ExportError, ShotExport  # noqa: E402
from oyster_blender.export.techvis import shot_figures  # noqa: E402
from oyster_blender.timeline import sync_take  # noqa: E402
from test_export_bpy import REPO, setup_shots  # noqa: E402
from timeline_fixtures import frame_image, write_take  # noqa: E402

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _interpolate(action, interpolation: str, data_path: str | None = None) -> None:
    """Every key of the action's curves (all slots: Blender 4.4+ actions are layered and slotted)."""
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                for curve in bag.fcurves:
                    if data_path is None or curve.data_path == data_path:
                        for point in curve.keyframe_points:
                            point.interpolation = interpolation


def alembic_focal_lengths(path: Path, aperture_cm: float = 3.6) -> list[float]:
    """The focal lengths of an Alembic camera's samples, in file order, read from the Ogawa file itself.

    Blender's Alembic importer takes a camera's lens from its first sample only, so the animated focal
    length is checked in the file: each sample of the camera schema's `.core` property is an Ogawa data
    block (8-byte size 144, a 16-byte digest, 16 doubles: focal length in mm, horizontal aperture in cm, ...).
    """
    import struct

    data = path.read_bytes()
    assert data[:5] == b"Ogawa"
    lengths = []
    for offset in range(0, len(data) - 152):
        if struct.unpack_from("<Q", data, offset)[0] == 144:
            core = struct.unpack_from("<16d", data, offset + 24)
            if 1 < core[0] < 2000 and abs(core[1] - aperture_cm) < 1e-6:
                lengths.append(core[0])
    return lengths


def add_crane(scene, tilt_deg: float = 5.0):
    """A crane up and dolly in, frames 1-25: (0, 0, 2) to (0, 6, 8), a fixed tilt, lens 35 to 50 mm,
    over a ground plane (z = 0) towards a wall at y = 30."""
    for name, location, rotation in (("Ground", (0, 0, 0), (0, 0, 0)), ("Wall", (0, 30, 0), (math.radians(90), 0, 0))):
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata([(-500, -500, 0), (500, -500, 0), (500, 500, 0), (-500, 500, 0)], [], [(0, 1, 2, 3)])
        obj = bpy.data.objects.new(name, mesh)
        obj.location, obj.rotation_euler = location, rotation
        scene.collection.objects.link(obj)
    camera = bpy.data.objects.new("Crane", bpy.data.cameras.new("Crane"))
    scene.collection.objects.link(camera)
    camera.rotation_euler = (math.radians(90 + tilt_deg), 0, 0)
    for frame, location, lens in ((1, (0, 0, 2), 35.0), (25, (0, 6, 8), 50.0)):
        camera.location = location
        camera.keyframe_insert("location", frame=frame)
        camera.data.lens = lens
        camera.data.keyframe_insert("lens", frame=frame)
    _interpolate(camera.animation_data.action, "LINEAR")
    scene.frame_start, scene.frame_end = 1, 25
    scene.render.fps, scene.render.fps_base = 24, 1.0
    return camera


def test_techvis_matches_a_known_crane(empty_scene):
    camera = add_crane(empty_scene, tilt_deg=5.0)
    figures = shot_figures(empty_scene, camera, 1, 25)
    frames = figures["frames"]
    assert [f["frame"] for f in frames] == list(range(1, 26))
    for row in frames:
        t = (row["frame"] - 1) / 24
        y, z = 6 * t, 2 + 6 * t
        assert row["lens_mm"] == pytest.approx(35 + 15 * t, abs=1e-3)
        assert row["height_m"] == pytest.approx(z, abs=1e-3) and row["z_m"] == pytest.approx(z, abs=1e-3)
        assert row["tilt_deg"] == pytest.approx(5.0, abs=1e-3) and row["pan_deg"] == pytest.approx(0.0, abs=1e-3)
        assert row["subject"] == "Wall"
        assert row["subject_m"] == pytest.approx((30 - y) / math.cos(math.radians(5)), abs=1e-3)
    step = math.hypot(6, 6) / 24
    assert frames[0]["speed_m_s"] is None
    assert all(f["speed_m_s"] == pytest.approx(step * 24, abs=1e-3) for f in frames[1:])
    summary = figures["summary"]
    assert summary["travel_m"] == pytest.approx(math.hypot(6, 6), abs=1e-3)
    assert summary["peak_speed_m_s"] == pytest.approx(math.hypot(6, 6), abs=1e-3)  # 8.49 m/s
    assert summary["crane_height_m"] == pytest.approx([2, 8], abs=1e-3)
    assert summary["crane_height_range_m"] == pytest.approx(6, abs=1e-3)
    assert summary["lens_mm"] == pytest.approx([35, 50], abs=1e-3)

    # a panned, tilted-down camera sees the ground; metres follow the scene's unit scale
    camera.rotation_euler = (math.radians(90 - 30), 0, math.radians(40))
    empty_scene.unit_settings.scale_length = 0.5
    row = shot_figures(empty_scene, camera, 1, 2)["frames"][0]
    assert row["tilt_deg"] == pytest.approx(-30, abs=1e-3) and row["pan_deg"] == pytest.approx(40, abs=1e-3)
    assert row["subject"] == "Ground" and row["subject_m"] == pytest.approx(0.5 * 2 / math.sin(math.radians(30)),
                                                                             abs=1e-3)
    assert row["height_m"] == pytest.approx(1.0, abs=1e-4) and empty_scene.frame_current == 1


def _world_track(scene, camera, frames):
    out = []
    for frame in frames:
        scene.frame_set(frame)
        out.append((np.array(camera.matrix_world), camera.data.lens))
    return out


@pytest.mark.parametrize("kind", ["fbx", "abc"])
def test_fbx_and_alembic_cameras_reimport_frame_for_frame(empty_scene, tmp_path, kind):
    scene = empty_scene
    camera = add_crane(scene)
    camera.rotation_euler = (math.radians(80), math.radians(3), math.radians(20))
    camera.keyframe_insert("rotation_euler", frame=1)
    camera.rotation_euler = (math.radians(70), 0, math.radians(-15))
    camera.keyframe_insert("rotation_euler", frame=25)
    rig = bpy.data.objects.new("Rig", None)  # a uniformly scaled, moving parent
    scene.collection.objects.link(rig)
    rig.scale = (2, 2, 2)
    rig.location = (1, 2, 0)
    rig.keyframe_insert("location", frame=1)
    rig.location = (3, 2, 1)
    rig.keyframe_insert("location", frame=25)
    camera.parent = rig
    ground = scene.objects["Ground"]
    ground.select_set(True)
    bpy.context.view_layer.objects.active = ground
    take = write_take(tmp_path, "sh010", 1, 1, 25)
    shot = ShotExport("sh010", 3, 22, camera, "crane up", take)
    expected = _world_track(scene, camera, range(3, 23))
    scene.frame_set(5)
    paths = export_camera(scene, shot, tmp_path / "export")
    # the artist's selection, active object and frames are as they were
    assert [o.name for o in scene.objects if o.select_get()] == ["Ground"]
    assert bpy.context.view_layer.objects.active == ground and scene.frame_current == 5
    assert (scene.frame_start, scene.frame_end) == (1, 25)
    assert not [p for p in (tmp_path / "export").rglob("*") if "partial" in p.name]

    bpy.ops.wm.read_factory_settings(use_empty=True)
    if kind == "fbx":
        # the FBX holds scene time (frame / fps), as Maya reads it; Blender's importer adds 1 frame by default
        bpy.ops.import_scene.fbx(filepath=str(paths["fbx"]), anim_offset=0.0)
    else:
        bpy.ops.wm.alembic_import(filepath=str(paths["abc"]))
    fresh = bpy.context.scene
    cameras = [o for o in fresh.objects if o.type == "CAMERA"]
    assert len(cameras) == 1 and len(fresh.objects) <= 2  # the camera alone (an FBX or Alembic parent node at most)
    got = _world_track(fresh, cameras[0], range(3, 23))
    if kind == "abc":  # Blender reads an Alembic camera's lens from its first sample: the rest from the file
        assert got[0][1] == pytest.approx(expected[0][1], abs=1e-4)
        got = [(m, lens) for (m, _), lens in zip(got, alembic_focal_lengths(paths["abc"]))]
        assert len(got) == 20
    for frame, (matrix, lens), (got_matrix, got_lens) in zip(range(3, 23), expected, got):
        assert np.abs(got_matrix - matrix).max() < 1e-4, (kind, frame, got_matrix, matrix)
        assert got_lens == pytest.approx(lens, abs=1e-4), (kind, frame)


def test_mattebox_strip_is_burnt_in_and_follows_the_lens(empty_scene, tmp_path):
    scene = empty_scene
    shots = setup_shots(scene, tmp_path)
    scene.render.resolution_x, scene.render.resolution_y = 480, 270  # room for the stamp's line
    camera = shots[0].camera
    for frame, z in ((1, 1.0), (6, 1.0)):  # a locked-off camera, so only the lens changes the strip
        camera.location = (0, -10, z)
        camera.keyframe_insert("location", frame=frame)
    camera.data.lens = 35.0
    camera.data.keyframe_insert("lens", frame=3)
    camera.data.lens = 85.0
    camera.data.keyframe_insert("lens", frame=4)
    _interpolate(camera.data.animation_data.action, "CONSTANT", "lens")
    out = tmp_path / "export"
    written = export_previs(scene, shots, out, sys.executable, REPO)
    video = cv2.VideoCapture(str(written["mp4"]))
    frames = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame.astype(int))
    assert len(frames) == 14 and frames[0].shape == (270, 480, 3)
    strip = slice(0, 14)  # the note's band along the top: shot, take, lens, height, tilt, notes
    plain = np.zeros((270, 480, 3), int)
    plain[99:171, 176:304] = frame_image(1, 128, 72)
    assert np.abs(frames[0][strip] - plain[strip]).mean() > 8  # the strip is there
    same = np.abs(frames[1][strip] - frames[0][strip]).mean()  # frames 1 and 2: 35 mm, same height and tilt
    changed = np.abs(frames[3][strip] - frames[2][strip]).mean()  # frame 3 at 35 mm, frame 4 at 85 mm
    assert changed > 20 * same + 0.05, (same, changed)
    strong = lambda a, b: int((np.abs(a[strip] - b[strip]).max(-1) > 40).sum())  # noqa: E731
    assert strong(frames[1], frames[0]) == 0 and strong(frames[3], frames[2]) >= 5  # "35.0 mm" -> "85.0 mm"
    figures = json.loads((out / "techvis" / "sh010.json").read_text())["frames"]
    assert [f["lens_mm"] for f in figures] == [35, 35, 35, 85, 85, 85]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed for the review page test: apt-get install -y chromium "
                    "(.ci/run installs it)")
    return found


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}",
                           "--virtual-time-budget=10000", *args, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_review_page_in_headless_chromium(empty_scene, tmp_path):
    scene = empty_scene
    shots = setup_shots(scene, tmp_path)
    # sh010 has an older take too, and its active take was made with a notes event
    older = write_take(tmp_path, "sh010", 2, 1, 6, notes="dusk street, dry", seed=11, width=128, height=72)
    active = tmp_path / "oyster" / "sh010" / "take_001"
    record = json.loads((active / "take.json").read_text())
    record["request"]["notes_events"] = [{"frame": 4, "notes": "the rain starts"}]
    (active / "take.json").write_text(json.dumps(record))
    shots[0] = ShotExport(shots[0].name, 1, 6, shots[0].camera, shots[0].notes, active)
    out = tmp_path / "export"
    written = export_previs(scene, shots, out, sys.executable, REPO)
    page = written["review"]
    assert page == out / "review.html"
    text = page.read_text()
    assert not re.search(r"(src|href)=\"(https?:|//|/)", text)  # nothing from the network, no absolute paths

    result = chromium(page, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert re.findall(r'<section class="shot"[^>]*data-shot="([^"]+)"', dom) == ["sh010", "sh020"]
    takes = re.findall(r'data-take="([^"]+)" data-active="(true|false)"', dom)
    assert takes == [("take_001", "true"), (older.name, "false"), ("take_001", "true")]
    assert "the rain starts" in dom and 'data-event-frame="4"' in dom and "dusk street, dry" in dom
    video = re.search(r"<video[^>]*>", dom).group(0)
    assert 'src="previs.mp4"' in video and "data-error" not in video
    ready, duration = int(re.search(r'data-ready-state="(\d)"', video).group(1)), \
        float(re.search(r'data-duration="([\d.]+)"', video).group(1))
    assert ready >= 1 and duration == pytest.approx(14 / 24, abs=0.05)
    assert 'data-video-size="128x72"' in video
    body = re.search(r"<body[^>]*>", dom).group(0)
    images = len(re.findall(r"<img ", dom))
    assert images == 6 + 6 + 3 and f'data-images-loaded="{images}"' in body and 'data-images-broken="0"' in body
    for shot in ("sh010", "sh020"):  # techvis figures and links to the shot's files
        section = dom[dom.index(f'data-shot="{shot}"'):]
        section = section[:section.index("</section>")]
        assert 'data-figure="travel_m"' in section and "m/s" in section
        for href in re.findall(r'href="([^"#]+)"', section):
            assert (out / href).exists(), href
        assert f'href="cameras/{shot}.fbx"' in section and f'href="techvis/{shot}.csv"' in section

    shot_path = tmp_path / "review.png"
    result = chromium(page, tmp_path, f"--screenshot={shot_path}", "--window-size=1280,900", "--hide-scrollbars")
    assert result.returncode == 0 and shot_path.is_file(), result.stderr[-2000:]
    assert cv2.imread(str(shot_path)).std() > 10


def test_bad_input_is_refused_with_specific_errors(oyster_scene, tmp_path):
    import oyster_blender.api as api
    from oyster_blender.export.shots import scene_shots

    scene = oyster_scene
    scene.render.resolution_x, scene.render.resolution_y = 64, 36
    camera = scene.camera
    api.add_shot(scene, "sh010", camera, 1, 6)
    with pytest.raises(ExportError, match="'sh010' has no take on the timeline"):  # no active take
        scene_shots(scene)

    take = write_take(tmp_path, "sh010", 1, 1, 6)
    sync_take(scene, "sh010", take, 1, 6)
    (shot,) = scene_shots(scene)
    running = write_take(tmp_path, "sh010", 2, 1, 6, frames=range(1, 3), status="running")
    with pytest.raises(ExportError, match="take_002 is still running"):
        export_previs(scene, [ShotExport("sh010", 1, 6, camera, "", running)], tmp_path / "a", sys.executable, REPO)
    with pytest.raises(ExportError, match="'sh010' is one frame long \\(frame 1\\)"):
        export_previs(scene, [ShotExport("sh010", 1, 1, camera, "", take)], tmp_path / "b", sys.executable, REPO)
    with pytest.raises(ExportError, match="nothing to export: the sequence has no shots"):
        export_previs(scene, [], tmp_path / "c", sys.executable, REPO)
    rig = bpy.data.objects.new("Rig", None)
    scene.collection.objects.link(rig)
    camera.parent, rig.scale = rig, (1, 1, 1)
    rig.keyframe_insert("scale", frame=1)
    rig.scale = (1, 2, 1)  # squashed from frame 4 on
    rig.keyframe_insert("scale", frame=4)
    with pytest.raises(ExportError, match="camera 'Cam' has a parent with a non-uniform scale \\('Rig', .* frame 2\\)"):
        export_previs(scene, [shot], tmp_path / "d", sys.executable, REPO)
    camera.parent = None
    blocked = tmp_path / "file_not_folder"
    blocked.write_text("x")
    with pytest.raises(ExportError, match="cannot write to the export folder"):
        export_previs(scene, [shot], blocked / "export", sys.executable, REPO)
    assert not any((tmp_path / name).exists() for name in "abcd")
    assert scene.frame_current == 1
