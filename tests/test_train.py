"""Training: a few steps of each stage lower its loss, a resumed run equals an uninterrupted one, DDP on 2 CPU
processes.

All on the `micro` config and a synthetic dataset in the real shard format, so the
same code paths as the real run take seconds.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from model_runtime.data.shards import FORMAT_VERSION, shard_name, write_shard
from model_runtime.world.config import preset
from model_runtime.world.training.config import TrainConfig
from model_runtime.world.training.trainer import Trainer

REPO = Path(__file__).resolve().parent.parent


def _clip(seed: int, frames: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """A camera trucking right past a textured wall 4-8 m away, with sky in the top rows."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, (height // 8 + 1, width // 4 + 1, 3), dtype=np.uint8)
    wall = np.repeat(np.repeat(blocks, 8, 0), 8, 1)[:height, :width * 2]               # 8-pixel tiles
    distance = 4.0 + 4.0 * rng.random()
    rgb, depth, track_frames = [], [], []
    for f in range(frames):
        rgb.append(wall[:, 2 * f:2 * f + width])
        d = np.full((height, width), distance, np.float32)
        d[: height // 5] = np.inf
        depth.append(d)
        c2w = np.eye(4)
        c2w[0, 3] = 2 * f * distance / 50.0                       # 2 pixels a frame at fx = 50
        rel = np.eye(4)
        if f:
            rel[0, 3] = 2 * distance / 50.0
        track_frames.append({"frame": 1 + f, "c2w": c2w.tolist(), "fx": 50.0, "fy": 50.0, "cx": width / 2,
                             "cy": height / 2, "rel": rel.tolist()})
    track = {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": 1, "frame_end": frames,
             "scale": 1.0, "frames": track_frames}
    meta = {"scene_seed": seed, "caption": ["a red brick wall at noon", "a foggy street at night"][seed % 2],
            "labels": {"time_of_day": ["noon", "night"][seed % 2]}, "move": "truck", "track": track}
    return np.stack(rgb), np.stack(depth), meta


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("train")
    cfg = preset("micro")
    clips = [_clip(seed, 8, cfg.width, cfg.height) for seed in range(4)]
    write_shard(folder / shard_name(0), np.stack([c[0] for c in clips]), np.stack([c[1] for c in clips]),
                [c[2] for c in clips])
    (folder / "dataset.json").write_text(json.dumps({"format": FORMAT_VERSION, "split": "train"}))
    return folder


def _train(dataset: Path, out: Path, ae_steps: int, steps: int, look_steps: int = 0, resume: bool = False,
           lr: float = 5e-4) -> None:
    cfg = TrainConfig(ae_steps=ae_steps, steps=steps, look_steps=look_steps, ae_batch=4, batch=2, lr=lr,
                      checkpoint_every=1000, sample_every=1000)
    Trainer(preset("micro"), cfg, dataset, out, resume).run()


def _losses(out: Path, stage: str) -> list[float]:
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if r["stage"] == stage]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def test_a_few_steps_lower_the_loss(dataset, tmp_path):
    torch.set_num_threads(1)  # the machine is shared; one thread avoids spinning against other jobs
    _train(dataset, tmp_path, ae_steps=60, steps=150, look_steps=100, lr=2e-3)
    ae, dyn, look = (_losses(tmp_path, stage) for stage in ("autoencoder", "dynamics", "look"))
    assert len(ae) == 60 and len(dyn) == 150 and len(look) == 100
    assert np.mean(ae[-10:]) < 0.85 * np.mean(ae[:5])
    assert np.mean(dyn[-30:]) < 0.8 * np.mean(dyn[:10])
    assert np.mean(look[-10:]) < 0.5 * np.mean(look[:5])


