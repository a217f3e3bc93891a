"""Editorial export: the .otio, the CMX 3600 EDL and the AAF read back with opentimelineio."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

from model_runtime.export.editorial import EditError, write_editorial

REPO = Path(__file__).resolve().parent.parent


def make_edit(tmp_path: Path) -> dict:
    shots = []
    for name, take, start, end in (("sh020", "take_001", 61, 84), ("sh010", "take_002", 1, 48)):
        frames = tmp_path / "frames" / f"{name}_{take}"
        frames.mkdir(parents=True)
        shots.append({"name": name, "take": take, "frames": str(frames), "name_prefix": f"{name}_{take}.",
                      "frame_start": start, "frame_end": end, "notes": "rain-soaked neon alley, night",
                      "camera": {"name": "CamA", "lens_mm": 35.0, "usd": f"cameras/{name}.usda"}})
    return {"name": "previs", "fps": 24, "shots": shots}


def test_otio_and_edl_read_back_with_clips_ranges_and_media(tmp_path):
    edit = make_edit(tmp_path)
    otio_path, edl_path, _aaf = write_editorial(edit, tmp_path / "export")
    timeline = otio.adapters.read_from_file(str(otio_path))
    assert timeline.global_start_time.to_frames() == 1
    items = list(timeline.tracks[0])
    assert [type(i).__name__ for i in items] == ["Clip", "Gap", "Clip"]  # frame order, frames 49-60 a gap
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["sh010 take_002", "sh020 take_001"]
    assert [(c.source_range.start_time.to_frames(), c.source_range.duration.to_frames()) for c in clips] == [
        (1, 48), (61, 24)]
    assert [c.range_in_parent().start_time.to_frames() for c in clips] == [0, 60]
    media = clips[1].media_reference
    assert isinstance(media, otio.schema.ImageSequenceReference)
    first = Path(otio.url_utils.filepath_from_url(media.target_url_for_image_number(0)))
    assert first == (tmp_path / "frames" / "sh020_take_001" / "sh020_take_001.0061.png").resolve()
    assert media.number_of_images_in_sequence() == 24
    assert clips[0].metadata["oyster"] == {"shot": "sh010", "take": "take_002",
                                           "notes": "rain-soaked neon alley, night",
                                           "camera": {"name": "CamA", "lens_mm": 35.0, "usd": "cameras/sh010.usda"}}

    edl = otio.adapters.read_from_file(str(edl_path), adapter_name="cmx_3600", rate=24)
    edl_clips = list(edl.find_clips())
    assert [c.name for c in edl_clips] == ["sh010 take_002", "sh020 take_001"]
    assert [(c.source_range.start_time.to_frames(), c.source_range.duration.to_frames()) for c in edl_clips] == [
        (1, 48), (61, 24)]
    assert [c.metadata["cmx_3600"]["reel"] for c in edl_clips] == ["SH010", "SH020"]
    text = edl_path.read_text()
    # record timecodes are the scene's frames, as Blender's timecode burn-in shows them
    assert "00:00:00:01 00:00:02:01 00:00:00:01 00:00:02:01" in text
    assert "00:00:02:13 00:00:03:13 00:00:02:13 00:00:03:13" in text
    assert "sh020_take_001.[61-84].png" in text
    assert not list((tmp_path / "export").glob("*partial*"))


def test_aaf_reads_back_with_clips_ranges_media_and_notes(tmp_path):
    edit = make_edit(tmp_path)
    *_, aaf_path = write_editorial(edit, tmp_path / "export")
    assert aaf_path == tmp_path / "export" / "previs.aaf"
    timeline = otio.adapters.read_from_file(str(aaf_path), adapter_name="AAF")
    assert timeline.global_start_time.to_frames() == 1  # the composition's timecode is the scene frame
    items = list(timeline.tracks[0])
    assert [type(i).__name__ for i in items] == ["Clip", "Gap", "Clip"]
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["sh010 take_002", "sh020 take_001"]
    assert [(c.source_range.start_time.to_frames(), c.source_range.duration.to_frames()) for c in clips] == [
        (1, 48), (61, 24)]
    assert [c.range_in_parent().start_time.to_frames() for c in clips] == [0, 60]
    for clip, name in zip(clips, ("sh010_take_002", "sh020_take_001")):
        start = clip.source_range.start_time.to_frames()
        path = Path(otio.url_utils.filepath_from_url(clip.media_reference.target_url))
        assert path == (tmp_path / "frames" / name / f"{name}.{start:04d}.png").resolve()
        assert clip.media_reference.available_range.start_time.to_frames() == start
    comments = clips[1].metadata["AAF"]["UserComments"]
    assert (comments["Shot"], comments["Take"], comments["Notes"], comments["Camera"], comments["Lens mm"]) == (
        "sh020", "take_001", "rain-soaked neon alley, night", "CamA", "35")
    # the same edit gives the same mob IDs, so Avid relinks instead of duplicating
    ids = [c.metadata["AAF"]["MobID"] for c in clips]
    again = otio.adapters.read_from_file(str(write_editorial(edit, tmp_path / "again")[2]), adapter_name="AAF")
    assert [c.metadata["AAF"]["MobID"] for c in again.find_clips()] == ids and len(set(ids)) == 2


def test_bad_edits_are_refused_without_files(tmp_path):
    with pytest.raises(EditError, match="empty sequence"):
        write_editorial({"shots": []}, tmp_path / "a")
    edit = make_edit(tmp_path)
    edit["shots"][1]["frames"] = str(tmp_path / "gone")
    with pytest.raises(EditError, match=r"shots\[1\].*missing take"):
        write_editorial(edit, tmp_path / "b")
    edit = make_edit(tmp_path / "c")
    edit["shots"][0]["frame_start"] = 40
    with pytest.raises(EditError, match="'sh010' and 'sh020' overlap"):
        write_editorial(edit, tmp_path / "c")
    edit = make_edit(tmp_path / "d")
    del edit["shots"][0]["frame_end"]
    with pytest.raises(EditError, match=r"shots\[0\] needs"):
        write_editorial(edit, tmp_path / "d")
    with pytest.raises(EditError, match="fps"):
        write_editorial(dict(make_edit(tmp_path / "e"), fps=0), tmp_path / "e")
    assert not (tmp_path / "b").exists() and not list(tmp_path.rglob("*.otio")) and not list(tmp_path.rglob("*.aaf"))


def test_cli(tmp_path):
    (tmp_path / "edit.json").write_text(json.dumps(make_edit(tmp_path)))
    result = subprocess.run([sys.executable, "-m", "model_runtime", "editorial", "--edit", str(tmp_path / "edit.json"),
                             "--out", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [str(tmp_path / "out" / name)
                                     for name in ("previs.otio", "previs.edl", "previs.aaf")]
    (tmp_path / "bad.json").write_text("{not json")
    result = subprocess.run([sys.executable, "-m", "model_runtime", "editorial", "--edit", str(tmp_path / "bad.json"),
                             "--out", str(tmp_path / "out2")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("editorial:")
    assert not (tmp_path / "out2").exists()
