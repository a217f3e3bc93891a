"""Takes on the Video Sequencer, in the real bpy: ranges, channels, growth, runtime events, save/reload."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from oyster_blender import timeline  # noqa: E402
from oyster_blender.timeline import (active_strip, on_runtime_event, remove_take, set_active_take,  # noqa: E402
                                     shot_strips, strip_folder, sync_take)
from timeline_fixtures import write_frames, write_take  # noqa: E402


@pytest.fixture
def timeline_registered(empty_scene):
    """The timeline module registered (its save handler), as the extension does."""
    timeline.register()
    try:
        yield empty_scene
    finally:
        timeline.unregister()


def test_strip_grows_with_the_frames_and_never_shows_missing_ones(empty_scene, tmp_path):
    take = tmp_path / "oyster" / "sh010" / "take_001"
    assert sync_take(empty_scene, "sh010", take, 101, 124) is None  # nothing on disk yet
    write_frames(take, range(101, 106))
    strip = sync_take(empty_scene, "sh010", take, 101, 124)
    assert (strip.name, strip.frame_final_start, strip.frame_final_end) == ("sh010 take_001", 101, 106)
    assert strip.channel == timeline.FIRST_CHANNEL and not strip.mute
    write_frames(take, range(107, 110))  # 106 is still missing: the strip must not jump the gap
    assert sync_take(empty_scene, "sh010", take, 101, 124).frame_final_end == 106
    write_frames(take, range(106, 125))
    strip = sync_take(empty_scene, "sh010", take, 101, 124)
    assert strip.frame_final_end == 125 and len(strip.elements) == 24
    assert strip_folder(strip).resolve() == take.resolve()
    assert [e.filename for e in strip.elements] == [f"{f:04d}.png" for f in range(101, 125)]
    assert len(shot_strips(empty_scene, "sh010")) == 1  # grown in place, never a second strip


def test_one_channel_per_take_active_on_top_others_muted(empty_scene, tmp_path):
    for n in (1, 2, 3):
        sync_take(empty_scene, "sh020", write_take(tmp_path, "sh020", n, 1, 12), 1, 12)
    strips = shot_strips(empty_scene, "sh020")
    assert [s.name for s in strips] == ["sh020 take_001", "sh020 take_002", "sh020 take_003"]
    assert [s.channel for s in strips] == [2, 3, 4]
    assert [s.mute for s in strips] == [True, True, False]  # the newest take is active
    assert all((s.frame_final_start, s.frame_final_end) == (1, 13) for s in strips)
    set_active_take(empty_scene, "sh020", "take_001")
    strips = shot_strips(empty_scene, "sh020")
    assert [s.name for s in strips] == ["sh020 take_003", "sh020 take_002", "sh020 take_001"]
    assert [s.mute for s in strips] == [True, True, False] and active_strip(empty_scene, "sh020") == strips[-1]
    with pytest.raises(KeyError, match="no take 'take_009'"):
        set_active_take(empty_scene, "sh020", "take_009")
    remove_take(empty_scene, "sh020", "take_001")  # the active one: the next take down takes over
    assert [(s.name, s.mute) for s in shot_strips(empty_scene, "sh020")] == [("sh020 take_003", True),
                                                                             ("sh020 take_002", False)]
    # another shot at other frames has its own stack from channel 2
    strip = sync_take(empty_scene, "sh030", write_take(tmp_path, "sh030", 1, 13, 20), 13, 20)
    assert strip.channel == 2 and (strip.frame_final_start, strip.frame_final_end) == (13, 21)


def test_runtime_events_grow_the_strip(empty_scene, tmp_path):
    take = write_take(tmp_path, "sh040", 1, 5, 10, frames=range(0))
    events = [{"seq": 1, "take_id": "t1", "type": "queued", "data": {"shot": "sh040", "take_number": 1,
                                                                      "take_dir": str(take), "frames_total": 6}},
              {"seq": 2, "take_id": "t1", "type": "started", "data": {}}]
    for event in events:
        on_runtime_event(event)
    assert shot_strips(empty_scene, "sh040") == []
    for index, frame in enumerate(range(5, 11)):
        write_frames(take, range(frame, frame + 1))
        on_runtime_event({"seq": 3 + index, "take_id": "t1", "type": "frame",
                          "data": {"frame": frame, "path": str(take / f"{frame:04d}.png"), "index": index}})
        (strip,) = shot_strips(empty_scene, "sh040")
        assert (strip.frame_final_start, strip.frame_final_end) == (5, frame + 1)
    on_runtime_event({"seq": 9, "take_id": "t1", "type": "done", "data": {}})
    on_runtime_event({"seq": 10, "take_id": "elsewhere", "type": "frame",  # a studio runtime's path: ignored
                      "data": {"frame": 1, "path": "/nonexistent/oyster/x/take_001/0001.png"}})
    assert len(shot_strips(empty_scene, "sh040")) == 1


def test_saved_project_opens_elsewhere_with_its_output_folder(timeline_registered, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(project / "previs.blend"))
    take = write_take(project, "sh030", 1, 1, 8)
    strip = sync_take(bpy.context.scene, "sh030", take, 1, 8)
    assert strip.directory.startswith("//")  # relative to the .blend
    bpy.ops.wm.save_mainfile()
    moved = tmp_path / "other_machine"
    shutil.copytree(project, moved)
    shutil.rmtree(project)
    bpy.ops.wm.open_mainfile(filepath=str(moved / "previs.blend"))
    (strip,) = shot_strips(bpy.context.scene, "sh030")
    assert (strip.name, strip.frame_final_start, strip.frame_final_end, strip.mute) == ("sh030 take_001", 1, 9, False)
    folder = strip_folder(strip)
    assert folder.resolve() == (moved / "oyster" / "sh030" / "take_001").resolve()
    assert all((folder / e.filename).is_file() for e in strip.elements)


def test_takes_placed_before_the_first_save_are_stored_relative(timeline_registered, tmp_path):
    project = tmp_path / "project"
    take = write_take(project, "sh050", 1, 1, 4)
    strip = sync_take(bpy.context.scene, "sh050", take, 1, 4)
    assert Path(strip.directory).is_absolute()  # no .blend yet
    bpy.ops.wm.save_as_mainfile(filepath=str(project / "previs.blend"))
    assert shot_strips(bpy.context.scene, "sh050")[0].directory == "//oyster/sh050/take_001/"
    bpy.ops.wm.open_mainfile(filepath=str(project / "previs.blend"))
    assert shot_strips(bpy.context.scene, "sh050")[0].directory == "//oyster/sh050/take_001/"


def render_sequencer(scene: bpy.types.Scene, path: Path) -> np.ndarray:
    scene.render.use_sequencer = True
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(path)
    scene.frame_set(1)
    bpy.ops.render.render(write_still=True, scene=scene.name)
    return cv2.imread(str(path))


def test_a_strip_sized_from_the_take_shows_what_a_strip_fitted_from_its_file_shows(empty_scene, tmp_path):
    take = write_take(tmp_path, "sh060", 1, 1, 4)  # 64x36 frames
    scenes = [empty_scene, bpy.data.scenes.new("other")]
    for scene in scenes:
        scene.render.resolution_x, scene.render.resolution_y = 192, 120  # FIT: x3, a band at top and bottom
    from_file = sync_take(scenes[0], "sh060", take, 1, 4)
    sized = sync_take(scenes[1], "sh060", take, 1, 4, size=(64, 36))  # what runtime events do: no decode
    assert [e.filename for e in sized.elements] == [e.filename for e in from_file.elements]
    assert (sized.transform.scale_x, sized.transform.scale_y) == pytest.approx((3.0, 3.0))
    assert (from_file.transform.scale_x, from_file.transform.scale_y) == pytest.approx((3.0, 3.0))
    images = [render_sequencer(scene, tmp_path / f"{scene.name}.png") for scene in scenes]
    assert images[0].shape == (120, 192, 3) and images[0][60, 96].max() > 0 and images[0][1, 96].max() == 0
    assert np.array_equal(images[0], images[1])
