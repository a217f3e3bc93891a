"""The world model's training objectives, one loss per stage: the autoencoder's reconstruction, the
dynamics' flow matching over clip windows (with frames made from the notes alone), the notes' look head.

Each takes the step's random generators (`resume.step_generators`), so a step's loss is a function
of (seed, stage, step, rank) and the weights.
"""
from __future__ import annotations

import numpy as np
import torch

from model_runtime.data.shards import Clip
from model_runtime.world.autoencoder import autoencoder_loss
from model_runtime.world.flow import flow_matching_loss, interpolate, time_grid
from model_runtime.world.model import WorldModel
from model_runtime.world.training.config import TrainConfig
from model_runtime.world.training.features import ClipFeatures


def autoencoder_step_loss(model: WorldModel, autoencoder: torch.nn.Module, clips: list[Clip],
                          rng: np.random.Generator, batch: int) -> torch.Tensor:
    """L1 reconstruction of a batch of random frames; `autoencoder` may be the DDP-wrapped module."""
    picks = [(int(c), int(rng.integers(len(clips[c].rgb)))) for c in rng.integers(len(clips), size=batch)]
    device = model.latent_mean.device
    rgb = torch.from_numpy(np.stack([clips[c].rgb[f] for c, f in picks])).to(device).float() / 255.0
    depth = torch.from_numpy(np.stack([clips[c].depth[f] for c, f in picks])).to(device)
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

    x1 = stack("latent")                                                  # (B, T, N, P), on the model's device
    x0 = torch.randn(x1.shape, generator=gen).to(x1.device)               # drawn on the CPU: the same on any device
    t = torch.rand((cfg.batch, T), generator=gen).to(x1.device)
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
    x0 = torch.randn(x1.shape, generator=gen).to(x1.device)
    t = torch.rand((cfg.notes_batch, 1), generator=gen).to(x1.device)
    if cfg.notes_on_grid:
        grid = time_grid(model.config.sampler.notes_steps)[:-1]
        on_grid = torch.from_numpy(rng.random(cfg.notes_batch) < cfg.notes_on_grid)
        t[on_grid, 0] = grid[torch.from_numpy(rng.integers(len(grid), size=int(on_grid.sum())))].to(t.device)
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
