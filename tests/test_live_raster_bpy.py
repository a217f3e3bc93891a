"""The runtime's drawing of the passes (model_runtime/painter/raster.py) against Workbench's own, in the real bpy
module: a flat cube, a smooth sphere, a plane seen from behind, a box with a modifier, a collection instanced
twice and a clip end inside the floor, from one camera; depth, sky, shading and objects as `oyster_blender.passes.render_passes` renders
them (the painter was trained on those), but for FXAA's edge pixels; and the live flight's blockout file is
written again exactly when something drawn changed."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from oyster_blender.blockout_mesh import LiveBlockout, object_id, write_blockout  # noqa: E402
from oyster_blender.camera import camera_track  # noqa: E402
from oyster_blender.passes import render_passes  # noqa: E402
from model_runtime.painter.passes import read_frame  # noqa: E402
from model_runtime.painter.raster import Blockout  # noqa: E402

WIDTH, HEIGHT = 128, 72


@pytest.fixture
def blockout_scene(oyster_scene):
    scene = oyster_scene
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    scene.unit_settings.scale_length = 0.5  # depth in metres is half the scene units
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(-2.5, 0.0, 1.5), rotation=(0.3, 0.2, 0.7))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=1.2, location=(1.5, 1.0, 2.0))
    bpy.ops.object.shade_smooth()
    bpy.ops.mesh.primitive_plane_add(size=20.0, location=(0.0, 0.0, 0.0), rotation=(math.pi, 0.0, 0.0))  # face down
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0.0, 4.0, 1.0), scale=(1.0, 1.0, 1.0))
    bpy.context.object.modifiers.new("bevel", "BEVEL").width = 0.3
    props = bpy.data.collections.new("props")  # a collection instanced twice: instances share one mesh
    bpy.ops.mesh.primitive_cone_add(radius1=0.6, depth=1.5, location=(0.0, 0.0, 0.75))
    cone = bpy.context.object
    for collection in cone.users_collection:
        collection.objects.unlink(cone)
    props.objects.link(cone)
    for x in (-1.0, 1.2):
        instance = bpy.data.objects.new(f"props at {x}", None)
        instance.instance_type, instance.instance_collection = "COLLECTION", props
        instance.location = (x, -4.0, 0.0)
        scene.collection.objects.link(instance)
    camera = scene.camera
    camera.location = (0.0, -9.0, 3.0)
    camera.rotation_euler = (math.radians(78), 0.0, 0.0)
    camera.data.clip_end = 16.0  # the far part of the floor lies beyond it: sky
    return scene


def majority(values: np.ndarray) -> int:
    kinds, counts = np.unique(values, return_counts=True)
    return kinds[counts.argmax()]


def test_drawn_passes_match_workbench(blockout_scene, tmp_path):
    scene = blockout_scene
    frame = scene.frame_current
    rendered = render_passes(scene, scene.camera, [frame], (WIDTH, HEIGHT), tmp_path, objects=True)
    workbench = read_frame(rendered.folder, frame, WIDTH, HEIGHT, objects=True)
    track = camera_track(scene, scene.camera, frame, frame, (WIDTH, HEIGHT))
    path = write_blockout(bpy.context.evaluated_depsgraph_get(), tmp_path / "blockout.npz")
    blockout = Blockout.load(path, (scene.camera.data.clip_start, scene.camera.data.clip_end))
    drawn = blockout.passes(track["frames"][0], WIDTH, HEIGHT, track["scale"])

    hit = workbench.depth > 0
    assert 0.3 < hit.mean() < 0.95  # floor, objects and sky beyond the clip end all in view
    assert ((drawn.depth > 0) == hit).mean() > 0.995
    both = hit & (drawn.depth > 0)
    relative = np.abs(drawn.depth[both] - workbench.depth[both]) / workbench.depth[both]
    assert np.quantile(relative, 0.99) < 1e-3  # in metres: the unit scale applied
    difference = np.abs(drawn.shade.astype(int) - workbench.shade.astype(int))[both]
    assert (difference <= 1).mean() > 0.9 and difference.mean() < 2.0, (difference.mean(), (difference <= 1).mean())
    assert drawn.shade[~hit].max() == 0 if (~hit).any() else True
    # the smooth sphere is shaded smoothly, as Workbench does: no facets' steps inside it
    assert len(np.unique(drawn.shade[both])) > 40
    # one id per object: each drawn id covers the pixels of one Workbench object colour
    for drawn_id in np.unique(drawn.object[both]):
        theirs = workbench.object[both & (drawn.object == drawn_id)]
        assert (theirs == majority(theirs)).mean() > 0.97
    assert len(np.unique(drawn.object[both])) == 5  # the cone's two instances are one object
    cone = workbench.object == majority(workbench.object[both & (drawn.object == object_id("Cone"))])
    assert cone[:, :WIDTH // 2].any() and cone[:, WIDTH // 2:].any()  # both instances drawn, where Workbench has them


def test_live_blockout_is_written_again_only_when_something_drawn_changed(blockout_scene, tmp_path):
    scene = blockout_scene
    camera = scene.camera
    sphere = next(obj for obj in scene.objects if obj.name.startswith("Sphere"))
    live = LiveBlockout(scene, camera, tmp_path / "live")
    try:
        def current() -> dict:
            return live.current(bpy.context.evaluated_depsgraph_get())

        first = current()
        assert live.writes == 1 and Path(first["file"]).is_file()
        assert first["clip"] == [camera.data.clip_start, camera.data.clip_end]
        camera.location.x += 0.5  # the camera flies: nothing drawn changed
        scene.frame_set(scene.frame_current + 1)  # nothing drawn is animated
        assert current() == first and live.writes == 1
        changes = [lambda: setattr(sphere.location, "z", 3.0),  # moved by hand
                   lambda: setattr(sphere, "hide_render", True),  # hidden from render: not drawn
                   lambda: setattr(sphere.data.vertices[0].co, "x", 5.0) or sphere.data.update(),  # edited
                   lambda: bpy.data.objects.remove(sphere)]  # deleted
        for number, change in enumerate(changes, start=2):
            change()
            now = current()
            assert live.writes == number and now["file"] != first["file"], number
            assert Path(now["file"]).is_file() and not Path(first["file"]).exists()  # the one before is gone
            first = now
        cube = next(obj for obj in scene.objects if obj.type == "MESH")
        cube.keyframe_insert("location", frame=1)
        cube.location.x += 2.0
        cube.keyframe_insert("location", frame=10)
        current()
        writes = live.writes
        scene.frame_set(5)  # the animated cube moves at a new frame
        current()
        assert live.writes == writes + 1
        assert np.load(current()["file"])["triangle_counts"].sum() > 0
    finally:
        live.close()
    assert live._updated not in bpy.app.handlers.depsgraph_update_post + bpy.app.handlers.frame_change_post
