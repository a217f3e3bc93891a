"""`train-painter` on a tiny dataset of the analytic shot, as a real process: the patch critic trains beside the
painter, its state resumes with the painter's, and a resumed run equals an uninterrupted one."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from model_runtime.benchmarks.analytic_shot import AnalyticPasses, cast, look, orbit_track
from model_runtime.data.shards import FORMAT_VERSION, shard_name, write_shard
from model_runtime.painter import checkpoint

ROOT = Path(__file__).resolve().parents[1]
W, H, FRAMES = 64, 36, 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("painter_data")
    rgb, depth, shade, metas = [], [], [], []
    for clip, start in enumerate((1, 200)):
        track = orbit_track(FRAMES, W, H, start=start)
        passes = AnalyticPasses(track)
        rgb.append([look(f, W, H) for f in track["frames"]])
        depth.append([np.where(d > 0, d, np.inf) for d in (cast(f, W, H)[0] for f in track["frames"])])
        shade.append([passes.frame(i).shade for i in range(FRAMES)])
        metas.append({"scene_seed": clip, "caption": "a red box on a stone floor at dusk",
                      "labels": {"time_of_day": "dusk"}, "move": "orbit", "track": track})
    write_shard(folder / shard_name(0), np.array(rgb), np.array(depth, np.float32), metas, np.array(shade))
    (folder / "dataset.json").write_text(json.dumps({"format": FORMAT_VERSION, "split": "train"}))
    return folder


def _train(dataset: Path, run: Path, steps: int, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model_runtime", "train-painter", "--data", str(dataset),
                           "--run", str(run), "--steps", str(steps), "--batch", "2", "--crop", "48x32",
                           "--save-every", "2", "--threads", "1", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def test_the_critic_trains_beside_the_painter_and_resumes_with_it(dataset: Path, tmp_path: Path):
    adversarial = ("--adversarial-weight", "0.05")
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    _train(dataset, whole, 4, *adversarial)
    _train(dataset, halves, 2, *adversarial)
    resumed = _train(dataset, halves, 4, *adversarial)
    assert "resumed at step 2" in resumed.stdout and "a new critic" not in resumed.stdout

    log = [json.loads(line) for line in (whole / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4] and all(r["critic"] > 0 and "adversarial" in r for r in log)
    state = _tensors(whole / "state.safetensors")
    assert any(k.startswith("critic.") for k in state) and any(k.startswith("critic_adam.") for k in state)
    for key, value in state.items():  # painter and critic, weights and moments: the same as without the break
        torch.testing.assert_close(_tensors(halves / "state.safetensors")[key], value, rtol=0, atol=0)

    net, record = checkpoint.load(whole / "painter.safetensors")  # the shipped format: the painter alone
    assert record["adversarial_weight"] == 0.05 and record["steps"] == 4
    assert not any(k.startswith("critic") for k in _tensors(whole / "painter.safetensors"))


def test_without_the_critic_nothing_of_it_is_trained_or_saved(dataset: Path, tmp_path: Path):
    _train(dataset, tmp_path / "plain", 2)
    log = json.loads((tmp_path / "plain" / "log.jsonl").read_text().splitlines()[0])
    assert "critic" not in log and not any(k.startswith("critic") for k in _tensors(tmp_path / "plain" / "state.safetensors"))


def test_a_painter_with_the_texture_basis_grows_from_a_plain_one_and_paints(dataset: Path, tmp_path: Path):
    from model_runtime.models.interface import ShotInput
    from model_runtime.painter.session import PainterModel

    _train(dataset, tmp_path / "plain", 2)
    grown = _train(dataset, tmp_path / "basis", 2, "--preset", "painter-basis",
                   "--init", str(tmp_path / "plain" / "painter.safetensors"))
    assert "started from" in grown.stdout
    net, record = checkpoint.load(tmp_path / "basis" / "painter.safetensors")
    assert net.config.basis_frequencies and record["preset"] == "painter-basis"
    track = orbit_track(2, W, H)
    session = PainterModel(tmp_path / "basis" / "painter.safetensors").start(
        ShotInput("a red box on a stone floor at dusk", track, 0, passes=AnalyticPasses(track)))
    assert session.step().shape == (H, W, 3)
    _train(dataset, tmp_path / "again", 2, "--init", str(tmp_path / "basis" / "painter.safetensors"))
    assert checkpoint.load(tmp_path / "again" / "painter.safetensors")[0].config == net.config  # no --preset: --init's
    refused = subprocess.run([sys.executable, "-m", "model_runtime", "train-painter", "--data", str(dataset),
                              "--run", str(tmp_path / "back"), "--steps", "1", "--preset", "painter-small", "--init",
                              str(tmp_path / "basis" / "painter.safetensors")],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "cannot start" in refused.stderr
