"""Take folders and `generate` without a server: numbering, atomic files, regeneration, a refusing disk."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_runtime.takes.folders import claim_take, create_take, write_atomic, write_frame
from model_runtime.takes.request import ShotRequest
from runtime_fixtures import ROOT, shot_request, write_first_frame


def generate(*args: str, limit_file_bytes: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:  # RLIMIT_FSIZE: writes past it fail with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    return subprocess.run([sys.executable, "-m", "model_runtime", "generate", *args], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120,
                          preexec_fn=limit if limit_file_bytes else None)


def test_take_numbers_are_never_reused(tmp_path: Path):
    numbers = [claim_take(tmp_path, "Shot 010: alley/chase*").number for _ in range(3)]
    assert numbers == [1, 2, 3]
    shot_dir = tmp_path / "oyster" / "Shot_010_alley_chase"
    (shot_dir / ".trash").mkdir()
    (shot_dir / "take_003").rename(shot_dir / ".trash" / "take_003")  # deleted by the artist
    assert claim_take(tmp_path, "Shot 010: alley/chase*").number == 4


def test_atomic_writes_leave_no_temporary_files(tmp_path: Path):
    write_atomic(tmp_path / "a.json", b"{}")
    write_frame(tmp_path, 7, np.zeros((4, 6, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0007.png", "a.json"]
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, b"x")  # the target is a folder: the rename fails, the temporary is removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0007.png", "a.json"]


def test_take_json_records_the_full_request(tmp_path: Path):
    first = write_first_frame(tmp_path / "in")
    request = ShotRequest.model_validate(shot_request(first, frames=2, seed=7))
    take = create_take(tmp_path / "out", request.model_dump(mode="json"), first[0], None, "00ff00ff00ff00ff")
    record = json.loads((take.path / "take.json").read_text())
    assert record["status"] == "queued" and record["seed"] == 7 and record["model"] == "copy-first-frame"
    assert record["request"]["track"] == request.track and record["request"]["notes"] == request.notes
    assert record["request"]["first_frame"]["rgb"] == "inputs/first_rgb.png"


def test_generate_then_regenerate_from_take_json_bit_for_bit(tmp_path: Path):
    first = write_first_frame(tmp_path / "in")
    request = shot_request(first, frames=4, shot="warp", model="depth-warp")
    request["first_frame"]["depth"] = str(first[1])
    shot_json = tmp_path / "shot.json"
    shot_json.write_text(json.dumps(request))
    made = generate("--shot-json", str(shot_json), "--out", str(tmp_path / "proj"))
    assert made.returncode == 0, made.stderr
    original = Path(made.stdout.strip())
    again = generate("--request", str(original / "take.json"), "--out", str(tmp_path / "proj"))
    assert again.returncode == 0, again.stderr
    regenerated = Path(again.stdout.strip())
    assert (original.name, regenerated.name) == ("take_001", "take_002")
    frames = sorted(p.name for p in original.glob("*.png"))
    assert frames == ["0001.png", "0002.png", "0003.png", "0004.png"]
    assert all((original / f).read_bytes() == (regenerated / f).read_bytes() for f in frames)
    record = json.loads((regenerated / "take.json").read_text())
    assert record["status"] == "done" and record["device"] == "cpu" and len(record["frames"]) == 4


def test_generate_reports_bad_requests_by_field(tmp_path: Path):
    shot_json = tmp_path / "shot.json"
    shot_json.write_text(json.dumps(shot_request(tmp_path / "missing.png", seed=-3)))
    result = generate("--shot-json", str(shot_json), "--out", str(tmp_path))
    assert result.returncode == 2 and "seed:" in result.stderr


def test_a_disk_that_refuses_writes_fails_the_take_and_spares_earlier_ones(tmp_path: Path):
    first = write_first_frame(tmp_path / "in")
    request = shot_request(first, frames=40)
    shot_json = tmp_path / "shot.json"
    shot_json.write_text(json.dumps(request))
    earlier = generate("--shot-json", str(shot_json), "--out", str(tmp_path / "proj"))
    assert earlier.returncode == 0, earlier.stderr
    # Files may grow to the size of a fresh take.json plus a little: inputs and frames fit, and the
    # final take.json (with 40 per-frame timings) is refused with EFBIG, as a full disk would refuse it.
    scratch = create_take(tmp_path / "scratch", ShotRequest.model_validate(request).model_dump(mode="json"),
                          first[0], None)
    limit = (scratch.path / "take.json").stat().st_size + 1500
    refused = generate("--shot-json", str(shot_json), "--out", str(tmp_path / "proj"), limit_file_bytes=limit)
    assert refused.returncode == 1 and "take failed: could not write the take: File too large" in refused.stderr
    take = tmp_path / "proj" / "oyster" / "sh010" / "take_002"
    assert json.loads((take / "take.json").read_text())["status"] == "running"  # the last record that fitted
    assert not list(take.glob(".*"))  # no temporary left behind
    done = tmp_path / "proj" / "oyster" / "sh010" / "take_001"
    assert json.loads((done / "take.json").read_text())["status"] == "done"
    assert len(list(done.glob("*.png"))) == 40
