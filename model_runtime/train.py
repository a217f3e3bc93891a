"""`python -m model_runtime train`: train the world model on Blender-rendered clips.

Three stages in one resumable run: the frame autoencoder, then (autoencoder
frozen) the latent dynamics with flow matching and per-frame noise levels
(diffusion forcing, Chen et al. 2024), then the notes' look head (world/look.py).
float32 on CPU. Every random draw of a step is seeded by (seed, stage, step,
rank), and checkpoints hold the optimizer state, so a resumed run continues
exactly as an uninterrupted one would. The same script runs under `torchrun --nproc_per_node N` (DDP on gloo).
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from model_runtime import geometry
from model_runtime.data.shards import Clip, load_clips
from model_runtime.world import autoencoder, cache3d, conditioning, look
from model_runtime.world import model as world_model
from model_runtime.world.autoencoder import autoencoder_loss
from model_runtime.world.cache3d import PointCache, empty_render
from model_runtime.world.checkpoint import read_checkpoint, save_checkpoint
from model_runtime.world.conditioning import camera_action, native_intrinsics, plucker_tokens, token_centres
from model_runtime.world.config import WorldConfig, preset
from model_runtime.world.flow import flow_matching_loss, interpolate, time_grid
from model_runtime.world.generator import WorldSession
from model_runtime.world.model import WorldModel
from model_runtime.world.text import embed_notes
from model_runtime.models.interface import ShotInput

STAGES = ("autoencoder", "dynamics", "look")


@dataclass
class TrainConfig:
    ae_steps: int = 800
    steps: int = 20000          # dynamics steps
    ae_batch: int = 8
    batch: int = 4              # clips per dynamics step (windows of dynamics.window + 1 frames)
    clean_context: float = 0.5  # share of windows whose context frames are clean, as at inference
    from_start: float = 0.25    # share of windows starting at frame 0, so frame 0 from notes alone is learned
    hole_weight: float = 2.0    # extra loss weight of tokens the cache render does not cover
    first_weight: float = 4.0   # loss weight of a noisy frame 0 (generated from notes and camera alone)
    text_dropout: float = 0.1   # share of windows trained without notes, for classifier-free guidance
    notes_batch: int = 16       # extra single frames per step made from notes and camera alone (empty cache)
    notes_on_grid: float = 0.0  # share of those trained at the sampler's own times (the only flow times a
                                # few-step sampler asks the network about; uniform times for the rest)
    look_steps: int = 2000
    look_batch: int = 256       # frames per look step
    ae_lr: float = 1e-3
    lr: float = 5e-4
    look_lr: float = 1e-3
    look_weight_decay: float = 0.1  # 400 scenes' captions: the head must not learn them by heart
    checkpoint_every: int = 100
    sample_every: int = 500
    seed: int = 0


# ---------------------------------------------------------------------------- features

@dataclass
class ClipFeatures:
    """What the dynamics stage trains on, per frame of a clip: (F, N, *) token tensors, (F, *) frame tensors."""
    latent: torch.Tensor
    cache: torch.Tensor
    valid: torch.Tensor
    plucker: torch.Tensor
    action: torch.Tensor
    text: torch.Tensor          # (384,)


def clip_tensors(clip: Clip) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(clip.rgb).float() / 255.0, torch.from_numpy(clip.depth)


@torch.no_grad()
def clip_features(model: WorldModel, clip: Clip, text: np.ndarray) -> ClipFeatures:
    """Latents of the frames and the cache renders the model would see: frame t's cache holds the points
    of frame 0 (the given first frame) and frame t-1 (the latest), rendered through camera t."""
    cfg = model.config
    track = clip.track
    rgb, depth = clip_tensors(clip)
    n = len(track["frames"])
    scale = float(track.get("scale", 1.0))
    grid_h, grid_w = (s // cfg.dynamics.patch for s in cfg.latent_size)
    centres = token_centres(cfg.width, cfg.padded_height, grid_w, grid_h)
    centres[:, 1] -= (cfg.padded_height - cfg.height) // 2
    cams = []
    for frame in track["frames"]:
        K = native_intrinsics(frame, track["width"], track["height"], cfg.width, cfg.height)
        cams.append((K, np.asarray(frame["c2w"]), np.asarray(frame["rel"])))
    renders = [empty_render(cfg.width, cfg.height)]
    for t in range(1, n):
        cache = PointCache(cfg.cache.max_points)
        for source in sorted({0, t - 1}):
            cache.add(clip.rgb[source].astype(np.float32) / 255.0, clip.depth[source], cams[source][0], cams[source][1])
        renders.append(cache.render(cams[t][0], cams[t][1], cfg.width, cfg.height))
    cache_tok, valid_tok = model.cache_tokens(torch.from_numpy(np.stack([r.rgb for r in renders])),
                                              torch.from_numpy(np.stack([r.depth for r in renders])),
                                              torch.from_numpy(np.stack([r.valid for r in renders])))
    return ClipFeatures(
        latent=model.patchify(model.encode_frames(rgb, depth)),
        cache=cache_tok, valid=valid_tok,
        plucker=torch.from_numpy(np.stack([plucker_tokens(rel, K, centres, scale) for K, _, rel in cams])),
        action=torch.from_numpy(np.stack([camera_action(rel, K, cfg.width, cfg.height, scale) for K, _, rel in cams])),
        text=torch.from_numpy(text))


def resize_clip(clip: Clip, width: int, height: int) -> Clip:
    """The clip at the model's native size (intrinsics follow through native_intrinsics)."""
    if clip.rgb.shape[1:3] == (height, width):
        return clip
    rgb = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in clip.rgb])
    depth = np.stack([cv2.resize(d, (width, height), interpolation=cv2.INTER_NEAREST) for d in clip.depth])
    return Clip(clip.scene_seed, clip.caption, clip.labels, clip.move, clip.track, rgb, depth, clip.long_track)


