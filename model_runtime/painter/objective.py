"""The painter's training objective, scored on the frame the session shows: L1 where the painter paints,
plus matching the local texture energy of the whole composited frame.

At inference the memory is kept wherever it is valid (the composite stage), so
the network's pixels there are never seen: the L1 term counts only the pixels
the memory does not cover (every pixel for an example without a memory).
Scored everywhere, the network spends itself on copying the memory and paints
the uncovered ground as a grey mean (measured: 47 of 255 darker than ground
truth on a pan's new strip, where the same network without its memory is 14
darker), and a panning shot freezes that grey into the memory strip by strip.

L1 alone paints the mean of every texture the blockout could carry, which is
blur. The second term compares the local mean of the gradient magnitude
(8x8 windows) of the composited frame with the ground truth's, so the painter
is paid for drawing texture of the right strength, seams with the memory
included, even where it cannot know the exact pattern (the noise channel and
the world-fixed texture basis give it the freedom to). Windows count by their
share of painted pixels: averaged over the whole frame, the windows the memory
covers (no error there) diluted the term to a tenth of the L1 and it stopped
pulling (flat at 0.006 over 3,000 steps of the 2026-12-03 fine-tune).

Matching the mean gradient is not matching the texture's edges: the
painter met it with a fine plaid whose many moderate steps count as image
edges, where the ground truth's texture has fewer, so away from the blockout's
silhouettes its frames held 34% more edges than the ground truth's (8 val
clips: 0.278 of pixels near an edge at chance positions, ground truth 0.208)
and the silhouettes stood out less. The third term (`edge_weight`) compares
the local density of edges, a soft count of pixels whose Sobel gradient is
above the evaluation's edge threshold, in the same windows and with the same
weights as the energy term. The 500-step fine-tune that ships with it
overshot (0.143 at chance positions on the same clips); a root mean square
over the windows instead of this L1 moved that little (0.152) and was not kept.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

ENERGY_WEIGHT = 1.0
ENERGY_WINDOW = 8
EDGE_WEIGHT = 0.0
EDGE_GRADIENT = 0.04  # the evaluation's edge threshold (evaluation/painter_metrics.EDGE_GRADIENT)
EDGE_SOFTNESS = 0.01  # the soft edge count is 0.27 this far below EDGE_GRADIENT, 0.73 this far above


def _luma(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) Rec. 601 luma of (B, 3, H, W) RGB, as the evaluation weighs it."""
    return (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])[:, None]


def gradient_magnitude(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) magnitude of the luma's forward differences, zero-padded."""
    luma = _luma(rgb)
    gx = F.pad(luma[..., :, 1:] - luma[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(luma[..., 1:, :] - luma[..., :-1, :], (0, 0, 0, 1))
    return torch.sqrt(gx * gx + gy * gy + 1e-8)


def soft_edges(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) in (0, 1): how surely each pixel is an image edge as the evaluation counts them (the
    luma's Sobel magnitude over 8, reflected borders, against EDGE_GRADIENT), softened to train on."""
    luma = _luma(rgb)
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=rgb.device) / 8
    kernels = torch.stack([sobel_x, sobel_x.T])[:, None]
    g = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="reflect"), kernels)
    magnitude = torch.sqrt((g * g).sum(1, keepdim=True) + 1e-8)
    return torch.sigmoid((magnitude - EDGE_GRADIENT) / EDGE_SOFTNESS)


def _window_difference(shown: torch.Tensor, truth: torch.Tensor, painted_share: torch.Tensor) -> torch.Tensor:
    """Mean |difference| of the ENERGY_WINDOW-window means of two (B, 1, H, W) maps, windows weighted by their
    share of painted pixels."""
    windows = (F.avg_pool2d(shown, ENERGY_WINDOW) - F.avg_pool2d(truth, ENERGY_WINDOW)).abs()
    return (windows * painted_share).sum() / painted_share.sum().clamp(min=1.0)


def painter_loss(painted: torch.Tensor, truth: torch.Tensor, memory_rgb: torch.Tensor, kept: torch.Tensor,
                 energy_weight: float = ENERGY_WEIGHT, edge_weight: float = EDGE_WEIGHT
                 ) -> tuple[torch.Tensor, dict[str, float]]:
    """painted, truth, memory_rgb (B, 3, H, W) in [0, 1]; kept (B, 1, H, W), 1 where the memory is valid
    (the features' memory channels). Returns the loss and its parts."""
    new = 1 - kept
    l1 = ((painted - truth).abs() * new).sum() / (3 * new.sum()).clamp(min=1.0)
    shown = kept * memory_rgb + new * painted
    painted_share = F.avg_pool2d(new, ENERGY_WINDOW)
    energy = _window_difference(gradient_magnitude(shown), gradient_magnitude(truth), painted_share)
    edges = _window_difference(soft_edges(shown), soft_edges(truth), painted_share)
    return l1 + energy_weight * energy + edge_weight * edges, \
        {"l1": float(l1.detach()), "energy": float(energy.detach()), "edges": float(edges.detach())}
