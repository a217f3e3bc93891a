"""Which generators the runtime can run, by name; each is built on first use and then kept warm."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable

from model_runtime.models.baselines import CopyFirstFrame, DepthWarp
from model_runtime.models.interface import FrameGenerator

DEFAULT_MODEL = "oyster-painter"
LIVE_MODEL = "oyster-painter"  # live mode paints the viewport camera's passes, frame by frame


def _world_model(device: str) -> FrameGenerator:
    from model_runtime.world.generator import OysterWorldModel  # torch and the text encoder load only when asked

    return OysterWorldModel(device=device)


def _painter(device: str, use_memory: bool = True) -> FrameGenerator:
    from model_runtime.painter.session import PainterModel  # torch loads only when asked

    return PainterModel(use_memory=use_memory, device=device) if use_memory else \
        PainterModel(name="oyster-painter-no-memory", use_memory=False, device=device)


# name -> factory(device): the baselines are numpy and run on the CPU whatever the device
FACTORIES: dict[str, Callable[[str], FrameGenerator]] = {
    "oyster-tiny": _world_model,
    "oyster-painter": _painter,
    "oyster-painter-no-memory": lambda device: _painter(device, use_memory=False),
    "copy-first-frame": lambda device: CopyFirstFrame(),
    "depth-warp": lambda device: DepthWarp(),
}


class UnknownModelError(KeyError):
    def __str__(self) -> str:
        return f"unknown model {self.args[0]!r}; available: {', '.join(FACTORIES)}"


@lru_cache(maxsize=None)
def get_generator(name: str, device: str = "cpu") -> FrameGenerator:
    """The named generator, or a checkpoint path (`*.safetensors`) of the world model, on `device` (a resolved
    torch device: `cpu` or `cuda:N`, model_runtime/models/device.py)."""
    if name.endswith(".safetensors"):
        from model_runtime.world.generator import OysterWorldModel

        return OysterWorldModel(Path(name), name=Path(name).stem, device=device)
    if name not in FACTORIES:
        raise UnknownModelError(name)
    return FACTORIES[name](device)


def available_models() -> list[str]:
    return list(FACTORIES)
