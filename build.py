#!/usr/bin/env python3
"""One entry point for people and CI.

    python3 build.py build          build and check dist/oyster-<version>.zip and the runtime wheel
                                    dist/oyster_runtime-<version>-py3-none-any.whl
    python3 build.py demo [--out D] set up, then generate the example shot into D
    python3 build.py test [ARGS]    set up, then run the whole test suite (ARGS go to pytest)
    python3 build.py setup          only create/refresh .venv/

Setup creates `.venv/` at the repository root with Python 3.11 and the pinned
requirements (requirements.txt, every transitive version fixed by
requirements.lock) and does nothing when the stamp inside it matches.
Runs on the system Python (stdlib only): both artefacts are written with zipfile, so `build`
needs no environment. Two builds of the same tree are byte-identical (fixed timestamps, or
SOURCE_DATE_EPOCH when it is set; sorted entries; fixed permissions).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / "oyster-requirements.sha256"
REQUIREMENT_FILES = (ROOT / "requirements.txt", ROOT / "requirements.lock")
EXTENSION_PACKAGE = ROOT / "oyster_blender"
MANIFEST = ROOT / "blender_manifest.toml"
PYPROJECT = ROOT / "pyproject.toml"
RUNTIME_VERSION_FILE = ROOT / "model_runtime" / "__init__.py"
DIST = ROOT / "dist"
# Fixed zip timestamp so two builds of the same tree are byte-identical (SOURCE_DATE_EPOCH overrides it).
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
REQUIRED_MANIFEST_FIELDS = (
    "schema_version", "id", "version", "name", "tagline", "maintainer",
    "type", "blender_version_min", "license", "permissions",
)


class BuildError(RuntimeError):
    """A build or setup step failed; the message says which and why."""


# ---------------------------------------------------------------- setup

def requirements_digest() -> str:
    digest = hashlib.sha256()
    for path in REQUIREMENT_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def find_python311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        raise BuildError("Python 3.11 is required (bpy 4.5 is built for it); "
                         "install it and put python3.11 on PATH")
    return found


def venv_is_current() -> bool:
    if not VENV_PYTHON.exists() or not STAMP.exists():
        return False
    if STAMP.read_text().strip() != requirements_digest():
        return False
    probe = subprocess.run([str(VENV_PYTHON), "-c", "import sys; print(sys.version_info[:2])"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == "(3, 11)"


def setup_venv() -> None:
    if venv_is_current():
        print("setup: .venv is up to date")
        return
    python = find_python311()
    print(f"setup: creating .venv with {python}", flush=True)
    if STAMP.exists():
        STAMP.unlink()
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--upgrade", "pip"], check=True)
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install",
                    "-r", str(REQUIREMENT_FILES[0]), "-c", str(REQUIREMENT_FILES[1])], check=True)
    STAMP.write_text(requirements_digest() + "\n")
    print("setup: .venv ready", flush=True)


# ---------------------------------------------------------------- build

def read_manifest() -> dict:
    manifest = tomllib.loads(MANIFEST.read_text())
    missing = [f for f in REQUIRED_MANIFEST_FIELDS if f not in manifest]
    if missing:
        raise BuildError(f"blender_manifest.toml lacks {', '.join(missing)}")
    if manifest["type"] != "add-on" or manifest["id"] != "oyster":
        raise BuildError("blender_manifest.toml must describe the add-on with id 'oyster'")
    if not all(lic.startswith("SPDX:") for lic in manifest["license"]):
        raise BuildError("licenses must be SPDX identifiers (SPDX:GPL-3.0-or-later)")
    for name, reason in manifest["permissions"].items():
        if not reason.strip():
            raise BuildError(f"permission '{name}' needs a reason")
    return manifest


def package_files() -> list[Path]:
    """The extension's own source files: Python and data, no caches."""
    files = []
    for path in sorted(EXTENSION_PACKAGE.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        files.append(path)
    return files


def zip_date() -> tuple[int, int, int, int, int, int]:
    """The timestamp of every archive entry: SOURCE_DATE_EPOCH (UTC, not before 1980) when set, else ZIP_DATE."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return ZIP_DATE
    if not epoch.isdigit():
        raise BuildError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {epoch!r}")
    return tuple(max(time.gmtime(int(epoch)), time.gmtime(315532800))[:6])  # zip cannot hold dates before 1980


def build_zip(dist: Path = DIST) -> Path:
    """Build `<dist>/oyster-<version>.zip` (manifest at the root, then the package's files) and check it."""
    manifest = read_manifest()
    dist.mkdir(exist_ok=True)
    target = dist / f"oyster-{manifest['version']}.zip"
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [(MANIFEST, "blender_manifest.toml")]
        entries += [(p, p.relative_to(EXTENSION_PACKAGE).as_posix()) for p in package_files()]
        for source, name in entries:
            info = zipfile.ZipInfo(name, date_time=zip_date())
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, source.read_bytes())
    os.replace(partial, target)
    check_zip(target)
    print(f"build: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return target


def check_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "blender_manifest.toml" not in names or "__init__.py" not in names:
            raise BuildError(f"{path.name}: manifest and __init__.py must sit at the zip root")
        stray = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))
                 or not (n == "blender_manifest.toml" or n.endswith((".py", ".json", ".png")))]
        if stray:
            raise BuildError(f"{path.name}: stray files {stray}")
        tomllib.loads(archive.read("blender_manifest.toml").decode())


# ---------------------------------------------------------------- runtime wheel

