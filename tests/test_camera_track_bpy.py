"""camera_track against Blender itself: projecting known points with the returned matrices must land
where Blender's own world_to_camera_view puts them, for constrained, parented and animated cameras."""
from __future__ import annotations

import math

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from bpy_extras.object_utils import world_to_camera_view  # noqa: E402
from mathutils import Vector  # noqa: E402

from oyster_blender.camera import camera_track  # noqa: E402
from oyster_blender.core.errors import CameraError, ShotError  # noqa: E402
from oyster_blender.core.track_schema import validate_track  # noqa: E402

TOL_PX = 1e-5 * 1000  # 1e-5 of the normalised image, in pixels of a ~1000 px frame


def make_camera(scene, name="Cam", location=(0, -10, 2), lens=35.0):
    data = bpy.data.cameras.new(name)
    data.lens = lens
    cam = bpy.data.objects.new(name, data)
    scene.collection.objects.link(cam)
    cam.location = location
    cam.rotation_euler = (math.radians(80), 0, 0)
    scene.camera = cam
    return cam


def project(frame: dict, points: np.ndarray) -> np.ndarray:
    """Pixels (u, v) of world points through a wire-format frame (OpenCV pinhole)."""
    c2w = np.array(frame["c2w"])
    cam = (points - c2w[:3, 3]) @ c2w[:3, :3]
    return np.stack([frame["fx"] * cam[:, 0] / cam[:, 2] + frame["cx"],
                     frame["fy"] * cam[:, 1] / cam[:, 2] + frame["cy"]], axis=1)


def blender_pixels(scene, cam, points: np.ndarray, width: int, height: int) -> np.ndarray:
    out = []
    for p in points:
        ndc = world_to_camera_view(scene, cam, Vector(p))
        out.append((ndc.x * width, (1.0 - ndc.y) * height))
    return np.array(out)


def check_against_blender(scene, cam, track: dict) -> None:
    validate_track(track)
    rng = np.random.default_rng(0)
    for frame in track["frames"]:
        scene.frame_set(frame["frame"])
        c2w = np.array(frame["c2w"])
        # points 3-30 m in front of the camera, spread over the view
        depth = rng.uniform(3, 30, 20)
        dirs = np.stack([rng.uniform(-0.4, 0.4, 20), rng.uniform(-0.3, 0.3, 20), np.ones(20)], axis=1)
        points = (dirs * depth[:, None]) @ c2w[:3, :3].T + c2w[:3, 3]
        ours = project(frame, points)
        theirs = blender_pixels(scene, cam, points, track["width"], track["height"])
        assert np.abs(ours - theirs).max() < TOL_PX, (frame["frame"], np.abs(ours - theirs).max())


def setup_range(scene, start=1, end=24, width=960, height=540):
    scene.frame_start, scene.frame_end = start, end
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100


def test_orbit_matches_analytic_positions(empty_scene):
    scene = empty_scene
    setup_range(scene)
    target = bpy.data.objects.new("Target", None)
    scene.collection.objects.link(target)
    target.location = (1.0, 2.0, 0.5)
    pivot = bpy.data.objects.new("Pivot", None)
    scene.collection.objects.link(pivot)
    pivot.location = target.location
    cam = make_camera(scene, location=(0, 0, 0))
    cam.parent = pivot
    cam.location = (0.0, -8.0, 0.0)  # radius 8 around the pivot
    track_to = cam.constraints.new("TRACK_TO")
    track_to.target, track_to.track_axis, track_to.up_axis = target, "TRACK_NEGATIVE_Z", "UP_Y"
    pivot.rotation_euler = (0, 0, 0)
    pivot.keyframe_insert("rotation_euler", frame=1)
    pivot.rotation_euler = (0, 0, math.radians(90))
    pivot.keyframe_insert("rotation_euler", frame=24)
    for fc in pivot.animation_data.action.fcurves:
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"
    track = camera_track(scene, cam, 1, 24)
    for frame in track["frames"]:
        angle = math.radians(90) * (frame["frame"] - 1) / 23
        expected = np.array([1.0 + 8 * math.sin(angle), 2.0 - 8 * math.cos(angle), 0.5])
        c2w = np.array(frame["c2w"])
        assert np.allclose(c2w[:3, 3], expected, atol=1e-5)
        forward = c2w[:3, 2]  # OpenCV +z looks at the target
        to_target = np.array(target.location) - c2w[:3, 3]
        assert np.allclose(forward, to_target / np.linalg.norm(to_target), atol=1e-5)
    check_against_blender(scene, cam, track)
    rel = np.array(track["frames"][5]["rel"])
    assert np.allclose(np.linalg.inv(np.array(track["frames"][4]["c2w"])) @ np.array(track["frames"][5]["c2w"]),
                       rel, atol=1e-9)


