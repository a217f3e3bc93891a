"""Camera math without bpy: Blender camera settings to pinhole intrinsics, poses in OpenCV convention.

Matrices are nested lists (row-major) so this module runs in Blender's bundled
Python without numpy. Blender cameras look down -Z with +Y up; OpenCV cameras
look down +Z with +Y down: c2w_cv = c2w_blender @ diag(1, -1, -1, 1).
"""
from __future__ import annotations

import math

Matrix = list[list[float]]

BLENDER_TO_CV = [[1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]


def matmul(a: Matrix, b: Matrix) -> Matrix:
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def rigid_inverse(m: Matrix) -> Matrix:
    """Inverse of a 4x4 rotation + translation: [R^T, -R^T t]."""
    rt = [[m[j][i] for j in range(3)] for i in range(3)]
    t = [m[i][3] for i in range(3)]
    return [rt[i] + [-sum(rt[i][k] * t[k] for k in range(3))] for i in range(3)] + [[0.0, 0.0, 0.0, 1.0]]


def without_scale(m: Matrix) -> Matrix:
    """A 4x4 world matrix with unit-length rotation columns (object scale does not change where a camera looks)."""
    out = [row[:] for row in m]
    for j in range(3):
        norm = math.sqrt(sum(m[i][j] ** 2 for i in range(3)))
        if norm == 0.0:
            raise ValueError("camera matrix has a zero scale axis")
        for i in range(3):
            out[i][j] = m[i][j] / norm
    return out


def blender_to_opencv(c2w_blender: Matrix) -> Matrix:
    return matmul(without_scale(c2w_blender), BLENDER_TO_CV)


def relative_pose(prev_c2w: Matrix, c2w: Matrix) -> Matrix:
    """Pose of this camera in the previous camera's frame: inv(prev) @ cur."""
    return matmul(rigid_inverse(prev_c2w), c2w)


def sensor_fit_used(sensor_fit: str, width: float, height: float) -> str:
    """Blender's AUTO fit spans the larger image side (after pixel aspect) with the sensor width."""
    if sensor_fit == "AUTO":
        return "HORIZONTAL" if width >= height else "VERTICAL"
    return sensor_fit


def intrinsics(lens_mm: float, sensor_width: float, sensor_height: float, sensor_fit: str,
               width: int, height: int, pixel_aspect_x: float = 1.0, pixel_aspect_y: float = 1.0,
               shift_x: float = 0.0, shift_y: float = 0.0) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels of width x height for a Blender perspective camera.

    Follows Blender's view-plane computation (BKE_camera_params_compute_viewplane): the fitted
    sensor side spans the image side it fits; pixel aspect stretches y; shift moves the frame
    by a fraction of the fitted side (positive shift_y moves the frame up, so cy moves down).
    """
    aspect = pixel_aspect_y / pixel_aspect_x
    fit = sensor_fit_used(sensor_fit, width * pixel_aspect_x, height * pixel_aspect_y)
    view = width if fit == "HORIZONTAL" else aspect * height
    sensor = sensor_height if sensor_fit == "VERTICAL" else sensor_width
    fx = lens_mm / sensor * view
    fy = fx / aspect
    cx = width / 2.0 - shift_x * view
    cy = height / 2.0 + shift_y * view / aspect
    return fx, fy, cx, cy


def shot_scale(scale_length: float) -> float:
    """The track's `scale`: metres per Blender unit, so the model sees every shot in metres.

    The model was trained on scenes built in metres, and its step limits are in metres;
    a set built in centimetres (unit scale 0.01) has the same camera move with 100x the
    numbers. The factor is recorded on the track and never applied to `c2w`.
    """
    if not math.isfinite(scale_length) or scale_length <= 0:
        raise ValueError(f"the scene's unit scale must be a positive number, got {scale_length!r}")
    return float(scale_length)
