"""The painter network: a U-Net over the frame's features, modulated by the notes (FiLM).

The input is pixel-unshuffled by 2 first, so every convolution runs at half
size or less while the output is pixel-shuffled back to full resolution and
keeps the blockout's object edges (the full-resolution passes enter the first
layer whole). The notes embedding scales and shifts every level's features,
which is how the notes set the look (sky, light, weather) everywhere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from model_runtime.painter.features import feature_channels

NOTES_DIM = 384  # all-MiniLM-L6-v2


@dataclass(frozen=True)
class PainterConfig:
    widths: tuple[int, ...] = (32, 64, 128, 192)
    """Channels per level; level 0 runs at half the frame size, each next level at half the one before."""
    blocks: int = 1
    """Residual blocks per level and side."""
    notes_hidden: int = 256
    basis_frequencies: tuple[float, ...] = ()
    """Cycles per metre of the world-fixed texture basis among the features (painter/features.py); none
    for checkpoints from before it."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PainterConfig":
        unknown = set(data) - {"widths", "blocks", "notes_hidden", "basis_frequencies"}
        if unknown:
            raise ValueError(f"unknown painter config keys {sorted(unknown)}")
        return cls(widths=tuple(data["widths"]), blocks=int(data["blocks"]), notes_hidden=int(data["notes_hidden"]),
                   basis_frequencies=tuple(float(f) for f in data.get("basis_frequencies", ())))


PRESETS = {"painter-small": PainterConfig(),
           "painter-basis": PainterConfig(basis_frequencies=(0.5, 1.5, 4.0, 11.0))}


def _groups(channels: int) -> int:
    return 8 if channels % 8 == 0 else 1


class Block(nn.Module):
    """Pre-norm residual block; the notes' FiLM sits after the first normalisation."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(channels), channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(_groups(channels), channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        scale, shift = film[:, :, None, None].chunk(2, dim=1)
        h = self.norm1(x) * (1 + scale) + shift
        h = self.conv1(F.silu(h))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class PainterNet(nn.Module):
    def __init__(self, config: PainterConfig):
        super().__init__()
        self.config = config
        w = config.widths
        self.stem = nn.Conv2d(feature_channels(config.basis_frequencies) * 4, w[0], 3, padding=1)
        self.down_blocks = nn.ModuleList([nn.ModuleList([Block(c) for _ in range(config.blocks)]) for c in w])
        self.downs = nn.ModuleList([nn.Conv2d(w[i], w[i + 1], 3, stride=2, padding=1) for i in range(len(w) - 1)])
        self.ups = nn.ModuleList([nn.Conv2d(w[i + 1] + w[i], w[i], 3, padding=1) for i in range(len(w) - 1)])
        self.up_blocks = nn.ModuleList([nn.ModuleList([Block(c) for _ in range(config.blocks)]) for c in w[:-1]])
        self.head = nn.Sequential(nn.GroupNorm(_groups(w[0]), w[0]), nn.SiLU(), nn.Conv2d(w[0], 3 * 4, 3, padding=1))
        n_film = 2 * config.blocks * (sum(w) + sum(w[:-1]))
        self.notes = nn.Sequential(nn.Linear(NOTES_DIM, config.notes_hidden), nn.SiLU(),
                                   nn.Linear(config.notes_hidden, n_film))
        nn.init.zeros_(self.notes[-1].weight)
        nn.init.zeros_(self.notes[-1].bias)

    @staticmethod
    def multiple() -> int:
        return 2 ** 4  # unshuffle by 2, then one halving per level below the first (4 levels: 2 * 8)

    @staticmethod
    def input_length(length: int, before: int, after: int) -> int:
        """An axis of `length` pixels as the network takes it: margins of `before` and `after` pixels, then up
        to `multiple()`."""
        multiple = PainterNet.multiple()
        return -(-(length + before + after) // multiple) * multiple

    def forward(self, features: torch.Tensor, notes: torch.Tensor | None = None, *,
                films: torch.Tensor | None = None) -> torch.Tensor:
        """features (B, feature_channels(config.basis_frequencies), H, W) with H, W multiples of `multiple()`;
        notes (B, 384), or their `films` computed already. Returns RGB (B, 3, H, W) in [0, 1]."""
        films = iter((self.films(notes) if films is None else films).split(self._film_sizes(), dim=1))
        x = self.stem(F.pixel_unshuffle(features, 2))
        skips = []
        for level, blocks in enumerate(self.down_blocks):
            for block in blocks:
                x = block(x, next(films))
            if level < len(self.downs):
                skips.append(x)
                x = self.downs[level](x)
        for level in reversed(range(len(self.ups))):
            x = F.interpolate(x, size=skips[level].shape[-2:], mode="nearest")
            x = self.ups[level](torch.cat([x, skips[level]], dim=1))
            for block in self.up_blocks[level]:
                x = block(x, next(films))
        return torch.sigmoid(F.pixel_shuffle(self.head(x), 2))

    def films(self, notes: torch.Tensor) -> torch.Tensor:
        """The notes' scales and shifts of every block, (B, 2 * channels over the blocks): one notes embedding
        paints many boxes, so inference computes this once per notes."""
        return self.notes(notes)

    def _film_sizes(self) -> list[int]:
        w, n = self.config.widths, self.config.blocks
        down = [2 * c for c in w for _ in range(n)]
        up = [2 * w[level] for level in reversed(range(len(w) - 1)) for _ in range(n)]
        return down + up
