"""The take browser's view of the disk: listing takes, progress from frames, delete to the trash."""
from __future__ import annotations

import json

import pytest

from oyster_blender.core.errors import OysterError
from oyster_blender.core.naming import next_take_number
from oyster_blender.take_files import list_takes, read_take_info, trash_take


def make_take(shot_dir, number, frames_done, status="done"):
    take = shot_dir / f"take_{number:03d}"
    take.mkdir(parents=True)
    track = {"frame_start": 10, "frames": [{}] * 4}
    (take / "take.json").write_text(json.dumps({"status": status, "seed": 7, "model": "oyster-tiny",
                                                "request": {"notes": "fog, dusk", "track": track}}))
    for f in range(10, 10 + frames_done):
        (take / f"{f:04d}.png").write_bytes(b"png")
    return take


def test_listing_newest_first_with_progress(tmp_path):
    make_take(tmp_path, 1, 4)
    make_take(tmp_path, 2, 2, status="running")
    takes = list_takes(tmp_path)
    assert [t.name for t in takes] == ["take_002", "take_001"]
    assert (takes[0].status, takes[0].frames_done, takes[0].frames_total) == ("running", 2, 4)
    assert takes[1].notes == "fog, dusk" and takes[1].seed == 7 and takes[1].first_frame.name == "0010.png"
    (tmp_path / "take_003").mkdir()
    (tmp_path / "take_003" / "take.json").write_text("{broken")
    assert read_take_info(tmp_path / "take_003").status == "unreadable"


def test_delete_moves_to_trash_and_never_frees_the_number(tmp_path):
    take = make_take(tmp_path, 1, 4)
    moved = trash_take(take)
    assert moved == tmp_path / ".trash" / "take_001" and (moved / "0010.png").is_file()
    assert list_takes(tmp_path) == []
    assert next_take_number(tmp_path) == 2
    with pytest.raises(OysterError, match="not a take folder"):
        trash_take(tmp_path / "nothing_here")
