"""What makes a training run resume bit for bit: the optimizer state as named tensors in the run's
checkpoint (`optim.<parameter>.<key>`, safetensors, no pickle), and random generators seeded by
(seed, stage, step, rank) for every step.
"""
from __future__ import annotations

import numpy as np
import torch

STAGES = ("autoencoder", "dynamics", "look")


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
        if state:  # moments beside their parameter (a run resumed on CUDA); the step count stays on the CPU
            optimizer.state[param] = {key: value if key == "step" else value.to(param.device)
                                      for key, value in state.items()}


def step_generators(seed: int, stage: str, step: int, rank: int) -> tuple[np.random.Generator, torch.Generator]:
    key = [seed, STAGES.index(stage), step, rank]
    gen = torch.Generator().manual_seed(int(np.random.SeedSequence(key).generate_state(1)[0]))
    return np.random.default_rng(key), gen
