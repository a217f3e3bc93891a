"""Frame autoencoder: RGB + inverse depth to a compact latent and back.

A plain convolutional autoencoder (no KL term: the dynamics model works on
normalised latents and the decoder only ever sees what the encoder makes or what
the flow sampler produces near it). Depth travels as inverse depth in 1/metres
so that the sky (infinite depth) is simply 0 and near geometry gets the
resolution it needs.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from model_runtime.world.config import AutoencoderConfig

INPUT_CHANNELS = 4  # RGB in [-1, 1] + inverse depth in 1/m (clamped to [0, 2])
MAX_INV_DEPTH = 2.0  # nearer than 0.5 m is clamped: previs cameras do not live that close


def depth_to_inv(depth: torch.Tensor) -> torch.Tensor:
    """z-depth in metres (inf or 0 for sky) -> inverse depth in [0, MAX_INV_DEPTH]."""
    inv = torch.where(torch.isfinite(depth) & (depth > 0), 1.0 / depth.clamp_min(1e-6), torch.zeros_like(depth))
    return inv.clamp(0.0, MAX_INV_DEPTH)


def inv_to_depth(inv: torch.Tensor, sky_below: float = 2e-3) -> torch.Tensor:
    """Inverse depth back to z-depth; values under `sky_below` (beyond 500 m) are sky (inf)."""
    return torch.where(inv > sky_below, 1.0 / inv.clamp_min(sky_below), torch.full_like(inv, float("inf")))


def _stage(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.GroupNorm(min(8, c_out), c_out),
                         nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1), nn.SiLU())


class FrameAutoencoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        chans = config.channels
        self.stem = nn.Conv2d(INPUT_CHANNELS, chans[0], 3, padding=1)
        self.down = nn.ModuleList(_stage(c_in, c_out, 2) for c_in, c_out in zip((chans[0],) + chans[:-1], chans))
        self.to_latent = nn.Conv2d(chans[-1], config.latent_channels, 1)
        self.from_latent = nn.Conv2d(config.latent_channels, chans[-1], 3, padding=1)
        rev = chans[::-1]
        self.up = nn.ModuleList(_stage(c_in, c_out, 1) for c_in, c_out in zip(rev, rev[1:] + (chans[0],)))
        self.head = nn.Conv2d(chans[0], INPUT_CHANNELS, 3, padding=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 4, H, W) -> latent (B, C, H/8, W/8)."""
        h = self.stem(x)
        for stage in self.down:
            h = stage(h)
        return self.to_latent(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """latent (B, C, h, w) -> (B, 4, 8h, 8w): RGB in [-1, 1] (unclamped) and inverse depth."""
        h = F.silu(self.from_latent(z))
        for stage in self.up:
            h = stage(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def autoencoder_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 on RGB plus L1 on inverse depth (both channels-first, same scale)."""
    return (recon - target).abs().mean()
