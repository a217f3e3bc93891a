"""A patch critic for the painter's training (pix2pix's PatchGAN, Isola et al. 2017; hinge loss, Lim and Ye 2017).

L1 pays the painter for the mean of every texture a surface could carry, which
is blur; the texture-energy term asks for the right amount of gradient but not
for the look of it. The critic scores overlapping patches (receptive field
34 pixels) of the composited frame against ground-truth frames, given the
frame's blockout shading (so a sharp edge where the blockout has none is not
rewarded), and the painter is paid for patches the critic takes for real.
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


def critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the critic on scores of real and painted patches."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def painter_adversarial_loss(fake: torch.Tensor) -> torch.Tensor:
    """The painter's side: raise the critic's scores of its patches."""
    return -fake.mean()
