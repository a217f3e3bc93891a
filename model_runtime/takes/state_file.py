"""Session snapshots as safetensors files, so that a take's states outlive the warm worker (docs/continuation.md).

A state file is an explicit, versioned schema, independent of where the runtime's classes live:

- the metadata holds `format` (`oyster-session-state`), `format_version` (FORMAT_VERSION), what made the
  state (model, checkpoint sha256) and `state`: the snapshot as JSON, a tree of nodes, each `{kind: value}`:
  `value` (None, bool, int, float, str), `list`, `tuple`, `tensor` / `array` / `scalar` (the key of a
  torch tensor, numpy array or numpy scalar in the file's tensors, bit for bit) and `record`: a snapshot
  record by its schema name, that schema's version and its named fields;
- the records are the ones in SCHEMAS: a name (`world-session`, `kv-layer`, `painter-session`, ...), a version
  and the field names. The table says which class of the runtime each one is; moving or renaming a class
  changes the table, not the files. A class whose fields no longer match its schema is refused when
  written, so a change of a snapshot's fields needs a new schema version.

Reading refuses, with what to do, a file of another format version (format 1 named Python classes,
`module:qualname`), a record of an unknown schema or another schema version, and fields that do not match.
Nothing in a state file names code (no pickle).
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

FORMAT = "oyster-session-state"
FORMAT_VERSION = 2
NEW_TAKE = "its take's states must be written again: regenerate the take in full"


class StateFileError(ValueError):
    """A state file cannot be read back (the message says why)."""


@dataclass(frozen=True)
class RecordSchema:
    """One kind of record in a snapshot: its name on disk, version, field names and the class it is."""
    name: str
    version: int
    fields: tuple[str, ...]
    cls: str  # module:attribute of the dataclass; the code's business only, never written to a file

    def resolve(self) -> type:
        module, _, attribute = self.cls.partition(":")
        return getattr(importlib.import_module(module), attribute)


SCHEMAS = {schema.name: schema for schema in (
    RecordSchema("world-session", 1, ("index", "kv", "n_past", "cache", "rng", "grade"),
                 "model_runtime.world.generator:_State"),
    RecordSchema("kv-layer", 1, ("k", "v"), "model_runtime.world.transformer:LayerCache"),
    RecordSchema("painter-session", 3, ("index", "points", "colors", "n_anchor", "notes", "previous"),
                 "model_runtime.painter.session:PainterState"),  # 2: colours carry ids; 3: the frame shown last
    RecordSchema("painter-previous-frame", 1, ("rgb", "depth", "objects", "K", "c2w"),
                 "model_runtime.painter.memory:PreviousFrame"),
)}


def schema_of(cls: type) -> RecordSchema:
    """The schema a snapshot class is written as; TypeError when it has none or its fields have changed."""
    for schema in SCHEMAS.values():
        module, _, attribute = schema.cls.partition(":")
        if cls.__module__ == module and cls.__qualname__ == attribute:
            fields = tuple(f.name for f in dataclasses.fields(cls))
            if fields != schema.fields:
                raise TypeError(f"{cls.__qualname__} has the fields {fields}, its state schema {schema.name!r} "
                                f"version {schema.version} has {schema.fields}: give the schema a new version")
            return schema
    raise TypeError(f"a session snapshot cannot be written to a state file: {cls.__qualname__} has no state "
                    "schema (model_runtime/takes/state_file.py SCHEMAS)")


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
        schema = schema_of(type(node))
        return {"record": {"schema": schema.name, "version": schema.version,
                           "fields": {name: _encode(getattr(node, name), tensors, keys) for name in schema.fields}}}
    if isinstance(node, (list, tuple)):
        return {type(node).__name__: [_encode(item, tensors, keys) for item in node]}
    if node is None or isinstance(node, (bool, int, float, str)):
        return {"value": node}
    raise TypeError(f"a session snapshot cannot be written to a state file: it holds a {type(node).__name__}")


def _record(value: dict, tensors: dict[str, torch.Tensor], objects: dict[str, Any]) -> Any:
    schema = SCHEMAS.get(value["schema"])
    if schema is None:
        raise StateFileError(f"it holds a {value['schema']!r} record, which this runtime does not know; {NEW_TAKE}")
    if value["version"] != schema.version:
        raise StateFileError(f"its {schema.name!r} record is version {value['version']!r}, this runtime reads "
                             f"version {schema.version}; {NEW_TAKE}")
    fields = value["fields"]
    if tuple(fields) != schema.fields:
        raise StateFileError(f"its {schema.name!r} record has the fields {tuple(fields)}, version "
                             f"{schema.version} has {schema.fields}")
    return schema.resolve()(**{name: _decode(fields[name], tensors, objects) for name in schema.fields})


def _decode(node: Any, tensors: dict[str, torch.Tensor], objects: dict[str, Any]) -> Any:
    (kind, value), = node.items()  # every node is {kind: value}
    if kind in ("tensor", "array", "scalar"):
        if value not in objects:
            tensor = tensors[value]
            objects[value] = tensor if kind == "tensor" else tensor.numpy() if kind == "array" else tensor.numpy()[()]
        return objects[value]
    if kind == "record":
        return _record(value, tensors, objects)
    if kind in ("list", "tuple"):
        items = [_decode(item, tensors, objects) for item in value]
        return items if kind == "list" else tuple(items)
    if kind == "value":
        return value
    raise StateFileError(f"unknown node {kind!r} in its state")


def write_state(path: Path, snapshot: Any, identity: dict[str, str]) -> None:
    """Write `snapshot` with `identity` (what made it: model, checkpoint) in the metadata, atomically:
    a temporary name in the same folder, then a rename, so a reader never sees half a state."""
    tensors: dict[str, torch.Tensor] = {}
    state = _encode(snapshot, tensors, {})
    metadata = {**identity, "format": FORMAT, "format_version": str(FORMAT_VERSION), "state": json.dumps(state)}
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
    if metadata.get("format") != FORMAT:
        raise StateFileError(f"it is not an {FORMAT} file (format {metadata.get('format')!r})")
    version = metadata.get("format_version")
    if version == "1":
        raise StateFileError(f"it was written by an earlier runtime in the {FORMAT} format version 1, which named "
                             f"the runtime's Python classes; this runtime reads version {FORMAT_VERSION} only; "
                             f"{NEW_TAKE}")
    if version != str(FORMAT_VERSION):
        raise StateFileError(f"it has the {FORMAT} format version {version!r}; this runtime reads version "
                             f"{FORMAT_VERSION} only; {NEW_TAKE}")
    try:
        return _decode(json.loads(metadata["state"]), tensors, {}), metadata
    except StateFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # JSONDecodeError is a ValueError
        raise StateFileError(f"its state is damaged: {type(error).__name__}: {error}") from None