def linear(obj) -> None:
    """Linear keys, so positions between them are known in closed form."""
    for fc in obj.animation_data.action.fcurves:
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"


def test_follow_path_dolly_and_track_to_pan(empty_scene):
    scene = empty_scene
    setup_range(scene, 1, 30)
    curve = bpy.data.curves.new("Path", "CURVE")
    curve.dimensions = "3D"
    spline = curve.splines.new("POLY")
    spline.points.add(1)
    spline.points[0].co = (0, -10, 1.5, 1)
    spline.points[1].co = (0, -2, 1.5, 1)
    curve.use_path = True
    curve.path_duration = 29
    curve.eval_time = 0
    curve.keyframe_insert("eval_time", frame=1)
    curve.eval_time = 29
    curve.keyframe_insert("eval_time", frame=30)
    linear(curve)
    path = bpy.data.objects.new("Path", curve)
    scene.collection.objects.link(path)
    cam = make_camera(scene, location=(0, 0, 0))
    follow = cam.constraints.new("FOLLOW_PATH")
    follow.target = path
    follow.use_fixed_location = False
    mover = bpy.data.objects.new("Mover", None)
    scene.collection.objects.link(mover)
    mover.location = (-3, 5, 1)
    mover.keyframe_insert("location", frame=1)
    mover.location = (3, 5, 1)
    mover.keyframe_insert("location", frame=30)
    linear(mover)
    pan = cam.constraints.new("TRACK_TO")
    pan.target, pan.track_axis, pan.up_axis = mover, "TRACK_NEGATIVE_Z", "UP_Y"
    track = camera_track(scene, cam, 1, 30)
    for frame in track["frames"]:
        t = (frame["frame"] - 1) / 29
        c2w = np.array(frame["c2w"])
        # the dolly: evenly along the two-point path, from y=-10 to y=-2 at height 1.5
        assert np.allclose(c2w[:3, 3], [0.0, -10 + 8 * t, 1.5], atol=1e-5), frame["frame"]
        # the pan: OpenCV +z looks at the mover, image x stays level (Track To with up Y keeps z up)
        to_mover = np.array([-3 + 6 * t, 5.0, 1.0]) - c2w[:3, 3]
        assert np.allclose(c2w[:3, 2], to_mover / np.linalg.norm(to_mover), atol=1e-5), frame["frame"]
        assert abs(c2w[2, 0]) < 1e-5
    check_against_blender(scene, cam, track)


def test_child_of_constraint_follows_its_target(empty_scene):
    scene = empty_scene
    setup_range(scene, 1, 10)
    dolly = bpy.data.objects.new("Dolly", None)
    scene.collection.objects.link(dolly)
    dolly.location = (0, 0, 0)
    dolly.keyframe_insert("location", frame=1)
    dolly.location = (9, 0, 0)
    dolly.keyframe_insert("location", frame=10)
    linear(dolly)
    cam = make_camera(scene, location=(0, -6, 1.5))
    child_of = cam.constraints.new("CHILD_OF")
    child_of.target = dolly
    child_of.set_inverse_pending = False
    child_of.inverse_matrix.identity()
    track = camera_track(scene, cam, 1, 10)
    for frame in track["frames"]:
        assert np.allclose(np.array(frame["c2w"])[:3, 3], [frame["frame"] - 1.0, -6, 1.5], atol=1e-5)
    check_against_blender(scene, cam, track)


