"""Continuing a take, on plain data (no bpy): the request the Continue button sends, and what the take
browser says of a continued take, followed through a chain of continuations to the full take."""
from __future__ import annotations

import json
from pathlib import Path

from oyster_blender.take_files import continue_request, read_take_info, reuse_lines
from timeline_fixtures import write_take


def continued(root: Path, number: int, parent: Path, frame: int, seconds: float) -> Path:
    take = write_take(root, "sh010", number, 1, 12, seed=7)
    record = json.loads((take / "take.json").read_text())
    record["continued_from"] = {"take": str(parent), "frame": frame, "reused_frames": frame - 1,
                                "replayed_frames": (frame - 1) % 8, "state_from": "memory"}
    record["timings"] = {"total_seconds": seconds}
    (take / "take.json").write_text(json.dumps(record))
    return take


def test_the_continue_request_keeps_the_parents_seed_model_and_first_frame(tmp_path):
    parent = write_take(tmp_path, "sh010", 1, 1, 12, seed=7)
    now = {"shot": "sh010", "notes": "rain-soaked neon alley, night", "seed": 99, "model": "oyster-tiny",
           "track": {"frames": "the camera as it is now"}, "notes_events": [{"frame": 6, "notes": "fog"}],
           "first_frame": {"rgb": "/a/fresh/render.png", "depth": "/a/fresh/render.exr"}, "output": str(tmp_path)}
    request = continue_request(parent, now, 6)
    assert request["continue_from"] == {"take": str(parent), "frame": 6}
    assert (request["seed"], request["model"]) == (7, "copy-first-frame")  # the parent's
    assert request["first_frame"] == {"rgb": str((parent / "inputs" / "first_rgb.png").resolve()), "depth": None}
    assert (request["track"], request["notes_events"], request["notes"]) == (now["track"], now["notes_events"],
                                                                             now["notes"])


def test_a_continued_take_says_which_frames_are_whose_against_the_full_take(tmp_path):
    full = write_take(tmp_path, "sh010", 1, 1, 12, seed=7)
    record = json.loads((full / "take.json").read_text())
    record["timings"] = {"total_seconds": 20.0}
    (full / "take.json").write_text(json.dumps(record))
    first = continued(tmp_path, 2, full, 9, 8.0)
    second = continued(tmp_path, 3, first, 5, 13.0)
    assert reuse_lines(read_take_info(full)) == []
    assert reuse_lines(read_take_info(first)) == ["from take_001 at frame 9: frames 1-8 reused, 9-12 new (0 replayed)",
                                                  "8.0 s against 20.0 s for take_001 in full (0.40x)"]
    # continued from a continuation: set against the take that was generated in full
    assert reuse_lines(read_take_info(second))[1] == "13.0 s against 20.0 s for take_001 in full (0.65x)"
    (full / "take.json").unlink()  # the full take is gone: the reuse is still told, the timing is not
    assert reuse_lines(read_take_info(second)) == ["from take_002 at frame 5: frames 1-4 reused, 5-12 new "
                                                   "(4 replayed)"]
