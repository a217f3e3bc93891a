"""Oyster previs: camera paths and scene notes to generated shots on the timeline.

The bpy-dependent modules are imported inside register(), so the bpy-free helpers
of this package (naming, camera math, track schema, shots, settings, runtime
status, runtime client) can also be imported by the runtime and by plain tests.
"""
from __future__ import annotations

import atexit
import importlib
from types import ModuleType

# Registration order: data first (operators and panels refer to it), the main panel, then its sub-panels;
# the runtime session and live mode last, so that unregistering stops a flight, then the session (and a
# runtime it started), first.
MODULES = ("properties", "preferences", "operators", "ui", "timeline", "take_browser", "export", "runtime_session",
           "live_panel")


def _modules() -> list[ModuleType]:
    return [importlib.import_module(f".{name}", __package__) for name in MODULES]


def register() -> None:
    import bpy

    for module in _modules():
        module.register()
    # bpy as a Python module (scripts, tests) hangs at exit in its static destructors while Python
    # callbacks (property poll/update, timers) are still registered; Blender itself cleans up on quit.
    if not bpy.app.binary_path:
        atexit.register(unregister)


def unregister() -> None:
    atexit.unregister(unregister)
    for module in reversed(_modules()):
        module.unregister()
