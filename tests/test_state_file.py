"""Session snapshots written as state files (an explicit, versioned schema) read back bit for bit; files of
the previous format, of another version or with records this runtime does not know are refused saying
what to do."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from model_runtime.painter.memory import PreviousFrame
from model_runtime.painter.session import PainterState
from model_runtime.takes.state_file import FORMAT_VERSION, SCHEMAS, StateFileError, read_state, write_state
from model_runtime.world.generator import _State
from model_runtime.world.transformer import LayerCache


@dataclass
class Outside:
    """A dataclass without a state schema: a state file cannot hold it."""
    x: int


def world_state() -> _State:
    shared = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(1))
    grade = (np.full((2, 3), 1.5, np.float32), np.zeros((2, 3), np.float32), 4)
    return _State(9, [LayerCache(shared, shared[:, :, 1:]), LayerCache(torch.zeros(0, 4), shared)], 2,
                  (np.random.default_rng(2).random((7, 3), dtype=np.float32), np.zeros(4, bool)),
                  torch.Generator().manual_seed(3).get_state(), grade)


def test_a_snapshot_reads_back_bit_for_bit(tmp_path):
    path = tmp_path / "states" / "0009.safetensors"
    original = world_state()
    extra = (np.int64(5), 0.1 + 0.2, None, "notes")
    write_state(path, [original, extra], {"model": "m", "checkpoint_sha256": "abc"})
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    (loaded, (number, scale, none, text)), metadata = read_state(path)
    assert (metadata["model"], metadata["checkpoint_sha256"]) == ("m", "abc")
    assert isinstance(loaded, _State) and (loaded.index, loaded.n_past) == (9, 2)
    kv = loaded.kv
    assert isinstance(kv[0], LayerCache) and torch.equal(kv[0].k, original.kv[0].k)
    assert torch.equal(kv[0].v, original.kv[0].v) and kv[1].k.shape == (0, 4)
    assert kv[1].v is kv[0].k  # one object in the snapshot is one object again
    assert isinstance(loaded.cache, tuple) and np.array_equal(loaded.cache[0], original.cache[0])
    assert loaded.cache[1].dtype == bool
    assert torch.equal(loaded.rng, original.rng) and loaded.rng.dtype == torch.uint8
    assert np.array_equal(loaded.grade[0], original.grade[0]) and loaded.grade[2] == 4
    assert type(number) is np.int64 and number == 5 and (scale, none, text) == (0.1 + 0.2, None, "notes")

    last = PreviousFrame(np.full((2, 3, 3), 7, np.uint8), np.ones((2, 3), np.float32), None, np.eye(3), np.eye(4))
    painter = PainterState(3, np.arange(12, dtype=np.float32).reshape(4, 3), np.ones((4, 3), np.float32), 2,
                           "rain-soaked neon alley", last)
    write_state(tmp_path / "painter.safetensors", painter, {})
    back, _ = read_state(tmp_path / "painter.safetensors")
    assert isinstance(back, PainterState) and (back.index, back.n_anchor, back.notes) == (3, 2, painter.notes)
    assert np.array_equal(back.points, painter.points) and np.array_equal(back.colors, painter.colors)
    assert isinstance(back.previous, PreviousFrame) and back.previous.objects is None
    assert back.previous.rgb.dtype == np.uint8 and np.array_equal(back.previous.rgb, last.rgb)
    assert np.array_equal(back.previous.c2w, last.c2w)


def test_the_file_names_schemas_and_fields_never_classes(tmp_path):
    path = tmp_path / "s.safetensors"
    write_state(path, world_state(), {})
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    assert metadata["format_version"] == str(FORMAT_VERSION)
    state = json.loads(metadata["state"])
    assert state["record"]["schema"] == "world-session" and state["record"]["version"] == 1
    assert list(state["record"]["fields"]) == ["index", "kv", "n_past", "cache", "rng", "grade"]
    assert "model_runtime" not in metadata["state"] and "_State" not in metadata["state"]


def test_every_schema_matches_its_class():
    """A snapshot class whose fields change without a new schema version fails here, not on an artist's disk."""
    for schema in SCHEMAS.values():
        assert tuple(f.name for f in dataclasses.fields(schema.resolve())) == schema.fields, schema.name


def test_a_state_of_the_previous_format_is_refused_saying_what_to_do(tmp_path):
    old = tmp_path / "0008.safetensors"  # as format 1 wrote it: the tree named module:qualname of _State
    tree = {"dataclass": {"class": "model_runtime.world.generator:_State", "fields": {"index": {"value": 8}}}}
    save_file({"t0": torch.ones(1)}, str(old), metadata={"format": "oyster-session-state", "format_version": "1",
                                                        "tree": json.dumps(tree)})
    with pytest.raises(StateFileError, match="format version 1, which named the runtime's Python classes") as refused:
        read_state(old)
    assert "regenerate the take in full" in str(refused.value)


def test_bad_state_files_are_named_errors(tmp_path):
    with pytest.raises(TypeError, match="holds a dict"):
        write_state(tmp_path / "a.safetensors", {"not": "a record"}, {})
    with pytest.raises(TypeError, match="Outside has no state schema"):
        write_state(tmp_path / "b.safetensors", Outside(1), {})

    path = tmp_path / "good.safetensors"
    write_state(path, [torch.ones(100)], {})
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(StateFileError, match="not a readable safetensors file"):
        read_state(truncated)

    def forged(name: str, state: dict, **metadata: str) -> str:
        target = tmp_path / name
        save_file({"t0": torch.ones(1)}, str(target), metadata={"format": "oyster-session-state",
                                                              "format_version": str(FORMAT_VERSION),
                                                              "state": json.dumps(state), **metadata})
        with pytest.raises(StateFileError) as refused:
            read_state(target)
        return str(refused.value)

    kv = {"k": {"tensor": "t0"}, "v": {"tensor": "t0"}}
    assert forged("good-record.safetensors", {"tensor": "t7"}).startswith("its state is damaged")
    message = forged("version.safetensors", {"value": 1}, format_version="3")
    assert "format version '3'" in message and f"reads version {FORMAT_VERSION} only" in message
    assert "regenerate the take in full" in message
    assert "not an oyster-session-state file" in forged("other.safetensors", {"value": 1}, format="other")
    unknown = forged("unknown.safetensors", {"record": {"schema": "mystery", "version": 1, "fields": {}}})
    assert "'mystery' record, which this runtime does not know" in unknown
    newer = forged("newer.safetensors", {"record": {"schema": "kv-layer", "version": 2, "fields": kv}})
    assert "'kv-layer' record is version 2, this runtime reads version 1" in newer
    fewer = forged("fewer.safetensors", {"record": {"schema": "kv-layer", "version": 1, "fields": {"k": kv["k"]}}})
    assert "has the fields ('k',)" in fewer
