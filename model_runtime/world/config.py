"""Configs of the world model, one dataclass per part, sized by name (`tiny`, and `micro` for tests).

Defaults describe `tiny`, the checkpoint that ships in the repository and runs on
a laptop CPU. Unknown keys are rejected so a typo in a config never passes silently.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


class ConfigError(ValueError):
    """A config names a key that does not exist or a value that cannot work."""


@dataclass
class AutoencoderConfig:
    channels: tuple[int, ...] = (24, 48, 96)  # one stride-2 stage each: 3 stages = 8x compression
    latent_channels: int = 8


@dataclass
class DynamicsConfig:
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    mlp_ratio: int = 4
    patch: int = 2            # latent patch side: 24x14 latent -> 12x7 = 84 tokens a frame
    window: int = 6           # context frames each frame attends to (sliding KV window); training
                              # windows hold window + 1 frames so every age the cache reaches is trained
    text_dim: int = 384       # all-MiniLM-L6-v2 sentence embedding


@dataclass
class SamplerConfig:
    steps: int = 2            # Euler steps of the flow (1-8); 2 keeps tiny real-time on a CPU
    guidance: float = 3.0     # classifier-free guidance scale (Ho & Salimans 2022) for a frame made from the
                              # notes alone (frame 0 without a first frame); 1 turns it off
    notes_steps: int = 2      # Euler steps of a frame made from the notes alone (nothing cached to render):
                              # once a shot, so it may take other steps than the frames that follow


@dataclass
class CacheConfig:
    max_points: int = 60000   # bound on the 3D cache so frame 300 costs what frame 10 costs
    feather: int = 3          # pixels over which the cache render fades into generated content
    crack: int = 2            # holes within this many pixels of a rendered point are splat cracks: they
                              # take the nearest point's colour, as depth-warp does
    network_share: float = 0.0  # share of the network's pixels where no cached point lands; the rest is
                                # the render's nearest-point guess (a frame from notes alone is all network).
                                # 0, as oyster-tiny ships: on training clips any share of its pixels lost PSNR


@dataclass
class LookConfig:
    hidden: int = 128         # the notes' look head: text embedding -> hidden -> six colour statistics


@dataclass
class WorldConfig:
    name: str = "tiny"
    width: int = 192          # native 16:9 output
    height: int = 108
    padded_height: int = 112  # divisible by 8 * patch; the pad rows are cropped on output
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    look: LookConfig = field(default_factory=LookConfig)

    @property
    def latent_size(self) -> tuple[int, int]:
        """(height, width) of the latent grid."""
        down = 2 ** len(self.autoencoder.channels)
        return self.padded_height // down, self.width // down

    @property
    def tokens_per_frame(self) -> int:
        h, w = self.latent_size
        return (h // self.dynamics.patch) * (w // self.dynamics.patch)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "WorldConfig":
        parts = {"autoencoder": AutoencoderConfig, "dynamics": DynamicsConfig,
                 "sampler": SamplerConfig, "cache": CacheConfig, "look": LookConfig}
        kwargs = {}
        for key, value in _checked(cls, data).items():
            if key in parts:
                sub = _checked(parts[key], value)
                if "channels" in sub:
                    sub["channels"] = tuple(sub["channels"])
                value = parts[key](**sub)
            kwargs[key] = value
        config = cls(**kwargs)
        config.validate()
        return config

    def validate(self) -> None:
        down = 2 ** len(self.autoencoder.channels) * self.dynamics.patch
        if self.padded_height < self.height or self.padded_height % down or self.width % down:
            raise ConfigError(f"width {self.width} and padded_height {self.padded_height} must be multiples "
                              f"of {down} (autoencoder stride x patch), padded_height >= height {self.height}")
        if self.dynamics.d_model % self.dynamics.n_heads:
            raise ConfigError("dynamics.d_model must be a multiple of dynamics.n_heads")
        if not (1 <= self.sampler.steps <= 8 and 1 <= self.sampler.notes_steps <= 8):
            raise ConfigError("sampler.steps and sampler.notes_steps must be 1-8")


def _checked(cls: type, data: dict) -> dict:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    return dict(data)


PRESETS: dict[str, WorldConfig] = {
    "tiny": WorldConfig(),
    # test-sized: same code paths, seconds to train
    "micro": WorldConfig(name="micro", width=64, height=36, padded_height=48,
                         autoencoder=AutoencoderConfig(channels=(8, 16, 16), latent_channels=4),
                         dynamics=DynamicsConfig(d_model=32, n_layers=2, n_heads=2, window=4),
                         cache=CacheConfig(max_points=4000)),
}


def preset(name: str) -> WorldConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown config {name!r}; choose one of {', '.join(PRESETS)}")
    return WorldConfig.from_dict(PRESETS[name].to_dict())
