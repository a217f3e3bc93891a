"""The world model as one module: frame autoencoder + latent dynamics + the notes' look + latent normalisation.

Also the conversions between frames and tokens that training and inference
share, so both see exactly the same inputs.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from model_runtime.world.autoencoder import FrameAutoencoder, depth_to_inv, inv_to_depth
from model_runtime.world.config import WorldConfig
from model_runtime.world.look import NotesLook
from model_runtime.world.transformer import LatentDynamics


class WorldModel(nn.Module):
    def __init__(self, config: WorldConfig):
        super().__init__()
        config.validate()
        self.config = config
        c, p = config.autoencoder.latent_channels, config.dynamics.patch
        self.token_dim = c * p * p
        self.valid_dim = p * p
        self.autoencoder = FrameAutoencoder(config.autoencoder)
        self.dynamics = LatentDynamics(config.dynamics, self.token_dim, self.valid_dim, config.tokens_per_frame)
        self.look = NotesLook(config.look, config.dynamics.text_dim)
        # per-channel latent statistics, measured after the autoencoder stage, so the flow sees unit scale
        self.register_buffer("latent_mean", torch.zeros(c))
        self.register_buffer("latent_std", torch.ones(c))

    def for_inference(self) -> "WorldModel":
        """Eval mode with the autoencoder's weights channels-last: oneDNN's NHWC convolutions run it about
        1.5x faster on a CPU (its activations follow the weights' layout; same results up to float rounding)."""
        self.autoencoder.to(memory_format=torch.channels_last)
        return self.eval()

    # ------------------------------------------------------------------ frames <-> autoencoder input

    @property
    def _pad(self) -> tuple[int, int]:
        top = (self.config.padded_height - self.config.height) // 2
        return top, self.config.padded_height - self.config.height - top

    def frame_input(self, rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """rgb (B, H, W, 3) in [0, 1], depth (B, H, W) metres -> (B, 4, H_pad, W) autoencoder input."""
        x = torch.cat([rgb.permute(0, 3, 1, 2) * 2.0 - 1.0, depth_to_inv(depth).unsqueeze(1)], dim=1)
        return F.pad(x, (0, 0, *self._pad), mode="replicate")

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H_pad, W) -> (B, C, H, W): drop the pad rows."""
        top = self._pad[0]
        return x[:, :, top:top + self.config.height]

    def decode_frames(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised latent (B, C, h, w) -> rgb (B, H, W, 3) in [0, 1], depth (B, H, W) metres."""
        out = self.crop(self.autoencoder.decode(self.denormalise(z)))
        rgb = ((out[:, :3] + 1.0) * 0.5).clamp(0.0, 1.0).permute(0, 2, 3, 1)
        return rgb, inv_to_depth(out[:, 3])

    def encode_frames(self, rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """rgb (B, H, W, 3), depth (B, H, W) -> normalised latent (B, C, h, w)."""
        return self.normalise(self.autoencoder.encode(self.frame_input(rgb, depth)))

    def normalise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.latent_mean[:, None, None]) / self.latent_std[:, None, None]

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_std[:, None, None] + self.latent_mean[:, None, None]

    # ------------------------------------------------------------------ latents <-> tokens

    def patchify(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, N, C*p*p), tokens row-major over the (h/p, w/p) grid."""
        B, C, h, w = z.shape
        p = self.config.dynamics.patch
        z = z.view(B, C, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)     # (B, h/p, w/p, C, p, p)
        return z.reshape(B, (h // p) * (w // p), C * p * p)

    def unpatchify(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, C*p*p) -> (B, C, h, w)."""
        B = tokens.shape[0]
        h, w = self.config.latent_size
        p, C = self.config.dynamics.patch, self.config.autoencoder.latent_channels
        z = tokens.view(B, h // p, w // p, C, p, p).permute(0, 3, 1, 4, 2, 5)  # (B, C, h/p, p, w/p, p)
        return z.reshape(B, C, h, w)

    def valid_tokens(self, valid: torch.Tensor) -> torch.Tensor:
        """Validity (B, H, W) bool -> (B, N, p*p): the valid fraction of each latent cell."""
        v = F.pad(valid.float().unsqueeze(1), (0, 0, *self._pad))            # (B, 1, H_pad, W)
        down = 2 ** len(self.config.autoencoder.channels)
        return self.patchify(F.avg_pool2d(v, down))

    def cache_tokens(self, rgb: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """A cache render (rgb (B, H, W, 3), depth, valid) -> (latent tokens, validity tokens)."""
        return self.patchify(self.encode_frames(rgb, depth)), self.valid_tokens(valid)
