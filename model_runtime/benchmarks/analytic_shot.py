"""A shot without Blender: a box on a floor under an open sky, seen from a camera that orbits it, with
passes (z-depth, grey shading) and a ground-truth look computed in closed form by ray casting.

For machines without `bpy` (the GPU check) and for long takes in tests (frames made as they are asked,
so a 4,320-frame take holds one frame at a time). Conventions are the runtime's: world Z up, metres,
camera-to-world in OpenCV axes (x right, y down, z forward), z-depth with 0 for sky.

    track = orbit_track(frames, width, height)   # wire format (docs/camera_track.md)
    passes = AnalyticPasses(track)                # len(), frame(i) -> FramePasses
    rgb = look(track["frames"][i], width, height) # uint8 (H, W, 3), the truth a painter learns
"""
from __future__ import annotations

import numpy as np

from model_runtime.painter.passes import FramePasses

BOX_MIN = np.array([-1.0, -1.0, 0.0])
BOX_MAX = np.array([1.0, 1.0, 2.0])
FLOOR_RADIUS = 60.0     # metres of floor; beyond it the ray sees sky
ORBIT_RADIUS = 6.0
ORBIT_FRAMES = 720      # one turn in 30 s at 24 fps: a three-minute take comes round six times
EYE_HEIGHT = 1.7
TARGET = np.array([0.0, 0.0, 0.8])
SUN = np.array([0.4, -0.5, 0.77]) / np.linalg.norm([0.4, -0.5, 0.77])


def look_at(position: np.ndarray, target: np.ndarray = TARGET) -> np.ndarray:
    """OpenCV camera-to-world 4x4 at `position` looking at `target`, world Z up."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, down, forward, position
    return c2w


def orbit_track(frames: int, width: int, height: int, start: int = 1) -> dict:
    """A camera circling the box at eye height, breathing in and out by a metre (wire format)."""
    f = 0.8 * width
    out, previous = [], None
    for i in range(frames):
        angle = 2 * np.pi * i / ORBIT_FRAMES
        radius = ORBIT_RADIUS + np.sin(2 * np.pi * i / 240)
        c2w = look_at(np.array([radius * np.cos(angle), radius * np.sin(angle), EYE_HEIGHT]))
        rel = np.eye(4) if previous is None else np.linalg.inv(previous) @ c2w
        previous = c2w
        out.append({"frame": start + i, "c2w": c2w.tolist(), "rel": rel.tolist(),
                    "fx": f, "fy": f, "cx": width / 2, "cy": height / 2})
    return {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": start,
            "frame_end": start + frames - 1, "scale": 1.0, "frames": out}


def cast(frame: dict, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z-depth (H, W) float32 (0: sky), world normals (H, W, 3) and what was hit (0 sky, 1 floor, 2 box)."""
    c2w = np.asarray(frame["c2w"], np.float64)
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    cam = np.stack([(u - frame["cx"]) / frame["fx"], (v - frame["cy"]) / frame["fy"], np.ones_like(u)], -1)
    d = cam @ c2w[:3, :3].T                      # world directions with camera z = 1: t is the z-depth
    o = c2w[:3, 3]
    t = np.full((height, width), np.inf)
    what = np.zeros((height, width), np.uint8)
    normal = np.zeros((height, width, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(d[..., 2] < 0, -o[2] / d[..., 2], np.inf)
        hit = o[:2] + t_floor[..., None] * d[..., :2]
        t_floor = np.where(np.hypot(hit[..., 0], hit[..., 1]) <= FLOOR_RADIUS, t_floor, np.inf)
        t0, t1 = (BOX_MIN - o) / d, (BOX_MAX - o) / d
        near, far = np.minimum(t0, t1), np.maximum(t0, t1)
        t_in, t_out = near.max(-1), far.min(-1)
    box = (t_in <= t_out) & (t_in > 0)
    t_box = np.where(box, t_in, np.inf)
    floor = t_floor < t_box
    t = np.where(floor, t_floor, t_box)
    what[np.isfinite(t) & floor], what[np.isfinite(t) & ~floor] = 1, 2
    normal[what == 1] = [0.0, 0.0, 1.0]
    axis = near.argmax(-1)                       # the slab the ray entered by: the face's axis
    sign = -np.sign(np.take_along_axis(d, axis[..., None], -1)[..., 0])
    face = np.zeros_like(normal)
    np.put_along_axis(face, axis[..., None], sign[..., None], -1)
    normal = np.where((what == 2)[..., None], face, normal)
    depth = np.where(np.isfinite(t), t, 0.0).astype(np.float32)
    return depth, normal, what


class AnalyticPasses:
    """The passes of a track's frames, cast as the painter asks for them (nothing is kept)."""

    def __init__(self, track: dict):
        self.track = track

    def __len__(self) -> int:
        return len(self.track["frames"])

    def frame(self, index: int) -> FramePasses:
        depth, normal, what = cast(self.track["frames"][index], self.track["width"], self.track["height"])
        shade = np.where(what > 0, 0.25 + 0.75 * np.clip(normal @ SUN, 0, 1), 0.0)
        return FramePasses(depth, np.round(shade * 255).astype(np.uint8))


def look(frame: dict, width: int, height: int) -> np.ndarray:
    """The shot's ground truth, uint8 (H, W, 3): a dusk sky by elevation, a chequered stone floor, a red box."""
    depth, normal, what = cast(frame, width, height)
    c2w = np.asarray(frame["c2w"], np.float64)
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    cam = np.stack([(u - frame["cx"]) / frame["fx"], (v - frame["cy"]) / frame["fy"], np.ones_like(u)], -1)
    d = cam @ c2w[:3, :3].T
    elevation = np.clip(d[..., 2] / np.linalg.norm(d, axis=-1), 0, 1)[..., None]
    sky = (1 - elevation) * np.array([0.95, 0.6, 0.4]) + elevation * np.array([0.25, 0.3, 0.55])
    light = (0.3 + 0.7 * np.clip(normal @ SUN, 0, 1))[..., None]
    points = c2w[:3, 3] + depth[..., None] * d
    checker = ((np.floor(points[..., 0]) + np.floor(points[..., 1])) % 2)[..., None]
    floor = (0.45 + 0.15 * checker) * np.array([0.8, 0.75, 0.7]) * light
    box = np.array([0.7, 0.15, 0.1]) * light
    rgb = np.where((what == 1)[..., None], floor, np.where((what == 2)[..., None], box, sky))
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
