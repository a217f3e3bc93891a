"""The blockout's triangles in world space, written for the runtime to draw Go Live's passes itself (bpy, numpy).

Go Live used to render each pose's passes with Workbench in Blender's own
process: 55-75 ms of the timer tick at 384x216 on a 2-core CPU, with the UI
held for it (docs/decisions.md, "Live passes drawn by the runtime"). The
geometry changes far less often than the camera, so the extension writes the
blockout's triangles once, again only when something but a camera changed, and
the runtime draws depth and shading for every pose (model_runtime/painter/raster.py).

The file is an uncompressed .npz (numpy's own format, read with pickles
refused) of three arrays: `corners` (T, 3, 3) float32 world positions in
scene units, `normals` (T, 3, 3) float32 world corner normals (Workbench's
shading normals: smooth, flat or custom split normals) and `objects` (T,)
int32, each object's id (a hash of its name, never 0: 0 is sky). It is
written to a temporary name and renamed, so the runtime never reads half a
file. What renders counts: objects with `hide_render` set are left out, as
Workbench leaves them out of a take's passes.
"""
from __future__ import annotations

import atexit
import os
import zlib
from pathlib import Path

import bpy
import numpy as np

from .core.errors import OutputError

DRAWN_TYPES = {"MESH", "CURVE", "SURFACE", "FONT", "META"}
"""Object types whose geometry Workbench draws as surfaces (curves as their extruded or filled mesh)."""


def object_id(name: str) -> int:
    """A stable id of an object by name, in 1..2^24-1 (exact as float32 in the painter's memory; 0 is sky)."""
    return zlib.crc32(name.encode()) % 0xFFFFFF + 1


def _triangles(obj: bpy.types.Object, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(corners, normals) (T, 3, 3) in world space of one evaluated object, None when it has no faces."""
    mesh = obj.to_mesh()
    try:
        if mesh is None or not len(mesh.polygons):
            return None
        mesh.calc_loop_triangles()
        count = len(mesh.loop_triangles)
        vertices = np.empty(count * 3, np.int32)
        loops = np.empty(count * 3, np.int32)
        mesh.loop_triangles.foreach_get("vertices", vertices)
        mesh.loop_triangles.foreach_get("loops", loops)
        positions = np.empty(len(mesh.vertices) * 3, np.float32)
        mesh.vertices.foreach_get("co", positions)
        corner_normals = np.empty(len(mesh.corner_normals) * 3, np.float32)
        mesh.corner_normals.foreach_get("vector", corner_normals)
    finally:
        obj.to_mesh_clear()
    linear, offset = matrix[:3, :3], matrix[:3, 3]
    corners = positions.reshape(-1, 3)[vertices] @ linear.T + offset
    normals = corner_normals.reshape(-1, 3)[loops] @ np.linalg.inv(linear)  # inverse transpose, row vectors
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return corners.reshape(-1, 3, 3).astype(np.float32), normals.reshape(-1, 3, 3).astype(np.float32)


def blockout_arrays(depsgraph: bpy.types.Depsgraph) -> dict[str, np.ndarray]:
    """Every rendered surface of the evaluated scene (instances included) as `corners`, `normals`, `objects`."""
    corners, normals, objects = [], [], []
    for instance in depsgraph.object_instances:
        obj = instance.object
        if obj.type not in DRAWN_TYPES or obj.original.hide_render:
            continue
        drawn = _triangles(obj, np.array(instance.matrix_world, np.float64))
        if drawn is None:
            continue
        corners.append(drawn[0])
        normals.append(drawn[1])
        objects.append(np.full(len(drawn[0]), object_id(obj.original.name), np.int32))
    if not corners:
        return {"corners": np.zeros((0, 3, 3), np.float32), "normals": np.zeros((0, 3, 3), np.float32),
                "objects": np.zeros(0, np.int32)}
    return {"corners": np.concatenate(corners), "normals": np.concatenate(normals),
            "objects": np.concatenate(objects)}


def write_blockout(depsgraph: bpy.types.Depsgraph, path: Path) -> Path:
    """Write the blockout's triangles to `path` (.npz) whole or not at all; OutputError when the disk refuses."""
    arrays = blockout_arrays(depsgraph)
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as out:
            np.savez(out, **arrays)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write the blockout for live mode into {path.parent}: "
                          f"{error.strerror or error}") from None
    return path


def _draws(update: bpy.types.DepsgraphUpdate) -> bool:
    """Whether a depsgraph update can change what Workbench draws: geometry or a transform of something drawn,
    or of a collection (objects added, removed, hidden). A camera's, an image's or an action's cannot, nor a
    shading-only update (a new image tags every object's shading)."""
    if not (update.is_updated_geometry or update.is_updated_transform):
        return False
    data = update.id
    if isinstance(data, bpy.types.Object):
        return data.type in DRAWN_TYPES
    return isinstance(data, (bpy.types.Mesh, bpy.types.Curve, bpy.types.MetaBall, bpy.types.Collection,
                             bpy.types.GeometryNodeTree))


class LiveBlockout:
    """The blockout file of a live flight: written for the first pose and again after anything drawn changed.

    Blender's depsgraph-update and frame-change handlers mark the file stale when an update touches
    something drawn (an object moved, edited, added, removed or hidden, by hand or by its animation at a
    new frame; a modifier's or a geometry node's change); a flying camera, the take camera's keyframes and
    a frame change that moves nothing drawn do not. `current()` writes a new file when stale (a new name, so the runtime never
    reads a file while it is replaced; the one before is deleted, since the pose that named it is painted)
    and returns the live frame's `blockout`. `close()` removes the handlers (also at exit: a handler left
    behind keeps the bpy module's process from exiting); the folder is the caller's.
    """

    def __init__(self, scene: bpy.types.Scene, camera: bpy.types.Object, folder: Path):
        self.scene, self.camera, self.folder = scene, camera, Path(folder)
        self.seconds: list[float] = []
        """Seconds each `current()` held the calling (UI) thread: writing the file, when it was stale."""
        self.writes = 0
        self._file: Path | None = None
        self._stale = True
        bpy.app.handlers.depsgraph_update_post.append(self._updated)
        bpy.app.handlers.frame_change_post.append(self._updated)
        atexit.register(self.close)

    def _updated(self, scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph) -> None:
        if not self._stale and any(_draws(update) for update in depsgraph.updates):
            self._stale = True

    def current(self, depsgraph: bpy.types.Depsgraph) -> dict:
        """The live frame's `blockout: {file, clip}` for the scene as `depsgraph` evaluates it now."""
        import time

        tick = time.perf_counter()
        if self._stale or self._file is None:
            self._stale = False  # a change while writing marks it stale again for the next pose
            self.writes += 1
            path = write_blockout(depsgraph, self.folder / f"blockout_{self.writes:05d}.npz")
            if self._file is not None:
                self._file.unlink(missing_ok=True)
            self._file = path
        self.seconds.append(time.perf_counter() - tick)
        camera = self.camera.evaluated_get(depsgraph).data
        return {"file": str(self._file), "clip": [camera.clip_start, camera.clip_end]}

    def close(self) -> None:
        for handlers, handler in ((bpy.app.handlers.depsgraph_update_post, self._updated),
                                  (bpy.app.handlers.frame_change_post, self._updated)):
            if handler in handlers:
                handlers.remove(handler)
        atexit.unregister(self.close)
