"""Causal, frame-autoregressive latent transformer (the world model's dynamics).

Each frame is N tokens (2x2 patches of the latent). A token attends to every
token of its own frame and of the `window` frames before it, never to later
frames, so frame t's output cannot depend on frames after t. A learned per-head
bias by frame age (0 = same frame) replaces absolute time positions: the model
behaves the same at frame 300 as at frame 10 (Press et al. 2022 use a fixed
linear bias; here it is learned over the short window). Training runs whole
clips in parallel under the block-causal mask with an independent noise level
per frame (diffusion forcing, Chen et al. 2024); inference runs one frame at a
time against a sliding KV cache of clean context frames. Conditioning enters
through adaLN-Zero modulation (Peebles & Xie 2023): per frame, the flow time,
the scene-notes embedding and the camera action.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from model_runtime.world.conditioning import ACTION_DIM, PLUCKER_DIM
from model_runtime.world.config import DynamicsConfig


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of flow times in [0, 1]: (...,) -> (..., dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.unsqueeze(-1) * 1000.0 * freqs
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1.0 + scale) + shift


def per_token(frame_values: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """(B, T, C) per frame -> (B, T*N, C), each frame's value for each of its N tokens (frames in order)."""
    B, T, C = frame_values.shape
    return frame_values[:, :, None, :].expand(B, T, n_tokens, C).reshape(B, T * n_tokens, C)


@dataclass
class LayerCache:
    """Keys and values of the context frames for one layer: (B, H, frames * N, hd) each, oldest first."""
    k: torch.Tensor
    v: torch.Tensor


class Attention(nn.Module):
    def __init__(self, d: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, past: LayerCache | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, L, d); bias (H, L, L_past + L) additive (-inf where masked). Returns (out, k, v) of x."""
        B, L, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        # (B, L, d) -> (B, H, L, hd)
        q, k, v = (t.view(B, L, self.n_heads, d // self.n_heads).transpose(1, 2) for t in (q, k, v))
        keys, values = (k, v) if past is None else (torch.cat([past.k, k], 2), torch.cat([past.v, v], 2))
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=bias.unsqueeze(0))
        out = out.transpose(1, 2).reshape(B, L, d)  # (B, H, L, hd) -> (B, L, d)
        return self.proj(out), k, v


class Block(nn.Module):
    def __init__(self, config: DynamicsConfig):
        super().__init__()
        d = config.d_model
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.attn = Attention(d, config.n_heads)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(d, config.mlp_ratio * d), nn.GELU(), nn.Linear(config.mlp_ratio * d, d))
        self.modulation = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.modulation.weight)  # adaLN-Zero: every block starts as the identity
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, bias: torch.Tensor, past: LayerCache | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T*N, d) tokens of T frames, cond (B, T, d) per frame.

        The modulation is computed per frame and broadcast to its tokens: per token it cost as much as the MLP.
        """
        n_tokens = x.shape[1] // cond.shape[1]
        s1, g1, a1, s2, g2, a2 = per_token(self.modulation(F.silu(cond)), n_tokens).chunk(6, dim=-1)
        h, k, v = self.attn(modulate(self.norm1(x), s1, g1), bias, past)
        x = x + a1 * h
        x = x + a2 * self.mlp(modulate(self.norm2(x), s2, g2))
        return x, k, v


