"""Flow matching (Lipman et al. 2023, "Flow Matching for Generative Modeling"), rectified-flow form.

Path x_t = t * x1 + (1 - t) * x0 from noise x0 (t = 0) to data x1 (t = 1); the
network predicts the velocity x1 - x0. Pure functions: the network, this loss and
the sampler stay separate.
"""
from __future__ import annotations

import torch


def interpolate(x1: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Point on the straight path at time t; t broadcasts over the trailing dimensions of x."""
    t = t.reshape(t.shape + (1,) * (x1.dim() - t.dim()))
    return t * x1 + (1.0 - t) * x0


def flow_matching_loss(velocity: torch.Tensor, x1: torch.Tensor, x0: torch.Tensor,
                       weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between the predicted and the true velocity x1 - x0.

    `weight` (broadcast like t over the leading dimensions) excludes or weights items, e.g. the frames
    given as clean context, which carry no velocity to learn.
    """
    error = (velocity - (x1 - x0)).pow(2)
    if weight is None:
        return error.mean()
    weight = weight.reshape(weight.shape + (1,) * (error.dim() - weight.dim()))
    return (error * weight).sum() / (weight.expand_as(error).sum().clamp_min(1.0))


def time_grid(steps: int) -> torch.Tensor:
    """Uniform grid of `steps + 1` times from 0 (noise) to 1 (data)."""
    if steps < 1:
        raise ValueError("a sampler needs at least one step")
    return torch.linspace(0.0, 1.0, steps + 1)