def test_resumed_run_equals_uninterrupted_run(dataset, tmp_path):
    _train(dataset, tmp_path / "straight", ae_steps=4, steps=4, look_steps=4)
    interrupted = tmp_path / "interrupted"
    _train(dataset, interrupted, ae_steps=2, steps=0)                                 # inside the autoencoder
    _train(dataset, interrupted, ae_steps=4, steps=2, resume=True)                    # inside the dynamics
    _train(dataset, interrupted, ae_steps=4, steps=4, look_steps=2, resume=True)      # inside the look
    _train(dataset, interrupted, ae_steps=4, steps=4, look_steps=4, resume=True)
    a, b = _weights(tmp_path / "straight" / "last.safetensors"), _weights(interrupted / "last.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("optim.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    for stage in ("dynamics", "look"):
        assert _losses(tmp_path / "straight", stage) == _losses(interrupted, stage)


DDP_WORKER = """
import sys
from pathlib import Path

import torch
from torch import distributed as dist
from model_runtime.world.config import preset
from model_runtime.world.training.config import TrainConfig
from model_runtime.world.training.trainer import Trainer

trainer = Trainer(preset("micro"), TrainConfig(ae_steps=3, steps=3, look_steps=3, ae_batch=2, batch=1,
                                               checkpoint_every=1000, sample_every=1000),
                  Path(sys.argv[1]), Path(sys.argv[2]), False)
trainer.run()
flat = torch.cat([p.detach().reshape(-1) for p in trainer.model.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, flat)
assert all(torch.equal(gathered[0], g) for g in gathered), "ranks diverged"
print("RANKS_EQUAL", dist.get_rank())
dist.barrier()  # both ranks reach teardown together: a rank whose peer has already gone aborts in gloo
dist.destroy_process_group()
"""


def test_ddp_on_two_cpu_processes(dataset, tmp_path):
    worker = tmp_path / "ddp_worker.py"
    worker.write_text(DDP_WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    torchrun = Path(sys.executable).with_name("torchrun")
    for attempt in range(2):
        result = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29517", str(worker),
                                 str(dataset), str(tmp_path / f"run{attempt}")], env=env, capture_output=True,
                                text=True, timeout=240)
        # one retry, for this abort only: Gloo's worker threads at interpreter teardown (pytorch/pytorch
        # PR 179291), seen in two full-suite runs here, the second with the barrier and destroy in place
        if result.returncode == 0 or "terminate called without an active exception" not in result.stderr:
            break
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("RANKS_EQUAL") == 2
    run = tmp_path / f"run{attempt}"
    assert len(_losses(run, "dynamics")) == len(_losses(run, "look")) == 3  # rank 0 logs


def _equal_features(a: list, b: list) -> bool:
    fields = ("latent", "cache", "valid", "plucker", "action", "text")
    return len(a) == len(b) and all(torch.equal(getattr(x, f), getattr(y, f)) for x, y in zip(a, b) for f in fields)


def test_dynamics_features_are_cached_in_the_run_folder_and_never_stale(dataset, tmp_path, capsys):
    from model_runtime.world.text import embed_notes
    from model_runtime.world.training.features import clip_features, features_key

    run = tmp_path / "run"
    _train(dataset, run, ae_steps=2, steps=1)                                  # computes and caches them
    cached = list(run.glob("features-*.safetensors"))
    assert len(cached) == 1
    resumed = Trainer(preset("micro"), TrainConfig(ae_steps=2, steps=2), dataset, run, resume=True)
    capsys.readouterr()
    features = resumed.features()
    assert "read from" in capsys.readouterr().out
    texts = embed_notes([c.caption for c in resumed.clips])
    fresh = [clip_features(resumed.model, c, texts[i]) for i, c in enumerate(resumed.clips)]
    assert _equal_features(features, fresh)                                    # bit for bit

    key = features_key(resumed.model, resumed.clips)
    assert cached[0].name == f"features-{key[:16]}.safetensors"
    with torch.no_grad():
        resumed.model.latent_std.mul_(1.01)                                    # other autoencoder statistics
    assert features_key(resumed.model, resumed.clips) != key
    resumed.model.latent_std.div_(1.01)
    resumed.clips[1].rgb[3, 0, 0, 0] ^= 1                                      # one pixel of the data
    assert features_key(resumed.model, resumed.clips) != key
    resumed.clips[1].rgb[3, 0, 0, 0] ^= 1
    assert features_key(resumed.model, resumed.clips) == key

    cached[0].write_bytes(cached[0].read_bytes()[:5000])                       # a damaged cache is recomputed
    assert _equal_features(resumed.features(), fresh)
    assert "cannot be read" in capsys.readouterr().out
    assert list(run.glob("features-*.safetensors")) == cached


def test_a_cache_from_other_weights_is_not_read(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    _train(dataset, run, ae_steps=2, steps=1)
    trainer = Trainer(preset("micro"), TrainConfig(ae_steps=2, steps=2), dataset, run, resume=True)
    original = trainer.features()
    with torch.no_grad():
        for p in trainer.model.autoencoder.parameters():
            p.mul_(0.9)
    capsys.readouterr()
    changed = trainer.features()
    assert "read from" not in capsys.readouterr().out
    assert not torch.equal(changed[0].latent, original[0].latent)
    assert len(list(run.glob("features-*.safetensors"))) == 1                # the stale cache was replaced
