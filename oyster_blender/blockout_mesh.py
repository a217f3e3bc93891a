"""The blockout's meshes, written for the runtime to draw Go Live's passes itself (stdlib and bpy).

Go Live used to render each pose's passes with Workbench in Blender's own
process: 55-75 ms of the timer tick at 384x216 on a 2-core CPU, with the UI
held for it (docs/decisions.md, "Live passes drawn by the runtime"). The
geometry changes far less often than the camera, so the extension writes the
blockout's meshes once, again only when something drawn changed, and the
runtime draws depth, shading and object ids for every pose
(model_runtime/painter/raster.py).

The file is an uncompressed .npz (a zip of .npy arrays, numpy's own format,
written here without numpy; the runtime reads it with pickles refused). Every
rendered surface (instances and modifiers evaluated; curves, text and metaballs
as their meshes) is one object's part of these arrays, in object-local
coordinates, so nothing is computed per vertex in Python:

| array | type, shape | |
|---|---|---|
| `positions` | float32 (V, 3) | vertex positions, object-local, scene units |
| `triangles` | int32 (T, 3) | each triangle's vertices, indices into its object's vertices |
| `loops` | int32 (T, 3) | each triangle corner's loop, an index into its object's `normals` |
| `normals` | float32 (L, 3) | the shading normal of each loop (smooth, flat or custom), object-local |
| `matrices` | float32 (O, 4, 4) | each object's world matrix |
| `ids` | int32 (O,) | each object's id (a hash of its name, never 0: 0 is sky) |
| `vertex_counts`, `triangle_counts`, `loop_counts` | int32 (O,) | how many of each belong to each object, in order |

It is written to a temporary name and renamed, so the runtime never reads half
a file. What renders counts: objects with `hide_render` set are left out, as
Workbench leaves them out of a take's passes.
"""
from __future__ import annotations

import array
import atexit
import os
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import bpy

from .core.errors import OutputError

DRAWN_TYPES = {"MESH", "CURVE", "SURFACE", "FONT", "META"}
"""Object types whose geometry Workbench draws as surfaces (curves as their extruded or filled mesh)."""


def object_id(name: str) -> int:
    """A stable id of an object by name, in 1..2^24-1 (exact as float32 in the painter's memory; 0 is sky)."""
    return zlib.crc32(name.encode()) % 0xFFFFFF + 1


def npy(values: array.array, shape: tuple[int, ...]) -> bytes:
    """`values` (typecode 'f' or 'i') as a .npy file, numpy's format version 1.0: magic, header, raw items."""
    kind = {"f": "f4", "i": "i4"}[values.typecode]
    header = f"{{'descr': '{'<' if sys.byteorder == 'little' else '>'}{kind}', 'fortran_order': False, " \
             f"'shape': {tuple(shape)!r}, }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"  # the items start on a multiple of 64 bytes
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + values.tobytes()


def _mesh_arrays(obj: bpy.types.Object) -> dict[str, array.array] | None:
    """An evaluated object's positions, triangles, loops and normals, object-local; None when it has no faces."""
    mesh = obj.to_mesh()
    try:
        if mesh is None or not len(mesh.polygons):
            return None
        mesh.calc_loop_triangles()
        triangles = 3 * len(mesh.loop_triangles)
        parts = (("positions", mesh.vertices, "co", "f", 3 * len(mesh.vertices)),
                 ("triangles", mesh.loop_triangles, "vertices", "i", triangles),
                 ("loops", mesh.loop_triangles, "loops", "i", triangles),
                 ("normals", mesh.corner_normals, "vector", "f", 3 * len(mesh.corner_normals)))
        arrays = {}
        for name, collection, attribute, typecode, length in parts:
            arrays[name] = array.array(typecode, bytes(4 * length))
            collection.foreach_get(attribute, arrays[name])
        return arrays
    finally:
        obj.to_mesh_clear()


class _Arrays:
    """The file's arrays, grown object by object."""

    def __init__(self) -> None:
        self.positions, self.normals, self.matrices = array.array("f"), array.array("f"), array.array("f")
        self.triangles, self.loops, self.ids = array.array("i"), array.array("i"), array.array("i")
        self.vertex_counts, self.triangle_counts, self.loop_counts = array.array("i"), array.array("i"), array.array("i")
        self._meshes: dict[int | None, dict[str, array.array] | None] = {}

    def add(self, obj: bpy.types.Object, matrix) -> None:
        """One evaluated object's mesh (nothing when it has no faces) at world matrix `matrix`."""
        key = obj.data.as_pointer() if obj.data is not None else None  # instances share their evaluated data
        if key is None or key not in self._meshes:
            self._meshes[key] = _mesh_arrays(obj)
        mesh = self._meshes[key]
        if mesh is None:
            return
        for name, values in mesh.items():
            getattr(self, name).extend(values)
        self.matrices.extend(value for row in matrix for value in row)
        self.ids.append(object_id(obj.original.name))
        self.vertex_counts.append(len(mesh["positions"]) // 3)
        self.triangle_counts.append(len(mesh["triangles"]) // 3)
        self.loop_counts.append(len(mesh["normals"]) // 3)

    def files(self) -> dict[str, bytes]:
        objects = len(self.ids)
        shapes = {"positions": (len(self.positions) // 3, 3), "triangles": (len(self.triangles) // 3, 3),
                  "loops": (len(self.loops) // 3, 3), "normals": (len(self.normals) // 3, 3),
                  "matrices": (objects, 4, 4), "ids": (objects,), "vertex_counts": (objects,),
                  "triangle_counts": (objects,), "loop_counts": (objects,)}
        return {f"{name}.npy": npy(getattr(self, name), shape) for name, shape in shapes.items()}


def write_blockout(depsgraph: bpy.types.Depsgraph, path: Path) -> Path:
    """Write every rendered surface of the evaluated scene to `path` (.npz) whole or not at all; OutputError
    when the disk refuses."""
    arrays = _Arrays()
    for instance in depsgraph.object_instances:
        obj = instance.object
        if obj.type in DRAWN_TYPES and not obj.original.hide_render:
            arrays.add(obj, instance.matrix_world)
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
            for name, data in arrays.files().items():
                archive.writestr(name, data)
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
