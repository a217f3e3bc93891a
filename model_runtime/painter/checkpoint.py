"""Painter checkpoints: safetensors weights with the config and a format version in the metadata."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from model_runtime.painter.network import PainterConfig, PainterNet

FORMAT = "oyster-painter"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded (the message says why and what to do)."""


def save(net: PainterNet, path: Path, extra: dict | None = None) -> None:
    """Atomically (temporary name, then rename)."""
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                "config": json.dumps(net.config.to_dict(), sort_keys=True),
                "extra": json.dumps(extra or {}, sort_keys=True)}
    partial = path.with_name(path.name + ".partial")
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(partial), metadata=metadata)
    os.replace(partial, path)


def load(path: Path) -> tuple[PainterNet, dict]:
    """The network in eval mode and the checkpoint's extra metadata."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no painter checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error}); restore it from git "
                              "or train a new one") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a painter checkpoint (format {metadata.get('format')!r})")
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(f"{path}: painter format version {metadata.get('format_version')!r}, this runtime "
                              f"reads {FORMAT_VERSION}")
    config = PainterConfig.from_dict(json.loads(metadata["config"]))
    net = PainterNet(config)
    expected = net.state_dict()
    wrong = sorted(k for k in expected if k not in tensors or tensors[k].shape != expected[k].shape)
    extra_keys = sorted(set(tensors) - set(expected))
    if wrong or extra_keys:
        raise CheckpointError(f"{path} does not match its config: missing or wrong shape {wrong[:5]}, "
                              f"unexpected {extra_keys[:5]}")
    net.load_state_dict(tensors)
    return net.eval(), json.loads(metadata.get("extra", "{}"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
