"""Session snapshots written as safetensors files read back bit for bit, and bad files are named errors."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from model_runtime.state_file import StateFileError, read_state, write_state
from model_runtime.world.transformer import LayerCache


@dataclass
class Outside:
    """A dataclass of the tests, not of the runtime: a state file may not name it."""
    x: int


def snapshot() -> dict:
    shared = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(1))
    return {"kv": [LayerCache(shared, shared[:, :, 1:]), LayerCache(torch.zeros(0, 4), shared)],
            "cache": (np.random.default_rng(2).random((7, 3), dtype=np.float32), np.zeros(4, bool), np.int64(5)),
            "rng": torch.Generator().manual_seed(3).get_state(), "index": 9, "scale": 0.1 + 0.2, "none": None}


def test_a_snapshot_reads_back_bit_for_bit(tmp_path):
    path = tmp_path / "states" / "0009.safetensors"
    original = snapshot()
    write_state(path, list(original.values()), {"model": "m", "checkpoint_sha256": "abc"})
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    loaded, metadata = read_state(path)
    kv, cache, rng, index, scale, none = loaded
    assert (metadata["model"], metadata["checkpoint_sha256"]) == ("m", "abc")
    assert isinstance(kv[0], LayerCache) and torch.equal(kv[0].k, original["kv"][0].k)
    assert torch.equal(kv[0].v, original["kv"][0].v) and kv[1].k.shape == (0, 4)
    assert kv[1].v is kv[0].k  # one object in the snapshot is one object again
    assert isinstance(cache, tuple) and np.array_equal(cache[0], original["cache"][0])
    assert cache[1].dtype == bool and type(cache[2]) is np.int64 and cache[2] == 5
    assert torch.equal(rng, original["rng"]) and rng.dtype == torch.uint8
    assert (index, scale, none) == (9, 0.1 + 0.2, None)


def test_bad_state_files_are_named_errors(tmp_path):
    with pytest.raises(TypeError, match="holds a dict"):
        write_state(tmp_path / "a.safetensors", {"not": "a dataclass"}, {})

    path = tmp_path / "good.safetensors"
    write_state(path, [torch.ones(100)], {})
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(StateFileError, match="not a readable safetensors file"):
        read_state(truncated)

    def forged(name: str, tree: dict, **metadata: str) -> str:
        target = tmp_path / name
        save_file({"t0": torch.ones(1)}, str(target), metadata={"format": "oyster-session-state",
                                                              "format_version": "1", "tree": json.dumps(tree),
                                                              **metadata})
        with pytest.raises(StateFileError) as refused:
            read_state(target)
        return str(refused.value)

    outside = {"dataclass": {"class": f"{Outside.__module__}:Outside", "fields": {"x": {"value": 1}}}}
    assert "not one of the runtime's own" in forged("outside.safetensors", outside)
    missing = {"dataclass": {"class": "model_runtime.world.transformer:NoSuchClass", "fields": {}}}
    assert "this runtime does not have" in forged("missing.safetensors", missing)
    assert "tree is damaged" in forged("damaged.safetensors", {"tensor": "t7"})
    assert "version 1" in forged("other.safetensors", {"value": 1}, format_version="2")
