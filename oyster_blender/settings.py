"""The extension's preferences as plain data (no bpy), and the checks on them.

`preferences.py` stores these fields in Blender's add-on preferences; code that
needs them reads a `RuntimeSettings`, which also works when the package is
registered by a script rather than enabled as an extension (then: defaults).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .core.errors import OysterError


class SettingsError(OysterError):
    """A preference cannot be used as it is (the message names it)."""


@dataclass(frozen=True)
class RuntimeSettings:
    """Where the model runtime is and where takes go."""

    python: str = ""
    """Interpreter of the runtime's environment (Set Up Runtime's venv, or a repository's .venv); empty: none."""
    address: str = ""
    """`host:port` of a running (studio) runtime; empty: start one locally with `python`."""
    token: str = ""
    """Bearer token of the remote runtime (a local one gets a fresh private token)."""
    output_folder: str = ""
    """Root of `oyster/<shot>/take_NNN`; empty: the folder of the .blend file. `//` is relative to it."""


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) from `host:port` (IPv6 as `[::1]:8765`); SettingsError saying what is wrong."""
    text = address.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise SettingsError(f"runtime address {address!r} must be host:port, e.g. 127.0.0.1:8765")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SettingsError(f"runtime address {address!r}: the port must be a number within 1..65535")
    return host, int(port)


CHECKOUT = Path(__file__).resolve().parent.parent
"""The folder holding this package: the repository when the extension runs from its checkout."""


def runtime_root(python: str) -> Path | None:
    """The repository a runtime interpreter belongs to (`<repo>/.venv/bin/python` -> `<repo>`), if it is one.

    Not resolved: the venv's `python` is a link to the system interpreter, outside the repository.
    """
    root = Path(python).absolute().parent.parent.parent
    return root if (root / "model_runtime").is_dir() else None


def installed_runtime(python: str) -> Path | None:
    """The site-packages of a venv interpreter that has the runtime wheel installed (Set Up Runtime), if any.

    Looked up on disk, without running the interpreter: `<venv>/lib/python3.X/site-packages/model_runtime`
    (`<venv>/Lib/site-packages` on Windows).
    """
    env = Path(python).absolute().parent.parent
    for lib in (env / "Lib" / "site-packages", *sorted((env / "lib").glob("python3*/site-packages"))):
        if (lib / "model_runtime" / "__init__.py").is_file():
            return lib
    return None


def checkout_python(checkout: Path) -> str:
    """The interpreter of `build.py`'s venv in a repository checkout, or "" when there is none."""
    for relative in (".venv/bin/python", ".venv/Scripts/python.exe"):
        if (checkout / "model_runtime").is_dir() and (checkout / relative).is_file():
            return str(checkout / relative)
    return ""


def local_runtime(settings: RuntimeSettings, checkout: Path = CHECKOUT) -> tuple[str, Path]:
    """(interpreter, folder holding model_runtime) to start a local runtime with; SettingsError saying what to set.

    The folder is the repository, or the site-packages of an environment with the runtime wheel installed.
    Without a configured interpreter, the extension running from a repository checkout (`checkout`
    holds `model_runtime/`) uses that checkout's `.venv`, so a developer needs no preferences.
    """
    python = settings.python or checkout_python(checkout)
    if not python:
        raise SettingsError("no runtime set up: in Oyster's preferences, set Runtime Python (Set Up Runtime "
                            "makes one from the runtime wheel; in a repository, `python3 build.py setup` makes "
                            ".venv), or a Runtime Address")
    if not Path(python).is_file():
        raise SettingsError(f"the Runtime Python {python!r} does not exist: fix it in Oyster's preferences")
    root = (runtime_root(python) or installed_runtime(python)
            or (checkout if (checkout / "model_runtime").is_dir() else None))
    if root is None:
        raise SettingsError(f"the Runtime Python {python!r} is not the .venv of an Oyster repository "
                            "(no model_runtime/ beside its .venv) and has no runtime installed: press Set Up "
                            "Runtime in Oyster's preferences, or point it at <repository>/.venv/bin/python")
    return python, root
