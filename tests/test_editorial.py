"""Editorial export: the .otio and the CMX 3600 EDL read back with opentimelineio."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

from model_runtime.editorial import EditError, write_editorial

REPO = Path(__file__).resolve().parent.parent


def make_edit(tmp_path: Path) -> dict:
    shots = []
    for name, take, start, end in (("sh010", "take_002", 1, 48), ("sh020", "take_001", 49, 72)):
        frames = tmp_path / "oyster" / name / take
        frames.mkdir(parents=True)
        shots.append({"name": name, "take": take, "frames": str(frames), "frame_start": start, "frame_end": end,
                      "notes": "rain-soaked neon alley, night", "camera": {"lens_mm": [35.0] * (end - start + 1)}})
    return {"name": "previs", "fps": 24, "shots": shots}


def test_otio_and_edl_read_back_with_clips_ranges_and_media(tmp_path):
    edit = make_edit(tmp_path)
    otio_path, edl_path = write_editorial(edit, tmp_path / "export")
    timeline = otio.adapters.read_from_file(str(otio_path))
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["sh010 take_002", "sh020 take_001"]
    assert [c.source_range.duration.to_frames() for c in clips] == [48, 24]
    assert clips[1].source_range.start_time.to_frames() == 49
    media = clips[0].media_reference
    assert isinstance(media, otio.schema.ImageSequenceReference)
    assert media.target_url_for_image_number(0).endswith("oyster/sh010/take_002/0001.png")
    assert clips[0].metadata["oyster"]["notes"] == "rain-soaked neon alley, night"
    edl = otio.adapters.read_from_file(str(edl_path), adapter_name="cmx_3600", rate=24)
    edl_clips = list(edl.find_clips())
    assert len(edl_clips) == 2
    assert [c.source_range.duration.to_frames() for c in edl_clips] == [48, 24]
    assert not list((tmp_path / "export").glob("*.partial*"))


def test_bad_edits_are_refused_without_files(tmp_path):
    with pytest.raises(EditError, match="empty sequence"):
        write_editorial({"shots": []}, tmp_path / "a")
    edit = make_edit(tmp_path)
    edit["shots"][1]["frames"] = str(tmp_path / "gone")
    with pytest.raises(EditError, match=r"shots\[1\].*missing take"):
        write_editorial(edit, tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_cli(tmp_path):
    (tmp_path / "edit.json").write_text(json.dumps(make_edit(tmp_path)))
    result = subprocess.run([sys.executable, "-m", "model_runtime", "editorial", "--edit", str(tmp_path / "edit.json"),
                             "--out", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out" / "previs.edl").is_file()
    (tmp_path / "bad.json").write_text("{not json")
    result = subprocess.run([sys.executable, "-m", "model_runtime", "editorial", "--edit", str(tmp_path / "bad.json"),
                             "--out", str(tmp_path / "out2")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "editorial:" in result.stdout