# ---------------------------------------------------------------------------- feature cache

CACHED_FIELDS = ("latent", "cache", "valid", "plucker", "action")
FEATURE_CODE = (geometry, cache3d, conditioning, autoencoder, world_model)  # modules clip_features computes with


def features_key(model: WorldModel, clips: list[Clip]) -> str:
    """sha256 of everything the cached features depend on: the clips (frames, depths, tracks), the config,
    the autoencoder's weights and latent statistics (the dynamics do not enter), the code that computes them,
    and the torch and numpy versions. Any change gives another key, so a stale cache is never read."""
    digest = hashlib.sha256()
    code = [inspect.getsource(m) for m in FEATURE_CODE] + [inspect.getsource(f) for f in (clip_features, resize_clip)]
    digest.update(json.dumps({"config": model.config.to_dict(), "code": code, "torch": torch.__version__,
                              "numpy": np.__version__}, sort_keys=True).encode())
    parts = {**{f"autoencoder.{k}": v for k, v in model.autoencoder.state_dict().items()},
             "latent_mean": model.latent_mean, "latent_std": model.latent_std}
    for name in sorted(parts):
        digest.update(name.encode())
        digest.update(parts[name].detach().contiguous().numpy().data)
    for clip in clips:
        digest.update(json.dumps(clip.track, sort_keys=True).encode())
        digest.update(np.ascontiguousarray(clip.rgb).data)
        digest.update(np.ascontiguousarray(clip.depth).data)
    return digest.hexdigest()


def features_path(folder: Path, key: str) -> Path:
    return folder / f"features-{key[:16]}.safetensors"


def read_features(path: Path, key: str, texts: np.ndarray) -> list[ClipFeatures] | None:
    """The cached features of `key`, or None (with the reason printed) when the file is missing, damaged or
    made for another key."""
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("key") != key:
                print(f"features: {path.name} was made for other data, config or weights; computing them again")
                return None
            tensors = {name: f.get_tensor(name) for name in f.keys()}
        return [ClipFeatures(**{field: tensors[f"{i:05d}.{field}"] for field in CACHED_FIELDS},
                             text=torch.from_numpy(text)) for i, text in enumerate(texts)]
    except (SafetensorError, OSError, KeyError) as error:
        print(f"features: {path.name} cannot be read ({error}); computing them again")
        return None


