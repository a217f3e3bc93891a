"""Camera tracks, the action conditioning: a Blender camera over a frame range in the wire format.

The format (version 1) is written down with its JSON Schema in docs/camera_track.md.
Poses are read from the evaluated depsgraph after `frame_set`, so constraints
(Follow Path, Track To, Child Of), parenting and animated lens or shift all count.
"""
from __future__ import annotations

import bpy

from .core import camera_math
from .core.errors import CameraError, ShotError
from .core.track_schema import MAX_FRAMES, TRACK_VERSION


def render_size(scene: bpy.types.Scene) -> tuple[int, int]:
    """Output width and height in pixels, resolution percentage applied."""
    pct = scene.render.resolution_percentage / 100.0
    return max(1, round(scene.render.resolution_x * pct)), max(1, round(scene.render.resolution_y * pct))


def check_camera(camera: bpy.types.Object | None) -> bpy.types.Object:
    """The camera object if the model can follow it, else CameraError saying why."""
    if camera is None:
        raise CameraError("the shot has no camera: pick a camera object")
    try:
        kind, data = camera.type, camera.data
    except ReferenceError as error:
        raise CameraError("the shot's camera was deleted: pick another camera") from error
    if kind != "CAMERA":
        raise CameraError(f"'{camera.name}' is a {kind.lower()}, not a camera")
    if data.type != "PERSP":
        kind = {"ORTHO": "orthographic", "PANO": "panoramic"}.get(data.type, data.type.lower())
        raise CameraError(f"camera '{camera.name}' is {kind}: only perspective cameras can be generated "
                          "(the model needs a pinhole camera)")
    return camera


def check_range(scene: bpy.types.Scene, frame_start: int, frame_end: int) -> None:
    """ShotError unless frame_start..frame_end (inclusive) is a non-empty range inside the scene's."""
    if frame_end == frame_start - 1:
        raise ShotError(f"the frame range {frame_start}-{frame_end} is empty (it holds no frame)")
    if frame_end < frame_start:
        raise ShotError(f"the frame range {frame_start}-{frame_end} is reversed")
    if frame_start < scene.frame_start or frame_end > scene.frame_end:
        raise ShotError(f"frames {frame_start}-{frame_end} reach beyond the scene's range "
                        f"{scene.frame_start}-{scene.frame_end}")
    if frame_end - frame_start + 1 > MAX_FRAMES:
        raise ShotError(f"a shot holds at most {MAX_FRAMES} frames, this one {frame_end - frame_start + 1}")


def _depsgraph(scene: bpy.types.Scene) -> bpy.types.Depsgraph:
    """The evaluated graph of `scene`; frame_set re-evaluates this same graph, so it is fetched once.

    Call after a frame_set: a scene that is not the context's gets its graph from that.
    """
    if scene == bpy.context.scene:
        return bpy.context.evaluated_depsgraph_get()
    return scene.view_layers[0].depsgraph  # a script's other scene: its first view layer


def camera_frame(evaluated: bpy.types.Object, render: bpy.types.RenderSettings, width: int, height: int) -> dict:
    """An evaluated camera as it is now: `{c2w, fx, fy, cx, cy}` of a wire-format frame (live mode sends these)."""
    cam = evaluated.data
    fx, fy, cx, cy = camera_math.intrinsics(
        cam.lens, cam.sensor_width, cam.sensor_height, cam.sensor_fit, width, height,
        render.pixel_aspect_x, render.pixel_aspect_y, cam.shift_x, cam.shift_y)
    return {"c2w": camera_math.blender_to_opencv([list(row) for row in evaluated.matrix_world]),
            "fx": fx, "fy": fy, "cx": cx, "cy": cy}


def camera_track(scene: bpy.types.Scene, camera: bpy.types.Object | None, frame_start: int, frame_end: int,
                 size: tuple[int, int] | None = None, fps: float | None = None) -> dict:
    """The camera over frames frame_start..frame_end (inclusive) as a JSON-able wire-format dict.

    `size` (width, height) and `fps` default to the scene's output; a shot passes its own.
    The scene's current frame is restored afterwards.
    """
    camera = check_camera(camera)
    check_range(scene, frame_start, frame_end)
    width, height = size if size is not None else render_size(scene)
    render = scene.render
    scale = camera_math.shot_scale(scene.unit_settings.scale_length)
    original = scene.frame_current
    frames, prev = [], None
    try:
        scene.frame_set(frame_start)
        depsgraph = _depsgraph(scene)
        for frame in range(frame_start, frame_end + 1):
            scene.frame_set(frame)
            pose = camera_frame(camera.evaluated_get(depsgraph), render, width, height)
            rel = camera_math.relative_pose(prev, pose["c2w"]) if prev is not None else \
                [[float(i == j) for j in range(4)] for i in range(4)]
            frames.append({"frame": frame, **pose, "rel": rel})
            prev = pose["c2w"]
    finally:
        scene.frame_set(original)
    return {"version": TRACK_VERSION, "width": width, "height": height,
            "fps": float(fps) if fps is not None else render.fps / render.fps_base,
            "frame_start": frame_start, "frame_end": frame_end, "scale": scale, "frames": frames}
