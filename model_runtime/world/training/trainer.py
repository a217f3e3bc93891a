"""`python -m model_runtime train`: train the world model on Blender-rendered clips.

Three stages in one resumable run: the frame autoencoder, then (autoencoder
frozen) the latent dynamics with flow matching and per-frame noise levels
(diffusion forcing, Chen et al. 2024), then the notes' look head (world/look.py).
float32 on CPU. Every random draw of a step is seeded by (seed, stage, step,
rank), and checkpoints hold the optimizer state, so a resumed run continues
exactly as an uninterrupted one would (resume.py). The same script runs under
`torchrun --nproc_per_node N`: DDP on NCCL when it runs on CUDA (each rank on cuda:LOCAL_RANK), on gloo on
the CPU. `--device` (default auto) picks the device; the clips' features are computed there and kept there.

The trainer and the command live here; what the dynamics stage trains on and its cache in
features.py, the losses in objectives.py, the run's settings (`TrainConfig`) in config.py.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from model_runtime.data.shards import load_clips
from model_runtime.models import device as devices
from model_runtime.models.interface import ShotInput
from model_runtime.world import look
from model_runtime.world.checkpoint import read_checkpoint, save_checkpoint
from model_runtime.world.config import WorldConfig, preset
from model_runtime.world.generator import WorldSession
from model_runtime.world.model import WorldModel
from model_runtime.world.text import embed_notes
from model_runtime.world.training.config import TrainConfig
from model_runtime.world.training.features import (ClipFeatures, clip_features, features_key, features_path,
                                                   read_features, resize_clip, write_features)
from model_runtime.world.training.objectives import autoencoder_step_loss, dynamics_step_loss, look_step_loss
from model_runtime.world.training.resume import STAGES, load_optimizer_tensors, optimizer_tensors, step_generators


# ---------------------------------------------------------------------------- the run

class Trainer:
    def __init__(self, config: WorldConfig, train_cfg: TrainConfig, data: Path, out: Path, resume: bool,
                 init: Path | None = None, device: str = "cpu"):
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.device = devices.resolve(device)
        if self.distributed and self.device.type == "cuda" and device in ("auto", "cuda"):
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per rank
        if self.distributed:
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.rank = dist.get_rank() if self.distributed else 0
        self.cfg, self.out = train_cfg, out
        torch.manual_seed(train_cfg.seed)  # the fresh initialisation is part of what a seed reproduces
        self.model = WorldModel(config)
        self.stage, self.step = STAGES[0], 0
        self.optimizer_state: dict[str, torch.Tensor] = {}
        last = out / "last.safetensors"
        if resume and last.exists():
            saved_config, tensors, metadata = read_checkpoint(last)
            if saved_config != config:
                raise ValueError(f"{last} was trained with another config; resume with the same --config")
            self.model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("optim.")})
            self.stage, self.step = metadata["stage"], int(metadata["step"])
            # the run's hyperparameters stay those it started with; only the step budgets may grow
            saved = TrainConfig(**json.loads(metadata["train_config"]))
            self.cfg = TrainConfig(**{**asdict(saved), "ae_steps": train_cfg.ae_steps, "steps": train_cfg.steps,
                                        "look_steps": train_cfg.look_steps})
            self.optimizer_state = tensors
            if self.rank == 0:
                self._truncate_log(out / "log.jsonl")
        else:
            if init is not None:
                self._initialise_from(init)
            if self.rank == 0:
                out.mkdir(parents=True, exist_ok=True)
                (out / "train_config.json").write_text(json.dumps(asdict(self.cfg), indent=2))
        source = load_clips(data)
        if not source:
            raise ValueError(f"{data} holds no clips")
        self.sample_clip = source[0]  # at its own resolution, as a shot would come
        clips = [resize_clip(c, config.width, config.height) for c in source]
        if min(len(c.rgb) for c in clips) < config.dynamics.window + 1:
            raise ValueError(f"clips in {data} are shorter than the training window "
                             f"(dynamics.window + 1 = {config.dynamics.window + 1} frames)")
        self.clips = clips
        self.model.to(self.device)
        self.log = (out / "log.jsonl").open("a") if self.rank == 0 else None

    def _truncate_log(self, path: Path) -> None:
        """Drop the log records of steps after the checkpoint (an interrupted run logged them, the resumed
        run redoes them), so the log reads as one uninterrupted run."""
        if not path.exists():
            return
        reached = (STAGES.index(self.stage), self.step)
        lines = [line for line in path.read_text().splitlines()
                 if (STAGES.index(json.loads(line)["stage"]), json.loads(line)["step"]) <= reached]
        path.write_text("".join(line + "\n" for line in lines))

    def _initialise_from(self, path: Path) -> None:
        """Start from another run's weights (e.g. its trained autoencoder): every tensor whose name and
        shape fit this config is taken, the rest keep their fresh initialisation and are named."""
        _, tensors, _ = read_checkpoint(path)
        own = self.model.state_dict()
        taken = {k: v for k, v in tensors.items() if k in own and own[k].shape == v.shape}
        self.model.load_state_dict(taken, strict=False)
        fresh = sorted(set(own) - set(taken))
        if self.rank == 0:
            print(f"initialised {len(taken)}/{len(own)} tensors from {path}"
                  + (f"; fresh: {', '.join(fresh[:8])}{' ...' if len(fresh) > 8 else ''}" if fresh else ""))

    def _module(self, stage: str) -> torch.nn.Module:
        return getattr(self.model, stage)

    def _optimizer(self, stage: str) -> tuple[torch.optim.Optimizer, dict]:
        module = self._module(stage)
        lr = {"autoencoder": self.cfg.ae_lr, "dynamics": self.cfg.lr, "look": self.cfg.look_lr}[stage]
        decay = self.cfg.look_weight_decay if stage == "look" else 0.01
        optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=decay)
        names = {p: n for n, p in module.named_parameters()}
        load_optimizer_tensors(optimizer, names, self.optimizer_state)
        return optimizer, names

    def _save(self, optimizer: torch.optim.Optimizer, names: dict) -> None:
        if self.rank != 0:
            return
        state = {**self.model.state_dict(), **optimizer_tensors(optimizer, names)}
        save_checkpoint(self.out / "last.safetensors", self.model.config, state,
                        {"stage": self.stage, "step": str(self.step), "train_config": json.dumps(asdict(self.cfg))})

    def _record(self, loss: float, seconds: float) -> None:
        if self.log is not None:
            self.log.write(json.dumps({"stage": self.stage, "step": self.step, "loss": loss, "s": seconds}) + "\n")
            self.log.flush()

    def run(self) -> None:
        if self.stage == "autoencoder":
            self._train_stage("autoencoder", self.cfg.ae_steps)
            self._measure_latents()
            self.stage, self.step, self.optimizer_state = "dynamics", 0, {}
        if self.stage == "dynamics":
            self._train_stage("dynamics", self.cfg.steps)
            self.stage, self.step, self.optimizer_state = "look", 0, {}
        self._train_stage("look", self.cfg.look_steps)

    def _train_stage(self, stage: str, total: int) -> None:
        module = self._module(stage)
        for p in self.model.parameters():
            p.requires_grad_(False)
        for p in module.parameters():
            p.requires_grad_(True)
        ids = [self.device.index] if self.device.type == "cuda" else None
        wrapped = DistributedDataParallel(module, device_ids=ids) if self.distributed else module
        optimizer, names = self._optimizer(stage)
        features = self.features() if stage == "dynamics" and self.step < total else None
        if features is not None and self.device.type != "cpu":
            features = [ClipFeatures(**{k: v.to(self.device) for k, v in vars(f).items()}) for f in features]
        if stage == "look":
            texts = torch.from_numpy(embed_notes([c.caption for c in self.clips])).to(self.device)
            looks = torch.from_numpy(np.stack([look.frame_looks(c.rgb.astype(np.float32) / 255.0)
                                               for c in self.clips])).to(self.device)
        bar = tqdm(total=total, initial=self.step, desc=stage, disable=self.rank != 0)
        while self.step < total:
            start = time.perf_counter()
            rng, gen = step_generators(self.cfg.seed, stage, self.step, self.rank)
            if stage == "autoencoder":
                loss = autoencoder_step_loss(self.model, wrapped, self.clips, rng, self.cfg.ae_batch)
            elif stage == "dynamics":
                loss = dynamics_step_loss(self.model, wrapped, features, rng, gen, self.cfg)
            else:
                loss = look_step_loss(wrapped, texts, looks, rng, self.cfg.look_batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            optimizer.step()
            self.step += 1
            self._record(loss.item(), time.perf_counter() - start)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if self.step % self.cfg.checkpoint_every == 0 or self.step == total:
                self._save(optimizer, names)
            if stage == "dynamics" and self.step % self.cfg.sample_every == 0:
                self._sample_grid()
        bar.close()

    @torch.no_grad()
    def _measure_latents(self) -> None:
        rng = np.random.default_rng([self.cfg.seed, 99])
        picks = [(int(c), int(rng.integers(len(self.clips[c].rgb)))) for c in rng.integers(len(self.clips), size=256)]
        rgb = torch.from_numpy(np.stack([self.clips[c].rgb[f] for c, f in picks])).to(self.device).float() / 255.0
        depth = torch.from_numpy(np.stack([self.clips[c].depth[f] for c, f in picks])).to(self.device)
        z = self.model.autoencoder.encode(self.model.frame_input(rgb, depth))
        self.model.latent_mean.copy_(z.mean(dim=(0, 2, 3)))
        self.model.latent_std.copy_(z.std(dim=(0, 2, 3)).clamp_min(1e-3))

    def features(self) -> list[ClipFeatures]:
        """The clips' features, from the run folder's cache when it was made from the same data, config,
        autoencoder and code (`features_key`), else computed and cached there (minutes for 400 clips)."""
        texts = embed_notes([c.caption for c in self.clips])
        key = features_key(self.model, self.clips)
        path = features_path(self.out, key)
        features = read_features(path, key, texts)
        if features is not None:
            if self.rank == 0:
                print(f"features: {len(features)} clips read from {path}")
            return features
        features = [clip_features(self.model, c, texts[i])
                    for i, c in enumerate(tqdm(self.clips, desc="features", disable=self.rank != 0))]
        if self.rank == 0:
            write_features(path, key, features)
        return features

    @torch.no_grad()
    def _sample_grid(self) -> None:
        """Ground truth (top) against a rollout from the first frame (bottom) of a training clip."""
        if self.rank != 0:
            return
        clip = self.sample_clip
        session = WorldSession(self.model.eval(), ShotInput(clip.caption, clip.track, 0, clip.rgb[0], clip.depth[0]))
        frames = [session.step() for _ in range(min(8, len(clip.rgb)))]
        self.model.train()
        grid = np.concatenate([np.concatenate(list(clip.rgb[:len(frames)]), 1), np.concatenate(frames, 1)], 0)
        cv2.imwrite(str(self.out / f"sample_{self.step:06d}.png"), grid[..., ::-1])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="tiny", help="model size: tiny, base (or micro for tests)")
    parser.add_argument("--data", required=True, type=Path, help="training dataset folder (never the val split)")
    parser.add_argument("--out", required=True, type=Path, help="run folder: checkpoints, log.jsonl, samples")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    parser.add_argument("--init", type=Path, help="start from the fitting weights of this checkpoint "
                                                  "(e.g. another run's autoencoder; ignored with --resume)")
    parser.add_argument("--ae-steps", type=int, default=TrainConfig.ae_steps)
    parser.add_argument("--steps", type=int, default=TrainConfig.steps, help="dynamics steps")
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--notes-batch", type=int, default=TrainConfig.notes_batch,
                        help="extra single frames per dynamics step made from notes alone")
    parser.add_argument("--notes-on-grid", type=float, default=TrainConfig.notes_on_grid,
                        help="share of the notes-alone frames trained at the sampler's own flow times")
    parser.add_argument("--lr", type=float, default=TrainConfig.lr, help="dynamics learning rate")
    parser.add_argument("--look-steps", type=int, default=TrainConfig.look_steps, help="steps of the notes' look head")
    parser.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every)
    parser.add_argument("--sample-every", type=int, default=TrainConfig.sample_every)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    devices.add_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    devices.resolve_or_exit(args.device, "train")  # a device torch cannot see ends the command before any work
    cfg = TrainConfig(ae_steps=args.ae_steps, steps=args.steps, look_steps=args.look_steps, batch=args.batch,
                      notes_batch=args.notes_batch, notes_on_grid=args.notes_on_grid, lr=args.lr,
                      checkpoint_every=args.checkpoint_every, sample_every=args.sample_every, seed=args.seed)
    trainer = Trainer(preset(args.config), cfg, args.data, args.out, args.resume, args.init, args.device)
    trainer.run()
    if trainer.distributed:
        dist.barrier()  # both ranks reach teardown together: a rank whose peer has already gone aborts in gloo
        dist.destroy_process_group()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime train", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