def wheel_config() -> dict:
    """`[tool.oyster.runtime-wheel]` of pyproject.toml, with the version from model_runtime/__init__.py."""
    config = dict(tomllib.loads(PYPROJECT.read_text())["tool"]["oyster"]["runtime-wheel"])
    found = re.search(r'^__version__ = "([^"]+)"$', RUNTIME_VERSION_FILE.read_text(), re.MULTILINE)
    if found is None:
        raise BuildError(f"{RUNTIME_VERSION_FILE.relative_to(ROOT)} must set __version__ = \"X.Y.Z\"")
    config["version"] = found.group(1)
    return config


def wheel_files(config: dict) -> list[tuple[Path, str]]:
    """(file, name in the wheel) of the listed packages: their Python sources and data files, no caches."""
    keep = {".py", *config["data-suffixes"]}
    files = []
    for package in config["packages"]:
        folder = ROOT / package
        if not (folder / "__init__.py").is_file():
            raise BuildError(f"wheel package {package!r} has no {package}/__init__.py")
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in keep and "__pycache__" not in path.parts:
                files.append((path, path.relative_to(ROOT).as_posix()))
    return files


def wheel_metadata(config: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {config['name']}", f"Version: {config['version']}",
             f"Summary: {config['summary']}", f"License: {config['license']}",
             f"Requires-Python: {config['requires-python']}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in config["dependencies"]]
    for extra, requirements in sorted(config.get("extras", {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {requirement}; extra == "{extra}"' for requirement in requirements]
    body = ("The Oyster model runtime as a package: `python -m model_runtime serve` (or `oyster-runtime serve`)\n"
            "runs the HTTP server and its worker with the default checkpoints inside. The Blender extension's\n"
            "Set Up Runtime installs it into a virtual environment (docs/extension.md).\n")
    return "\n".join(lines) + "\n\n" + body


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(dist: Path = DIST) -> Path:
    """Build `<dist>/oyster_runtime-<version>-py3-none-any.whl` (PEP 427: packages, then .dist-info, RECORD
    last) and check it. Written by hand rather than by setuptools: `build` then runs on any Python 3.11
    without an environment, and the bytes depend on neither the tool's version nor the checkout's umask."""
    config = wheel_config()
    stem = f"{re.sub(r'[-_.]+', '_', config['name']).lower()}-{config['version']}"
    info_dir = f"{stem}.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / f"{stem}-py3-none-any.whl"
    partial = target.with_name(target.name + ".partial")
    scripts = "".join(f"{name} = {entry}\n" for name, entry in sorted(config["console-scripts"].items()))
    generated = [
        (f"{info_dir}/METADATA", wheel_metadata(config).encode()),
        (f"{info_dir}/WHEEL", b"Wheel-Version: 1.0\nGenerator: oyster build.py\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n"),
        (f"{info_dir}/entry_points.txt", f"[console_scripts]\n{scripts}".encode()),
        (f"{info_dir}/top_level.txt", "".join(f"{p}\n" for p in config["packages"]).encode()),
    ]
    stored = tuple(config["stored-suffixes"])
    date = zip_date()
    records = []
    with zipfile.ZipFile(partial, "w") as archive:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = zipfile.ZIP_STORED if name.endswith(stored) else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
            records.append(record_line(name, data))

        for source, name in wheel_files(config):
            add(name, source.read_bytes())
        for name, data in generated:
            add(name, data)
        record = f"{info_dir}/RECORD"
        info = zipfile.ZipInfo(record, date_time=date)
        info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
        archive.writestr(info, "".join(f"{line}\n" for line in records) + f"{record},,\n")
    os.replace(partial, target)
    check_wheel(target)
    print(f"build: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return target


def check_wheel(path: Path) -> None:
    """The wheel holds the runtime's entry point and default checkpoints, and its RECORD matches its files."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        info_dir = next((n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD")), None)
        if info_dir is None:
            raise BuildError(f"{path.name}: no .dist-info/RECORD")
        needed = ["model_runtime/__main__.py", "model_runtime/checkpoints/oyster-painter.safetensors",
                  "model_runtime/checkpoints/oyster-tiny.safetensors", "oyster_blender/core/__init__.py",
                  f"{info_dir}/METADATA", f"{info_dir}/WHEEL"]
        missing = [n for n in needed if n not in names]
        if missing:
            raise BuildError(f"{path.name}: lacks {', '.join(missing)}")
        stray = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
        if stray:
            raise BuildError(f"{path.name}: stray files {stray}")
        listed = archive.read(f"{info_dir}/RECORD").decode().splitlines()
        expected = [record_line(n, archive.read(n)) for n in names if n != f"{info_dir}/RECORD"]
        if listed[:-1] != expected or listed[-1] != f"{info_dir}/RECORD,,":
            raise BuildError(f"{path.name}: RECORD does not match the files")


# ---------------------------------------------------------------- commands

def run_in_venv(args: list[str]) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([str(VENV_PYTHON), *args], cwd=ROOT, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="create or refresh .venv")
    sub.add_parser("build", help="build and check the extension zip and the runtime wheel")
    demo = sub.add_parser("demo", help="set up, then generate the example shot")
    demo.add_argument("--out", default="oyster_demo", help="output folder (default ./oyster_demo)")
    test = sub.add_parser("test", help="set up, then run the test suite")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            build_zip()
            build_wheel()
            return 0
        setup_venv()
        if args.command == "setup":
            return 0
        build_zip()
        if args.command == "demo":
            return run_in_venv(["-m", "examples.demo", "--out", str(Path(args.out).resolve())])
        return run_in_venv(["-m", "pytest", *args.pytest_args])
    except (BuildError, subprocess.CalledProcessError) as error:
        print(f"build.py: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
