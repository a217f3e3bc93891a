"""Few-step Euler sampler for the flow (Lipman et al. 2023), k-diffusion style signature."""
from __future__ import annotations

from typing import Callable

import torch

Velocity = Callable[[torch.Tensor, float], torch.Tensor]


def sample_euler(velocity: Velocity, x: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) over `times` (from time_grid)."""
    for i in range(len(times) - 1):
        t, t_next = float(times[i]), float(times[i + 1])
        x = x + (t_next - t) * velocity(x, t)
    return x
