"""Session snapshots as safetensors files, so that a take's states outlive the warm worker (docs/continuation.md).

A snapshot is whatever a session's `snapshot()` returns: a tree of dataclasses,
lists, tuples, torch tensors, numpy arrays and plain numbers (for the world model:
the KV window, the point cache and the sampler's random state). The tensors and
arrays go into the file as tensors, bit for bit; the shape of the tree, with its
plain values, goes into the metadata as JSON. Reading rebuilds only dataclasses
defined in `model_runtime`, so a state file can never name arbitrary code (no pickle).
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

FORMAT = "oyster-session-state"
FORMAT_VERSION = 1
TRUSTED_PACKAGE = "model_runtime."


class StateFileError(ValueError):
    """A state file cannot be read back (the message says why)."""


def _encode(node: Any, tensors: dict[str, torch.Tensor], keys: dict[int, str]) -> Any:
    """The JSON description of one node of a snapshot; its tensors and arrays are added to `tensors`."""
    if isinstance(node, (torch.Tensor, np.ndarray, np.generic)):
        kind = "tensor" if isinstance(node, torch.Tensor) else "array" if isinstance(node, np.ndarray) else "scalar"
        key = keys.get(id(node))
        if key is None:  # an object met twice is stored once, and read back as one object
            key = keys[id(node)] = f"t{len(tensors)}"
            tensor = node.detach() if kind == "tensor" else torch.from_numpy(np.array(node))
            tensors[key] = tensor.clone(memory_format=torch.contiguous_format)  # safetensors refuses shared storage
        return {kind: key}
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        cls = type(node)
        return {"dataclass": {"class": f"{cls.__module__}:{cls.__qualname__}",
                              "fields": {f.name: _encode(getattr(node, f.name), tensors, keys)
                                         for f in dataclasses.fields(node)}}}
    if isinstance(node, (list, tuple)):
        return {type(node).__name__: [_encode(item, tensors, keys) for item in node]}
    if node is None or isinstance(node, (bool, int, float, str)):
        return {"value": node}
    raise TypeError(f"a session snapshot cannot be written to a state file: it holds a {type(node).__name__}")


def _dataclass(name: str) -> type:
    module_name, _, qualname = name.partition(":")
    if not module_name.startswith(TRUSTED_PACKAGE):
        raise StateFileError(f"it names the class {name!r}, which is not one of the runtime's own")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        raise StateFileError(f"it names the class {name!r}, which this runtime does not have") from None
    if not (isinstance(found, type) and dataclasses.is_dataclass(found)):
        raise StateFileError(f"it names {name!r}, which is not a dataclass")
    return found


def _decode(node: Any, tensors: dict[str, torch.Tensor], objects: dict[str, Any]) -> Any:
    (kind, value), = node.items()  # every node is {kind: value}
    if kind in ("tensor", "array", "scalar"):
        if value not in objects:
            tensor = tensors[value]
            objects[value] = tensor if kind == "tensor" else tensor.numpy() if kind == "array" else tensor.numpy()[()]
        return objects[value]
    if kind == "dataclass":
        return _dataclass(value["class"])(**{k: _decode(v, tensors, objects) for k, v in value["fields"].items()})
    if kind in ("list", "tuple"):
        items = [_decode(item, tensors, objects) for item in value]
        return items if kind == "list" else tuple(items)
    if kind == "value":
        return value
    raise StateFileError(f"unknown node {kind!r} in its tree")


def write_state(path: Path, snapshot: Any, identity: dict[str, str]) -> None:
    """Write `snapshot` with `identity` (what made it: model, checkpoint) in the metadata, atomically:
    a temporary name in the same folder, then a rename, so a reader never sees half a state."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(snapshot, tensors, {})
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "tree": json.dumps(tree), **identity}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        save_file(tensors, str(partial), metadata=metadata)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def read_state(path: Path) -> tuple[Any, dict[str, str]]:
    """(snapshot, metadata) of a state file; StateFileError when it is not one this runtime can read."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise StateFileError(f"it is not a readable safetensors file (truncated?): {error}") from None
    if metadata.get("format") != FORMAT or metadata.get("format_version") != str(FORMAT_VERSION):
        raise StateFileError(f"it is not an {FORMAT} file of version {FORMAT_VERSION} "
                             f"(format {metadata.get('format')!r}, version {metadata.get('format_version')!r})")
    try:
        return _decode(json.loads(metadata["tree"]), tensors, {}), metadata
    except StateFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # JSONDecodeError is a ValueError
        raise StateFileError(f"its snapshot tree is damaged: {type(error).__name__}: {error}") from None
