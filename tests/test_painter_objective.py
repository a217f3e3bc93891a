"""The painter's training objective and examples: what the loss scores, where crops fall, the frame margin."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from model_runtime.painter.examples import EDGE_CROP_SHARE, _crop_origin
from model_runtime.evaluation.painter_metrics import image_edges
from model_runtime.painter.objective import painter_loss, soft_edges
from model_runtime.painter.session import EDGE_MARGIN, pad_to


def _frames(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    truth = torch.rand(2, 3, 32, 48, generator=g)
    kept = torch.zeros(2, 1, 32, 48)
    kept[..., :, :24] = 1  # the memory covers the left half
    return truth, truth.clone(), truth * kept, kept


def test_the_loss_ignores_what_the_memory_covers_and_scores_the_rest():
    truth, painted, memory, kept = _frames()
    exact, _ = painter_loss(painted, truth, memory, kept)
    assert float(exact) < 1e-3
    painted_under_memory = painted.clone()
    painted_under_memory[..., :, :24] = 0.5  # never shown: the composite keeps the memory there
    hidden, parts = painter_loss(painted_under_memory, truth, memory, kept)
    assert parts["l1"] == 0.0 and float(hidden) == float(exact)
    painted_new = painted.clone()
    painted_new[..., :, 24:] = 0.5  # the new ground, grey
    grey, parts = painter_loss(painted_new, truth, memory, kept)
    assert parts["l1"] > 0.2 and parts["energy"] > 0.01 and float(grey) > float(exact) + 0.2


def test_without_a_memory_every_pixel_counts():
    truth, painted, _, kept = _frames()
    painted[..., :, :24] = 0.5
    _, parts = painter_loss(painted, truth, torch.zeros_like(truth), torch.zeros_like(kept))
    assert 0.1 < parts["l1"] < 0.2  # half of the frame off by ~0.25 on average


def test_the_energy_weight_scales_only_the_texture_term():
    truth, painted, memory, kept = _frames(1)
    flat = torch.full_like(painted, 0.5)  # no texture at all: the energy term is large
    base, parts = painter_loss(flat, truth, memory * 0, kept * 0)
    plain, _ = painter_loss(flat, truth, memory * 0, kept * 0, energy_weight=0.0)
    heavy, _ = painter_loss(flat, truth, memory * 0, kept * 0, energy_weight=4.0)
    assert parts["energy"] > 0.05
    assert abs(float(plain) - parts["l1"]) < 1e-6
    assert abs(float(heavy) - (parts["l1"] + 4 * parts["energy"])) < 1e-5
    assert float(base) < float(heavy)


def test_the_texture_term_counts_windows_by_their_painted_share():
    """A flat painted strip beside an exact memory: the texture term is the strip's own error, not diluted by
    the windows the memory covers (however large the memory)."""
    g = torch.Generator().manual_seed(2)
    truth = torch.rand(1, 3, 32, 64, generator=g)
    energies = []
    for covered in (16, 48):
        kept = torch.zeros(1, 1, 32, 64)
        kept[..., :covered] = 1
        painted = torch.full_like(truth, 0.5)
        _, parts = painter_loss(painted, truth, truth * kept, kept)
        energies.append(parts["energy"])
    assert energies[0] > 0.05 and abs(energies[0] - energies[1]) < 0.05 * energies[0]  # whole-frame mean: 3x


def test_the_soft_edges_are_the_evaluations_edges_and_the_edge_term_counts_edges_not_gradient():
    g = torch.Generator().manual_seed(3)
    truth = 0.4 + 0.2 * torch.rand(1, 3, 32, 48, generator=g)
    truth[..., 24:] += 0.3  # one strong step: an edge on both sides of it
    frame = np.round(truth[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    quantised = torch.from_numpy(frame.astype(np.float32) / 255).permute(2, 0, 1)[None]
    soft = soft_edges(quantised)[0, 0].numpy()
    hard = image_edges(frame)
    assert ((soft > 0.5) == hard).mean() > 0.98 and hard.any() and not hard.all()
    # a fine plaid over the ground truth: steps above the threshold at most pixels, which the edge term counts
    kept = torch.zeros(1, 1, 32, 48)
    bands = (torch.arange(48) // 2 % 2).float() * 0.06
    plaid = truth + bands[None, None, :32, None] + bands[None, None, None, :]  # 2-pixel bands both ways
    _, same = painter_loss(truth, truth, truth * 0, kept, edge_weight=1.0)
    _, busy = painter_loss(plaid, truth, truth * 0, kept, edge_weight=1.0)
    assert same["edges"] < 1e-6 and busy["edges"] > 0.3
    total, parts = painter_loss(plaid, truth, truth * 0, kept, energy_weight=0.0, edge_weight=2.0)
    assert abs(float(total) - (parts["l1"] + 2 * parts["edges"])) < 1e-5


def test_edge_crops_touch_the_border_in_their_share():
    rng = np.random.default_rng(0)
    origins = [_crop_origin(rng, 100) for _ in range(4000)]
    at_border = np.mean([o in (0, 100) for o in origins])
    assert abs(at_border - EDGE_CROP_SHARE) < 0.04
    assert min(origins) == 0 and max(origins) == 100


def test_the_margin_is_reflected_on_every_side_and_sizes_are_multiples():
    features = np.arange(2 * 36 * 64, dtype=np.float32).reshape(2, 36, 64)
    padded = pad_to(features)
    assert padded.shape[1] % 16 == 0 and padded.shape[2] % 16 == 0
    m = EDGE_MARGIN
    assert np.array_equal(padded[:, m:m + 36, m:m + 64], features)
    assert np.array_equal(padded[:, m, m - 1], features[:, 0, 1])  # reflected, not zeros


def test_a_large_shot_is_painted_at_the_native_size_with_the_full_size_edges():
    from model_runtime.painter.native import guided_upsample, native_size, scaled_frame

    assert native_size(384, 216) == (384, 216) and native_size(1920, 1080) == (384, 216)
    frame = {"fx": 1000.0, "fy": 1000.0, "cx": 960.0, "cy": 540.0, "c2w": np.eye(4).tolist()}
    small = scaled_frame(frame, 1920, 1080, (384, 216))
    assert (small["fx"], small["cx"], small["cy"]) == (200.0, 192.0, 108.0)
    # a near box (2 m) on a far wall (10 m); its left edge at x = 101 at full size, between native pixels
    full = np.full((64, 256), 10.0, np.float32)
    full[:, 101:] = 2.0
    native = full[:, 2::4]  # nearest samples of a 4x smaller painting
    painted = np.where(native[..., None] < 5, 200, 40).astype(np.uint8).repeat(3, -1)
    up = guided_upsample(painted, native, full)
    assert up.shape == (64, 256, 3)
    assert (up[:, :101] < 45).all() and (up[:, 101:] > 195).all()  # the edge where the full-size depth puts it
    bilinear = cv2.resize(painted, (256, 64), interpolation=cv2.INTER_LINEAR)
    assert ((bilinear[0, :, 0] > 45) & (bilinear[0, :, 0] < 195)).sum() >= 2  # what plain upsampling blurs


def test_the_critic_counts_painted_patches_by_their_share_of_painted_pixels():
    from model_runtime.painter.critic import critic_loss, painted_share, painter_adversarial_loss

    new = torch.zeros(1, 1, 16, 16)
    new[..., :, 8:] = 1.0                     # the painter's pixels show on the right half only
    scores = torch.zeros(1, 1, 2, 2)
    share = painted_share(new, scores)
    assert share.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    fake = torch.tensor([[[[5.0, -1.0], [5.0, -1.0]]]])  # the remembered (truth) patches scored "real"
    real = torch.ones(1, 1, 2, 2)
    assert float(critic_loss(real, fake, share)) == 0.0  # only the painted patches count: judged fake
    assert float(critic_loss(real, fake)) > 0.0
    assert float(painter_adversarial_loss(fake, share)) == 1.0
