"""A patch critic for the painter's training (pix2pix's PatchGAN, Isola et al. 2017; hinge loss, Lim and Ye 2017).

L1 pays the painter for the mean of every texture a surface could carry, which
is blur; the texture-energy term asks for the right amount of gradient but not
for the look of it. The critic scores overlapping patches (receptive field
34 pixels) of the composited frame against ground-truth frames, given the
frame's blockout shading (so a sharp edge where the blockout has none is not
rewarded), and the painter is paid for patches the critic takes for real.
Painted patches count by their share of painted pixels (`painted_share`):
where a training example's memory covers the frame, the composite is the
ground truth itself, and scoring those patches as fakes taught the critic
nothing (it stayed at chance, hinge loss 1.99 after 75 steps, measured).
Training only: the shipped painter is the generator alone.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm


class PatchCritic(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        layers, channels = [], 4  # RGB + the blockout's shading
        for out, stride in ((width, 2), (2 * width, 2), (4 * width, 2), (4 * width, 1)):
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, stride, 1)), nn.LeakyReLU(0.2)]
            channels = out
        layers.append(spectral_norm(nn.Conv2d(channels, 1, 3, 1, 1)))
        self.body = nn.Sequential(*layers)

    def forward(self, rgb: torch.Tensor, shade: torch.Tensor) -> torch.Tensor:
        """rgb (B, 3, H, W) in [0, 1], shade (B, 1, H, W) in [0, 1] -> patch scores (B, 1, H/8, W/8)."""
        return self.body(torch.cat([rgb * 2 - 1, shade * 2 - 1], dim=1))


def painted_share(new: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w): the share of painted pixels (`new`, (B, 1, H, W), 1 where the painter's pixels show)
    in each patch the critic scores (`scores`, (B, 1, h, w))."""
    return F.adaptive_avg_pool2d(new, scores.shape[-2:])


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    return values.mean() if weight is None else (values * weight).sum() / weight.sum().clamp(min=1e-6)


def critic_loss(real: torch.Tensor, fake: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Hinge loss of the critic on scores of real and painted patches (these weighted by `weight`)."""
    return F.relu(1 - real).mean() + _weighted_mean(F.relu(1 + fake), weight)


def painter_adversarial_loss(fake: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The painter's side: raise the critic's scores of its patches (weighted by `weight`)."""
    return -_weighted_mean(fake, weight)
