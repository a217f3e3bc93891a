"""`--device auto|cpu|cuda[:N]` (issue 16 item 1) with the real torch of this machine (a CPU build, no CUDA):
the spelling, the errors of a device torch cannot see, and frames identical with and without the flag."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from model_runtime.benchmarks.analytic_shot import AnalyticPasses, orbit_track
from model_runtime.models import device as devices
from runtime_fixtures import ROOT

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="these tests are about a machine without CUDA")


def command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model_runtime", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=180)


def test_spellings_are_canonical_and_anything_else_is_refused_with_the_choices():
    assert [devices.parse(s) for s in ("auto", "CPU", " cuda ", "cuda:1")] == ["auto", "cpu", "cuda", "cuda:1"]
    for bad in ("gpu", "cpu:0", "cuda:", "cuda:x", "cuda:-1", "", "mps"):
        with pytest.raises(devices.DeviceError, match=r"unknown device .*auto\|cpu\|cuda\[:N\]"):
            devices.parse(bad)


def test_auto_and_cpu_resolve_to_the_cpu_and_cuda_names_what_was_asked_and_what_torch_sees():
    assert devices.resolve("auto") == devices.resolve("cpu") == torch.device("cpu")
    for asked in ("cuda", "cuda:0", "cuda:3"):
        with pytest.raises(devices.DeviceError) as error:
            devices.resolve(asked)
        assert f"--device {asked} was asked" in str(error.value) and "torch sees no CUDA device" in str(error.value)
        assert torch.__version__ in str(error.value)


@pytest.mark.parametrize("name", ["generate", "serve", "train", "train-painter", "eval", "eval-painter", "eval-ahead", "bench"])
def test_every_command_refuses_cuda_without_one_and_a_bad_device_before_any_work(name: str, tmp_path: Path):
    needed = {"generate": ["--shot-json", str(tmp_path / "none.json"), "--out", str(tmp_path)],
              "serve": ["--state-dir", str(tmp_path / "state"), "--output-root", str(tmp_path)],
              "train": ["--data", str(tmp_path / "none"), "--out", str(tmp_path / "run")],
              "train-painter": ["--data", str(tmp_path / "none"), "--run", str(tmp_path / "run"), "--steps", "1"],
              "eval": ["--model", "depth-warp", "--data", str(tmp_path), "--out", str(tmp_path / "report")],
              "eval-painter": ["--data", str(tmp_path / "none"), "--out", str(tmp_path / "report")],
              "eval-ahead": ["--data", str(tmp_path / "none"), "--out", str(tmp_path / "report")],
              "bench": ["--res", "64x36"]}[name]
    result = command(name, *needed, "--device", "cuda")
    assert result.returncode == 2, result.stderr
    assert f"{name}: --device cuda was asked, but torch sees no CUDA device" in result.stderr
    result = command(name, *needed, "--device", "gpu")
    assert result.returncode == 2 and "argument --device: unknown device 'gpu'" in result.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "oyster").exists()


def painted_shot(folder: Path, frames: int = 6) -> Path:
    """A shot request for the shipped painter over the analytic scene's passes, written as files."""
    track = orbit_track(frames, 64, 36)
    passes = AnalyticPasses(track)
    (folder / "passes").mkdir(parents=True)
    for i, frame in enumerate(track["frames"]):
        p = passes.frame(i)
        cv2.imwrite(str(folder / "passes" / f"depth_{frame['frame']:04d}.exr"), p.depth)
        cv2.imwrite(str(folder / "passes" / f"shade_{frame['frame']:04d}.png"), p.shade)
    request = {"shot": "box", "notes": "a red box on a chequered stone floor at dusk", "track": track, "seed": 3,
               "model": "oyster-painter",
               "passes": {"folder": str(folder / "passes"), "frames": [f["frame"] for f in track["frames"]]}}
    (folder / "shot.json").write_text(json.dumps(request))
    return folder / "shot.json"


def test_frames_are_identical_without_the_flag_with_cpu_and_with_auto(tmp_path: Path):
    shot = painted_shot(tmp_path / "in")
    takes = []
    for flag in ([], ["--device", "cpu"], ["--device", "auto"]):
        result = command("generate", "--shot-json", str(shot), "--out", str(tmp_path / "proj"), *flag)
        assert result.returncode == 0, result.stderr
        takes.append(Path(result.stdout.strip().splitlines()[-1]))
    frames = [sorted(take.glob("*.png")) for take in takes]
    assert len(frames[0]) == 6
    first = [cv2.imread(str(p)) for p in frames[0]]
    assert not all(np.array_equal(first[0], f) for f in first[1:])  # a moving shot, not one picture
    for other in frames[1:]:
        assert [p.name for p in other] == [p.name for p in frames[0]]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(frames[0], other))
    for take in takes:
        assert json.loads((take / "take.json").read_text())["device"] == "cpu"
