"""Oyster previs: camera paths and scene notes to generated shots on the timeline.

`oyster_blender.core` holds the contracts the runtime shares (track schema, camera math, naming, errors),
standard library only. Importing `oyster_blender.core` runs this file first, so this file imports no bpy
module at its top: register() imports them. The other bpy-free modules (shots, settings, client,
runtime_process, runtime_status, take_files, take_progress) import without bpy as well.
"""
from __future__ import annotations

import atexit
from types import ModuleType


def _modules() -> list[ModuleType]:
    """The bpy modules in registration order: data first (operators and panels refer to it), the main
    panel, then its sub-panels; the runtime session and live mode last, so that unregistering stops a
    flight, then the session (and a runtime it started), first."""
    from . import (properties, preferences, operators, ui, timeline, take_browser,  # noqa: I001
                   runtime_session, live_panel, world_panel)
    from .export import panel as export_panel

    return [properties, preferences, operators, ui, timeline, take_browser, export_panel, runtime_session,
            live_panel, world_panel]


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
