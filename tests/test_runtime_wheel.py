"""The runtime wheel: reproducible, complete, and installed with pip into a fresh venv it serves takes from anywhere.

The fresh venv reuses this environment's pinned packages (torch, bpy, ...) through a `.pth` file instead of
downloading them, and pip installs the wheel *with* its dependencies and `--no-index`: every pin of the
wheel must be met by what is installed here, or pip fails.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import build
from runtime_fixtures import ROOT, Runtime, shot_request, write_first_frame

pytestmark = pytest.mark.slow

TEST_ONLY = {"pytest", "hypothesis", "schemathesis"}  # requirements.txt's test tools: not the runtime's


def pins(lines: list[str]) -> dict[str, str]:
    """{normalised name: version} of `name==version` lines."""
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return found


def wheel_metadata(archive: zipfile.ZipFile) -> list[str]:
    info_dir = next(n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    return archive.read(f"{info_dir}/METADATA").decode().splitlines()


def test_two_builds_are_byte_identical_and_hold_the_runtime(tmp_path, monkeypatch):
    (ROOT / "model_runtime" / "__pycache__").mkdir(exist_ok=True)  # present after any import; must stay out
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first, second = build.build_wheel(tmp_path / "a"), build.build_wheel(tmp_path / "b")
    assert first.name == "oyster_runtime-0.1.0-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01
    dated = build.build_wheel(tmp_path / "c")
    assert dated.read_bytes() == build.build_wheel(tmp_path / "d").read_bytes() != first.read_bytes()
    assert not list(tmp_path.rglob("*.partial"))

    with zipfile.ZipFile(dated) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert {i.date_time for i in infos} == {(2026, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o644}
        packaged = [n for n in names if ".dist-info/" not in n]
        assert packaged == sorted(packaged) and names[-1] == "oyster_runtime-0.1.0.dist-info/RECORD"
        sources = sorted(p.relative_to(ROOT).as_posix() for package in ("model_runtime", "oyster_blender")
                         for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)
        assert sorted(n for n in names if n.endswith(".py")) == sources
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        for checkpoint in sorted((ROOT / "model_runtime" / "checkpoints").iterdir()):
            name = checkpoint.relative_to(ROOT).as_posix()
            assert archive.read(name) == checkpoint.read_bytes(), name
        assert archive.getinfo("model_runtime/checkpoints/oyster-painter.safetensors").compress_type == \
            zipfile.ZIP_STORED
        assert "model_runtime/worldgen/reader_weights.json" in names
        metadata = wheel_metadata(archive)
    assert "Name: oyster-runtime" in metadata and "Requires-Python: ==3.11.*" in metadata
    wanted = pins([line.removeprefix("Requires-Dist: ").split(";")[0] for line in metadata
                   if line.startswith("Requires-Dist: ")])  # the extras' too (`; extra == "farm"`)
    assert 'Provides-Extra: farm' in metadata and 'Requires-Dist: ray==2.60.0; extra == "farm"' in metadata
    locked = pins((ROOT / "requirements.lock").read_text().splitlines())
    assert {name: locked.get(name) for name in wanted} == wanted  # every dependency pinned at the lock's version
    runtime = {n: v for n, v in pins((ROOT / "requirements.txt").read_text().splitlines()).items()
               if n not in TEST_ONLY}
    assert runtime.items() <= wanted.items() and not TEST_ONLY & set(wanted)


def test_check_wheel_refuses_a_wheel_whose_record_does_not_match(tmp_path):
    good = build.build_wheel(tmp_path)
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data + b"# edited\n" if info.filename == "model_runtime/__main__.py" else data)
    with pytest.raises(build.BuildError, match="RECORD does not match"):
        build.check_wheel(bad)


def reusing_venv(folder: Path) -> Path:
    """A fresh venv whose interpreter also sees this environment's packages (a .pth file, after its own)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    purelib = folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (purelib / "oyster_test_base.pth").write_text("".join(f"{p}\n" for p in site.getsitepackages()))
    return folder / "bin" / "python"


def test_installed_wheel_serves_health_and_a_painted_take_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the runtime's torch, on a shared CPU (see torch_threads.py)
    wheel = build.build_wheel(tmp_path / "dist")
    python = reusing_venv(tmp_path / "venv")
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-input", str(wheel)],
                             capture_output=True, text=True, cwd=anywhere, env=env, timeout=300)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    where = subprocess.run([str(python), "-c", "import model_runtime, oyster_blender.headless; "
                            "print(model_runtime.__file__)"], capture_output=True, text=True, cwd=anywhere, env=env)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv"), where.stdout  # not the checkout's copy
    script = tmp_path / "venv" / "bin" / "oyster-runtime"
    for command in ("serve", "bench", "bench-world"):  # the benchmarks' commands import from the wheel too
        done = subprocess.run([str(script), command, "--help"], capture_output=True, text=True, cwd=anywhere, env=env)
        assert done.returncode == 0, done.stderr

    server = Runtime(tmp_path / "state", tmp_path, "wheel-t0ken", python=str(python), cwd=anywhere)
    try:
        assert server.request("GET", "/v1/health", token=None)[0] == 200
        assert server.request("GET", "/v1/info", token=None)[0] == 401
        passes = tmp_path / "passes"
        passes.mkdir()
        for frame in (1, 2, 3):
            cv2.imwrite(str(passes / f"depth_{frame:04d}.exr"), np.full((36, 64, 3), 4.0, np.float32))
            cv2.imwrite(str(passes / f"shade_{frame:04d}.png"), np.full((36, 64, 3), 120, np.uint8))
        first = write_first_frame(tmp_path / "inputs")
        body = shot_request(first, frames=3, model="oyster-painter", passes={"folder": str(passes),
                                                                          "frames": [1, 2, 3]})
        status, take = server.request("POST", "/v1/takes", body)
        assert status == 202, take
        done = server.wait_for(take["id"], timeout=240)
        assert done["status"] == "done", done
        assert sorted(p.name for p in Path(done["take_dir"]).glob("*.png")) == ["0001.png", "0002.png", "0003.png"]
        record = json.loads((Path(done["take_dir"]) / "take.json").read_text())
        shipped = ROOT / "model_runtime" / "checkpoints" / "oyster-painter.safetensors"
        assert record["model"] == "oyster-painter"  # painted with the checkpoint inside the wheel:
        assert record["checkpoint_sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    finally:
        server.stop()
