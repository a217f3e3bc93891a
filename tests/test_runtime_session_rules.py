"""The runtime session's rules on plain data (no bpy): takes in flight from the runtime's events,
and which runtime to start."""
from __future__ import annotations

from pathlib import Path

import pytest

from oyster_blender.settings import RuntimeSettings, SettingsError, local_runtime, runtime_root
from oyster_blender.take_progress import TakeTracker


def event(seq: int, take_id: str, kind: str, **data) -> dict:
    return {"seq": seq, "take_id": take_id, "type": kind, "data": data}


def queued(seq: int, take_id: str, take_dir: Path, shot: str = "sh010", total: int = 4) -> dict:
    return event(seq, take_id, "queued", shot=shot, take_number=1, take_dir=str(take_dir), frames_total=total)


def test_progress_of_our_takes_only(tmp_path):
    tracker = TakeTracker()
    project = tmp_path / "project"
    tracker.sent({"shot": "sh010", "output": str(project)})
    ours, theirs = project / "oyster" / "sh010" / "take_001", tmp_path / "elsewhere" / "oyster" / "sh010" / "take_001"
    assert tracker.on_event(queued(1, "a", theirs)) is None  # another project's take on a shared runtime
    assert tracker.on_event(event(2, "a", "frame", index=0, total=4)) is None
    take = tracker.on_event(queued(3, "b", ours))
    assert (take.name, take.state, take.fraction) == ("take_001", "queued", 0.0)
    version = tracker.version
    tracker.on_event(event(4, "b", "started"))
    tracker.on_event(event(5, "b", "frame", index=2, total=4))  # frames 0-2 are done
    assert (take.state, take.frames_done, take.fraction) == ("running", 3, 0.75) and tracker.version > version
    assert tracker.in_flight("sh010") == [take] and tracker.in_flight("sh020") == []
    tracker.on_event(event(6, "b", "done"))
    assert tracker.in_flight("sh010") == [] and "sh010" not in tracker.problems


def test_problems_per_shot_until_the_next_request(tmp_path):
    tracker = TakeTracker()
    tracker.sent({"shot": "sh010", "output": str(tmp_path)})
    tracker.refused("sh010", "seed: Input should be greater than or equal to 0")
    assert tracker.problems["sh010"] == "the runtime refused the take: seed: Input should be greater than or equal to 0"
    tracker.sent({"shot": "sh010", "output": str(tmp_path)})
    assert "sh010" not in tracker.problems
    for n, (kind, data) in enumerate((("failed", {"reason": "worker was killed by SIGKILL"}),
                                      ("interrupted", {"reason": "the runtime stopped"}), ("cancelled", {}))):
        take_id = f"t{n}"
        tracker.on_event(queued(10 * n, take_id, tmp_path / "oyster" / "sh010" / f"take_00{n + 1}", total=8))
        tracker.on_event(event(10 * n + 1, take_id, "frame", index=1, total=8))
        tracker.on_event(event(10 * n + 2, take_id, kind, **data))
    assert tracker.takes["t0"].reason == "worker was killed by SIGKILL"
    assert tracker.problems["sh010"] == "take_003 cancelled after 2 of 8 frames"
    tracker.cancel_failed("t1", "the runtime at http://127.0.0.1:9 is not reachable")
    assert tracker.problems["sh010"] == "could not cancel take_002: the runtime at http://127.0.0.1:9 is not reachable"
    tracker.clear()
    assert tracker.takes == {} and tracker.problems == {} and tracker.roots == set()


def make_checkout(root: Path, venv: bool = True) -> Path:
    (root / "model_runtime").mkdir(parents=True)
    if venv:
        (root / ".venv" / "bin").mkdir(parents=True)
        (root / ".venv" / "bin" / "python").write_text("")
    return root


def test_local_runtime_from_the_preferences_or_the_checkout(tmp_path):
    checkout = make_checkout(tmp_path / "repo")
    python = str(checkout / ".venv" / "bin" / "python")
    assert local_runtime(RuntimeSettings(), checkout) == (python, checkout)  # nothing set: the checkout's .venv
    other = make_checkout(tmp_path / "other")
    chosen = str(other / ".venv" / "bin" / "python")
    assert local_runtime(RuntimeSettings(python=chosen), checkout) == (chosen, other)
    assert runtime_root(chosen) == other and runtime_root("/usr/bin/python3") is None
    # an interpreter outside a repository: the runtime code comes from the checkout the extension runs from
    (tmp_path / "env" / "bin").mkdir(parents=True)
    (tmp_path / "env" / "bin" / "python").write_text("")
    assert local_runtime(RuntimeSettings(python=str(tmp_path / "env" / "bin" / "python")), checkout)[1] == checkout


def test_local_runtime_says_what_to_set(tmp_path):
    installed = tmp_path / "extensions"  # an installed extension: no repository around it
    installed.mkdir()
    with pytest.raises(SettingsError, match="no runtime set up: in Oyster's preferences, set Runtime Python"):
        local_runtime(RuntimeSettings(), installed)
    with pytest.raises(SettingsError, match="'/nope/python' does not exist"):
        local_runtime(RuntimeSettings(python="/nope/python"), installed)
    (tmp_path / "env" / "bin").mkdir(parents=True)
    (tmp_path / "env" / "bin" / "python").write_text("")
    with pytest.raises(SettingsError, match="is not the .venv of an Oyster repository"):
        local_runtime(RuntimeSettings(python=str(tmp_path / "env" / "bin" / "python")), installed)
    with pytest.raises(SettingsError, match="no runtime set up"):  # a checkout whose .venv is not made yet
        local_runtime(RuntimeSettings(), make_checkout(tmp_path / "fresh", venv=False))
