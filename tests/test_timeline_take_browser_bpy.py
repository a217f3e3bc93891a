"""The take browser and the export operator in the real bpy, registered with the extension."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pytest

bpy = pytest.importorskip("bpy")

import oyster_blender  # noqa: E402
from oyster_blender import api, take_browser  # noqa: E402
from oyster_blender.export import panel as export_panel  # noqa: E402
from oyster_blender.timeline import active_strip, shot_strips  # noqa: E402
from timeline_fixtures import write_take  # noqa: E402

@pytest.fixture
def browser_scene(oyster_scene, tmp_path):
    """A saved project with shot sh010 (frames 1-12) and three takes on disk (the extension registered)."""
    scene = oyster_scene
    scene.render.resolution_x, scene.render.resolution_y = 64, 36
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "previs.blend"))
    scene = bpy.context.scene
    api.add_shot(scene, "sh010", scene.camera, 1, 12, notes="neon alley")
    for n in (1, 2):
        write_take(tmp_path, "sh010", n, 1, 12, seed=n)
    write_take(tmp_path, "sh010", 3, 1, 12, frames=range(1, 4), status="running")
    return scene


def take_dir(root: Path, n: int) -> str:
    return str(root / "oyster" / "sh010" / f"take_{n:03d}")


def test_browser_lists_takes_with_thumbnails_and_loads_them_onto_the_timeline(browser_scene, tmp_path):
    folder = take_browser.shot_dir(bpy.context, api.active_shot(browser_scene))
    takes = take_browser.shot_takes(folder)
    assert [(t.name, t.status, t.frames_done, t.seed) for t in takes] == [
        ("take_003", "running", 3, 7), ("take_002", "done", 12, 2), ("take_001", "done", 12, 1)]
    take_browser.thumbnail(takes[0].first_frame)  # the icon id is 0 without a GPU, the preview is loaded
    assert [k.split(":")[0] for k in take_browser._previews.keys()] == [str(takes[0].first_frame)]
    assert take_browser.thumbnail(None) == 0
    assert bpy.ops.oyster.load_takes() == {"FINISHED"}
    strips = shot_strips(browser_scene, "sh010")
    assert [(s.name, s.frame_final_end, s.mute) for s in strips] == [
        ("sh010 take_001", 13, True), ("sh010 take_002", 13, True), ("sh010 take_003", 4, False)]
    assert bpy.ops.oyster.set_active_take(take_dir=take_dir(tmp_path, 1)) == {"FINISHED"}
    assert active_strip(browser_scene, "sh010").name == "sh010 take_001"


def test_delete_moves_the_take_to_the_trash_and_off_the_timeline(browser_scene, tmp_path):
    bpy.ops.oyster.load_takes()
    assert bpy.ops.oyster.delete_take(take_dir=take_dir(tmp_path, 3)) == {"FINISHED"}
    assert (tmp_path / "oyster" / "sh010" / ".trash" / "take_003" / "0001.png").is_file()
    assert [s.name for s in shot_strips(browser_scene, "sh010")] == ["sh010 take_001", "sh010 take_002"]
    assert active_strip(browser_scene, "sh010").name == "sh010 take_002"
    folder = take_browser.shot_dir(bpy.context, api.active_shot(browser_scene))
    assert [t.name for t in take_browser.shot_takes(folder)] == ["take_002", "take_001"]
    with pytest.raises(RuntimeError, match="not a take folder"):
        bpy.ops.oyster.delete_take(take_dir=take_dir(tmp_path, 3))


def test_export_operator_writes_the_previs(browser_scene, tmp_path):
    bpy.ops.oyster.load_takes()
    bpy.ops.oyster.set_active_take(take_dir=take_dir(tmp_path, 2))
    out = tmp_path / "export"
    assert bpy.ops.oyster.export_previs(directory=str(out), runtime_python=sys.executable) == {"FINISHED"}
    video = cv2.VideoCapture(str(out / "previs.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert (out / "frames" / "sh010_take_002" / "sh010_take_002.0012.png").is_file()
    assert {"previs.mp4", "previs.otio", "previs.edl", "edit.json", "frames", "cameras"} <= {p.name for p in out.iterdir()}
    assert export_panel.PROGRESS.job is None and "exported" in export_panel.PROGRESS.message
    bpy.ops.oyster.set_active_take(take_dir=take_dir(tmp_path, 3))  # incomplete: refused, nothing written
    with pytest.raises(RuntimeError, match="take_003 is still running"):
        bpy.ops.oyster.export_previs(directory=str(tmp_path / "export2"), runtime_python=sys.executable)
    assert not (tmp_path / "export2" / "previs.mp4").exists()


def test_register_twice_leaves_nothing_behind(oyster_scene):
    oyster_blender.unregister()  # the fixture registered the extension; start from nothing
    handlers = len(bpy.app.handlers.save_pre)
    for _ in range(2):
        oyster_blender.register()
        assert hasattr(bpy.types, "OYSTER_PT_takes") and take_browser._previews is not None
        oyster_blender.unregister()
        assert not hasattr(bpy.types, "OYSTER_PT_takes") and not hasattr(bpy.types, "OYSTER_OT_export_previs")
        assert take_browser._previews is None and len(bpy.app.handlers.save_pre) == handlers
    oyster_blender.register()  # the fixture unregisters at its end