def test_parented_crane_and_animated_zoom(empty_scene):
    scene = empty_scene
    setup_range(scene, 1, 20)
    arm = bpy.data.objects.new("CraneArm", None)
    scene.collection.objects.link(arm)
    arm.location = (0, 0, 1)
    arm.keyframe_insert("location", frame=1)
    arm.location = (0, 0, 6)
    arm.keyframe_insert("location", frame=20)
    cam = make_camera(scene, location=(0, -12, 0))
    cam.parent = arm
    cam.data.lens = 24
    cam.data.keyframe_insert("lens", frame=1)
    cam.data.lens = 85
    cam.data.keyframe_insert("lens", frame=20)
    track = camera_track(scene, cam, 1, 20)
    assert track["frames"][-1]["fx"] > 3 * track["frames"][0]["fx"]  # the zoom reached the intrinsics
    assert np.array(track["frames"][-1]["c2w"])[2, 3] == pytest.approx(6.0, abs=1e-5)  # arm at 6, camera at 0 on it
    check_against_blender(scene, cam, track)


@pytest.mark.parametrize("fit", ["AUTO", "HORIZONTAL", "VERTICAL"])
@pytest.mark.parametrize("size", [(960, 540), (540, 960)])
@pytest.mark.parametrize("aspect", [(1.0, 1.25), (1.25, 1.0)])
def test_sensor_fits_shift_and_pixel_aspect(empty_scene, fit, size, aspect):
    scene = empty_scene
    setup_range(scene, 1, 2, *size)
    scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = aspect
    cam = make_camera(scene, lens=50)
    cam.data.sensor_fit = fit
    cam.data.sensor_width, cam.data.sensor_height = 36.0, 20.25
    cam.data.shift_x, cam.data.shift_y = 0.1, -0.05
    check_against_blender(scene, cam, camera_track(scene, cam, 1, 2))


def test_wire_format_fields(empty_scene):
    scene = empty_scene
    setup_range(scene, 5, 8, 640, 360)
    scene.render.resolution_percentage = 50
    scene.unit_settings.scale_length = 0.01  # a scene built in centimetres
    cam = make_camera(scene)
    track = camera_track(scene, cam, 5, 8)
    assert (track["version"], track["width"], track["height"], track["frame_start"], track["frame_end"]) == (1, 320, 180, 5, 8)
    assert track["scale"] == pytest.approx(0.01)
    assert [f["frame"] for f in track["frames"]] == [5, 6, 7, 8]
    assert np.allclose(track["frames"][0]["rel"], np.eye(4))
    assert scene.frame_current == 1  # the current frame is restored


def test_shot_size_and_fps_override_and_a_scene_that_is_not_the_context_scene(empty_scene):
    other = bpy.data.scenes.new("Other")
    setup_range(other, 1, 5, 640, 360)
    cam = make_camera(other)
    cam.keyframe_insert("location", frame=1)
    cam.location.x = 4.0
    cam.keyframe_insert("location", frame=5)
    linear(cam)
    assert bpy.context.scene != other
    track = camera_track(other, cam, 1, 5, size=(320, 180), fps=12.5)
    assert (track["width"], track["height"], track["fps"]) == (320, 180, 12.5)
    assert track["frames"][0]["fx"] == pytest.approx(track["frames"][0]["cx"] * 2 * 35 / 36)
    assert np.array(track["frames"][-1]["c2w"])[0, 3] == pytest.approx(4.0, abs=1e-5)
    assert np.array(track["frames"][0]["c2w"])[0, 3] == pytest.approx(0.0, abs=1e-5)


def test_bad_cameras_and_ranges(empty_scene):
    scene = empty_scene
    setup_range(scene, 1, 10)
    cam = make_camera(scene)
    with pytest.raises(CameraError, match="no camera"):
        camera_track(scene, None, 1, 5)
    cube = bpy.data.objects.new("Prop", bpy.data.meshes.new("Prop"))
    scene.collection.objects.link(cube)
    with pytest.raises(CameraError, match="not a camera"):
        camera_track(scene, cube, 1, 5)
    cam.data.type = "ORTHO"
    with pytest.raises(CameraError, match="orthographic"):
        camera_track(scene, cam, 1, 5)
    cam.data.type = "PANO"
    with pytest.raises(CameraError, match="panoramic"):
        camera_track(scene, cam, 1, 5)
    cam.data.type = "PERSP"
    with pytest.raises(ShotError, match="empty"):
        camera_track(scene, cam, 6, 5)
    with pytest.raises(ShotError, match="reversed"):
        camera_track(scene, cam, 7, 5)
    with pytest.raises(ShotError, match="beyond"):
        camera_track(scene, cam, 1, 11)
    bpy.data.objects.remove(cam)
    with pytest.raises(CameraError, match="deleted"):
        camera_track(scene, cam, 1, 5)