class LatentDynamics(nn.Module):
    """Predicts the flow velocity of each frame's latent tokens given earlier frames and conditioning."""

    def __init__(self, config: DynamicsConfig, token_dim: int, valid_dim: int, n_tokens: int):
        super().__init__()
        self.config = config
        d = config.d_model
        self.n_tokens = n_tokens
        # per token: noisy latent patch, cache-render latent patch, cache validity, Plücker ray
        self.token_in = nn.Linear(2 * token_dim + valid_dim + PLUCKER_DIM, d)
        self.position = nn.Parameter(torch.zeros(n_tokens, d))
        nn.init.normal_(self.position, std=0.02)
        self.time_in = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.text_in = nn.Linear(config.text_dim, d)
        self.action_in = nn.Sequential(nn.Linear(ACTION_DIM, d), nn.SiLU(), nn.Linear(d, d))
        self.age_bias = nn.Parameter(torch.zeros(config.n_layers, config.n_heads, config.window + 1))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False)
        self.out_modulation = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, token_dim)
        for layer in (self.out_modulation, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def frame_condition(self, t: torch.Tensor, text: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """t (B, T), text (B, T, text_dim), action (B, T, ACTION_DIM) -> (B, T, d)."""
        return self.time_in(timestep_embedding(t, self.config.d_model)) + self.text_in(text) + self.action_in(action)

    def embed_tokens(self, noisy: torch.Tensor, cache: torch.Tensor, valid: torch.Tensor, plucker: torch.Tensor
                     ) -> torch.Tensor:
        """Each (B, T, N, *) -> (B, T, N, d)."""
        return self.token_in(torch.cat([noisy, cache, valid, plucker], dim=-1)) + self.position

    def _age_bias(self, query_frames: torch.Tensor, key_frames: torch.Tensor, n_tokens: int) -> torch.Tensor:
        """Learned bias by frame age, -inf outside [0, window] (future or too old).

        query_frames (Tq,) and key_frames (Tk,) are frame indices; the table is gathered per frame pair and
        broadcast to tokens (a per-token gather cost as much as the attention). Returns
        (layers, H, Tq*N, Tk*N), or (layers, H, 1, Tk*N) for one query frame (broadcast over its tokens).
        """
        age = query_frames[:, None] - key_frames[None, :]                       # (Tq, Tk)
        allowed = (age >= 0) & (age <= self.config.window)
        bias = self.age_bias[:, :, age.clamp(0, self.config.window)]             # (layers, H, Tq, Tk)
        bias = bias.masked_fill(~allowed, float("-inf"))
        L, H, Tq, Tk = bias.shape
        bias = bias[..., None].expand(L, H, Tq, Tk, n_tokens).reshape(L, H, Tq, Tk * n_tokens)
        if Tq == 1:
            return bias
        return bias[:, :, :, None, :].expand(L, H, Tq, n_tokens, Tk * n_tokens).reshape(
            L, H, Tq * n_tokens, Tk * n_tokens)                                 # (layers, H, Tq*N, Tk*N)

    def _run(self, x: torch.Tensor, cond: torch.Tensor, query_frames: torch.Tensor,
             past: list[LayerCache] | None, past_frames: torch.Tensor | None
             ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """x (B, T*N, d) query tokens of T frames, cond (B, T, d) per frame, query_frames (T,) frame indices,
        past_frames (T_past,) the frame indices of the cached keys."""
        n_tokens = x.shape[1] // cond.shape[1]
        key_frames = query_frames if past_frames is None else torch.cat([past_frames, query_frames])
        bias = self._age_bias(query_frames, key_frames, n_tokens)
        new_kv = []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, cond, bias[i], None if past is None else past[i])
            new_kv.append((k, v))
        s, g = per_token(self.out_modulation(F.silu(cond)), n_tokens).chunk(2, dim=-1)
        return self.out(modulate(self.norm_out(x), s, g)), new_kv

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Training: tokens (B, T, N, d) embedded, cond (B, T, d) -> velocity (B, T, N, token_dim)."""
        B, T, N, d = tokens.shape
        x = tokens.reshape(B, T * N, d)                                          # (B, T*N, d)
        out, _ = self._run(x, cond, torch.arange(T), None, None)
        return out.view(B, T, N, -1)                                             # (B, T*N, P) -> (B, T, N, P)

    def step(self, tokens: torch.Tensor, cond: torch.Tensor, past: list[LayerCache] | None, n_past: int
             ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Inference for one frame: tokens (B, N, d), cond (B, d), `n_past` context frames in `past`.

        Returns the velocity (B, N, token_dim) and this frame's (k, v) per layer, which the caller
        appends to the cache when the frame is final (clean pass).
        """
        query = torch.tensor([n_past])
        past_frames = torch.arange(n_past) if n_past else None
        return self._run(tokens, cond[:, None, :], query, past if n_past else None, past_frames)
