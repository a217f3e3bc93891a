"""The extension zip: reproducible, in the layout Blender's installer expects, nothing stray."""
from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import pytest

import build

REPO = Path(__file__).resolve().parent.parent


def test_two_builds_are_byte_identical(tmp_path):
    (REPO / "oyster_blender" / "__pycache__").mkdir(exist_ok=True)  # present after any import; must stay out
    first = build.build_zip(tmp_path / "a")
    second = build.build_zip(tmp_path / "b")
    assert first.name == "oyster-0.1.0.zip"
    assert first.read_bytes() == second.read_bytes()
    assert not list(tmp_path.rglob("*.partial"))


def test_layout_manifest_and_contents(tmp_path):
    target = build.build_zip(tmp_path)
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        manifest = tomllib.loads(archive.read("blender_manifest.toml").decode())
    assert names[0] == "blender_manifest.toml" and "__init__.py" in names  # both at the zip root
    sources = sorted(p.relative_to(REPO / "oyster_blender").as_posix()
                     for p in (REPO / "oyster_blender").rglob("*.py") if "__pycache__" not in p.parts)
    assert sorted(n for n in names if n.endswith(".py")) == sources
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert (manifest["schema_version"], manifest["id"], manifest["type"]) == ("1.0.0", "oyster", "add-on")
    assert manifest["blender_version_min"] == "4.2.0" and manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert set(manifest["permissions"]) == {"files", "network"} and all(manifest["permissions"].values())


def test_check_zip_refuses_stray_and_misplaced_files(tmp_path):
    def make(entries: dict[str, str]) -> Path:
        path = tmp_path / f"z{len(list(tmp_path.iterdir()))}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in entries.items():
                archive.writestr(name, text)
        return path

    good = {"blender_manifest.toml": 'id = "oyster"', "__init__.py": ""}
    build.check_zip(make(good))
    with pytest.raises(build.BuildError, match="stray files"):
        build.check_zip(make(good | {"__pycache__/x.cpython-311.pyc": ""}))
    with pytest.raises(build.BuildError, match="stray files"):
        build.check_zip(make(good | {"notes.txt": ""}))
    with pytest.raises(build.BuildError, match="must sit at the zip root"):
        build.check_zip(make({"oyster/blender_manifest.toml": "", "oyster/__init__.py": ""}))