def write_features(path: Path, key: str, features: list[ClipFeatures]) -> None:
    """Atomically (temporary name, then rename); earlier caches in the folder (other keys) are removed."""
    tensors = {f"{i:05d}.{field}": getattr(f, field).contiguous() for i, f in enumerate(features)
               for field in CACHED_FIELDS}
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata={"key": key, "clips": str(len(features))})
    os.replace(partial, path)
    for stale in path.parent.glob("features-*.safetensors"):
        if stale != path:
            stale.unlink()


# ---------------------------------------------------------------------------- losses

def autoencoder_step_loss(model: WorldModel, autoencoder: torch.nn.Module, clips: list[Clip],
                          rng: np.random.Generator, batch: int) -> torch.Tensor:
    """L1 reconstruction of a batch of random frames; `autoencoder` may be the DDP-wrapped module."""
    picks = [(int(c), int(rng.integers(len(clips[c].rgb)))) for c in rng.integers(len(clips), size=batch)]
    rgb = torch.from_numpy(np.stack([clips[c].rgb[f] for c, f in picks])).float() / 255.0
    depth = torch.from_numpy(np.stack([clips[c].depth[f] for c, f in picks]))
    x = model.frame_input(rgb, depth)
    return autoencoder_loss(autoencoder(x), x)


