"""Oyster previs: camera paths and scene notes to generated shots on the timeline.

The bpy-dependent modules are imported inside register(), so the bpy-free helpers
of this package (naming, camera math, track schema, shots, settings, runtime
status, runtime client) can also be imported by the runtime and by plain tests.
"""
from __future__ import annotations

import importlib
from types import ModuleType

# Registration order: data first (operators and panels refer to it), the panel last.
MODULES = ("properties", "preferences", "operators", "ui")


def _modules() -> list[ModuleType]:
    return [importlib.import_module(f".{name}", __package__) for name in MODULES]


def register() -> None:
    for module in _modules():
        module.register()


def unregister() -> None:
    for module in reversed(_modules()):
        module.unregister()
