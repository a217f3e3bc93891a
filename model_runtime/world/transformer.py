"""Causal, frame-autoregressive latent transformer (the world model's dynamics).

Each frame is N tokens (2x2 patches of the latent). A token attends to every
token of its own frame and of the `window` frames before it, never to later
frames, so frame t's output cannot depend on frames after t. A learned per-head
bias by frame age (0 = same frame) replaces absolute time positions: the model
behaves the same at frame 300 as at frame 10 (Press et al. 2022 use a fixed
linear bias; here it is learned over the short window). Training runs whole
clips in parallel under the block-causal mask with an independent noise level
per frame (diffusion forcing, Chen et al. 2024); inference runs one frame at a
time against a sliding KV window of clean context frames. Conditioning enters
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
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.unsqueeze(-1) * 1000.0 * freqs
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def per_frame(x: torch.Tensor, n_frames: int) -> torch.Tensor:
    """(B, T*N, C) tokens of T frames -> a (B, T, N, C) view, so per-frame values broadcast over tokens."""
    return x.view(x.shape[0], n_frames, -1, x.shape[-1])


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x (B, T*N, C) tokens; shift and scale (B, T, C) per frame, broadcast to the frame's tokens
    (materialising them per token cost as much as the MLP)."""
    T = shift.shape[1]
    return (per_frame(x, T) * (1.0 + scale[:, :, None]) + shift[:, :, None]).view(x.shape)