def dynamics_step_loss(model: WorldModel, dynamics: torch.nn.Module, features: list[ClipFeatures],
                       rng: np.random.Generator, gen: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    """Flow-matching loss of a batch of clip windows with an independent noise level per frame
    (diffusion forcing, Chen et al. 2024), or clean context and one noisy last frame as at inference.

    Windows starting at frame 0 with frame 0 noisy teach the no-first-frame mode (empty cache render), and
    weigh `first_weight` there; tokens the cache render leaves uncovered weigh more, since only there the
    output is not replaced by the render at inference. A share of windows sees zero notes: the
    unconditional model of classifier-free guidance (Ho & Salimans 2022).
    """
    T = model.config.dynamics.window + 1
    picks = rng.integers(len(features), size=cfg.batch)
    windows = []
    for c in picks:
        f = features[int(c)]
        s = 0 if rng.random() < cfg.from_start else int(rng.integers(len(f.latent) - T + 1))
        windows.append((f, s))

    def stack(name: str) -> torch.Tensor:
        return torch.stack([getattr(f, name)[s:s + T] for f, s in windows])

    x1 = stack("latent")                                                  # (B, T, N, P)
    x0 = torch.randn(x1.shape, generator=gen)
    t = torch.rand((cfg.batch, T), generator=gen)
    clean = torch.from_numpy(rng.random(cfg.batch) < cfg.clean_context)
    t[clean, :-1] = 1.0                                                   # context as at inference: finished frames
    valid = stack("valid")                                                # (B, T, N, p*p) covered share
    weight = 1.0 + cfg.hole_weight * (1.0 - valid.mean(-1))               # (B, T, N)
    weight[clean, :-1] = 0.0                                              # nothing to learn on a given frame
    from_notes = torch.tensor([s == 0 for _, s in windows]) & ~clean
    weight[from_notes, 0] *= cfg.first_weight
    text = torch.stack([f.text for f, _ in windows])                      # (B, 384)
    text[torch.from_numpy(rng.random(cfg.batch) < cfg.text_dropout)] = 0.0  # the null notes of guidance
    text = text[:, None, :].expand(-1, T, -1)                             # (B, T, 384)
    core = model.dynamics
    tokens = core.embed_tokens(interpolate(x1, x0, t), stack("cache"), valid, stack("plucker"))
    velocity = dynamics(tokens, core.frame_condition(t, text, stack("action")))
    return flow_matching_loss(velocity, x1, x0, weight) + notes_only_loss(model, features, rng, gen, cfg)


def notes_only_loss(model: WorldModel, features: list[ClipFeatures], rng: np.random.Generator,
                    gen: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    """Flow-matching loss of single frames made from notes and camera alone, as frame 0 of a shot without
    a first frame: any frame of any clip is a sample, with the empty cache render and the identity move of
    a frame 0. Windows alone give this mode a few samples a step; text carries everything here.

    Runs through the plain module: DDP's gradient hooks fire once per parameter for the summed loss.
    """
    picks = [(features[int(c)], int(rng.integers(len(features[int(c)].latent))))
             for c in rng.integers(len(features), size=cfg.notes_batch)]
    x1 = torch.stack([f.latent[k] for f, k in picks])[:, None]            # (B, 1, N, P)
    x0 = torch.randn(x1.shape, generator=gen)
    t = torch.rand((cfg.notes_batch, 1), generator=gen)
    if cfg.notes_on_grid:
        grid = time_grid(model.config.sampler.notes_steps)[:-1]
        on_grid = torch.from_numpy(rng.random(cfg.notes_batch) < cfg.notes_on_grid)
        t[on_grid, 0] = grid[torch.from_numpy(rng.integers(len(grid), size=int(on_grid.sum())))]
    text = torch.stack([f.text for f, _ in picks])                        # (B, 384)
    text[torch.from_numpy(rng.random(cfg.notes_batch) < cfg.text_dropout)] = 0.0
    core = model.dynamics

    def first(name: str) -> torch.Tensor:
        return torch.stack([getattr(f, name)[:1] for f, _ in picks])      # (B, 1, ...) of frame 0

    tokens = core.embed_tokens(interpolate(x1, x0, t), first("cache"), first("valid"), first("plucker"))
    velocity = core(tokens, core.frame_condition(t, text[:, None, :], first("action")))
    return flow_matching_loss(velocity, x1, x0)


def look_step_loss(head: torch.nn.Module, texts: torch.Tensor, looks: torch.Tensor, rng: np.random.Generator,
                   batch: int) -> torch.Tensor:
    """Squared error of the look head on random frames: texts (clips, 384), looks (clips, frames, 6)."""
    clips = rng.integers(len(looks), size=batch)
    frames = rng.integers(looks.shape[1], size=batch)
    return (head(texts[clips]) - looks[clips, frames]).pow(2).mean()


# ---------------------------------------------------------------------------- checkpoints

def optimizer_tensors(optimizer: torch.optim.Optimizer, names: dict[torch.nn.Parameter, str]) -> dict:
    out = {}
    for param, state in optimizer.state.items():
        for key, value in state.items():
            out[f"optim.{names[param]}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return out


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, names: dict[torch.nn.Parameter, str],
                           tensors: dict[str, torch.Tensor]) -> None:
    for param, name in names.items():
        state = {key.rsplit(".", 1)[1]: value for key, value in tensors.items()
                 if key.startswith(f"optim.{name}.") and key.count(".") == name.count(".") + 2}
        if state:
            optimizer.state[param] = state


def step_generators(seed: int, stage: str, step: int, rank: int) -> tuple[np.random.Generator, torch.Generator]:
    key = [seed, STAGES.index(stage), step, rank]
    gen = torch.Generator().manual_seed(int(np.random.SeedSequence(key).generate_state(1)[0]))
    return np.random.default_rng(key), gen


# ---------------------------------------------------------------------------- the run

class Trainer:
    def __init__(self, config: WorldConfig, train_cfg: TrainConfig, data: Path, out: Path, resume: bool,
                 init: Path | None = None):
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        if self.distributed:
            dist.init_process_group("gloo")
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
        wrapped = DistributedDataParallel(module) if self.distributed else module
        optimizer, names = self._optimizer(stage)
        features = self.features() if stage == "dynamics" and self.step < total else None
        if stage == "look":
            texts = torch.from_numpy(embed_notes([c.caption for c in self.clips]))
            looks = torch.from_numpy(np.stack([look.frame_looks(c.rgb.astype(np.float32) / 255.0) for c in self.clips]))
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
        rgb = torch.from_numpy(np.stack([self.clips[c].rgb[f] for c, f in picks])).float() / 255.0
        depth = torch.from_numpy(np.stack([self.clips[c].depth[f] for c, f in picks]))
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


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = TrainConfig(ae_steps=args.ae_steps, steps=args.steps, look_steps=args.look_steps, batch=args.batch,
                      notes_batch=args.notes_batch, notes_on_grid=args.notes_on_grid, lr=args.lr,
                      checkpoint_every=args.checkpoint_every, sample_every=args.sample_every, seed=args.seed)
    trainer = Trainer(preset(args.config), cfg, args.data, args.out, args.resume, args.init)
    trainer.run()
    if trainer.distributed:
        dist.destroy_process_group()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime train", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
