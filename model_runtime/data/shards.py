"""The data shard format (docs/architecture.md, "Data shards") and its one reader (bpy-free).

A dataset folder holds `dataset.json` and `shard_NNNNN.safetensors` files; a
shard stores `rgb` uint8 [C, F, H, W, 3], `depth` float16 [C, F, H, W] and, in
the metadata, `clips`: a JSON list with each clip's scene_seed, caption,
labels, move, track (and long_track for validation). Safetensors metadata
values must be strings, hence the JSON.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

FORMAT_VERSION = 1
"""Written to dataset.json as "format"; load_clips refuses other versions."""


@dataclass
class Clip:
    scene_seed: int
    caption: str
    labels: dict[str, str]
    move: str
    track: dict
    """Camera track, wire format, one entry per frame."""
    rgb: np.ndarray
    """uint8 (F, H, W, 3)."""
    depth: np.ndarray
    """float32 (F, H, W) z-depth in metres; inf where there is sky."""
    long_track: dict | None = None
    """300 frames of the same move (validation only), for drift rollouts."""
    shade: np.ndarray | None = None
    """uint8 (F, H, W): the blockout's grey shading pass (oyster_blender.passes), where the dataset has it."""
    objects: np.ndarray | None = None
    """int32 (F, H, W): the blockout's object ids (the object pass, 0 for sky), where the dataset has them."""


def shard_name(index: int) -> str:
    return f"shard_{index:05d}.safetensors"


def write_shard(path: Path, rgb: np.ndarray, depth: np.ndarray, clips_meta: list[dict],
                shade: np.ndarray | None = None, objects: np.ndarray | None = None) -> None:
    """Write atomically (temporary name, then rename), so a shard file on disk is always complete."""
    if rgb.dtype != np.uint8 or rgb.ndim != 5 or depth.shape != rgb.shape[:4] or len(clips_meta) != rgb.shape[0]:
        raise ValueError(f"bad shard arrays: rgb {rgb.dtype} {rgb.shape}, depth {depth.shape}, {len(clips_meta)} clips")
    if shade is not None and (shade.dtype != np.uint8 or shade.shape != depth.shape):
        raise ValueError(f"bad shade pass: {shade.dtype} {shade.shape}, want uint8 {depth.shape}")
    if objects is not None and (objects.dtype != np.int32 or objects.shape != depth.shape):
        raise ValueError(f"bad object pass: {objects.dtype} {objects.shape}, want int32 {depth.shape}")
    # one metadata key only: safetensors writes the metadata map in hash order, and a single key keeps
    # the file bytes identical across runs (the format version lives in dataset.json)
    metadata = {"clips": json.dumps(clips_meta, sort_keys=True)}
    partial = path.with_name(path.name + ".partial")
    tensors = {"rgb": np.ascontiguousarray(rgb), "depth": np.ascontiguousarray(depth.astype(np.float16))}
    if shade is not None:
        tensors["shade"] = np.ascontiguousarray(shade)
    if objects is not None:
        tensors["object"] = np.ascontiguousarray(objects)
    save_file(tensors, str(partial), metadata=metadata)
    os.replace(partial, path)


def read_shard(path: Path) -> list[Clip]:
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata()
        rgb, depth = f.get_tensor("rgb"), f.get_tensor("depth")
        shade = f.get_tensor("shade") if "shade" in f.keys() else None
        objects = f.get_tensor("object") if "object" in f.keys() else None
    metas = json.loads(metadata["clips"])
    return [Clip(m["scene_seed"], m["caption"], m["labels"], m["move"], m["track"], rgb[i],
                 depth[i].astype(np.float32), m.get("long_track"), None if shade is None else shade[i],
                 None if objects is None else objects[i])
            for i, m in enumerate(metas)]


def load_clips(folder: str | Path) -> list[Clip]:
    """Every clip of a dataset folder, in shard order (shards still being rendered are skipped)."""
    folder = Path(folder)
    manifest = folder / "dataset.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{folder} is not a dataset folder (no dataset.json)")
    version = json.loads(manifest.read_text()).get("format")
    if version != FORMAT_VERSION:
        raise ValueError(f"{folder}: dataset format {version!r}, this reader reads {FORMAT_VERSION}")
    clips: list[Clip] = []
    for path in sorted(folder.glob("shard_*.safetensors")):
        clips += read_shard(path)
    return clips