def gated(x: torch.Tensor, gate: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """x + gate * h, with the gate (B, T, C) per frame."""
    return x + (gate[:, :, None] * per_frame(h, gate.shape[1])).view(x.shape)


@dataclass
class LayerCache:
    """Keys and values of the context frames for one layer: (B, H, frames * N, hd) each, oldest first."""
    k: torch.Tensor
    v: torch.Tensor


class KVWindow:
    """The sliding window of one-frame inference: every layer's keys and values of the last `window` finished
    frames, oldest first, then a slot for the frame being made.

    Buffers of (layers, B, 2 (window + 1) N, H, hd), allocated once, hold each frame twice: in slot
    f mod (window + 1) and in the slot window + 1 after it. The window and the slot of the frame being made
    are then always window + 1 consecutive slots in time order, attended over as one view: nothing is
    concatenated per pass, and sliding the window copies one frame, not the window.
    """

    def __init__(self, n_layers: int, batch: int, n_tokens: int, n_heads: int, head_dim: int, window: int,
                 device: torch.device | str = "cpu"):
        shape = (n_layers, batch, 2 * (window + 1) * n_tokens, n_heads, head_dim)
        self.k, self.v = torch.zeros(shape, device=device), torch.zeros(shape, device=device)
        self.n_tokens, self.window = n_tokens, window
        self.count = 0  # frames committed since the start

    @property
    def frames(self) -> int:
        """Context frames in the window."""
        return min(self.count, self.window)

    def _first_slot(self) -> int:
        return 0 if self.count < self.window else (self.count + 1) % (self.window + 1)

    def _rows(self, slot: int) -> slice:
        return slice(slot * self.n_tokens, (slot + 1) * self.n_tokens)

    def attend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Put the frame's k, v (B, N, H, hd) in its slot; returns the window's and the slot's keys and values,
        (B, H, (frames + 1) * N, hd) each, oldest first."""
        first = self._first_slot()
        rows = slice(first * self.n_tokens, (first + self.frames + 1) * self.n_tokens)
        self.k[layer, :, self._rows(first + self.frames)] = k
        self.v[layer, :, self._rows(first + self.frames)] = v
        return self.k[layer, :, rows].transpose(1, 2), self.v[layer, :, rows].transpose(1, 2)

    def commit(self) -> None:
        """The frame in the slot becomes the newest context frame (the oldest leaves a full window)."""
        slot = self._first_slot() + self.frames
        twin = (slot + self.window + 1) % (2 * (self.window + 1))
        self.k[:, :, self._rows(twin)] = self.k[:, :, self._rows(slot)]
        self.v[:, :, self._rows(twin)] = self.v[:, :, self._rows(slot)]
        self.count += 1

    def layers(self) -> list[LayerCache]:
        """A copy of the context, per layer (B, H, frames * N, hd), e.g. for a snapshot."""
        first = self._first_slot()
        rows = slice(first * self.n_tokens, (first + self.frames) * self.n_tokens)
        return [LayerCache(k[:, rows].transpose(1, 2).clone(), v[:, rows].transpose(1, 2).clone())
                for k, v in zip(self.k, self.v)]

    def load(self, layers: list[LayerCache] | None) -> None:
        """Replace the context by `layers` (as `layers()` returns them; None: no context)."""
        self.count = 0 if not layers else layers[0].k.shape[2] // self.n_tokens
        end, twin = self.count * self.n_tokens, (self.window + 1) * self.n_tokens
        for i, layer in enumerate(layers or []):
            for start in (0, twin):
                self.k[i, :, start:start + end] = layer.k.transpose(1, 2)
                self.v[i, :, start:start + end] = layer.v.transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, d: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, L, d) -> q, k, v (B, L, H, hd) each."""
        B, L, d = x.shape
        return tuple(t.view(B, L, self.n_heads, d // self.n_heads) for t in self.qkv(x).split(d, dim=-1))

    def forward(self, x: torch.Tensor, bias: torch.Tensor, window: KVWindow | None, layer: int) -> torch.Tensor:
        """x (B, L, d); bias (H, L, L_keys) additive (-inf where masked). Keys are x's own, or with a
        `window` the context frames' and x's (x is one frame, its keys go into the window's slot)."""
        B, L, d = x.shape
        q, k, v = self.heads(x)
        keys, values = (k.transpose(1, 2), v.transpose(1, 2)) if window is None else window.attend(layer, k, v)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), keys, values, attn_mask=bias.unsqueeze(0))
        return self.proj(out.transpose(1, 2).reshape(B, L, d))  # (B, H, L, hd) -> (B, L, d)


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

    def forward(self, x: torch.Tensor, modulation: torch.Tensor, bias: torch.Tensor, window: KVWindow | None,
                layer: int) -> torch.Tensor:
        """x (B, T*N, d) tokens of T frames, modulation (B, T, 6d) per frame (`LatentDynamics.modulations`)."""
        s1, g1, a1, s2, g2, a2 = modulation.chunk(6, dim=-1)
        x = gated(x, a1, self.attn(modulate(self.norm1(x), s1, g1), bias, window, layer))
        return gated(x, a2, self.mlp(modulate(self.norm2(x), s2, g2)))

    def keys_into(self, x: torch.Tensor, modulation: torch.Tensor, window: KVWindow, layer: int) -> None:
        """Only this block's keys and values of x (one frame), into the window's slot."""
        s1, g1 = modulation.chunk(6, dim=-1)[:2]
        _, k, v = self.attn.heads(modulate(self.norm1(x), s1, g1))
        window.attend(layer, k, v)


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

    def modulations(self, cond: torch.Tensor) -> list[torch.Tensor]:
        """cond (B, T, d) -> the adaLN modulation of every block (B, T, 6d) and of the output (B, T, 2d).

        Inference computes them for all passes of a frame at once (one row per pass): the modulation weights
        are a third of the network, and reading them once per frame instead of once per pass saves that much.
        """
        c = F.silu(cond)
        return [block.modulation(c) for block in self.blocks] + [self.out_modulation(c)]

    def embed_tokens(self, noisy: torch.Tensor, cache: torch.Tensor, valid: torch.Tensor, plucker: torch.Tensor
                     ) -> torch.Tensor:
        """Each (B, T, N, *) -> (B, T, N, d)."""
        return self.token_in(torch.cat([noisy, cache, valid, plucker], dim=-1)) + self.position

    def new_window(self, batch: int = 1) -> KVWindow:
        cfg = self.config
        return KVWindow(cfg.n_layers, batch, self.n_tokens, cfg.n_heads, cfg.d_model // cfg.n_heads, cfg.window,
                        self.position.device)

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

    def _blocks(self, x: torch.Tensor, modulations: list[torch.Tensor], bias: torch.Tensor,
                window: KVWindow | None, count: int) -> torch.Tensor:
        for i, block in enumerate(self.blocks[:count]):
            x = block(x, modulations[i], bias[i], window, i)
        return x

    def _head(self, x: torch.Tensor, modulation: torch.Tensor) -> torch.Tensor:
        s, g = modulation.chunk(2, dim=-1)
        return self.out(modulate(self.norm_out(x), s, g))

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Training: tokens (B, T, N, d) embedded, cond (B, T, d) -> velocity (B, T, N, token_dim)."""
        B, T, N, d = tokens.shape
        frames = torch.arange(T, device=tokens.device)
        modulations = self.modulations(cond)
        x = self._blocks(tokens.reshape(B, T * N, d), modulations, self._age_bias(frames, frames, N), None,
                         len(self.blocks))                                      # (B, T*N, d)
        return self._head(x, modulations[-1]).view(B, T, N, -1)                 # (B, T*N, P) -> (B, T, N, P)

    def _window_bias(self, window: KVWindow) -> torch.Tensor:
        device = self.age_bias.device
        return self._age_bias(torch.tensor([window.frames], device=device),
                              torch.arange(window.frames + 1, device=device), self.n_tokens)

    def step(self, tokens: torch.Tensor, modulations: list[torch.Tensor], window: KVWindow) -> torch.Tensor:
        """Inference for one frame: tokens (B, N, d), modulations (B, 1, *) of this pass, attending to the
        window's context frames -> velocity (B, N, token_dim). The window is left as it was."""
        x = self._blocks(tokens, modulations, self._window_bias(window), window, len(self.blocks))
        return self._head(x, modulations[-1])

    def remember(self, tokens: torch.Tensor, modulations: list[torch.Tensor], window: KVWindow) -> None:
        """The clean pass of a finished frame: its keys and values join the window as the newest context.

        Only keys and values are kept, so the last block stops after them and the output head is skipped:
        the same keys and values as a full `step`, for 1/7 less work.
        """
        last = len(self.blocks) - 1
        x = self._blocks(tokens, modulations, self._window_bias(window), window, last)
        self.blocks[last].keys_into(x, modulations[last], window, last)
        window.commit()
