"""Shared fixtures. bpy is one Blender per process: every test that touches it starts from an empty file.

Test files that need bpy end in `_bpy.py`. Elsewhere they skip without it, but in the project's own
environment (.venv/, which build.py installs bpy into) a missing bpy fails the session instead of
skipping them silently.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def in_project_venv() -> bool:
    return Path(sys.prefix).resolve() == (REPO / ".venv").resolve()


def bpy_importable() -> bool:
    try:
        return importlib.util.find_spec("bpy") is not None
    except ValueError:  # sys.modules["bpy"] is None: imports of it are refused
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    if in_project_venv() and not bpy_importable():
        raise pytest.UsageError(f"bpy is not importable in {sys.prefix}, the project's own environment: the "
                                "*_bpy.py tests would skip. Run `python3 build.py setup` to install it "
                                "(requirements.lock pins it).")


@pytest.fixture
def empty_scene():
    """The real bpy module reset to an empty factory file; returns the scene."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


@pytest.fixture
def oyster_scene(empty_scene):
    """An empty scene with the extension registered (as a script would: `oyster_blender.register()`),
    a camera as the scene camera and frames 1-48; unregistered afterwards, runtime status reset."""
    import bpy

    import oyster_blender
    from oyster_blender.runtime_status import STATUS

    oyster_blender.register()
    scene = empty_scene
    scene.frame_start, scene.frame_end = 1, 48
    camera = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(camera)
    camera.location = (0.0, -10.0, 2.0)
    scene.camera = camera
    try:
        yield scene
    finally:
        STATUS.set_absent()
        oyster_blender.unregister()
