"""What the world model's dynamics stage trains on, per clip, and the run folder's cache of it.

`clip_features` computes, for every frame of a clip, the latents and the cache renders the model would
see at inference (frame t's cache holds frames 0 and t-1), with the camera conditioning. They are computed
once a run and cached in the run folder under a key (`features_key`) of everything they depend on.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from model_runtime.data.shards import Clip
from model_runtime.models import geometry
from model_runtime.world import autoencoder, cache3d, conditioning
from model_runtime.world import model as world_model
from model_runtime.world.cache3d import PointCache, empty_render
from model_runtime.world.conditioning import camera_action, native_intrinsics, plucker_tokens, token_centres
from model_runtime.world.model import WorldModel


@dataclass
class ClipFeatures:
    """What the dynamics stage trains on, per frame of a clip: (F, N, *) token tensors, (F, *) frame tensors."""
    latent: torch.Tensor
    cache: torch.Tensor
    valid: torch.Tensor
    plucker: torch.Tensor
    action: torch.Tensor
    text: torch.Tensor          # (384,)


def clip_tensors(clip: Clip) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(clip.rgb).float() / 255.0, torch.from_numpy(clip.depth)


@torch.no_grad()
def clip_features(model: WorldModel, clip: Clip, text: np.ndarray) -> ClipFeatures:
    """Latents of the frames and the cache renders the model would see: frame t's cache holds the points
    of frame 0 (the given first frame) and frame t-1 (the latest), rendered through camera t."""
    cfg = model.config
    track = clip.track
    device = model.latent_mean.device  # the model's; the features come back to the CPU (cached on disk from there)
    rgb, depth = (t.to(device) for t in clip_tensors(clip))
    n = len(track["frames"])
    scale = float(track.get("scale", 1.0))
    grid_h, grid_w = (s // cfg.dynamics.patch for s in cfg.latent_size)
    centres = token_centres(cfg.width, cfg.padded_height, grid_w, grid_h)
    centres[:, 1] -= (cfg.padded_height - cfg.height) // 2
    cams = []
    for frame in track["frames"]:
        K = native_intrinsics(frame, track["width"], track["height"], cfg.width, cfg.height)
        cams.append((K, np.asarray(frame["c2w"]), np.asarray(frame["rel"])))
    renders = [empty_render(cfg.width, cfg.height)]
    for t in range(1, n):
        cache = PointCache(cfg.cache.max_points)
        for source in sorted({0, t - 1}):
            cache.add(clip.rgb[source].astype(np.float32) / 255.0, clip.depth[source], cams[source][0], cams[source][1])
        renders.append(cache.render(cams[t][0], cams[t][1], cfg.width, cfg.height))
    cache_tok, valid_tok = model.cache_tokens(*(torch.from_numpy(np.stack([getattr(r, name) for r in renders]))
                                                .to(device) for name in ("rgb", "depth", "valid")))
    return ClipFeatures(
        latent=model.patchify(model.encode_frames(rgb, depth)).cpu(),
        cache=cache_tok.cpu(), valid=valid_tok.cpu(),
        plucker=torch.from_numpy(np.stack([plucker_tokens(rel, K, centres, scale) for K, _, rel in cams])),
        action=torch.from_numpy(np.stack([camera_action(rel, K, cfg.width, cfg.height, scale) for K, _, rel in cams])),
        text=torch.from_numpy(text))


def resize_clip(clip: Clip, width: int, height: int) -> Clip:
    """The clip at the model's native size (intrinsics follow through native_intrinsics)."""
    if clip.rgb.shape[1:3] == (height, width):
        return clip
    rgb = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in clip.rgb])
    depth = np.stack([cv2.resize(d, (width, height), interpolation=cv2.INTER_NEAREST) for d in clip.depth])
    return Clip(clip.scene_seed, clip.caption, clip.labels, clip.move, clip.track, rgb, depth, clip.long_track)


CACHED_FIELDS = ("latent", "cache", "valid", "plucker", "action")
FEATURE_CODE = (geometry, cache3d, conditioning, autoencoder, world_model)  # modules clip_features computes with


def features_key(model: WorldModel, clips: list[Clip]) -> str:
    """sha256 of everything the cached features depend on: the clips (frames, depths, tracks), the config,
    the autoencoder's weights and latent statistics (the dynamics do not enter), the code that computes them,
    and the torch and numpy versions. Any change gives another key, so a stale cache is never read."""
    digest = hashlib.sha256()
    code = [inspect.getsource(m) for m in FEATURE_CODE] + [inspect.getsource(f) for f in (clip_features, resize_clip)]
    digest.update(json.dumps({"config": model.config.to_dict(), "code": code, "torch": torch.__version__,
                              "numpy": np.__version__}, sort_keys=True).encode())
    parts = {**{f"autoencoder.{k}": v for k, v in model.autoencoder.state_dict().items()},
             "latent_mean": model.latent_mean, "latent_std": model.latent_std}
    for name in sorted(parts):
        digest.update(name.encode())
        digest.update(parts[name].detach().contiguous().numpy().data)
    for clip in clips:
        digest.update(json.dumps(clip.track, sort_keys=True).encode())
        digest.update(np.ascontiguousarray(clip.rgb).data)
        digest.update(np.ascontiguousarray(clip.depth).data)
    return digest.hexdigest()


def features_path(folder: Path, key: str) -> Path:
    return folder / f"features-{key[:16]}.safetensors"


def read_features(path: Path, key: str, texts: np.ndarray) -> list[ClipFeatures] | None:
    """The cached features of `key`, or None (with the reason printed) when the file is missing, damaged or
    made for another key."""
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("key") != key:
                print(f"features: {path.name} was made for other data, config or weights; computing them again")
                return None
            tensors = {name: f.get_tensor(name) for name in f.keys()}
        return [ClipFeatures(**{field: tensors[f"{i:05d}.{field}"] for field in CACHED_FIELDS},
                             text=torch.from_numpy(text)) for i, text in enumerate(texts)]
    except (SafetensorError, OSError, KeyError) as error:
        print(f"features: {path.name} cannot be read ({error}); computing them again")
        return None


def write_features(path: Path, key: str, features: list[ClipFeatures]) -> None:
    """Atomically (temporary name, then rename); earlier caches in the folder (other keys) are removed."""
    tensors = {f"{i:05d}.{field}": getattr(f, field).contiguous() for i, f in enumerate(features)
               for field in CACHED_FIELDS}
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata={"key": key, "clips": str(len(features))})
    os.replace(partial, path)
    for stale in path.parent.glob("features-*.safetensors"):
        if stale != path:
            stale.unlink()
