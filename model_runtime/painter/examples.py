"""Training examples for the painter from rendered clips: features of frame t, its look, a memory.

The memory of an example is the clip's ground truth at another frame, seen
through frame t's camera with the exact depths (or nothing, for a first
frame), so the painter learns to keep what the memory holds and invent the
rest, as it must at inference where the memory is its own earlier frames.
The other frame is drawn with odds 1/|t - s|: at inference what is new is
mostly the thin strip a frame's move reveals, and a uniform draw gave the
network few of those (it painted them as a pale band).
"""
from __future__ import annotations

import numpy as np

from model_runtime.data.shards import Clip
from model_runtime.painter.features import camera, frame_features
from model_runtime.painter.memory import empty_view, frame_view

MEMORY_SHARE = 0.6  # share of examples with a memory from another frame of the clip
EDGE_CROP_SHARE = 0.25  # share of crops that touch the frame's border on each axis, where a moving camera
                        # brings in new ground as thin strips beside the memory


def passes_depth(clip: Clip, t: int) -> np.ndarray:
    """The blockout's depth with sky as 0, the passes' convention (shards keep sky as inf)."""
    d = clip.depth[t]
    return np.where(np.isfinite(d), d, 0).astype(np.float32)


def example(clip: Clip, t: int, rng: np.random.Generator, crop: tuple[int, int] | None,
            memory: bool | None = None, basis_frequencies: tuple[float, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(features (C, h, w), truth (3, h, w) float32 [0, 1]) for frame t, cropped at random to (w, h); the
    features carry the texture basis of `basis_frequencies` (the network's config)."""
    frames = clip.track["frames"]
    depth = passes_depth(clip, t)
    h, w = depth.shape
    K, c2w = camera(frames[t])
    use_memory = rng.random() < MEMORY_SHARE if memory is None else memory
    if use_memory and len(clip.rgb) > 1:
        others = np.array([i for i in range(len(clip.rgb)) if i != t])
        near = 1.0 / np.abs(others - t)  # at inference the memory is the frames just before: thin new strips
        s = int(rng.choice(others, p=near / near.sum()))
        Ks, c2ws = camera(frames[s])
        mem = frame_view(clip.rgb[s].astype(np.float32) / 255, passes_depth(clip, s), Ks, c2ws, K, c2w, depth)
    else:
        mem = empty_view(w, h)
    noise = rng.standard_normal((h, w)).astype(np.float32)
    feats = frame_features(clip.shade[t], depth, frames[t], mem.rgb, mem.shown, noise, basis_frequencies)
    truth = clip.rgb[t].astype(np.float32).transpose(2, 0, 1) / 255
    if crop is not None:
        cw, ch = crop
        x, y = _crop_origin(rng, w - cw), _crop_origin(rng, h - ch)
        feats, truth = feats[:, y:y + ch, x:x + cw], truth[:, y:y + ch, x:x + cw]
    return feats, truth


def _crop_origin(rng: np.random.Generator, room: int) -> int:
    """A crop's offset on one axis: at either border for EDGE_CROP_SHARE of crops, else uniform."""
    if rng.random() < EDGE_CROP_SHARE:
        return room * int(rng.integers(2))
    return int(rng.integers(0, room + 1))
