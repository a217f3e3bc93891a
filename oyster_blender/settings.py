"""The extension's preferences as plain data (no bpy), and the checks on them.

`preferences.py` stores these fields in Blender's add-on preferences; code that
needs them reads a `RuntimeSettings`, which also works when the package is
registered by a script rather than enabled as an extension (then: defaults).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import OysterError


class SettingsError(OysterError):
    """A preference cannot be used as it is (the message names it)."""


@dataclass(frozen=True)
class RuntimeSettings:
    """Where the model runtime is and where takes go."""

    python: str = ""
    """Interpreter of the runtime's environment (the repository's .venv); empty: none configured."""
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
