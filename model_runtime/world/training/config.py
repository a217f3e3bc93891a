"""The world model's training run settings: steps, batches, learning rates and the objectives' shares and
weights. The trainer runs them; the objectives read their shares and weights."""
from __future__ import annotations

from dataclasses import dataclass


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
