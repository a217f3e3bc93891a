"""The painter's training objective: L1 on the pixels plus matching the local texture energy.

L1 alone paints the mean of every texture the blockout could carry, which is
blur. The second term compares the local mean of the gradient magnitude
(8x8 windows) of the painted frame with the ground truth's, so the painter is
paid for drawing texture of the right strength even where it cannot know the
exact pattern (the noise channel gives it the freedom to).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

ENERGY_WEIGHT = 1.0
ENERGY_WINDOW = 8


def gradient_magnitude(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) magnitude of the luma's forward differences, zero-padded."""
    luma = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])[:, None]
    gx = F.pad(luma[..., :, 1:] - luma[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(luma[..., 1:, :] - luma[..., :-1, :], (0, 0, 0, 1))
    return torch.sqrt(gx * gx + gy * gy + 1e-8)


def painter_loss(painted: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Both (B, 3, H, W) in [0, 1]; returns the loss and its parts."""
    l1 = (painted - truth).abs().mean()
    energy = (F.avg_pool2d(gradient_magnitude(painted), ENERGY_WINDOW)
              - F.avg_pool2d(gradient_magnitude(truth), ENERGY_WINDOW)).abs().mean()
    return l1 + ENERGY_WEIGHT * energy, {"l1": float(l1.detach()), "energy": float(energy.detach())}
