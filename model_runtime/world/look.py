"""The notes' look: the colour statistics a frame of these notes has, and the grade that gives them to a frame.

A frame's look is its per-channel RGB mean and log standard deviation (six numbers).
The look head is a small MLP from the notes embedding to those six numbers, trained
on every frame of the training clips (`train`, stage "look"). The latent transformer
draws a frame from the notes alone with the right light in broad strokes but its
colours off for many notes (a sunny valley comes out dark olive, docs/world_model.md);
grading that frame to the head's look puts the exposure and colour where the notes
say. Notes events use the same head for the look they fade into.

The grade is a per-channel gain and offset (Reinhard et al. 2001, "Color transfer
between images"), the gain clipped so that a flat channel never blows up.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model_runtime.world.config import LookConfig

LOOK_DIM = 6              # RGB mean, RGB log standard deviation
MIN_STD = 1e-3            # a flat channel's spread, so its logarithm stays finite
GAIN_RANGE = (0.2, 5.0)
IDENTITY_GRADE = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], np.float32)  # per channel: gain, offset


class NotesLook(nn.Module):
    def __init__(self, config: LookConfig, text_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(text_dim, config.hidden), nn.SiLU(), nn.Linear(config.hidden, LOOK_DIM))

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        """(B, text_dim) notes embeddings -> (B, 6) looks."""
        return self.net(text)


def frame_looks(rgb: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) RGB in [0, 1] -> (..., 6): each frame's per-channel mean and log standard deviation."""
    pixels = rgb.reshape(*rgb.shape[:-3], -1, 3)
    return np.concatenate([pixels.mean(-2), np.log(np.maximum(pixels.std(-2), MIN_STD))], -1).astype(np.float32)


def grade_to(source: np.ndarray, look: np.ndarray) -> np.ndarray:
    """The per-channel (gain, offset), shape (2, 3), that gives `source` (H, W, 3) the mean and spread of `look`."""
    own = frame_looks(source)
    gain = np.clip(np.exp(look[3:] - own[3:]), *GAIN_RANGE)
    return np.stack([gain, look[:3] - gain * own[:3]]).astype(np.float32)


def apply_grade(rgb: np.ndarray, grade: np.ndarray) -> np.ndarray:
    return rgb * grade[0] + grade[1]
