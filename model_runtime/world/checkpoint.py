"""World-model checkpoints: safetensors only, config and format version in the metadata.

Loading rebuilds the model from the config stored in the file and names any
mismatch (truncated file, not safetensors, other format version, tensors that do
not fit the config), so a bad checkpoint is a clear error, never a crash of the
worker and never unpickled code.

`python -m model_runtime export-weights RUN/last.safetensors OUT.safetensors` writes
a training checkpoint's weights (no optimizer state) as a shippable checkpoint.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from model_runtime.world.config import ConfigError, WorldConfig
from model_runtime.world.model import WorldModel

FORMAT_VERSION = 1
MODEL_KIND = "oyster-world"


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message says what does not match."""


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(path: str | Path, config: WorldConfig, state: dict[str, torch.Tensor],
                    extra_metadata: dict[str, str] | None = None) -> None:
    """Write atomically: temporary name, then rename, so a crash never leaves half a checkpoint."""
    path = Path(path)
    metadata = {"format_version": str(FORMAT_VERSION), "kind": MODEL_KIND,
                "config": json.dumps(config.to_dict(), sort_keys=True), **(extra_metadata or {})}
    partial = path.with_name(path.name + ".partial")
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(partial), metadata=metadata)
    os.replace(partial, path)


def read_checkpoint(path: str | Path) -> tuple[WorldConfig, dict[str, torch.Tensor], dict[str, str]]:
    """(config, tensors, metadata) of a checkpoint, or CheckpointError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path.name} is not a readable safetensors checkpoint "
                              f"(truncated or another format): {error}") from error
    if metadata.get("kind") != MODEL_KIND:
        raise CheckpointError(f"{path.name} is not an Oyster world-model checkpoint (kind {metadata.get('kind')!r})")
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(f"{path.name} has format version {metadata.get('format_version')!r}; "
                              f"this runtime reads version {FORMAT_VERSION}")
    try:
        config = WorldConfig.from_dict(json.loads(metadata["config"]))
    except (KeyError, json.JSONDecodeError, ConfigError, TypeError) as error:
        raise CheckpointError(f"{path.name} carries no usable config: {error}") from error
    return config, tensors, metadata


def load_weights(module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Load into a module built from the checkpoint's config, naming missing, extra or misshapen tensors."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    misshapen = [f"{k} {tuple(tensors[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                 if k in tensors and tensors[k].shape != v.shape]
    if missing and not unexpected and not misshapen and all(k.startswith("look.") for k in missing):
        raise CheckpointError(f"{source} has no notes' look head (it was trained before 2026-11-28); train one "
                              f"onto it: python -m model_runtime train --init {source} --ae-steps 0 --steps 0 "
                              f"--data DATA --out RUN (docs/world_model.md)")
    if missing or unexpected or misshapen:
        problems = [f"missing {missing[:5]}" if missing else "", f"unexpected {unexpected[:5]}" if unexpected else "",
                    f"wrong shapes {misshapen[:5]}" if misshapen else ""]
        raise CheckpointError(f"{source} does not fit its config: " + "; ".join(p for p in problems if p))
    module.load_state_dict(tensors)


def export_weights(source: str | Path, target: str | Path, config: WorldConfig | None = None,
                   extra_metadata: dict[str, str] | None = None) -> None:
    """Write the model weights of a training checkpoint (no optimizer state) as a shippable checkpoint.

    `config` may change inference-only settings (sampler steps, cache sizes); the tensors must still fit it.
    """
    saved_config, tensors, metadata = read_checkpoint(source)
    config = config or saved_config
    weights = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    load_weights(WorldModel(config), weights, Path(source).name)
    kept = {k: v for k, v in metadata.items() if k in ("stage", "step", "train_config")}
    save_checkpoint(target, config, weights, {**kept, **(extra_metadata or {})})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="a training checkpoint (a run's last.safetensors)")
    parser.add_argument("target", type=Path, help="the shippable checkpoint to write")
    parser.add_argument("--config-from", type=Path,
                        help="use this checkpoint's config (inference settings such as sampler steps or "
                             "cache.network_share); the tensors must still fit it")
    parser.add_argument("--note", help="recorded in the target's metadata as 'exported'")


def run(args: argparse.Namespace) -> int:
    try:
        config = read_checkpoint(args.config_from)[0] if args.config_from else None
        if args.target.resolve() == args.source.resolve():
            raise CheckpointError("the target is the source; write the export to another file")
        export_weights(args.source, args.target, config, {"exported": args.note} if args.note else None)
    except CheckpointError as error:
        print(f"export-weights: {error}")
        return 2
    print(f"export-weights: wrote {args.target} (sha256 {file_sha256(args.target)})")
    return 0
