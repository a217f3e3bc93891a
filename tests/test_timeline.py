"""Takes on the Video Sequencer, in the real bpy: ranges, channels, growth, active take, save/reload."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
import cv2  # noqa: E402

from oyster_blender.timeline import set_active_take, shot_strips, sync_take  # noqa: E402


def write_frames(take_dir: Path, frames: range) -> None:
    take_dir.mkdir(parents=True, exist_ok=True)
    for f in frames:
        cv2.imwrite(str(take_dir / f"{f:04d}.png"), np.full((36, 64, 3), f % 255, np.uint8))


def test_strip_grows_with_the_frames_and_never_shows_missing_ones(empty_scene, tmp_path):
    take = tmp_path / "oyster" / "sh010" / "take_001"
    assert sync_take(empty_scene, "sh010", take, 101, 124) is None  # nothing on disk yet
    write_frames(take, range(101, 106))
    strip = sync_take(empty_scene, "sh010", take, 101, 124)
    assert (strip.name, strip.frame_final_start, strip.frame_final_end) == ("sh010 take_001", 101, 106)
    write_frames(take, range(107, 110))  # 106 is still missing: the strip must not jump the gap
    assert sync_take(empty_scene, "sh010", take, 101, 124).frame_final_end == 106
    write_frames(take, range(106, 125))
    strip = sync_take(empty_scene, "sh010", take, 101, 124)
    assert strip.frame_final_end == 125 and len(strip.elements) == 24
    assert Path(bpy.path.abspath(strip.directory)).resolve() == take.resolve()
    assert [e.filename for e in strip.elements][:2] == ["0101.png", "0102.png"]


def test_one_channel_per_take_active_on_top_others_muted(empty_scene, tmp_path):
    shot_dir = tmp_path / "oyster" / "sh020"
    for n in (1, 2, 3):
        write_frames(shot_dir / f"take_00{n}", range(1, 13))
        sync_take(empty_scene, "sh020", shot_dir / f"take_00{n}", 1, 12)
    strips = shot_strips(empty_scene, "sh020")
    assert [s.name for s in strips] == ["sh020 take_001", "sh020 take_002", "sh020 take_003"]
    assert len({s.channel for s in strips}) == 3
    assert [s.mute for s in strips] == [True, True, False]  # the newest take is active
    set_active_take(empty_scene, "sh020", "take_001")
    strips = shot_strips(empty_scene, "sh020")
    assert strips[-1].name == "sh020 take_001" and not strips[-1].mute
    assert all(s.mute for s in strips[:-1])
    with pytest.raises(KeyError, match="no take 'take_009'"):
        set_active_take(empty_scene, "sh020", "take_009")


def test_saved_project_opens_elsewhere_with_its_output_folder(empty_scene, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(project / "previs.blend"))
    take = project / "oyster" / "sh030" / "take_001"
    write_frames(take, range(1, 9))
    strip = sync_take(bpy.context.scene, "sh030", take, 1, 8)
    assert strip.directory.startswith("//")  # relative to the .blend
    bpy.ops.wm.save_mainfile()
    moved = tmp_path / "other_machine"
    shutil.copytree(project, moved)
    shutil.rmtree(project)
    bpy.ops.wm.open_mainfile(filepath=str(moved / "previs.blend"))
    (strip,) = shot_strips(bpy.context.scene, "sh030")
    assert (strip.frame_final_start, strip.frame_final_end) == (1, 9)
    folder = Path(bpy.path.abspath(strip.directory))
    assert folder.resolve() == (moved / "oyster" / "sh030" / "take_001").resolve()
    assert all((folder / e.filename).is_file() for e in strip.elements)
