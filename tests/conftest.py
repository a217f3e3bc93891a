"""Shared fixtures. bpy is one Blender per process: every test that touches it starts from an empty file."""
from __future__ import annotations

import pytest


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
