"""Shared fixtures. bpy is one Blender per process: every test that touches it starts from an empty file."""
from __future__ import annotations

import pytest


@pytest.fixture
def empty_scene():
    """The real bpy module reset to an empty factory file; returns the scene."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene
