"""Go Live's passes drawn in the runtime: the blockout's triangles ray cast with Embree, shaded as Workbench does.

The extension writes the blockout's meshes once per change
(oyster_blender/blockout_mesh.py); each live pose is then one ray per pixel
centre through Embree (`embreex`, Intel's ray tracing kernels), the rays and
the shading of their hits each one numba loop over the pixels (numpy's passes
over every pixel, with small matrix products, took 8 ms of the 18 a pose), the
frame's two halves cast and shaded on two threads: about 8 ms at 384x216 on
this CPU, against 55-75 ms for a Workbench render in Blender's UI thread
(docs/decisions.md, "Live passes drawn by the runtime").

What comes out is what `oyster_blender.passes` renders, so the painter sees
what it was trained on:
- depth: z-depth in metres at the pixel centre, 0 where no surface lies
  between the camera's clip distances;
- shade: Workbench's STUDIO lighting of a grey (0.8) surface with Blender's
  built-in "Default" studio light, no specular, shadows or cavity (the
  lights sit in view space; each light wraps as `clamp((N.L + w) / (1 + w)^2)`),
  through Blender's Standard view transform to 8 bits (fitted: `display_thresholds`). Workbench
  anti-aliases the shading with FXAA; this draws the pixel centre, so edge
  pixels differ (measured in docs/decisions.md);
- object ids of the triangles' objects (0: sky), so a moving object leaves
  no painted copy in the memory, as the take's object pass does.
"""
from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from model_runtime.models import threads
from model_runtime.painter.passes import FramePasses, PassesError

# Blender's built-in "Default" studio light (bpy.context.preferences.studio_lights["Default"].solid_lights):
# view-space direction, diffuse colour (grey: one channel) and wrap of each of its four lights.
STUDIO_LIGHTS = np.array([
    [-0.352546, 0.170931, -0.920051, 0.033103, 0.526620],
    [-0.408163, 0.346939, 0.844415, 0.521083, 0.0],
    [0.521739, 0.826087, 0.212999, 0.034357, 0.478261],
    [0.624519, -0.562067, -0.542269, 0.082080, 0.2],
], np.float32)
GREY = 0.8  # oyster_blender.passes.SHADE_GREY
DISPLAY_GAIN = 0.97


@numba.njit(inline="always")
def studio_shade(x: float, y: float, z: float, lights: np.ndarray) -> float:
    """Workbench's diffuse STUDIO lighting of the grey surface, linear, for a unit Blender view-space normal."""
    light = 0.0
    for i in range(len(lights)):  # view-space direction, diffuse colour, wrap (STUDIO_LIGHTS)
        facing = x * lights[i, 0] + y * lights[i, 1] + z * lights[i, 2]
        wrap = lights[i, 4]
        light += min(max((facing + wrap) / (1.0 + wrap) ** 2, 0.0), 1.0) * lights[i, 3]
    return GREY * light


def display_thresholds() -> np.ndarray:
    """The linear shading at which Blender 4.5's 8-bit value through its Standard view transform steps up, from
    1 to 255: measured against Workbench's own shade pass, that value is a 2.2 power of 0.97 times the light,
    rounded (94.7% of pixels exact, the rest FXAA's edges and one level of rounding; docs/decisions.md), so it
    reaches k where the light reaches ((k - 0.5) / 255)^2.2 / 0.97."""
    return ((np.arange(1, 256) - 0.5) / 255) ** 2.2 / DISPLAY_GAIN


DISPLAY_THRESHOLDS = display_thresholds()  # a search of these for each pixel: its power cost 2 ms a pose


@dataclass
class Blockout:
    """The blockout's triangles, ready to be drawn from any pose (`passes`)."""

    corners: np.ndarray
    normals: np.ndarray
    objects: np.ndarray
    clip: tuple[float, float]
    """The camera's clip start and end, scene units: nothing nearer or farther is drawn (Workbench's planes)."""

    def __post_init__(self) -> None:
        self._scene = None
        if len(self.corners):
            from embreex import rtcore_scene
            from embreex.mesh_construction import TriangleMesh

            self._scene = rtcore_scene.EmbreeScene()
            TriangleMesh(self._scene, self.corners)
            one = np.ones((1, 3), np.float32)
            self._scene.run(one, one)  # the first ray commits the scene: done here, not by two threads at once
        self._flat = (self.normals == self.normals[:, :1]).all(axis=(1, 2))

    @classmethod
    def load(cls, path: Path, clip: tuple[float, float]) -> "Blockout":
        """Read the extension's .npz (oyster_blender/blockout_mesh.py; pickles refused) and put its triangles in
        the world; PassesError naming the field when it cannot be used."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in ARRAYS}
        except FileNotFoundError:
            raise PassesError(None, "blockout.file", f"no blockout file at {path}") from None
        except KeyError as error:
            raise PassesError(None, "blockout", f"{path} has no {error.args[0]} array") from None
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise PassesError(None, "blockout", f"{path} is not a blockout file: {error}") from None
        if not (0 < clip[0] < clip[1]):
            raise PassesError(None, "blockout.clip", f"clip distances {clip} must be 0 < start < end")
        corners, normals, objects = _world_triangles(**arrays)
        return cls(corners, normals, objects, (float(clip[0]), float(clip[1])))

    def passes(self, frame: dict, width: int, height: int, scale: float) -> FramePasses:
        """Depth (metres: `scale` per scene unit), shading and object ids seen from a wire-format camera frame,
        with `beyond` to draw them past the frame (painter/ahead.py)."""
        drawn = self._draw(frame, width, height, scale)
        drawn.beyond = functools.partial(self.box, frame, scale)
        return drawn

    def box(self, frame: dict, scale: float, box: tuple[int, int, int, int]) -> FramePasses:
        """The passes of the box (y0, y1, x0, x1) of the frame's pixel grid, which may reach past its borders."""
        y0, y1, x0, x1 = box
        return self._draw(dict(frame, cx=frame["cx"] - x0, cy=frame["cy"] - y0), x1 - x0, y1 - y0, scale)

    def _draw(self, frame: dict, width: int, height: int, scale: float) -> FramePasses:
        c2w = np.asarray(frame["c2w"], np.float64)
        near, far = self.clip
        depth = np.zeros(width * height, np.float32)
        shade = np.zeros(width * height, np.uint8)
        objects = np.zeros(width * height, np.int32)
        if self._scene is not None:
            # z = 1 along every ray, so the hit distance is z-depth; starting at the near plane clips as Workbench
            origins, directions = np.empty((2, width * height, 3), np.float32)
            _rays(width, height, frame["fx"], frame["fy"], frame["cx"], frame["cy"], c2w, near, origins, directions)

            def draw(rays: slice) -> None:  # Embree and the shading let go of the GIL: the halves run at once
                hit = self._scene.run(origins[rays], directions[rays],
                                      dists=np.full(rays.stop - rays.start, far - near, np.float32), output=1)
                _surfaces(hit["primID"], hit["u"], hit["v"], hit["tfar"], hit["Ng"], directions[rays], self.normals,
                          self._flat, self.objects, c2w, near, scale, STUDIO_LIGHTS, DISPLAY_THRESHOLDS, depth[rays],
                          shade[rays], objects[rays])

            list(threads.pool().map(draw, threads.halves(width * height)))
        return FramePasses(depth.reshape(height, width), shade.reshape(height, width),
                           objects.reshape(height, width))


ARRAYS = ("positions", "triangles", "loops", "normals", "matrices", "ids", "vertex_counts", "triangle_counts",
          "loop_counts")


def _world_triangles(positions: np.ndarray, triangles: np.ndarray, loops: np.ndarray, normals: np.ndarray,
                     matrices: np.ndarray, ids: np.ndarray, vertex_counts: np.ndarray, triangle_counts: np.ndarray,
                     loop_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The file's object-local meshes as world triangles: corners and corner normals (T, 3, 3) float32, object
    ids (T,) int32; PassesError (field `blockout`) when the arrays do not fit together."""
    objects = len(ids)
    shapes = {"positions": (positions, (None, 3)), "triangles": (triangles, (None, 3)), "loops": (loops, (None, 3)),
              "normals": (normals, (None, 3)), "matrices": (matrices, (objects, 4, 4)),
              "vertex_counts": (vertex_counts, (objects,)), "triangle_counts": (triangle_counts, (objects,)),
              "loop_counts": (loop_counts, (objects,))}
    for name, (values, shape) in shapes.items():
        if values.ndim != len(shape) or any(want is not None and got != want for got, want in zip(values.shape, shape)):
            raise PassesError(None, "blockout", f"{name} is {values.shape}, it must be "
                              f"{tuple('N' if want is None else want for want in shape)}")
    integers = {"triangles": triangles, "loops": loops, "ids": ids, "vertex_counts": vertex_counts,
                "triangle_counts": triangle_counts, "loop_counts": loop_counts}
    for name, values in integers.items():
        if values.dtype.kind not in "iu":
            raise PassesError(None, "blockout", f"{name} must be integers")
    counts = (vertex_counts, triangle_counts, loop_counts)
    if any((c < 0).any() for c in counts) or [int(c.sum()) for c in counts] != \
            [len(positions), len(triangles), len(normals)]:
        raise PassesError(None, "blockout", "vertex, triangle and loop counts must add up to positions, triangles "
                          "and normals")
    if not all(np.isfinite(values).all() for values in (positions, normals, matrices)):
        raise PassesError(None, "blockout", "positions, normals and matrices must be finite")
    owner = np.repeat(np.arange(objects), triangle_counts)
    vertex_limit, loop_limit = vertex_counts[owner, None], loop_counts[owner, None]
    if (triangles < 0).any() or (triangles >= vertex_limit).any() or (loops < 0).any() or (loops >= loop_limit).any():
        raise PassesError(None, "blockout", "a triangle names a vertex or loop its object does not have")
    matrices = matrices.astype(np.float64)
    # normals go through the inverse transpose (a pseudo-inverse for a flattened object)
    normal_matrices = np.linalg.pinv(matrices[:, :3, :3]).transpose(0, 2, 1)
    first_vertex = np.cumsum(vertex_counts) - vertex_counts
    first_loop = np.cumsum(loop_counts) - loop_counts
    world, world_normals = np.empty((len(positions), 3)), np.empty((len(normals), 3))
    for index in range(objects):  # one matrix product per object (a blockout has tens to thousands)
        vertices = slice(first_vertex[index], first_vertex[index] + vertex_counts[index])
        world[vertices] = positions[vertices] @ matrices[index, :3, :3].T + matrices[index, :3, 3]
        loops_of = slice(first_loop[index], first_loop[index] + loop_counts[index])
        world_normals[loops_of] = normals[loops_of] @ normal_matrices[index].T
    world_normals /= np.maximum(np.linalg.norm(world_normals, axis=1, keepdims=True), 1e-12)
    corners = world[triangles + first_vertex[owner, None]]
    corner_normals = world_normals[loops + first_loop[owner, None]]
    return corners.astype(np.float32), corner_normals.astype(np.float32), ids[owner].astype(np.int32)


@numba.njit(cache=True, nogil=True)
def _rays(width, height, fx, fy, cx, cy, c2w, near, origins, directions):
    """Into (H * W, 3) float32: the rays through the pixel centres (world space, z = 1 in the camera), starting
    on the near plane."""
    for row in range(height):
        y = (row + 0.5 - cy) / fy
        for col in range(width):
            x = (col + 0.5 - cx) / fx
            ray = row * width + col
            for axis in range(3):
                direction = c2w[axis, 0] * x + c2w[axis, 1] * y + c2w[axis, 2]
                directions[ray, axis] = direction
                origins[ray, axis] = c2w[axis, 3] + near * direction


@numba.njit(cache=True, nogil=True)
def _surfaces(triangles, u, v, distance, geometric_normals, directions, normals, flat, ids, c2w, near, scale, lights,
              thresholds, depth, shade, objects):
    """Into the flat passes, at every ray that hit triangle `triangles[ray]` (-1: none) at barycentrics (u, v),
    `distance` past the near plane: z-depth in metres, the shading, the object id."""
    for ray in range(len(triangles)):
        triangle = triangles[ray]
        if triangle < 0:
            continue
        a, b = (0.0, 0.0) if flat[triangle] else (np.float64(u[ray]), np.float64(v[ray]))  # flat: one normal
        x = y = z = 0.0  # the normal in Blender's view space (y up, z back), from OpenCV's camera axes
        for axis in range(3):
            n = ((1 - a - b) * normals[triangle, 0, axis] + a * normals[triangle, 1, axis]
                 + b * normals[triangle, 2, axis])
            x += n * c2w[axis, 0]
            y -= n * c2w[axis, 1]
            z -= n * c2w[axis, 2]
        # Workbench shades a back face (by its winding: Embree's Ng) with its normal turned to the camera
        facing = 0.0
        for axis in range(3):
            facing += geometric_normals[ray, axis] * directions[ray, axis]
        length = max(np.sqrt(x * x + y * y + z * z), 1e-12) * (-1.0 if facing > 0 else 1.0)
        depth[ray] = (distance[ray] + near) * scale
        shade[ray] = np.searchsorted(thresholds, studio_shade(x / length, y / length, z / length, lights),
                                     side="right")
        objects[ray] = ids[triangle]
