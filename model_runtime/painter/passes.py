"""Read and check the blockout's passes as `oyster_blender.passes` writes them (numpy, OpenCV).

Per frame: `depth_NNNN.exr` (float32 z-depth in metres, 0 where nothing is hit)
and `shade_NNNN.png` (8-bit grey shading), and for a shot with moving objects
`object_NNNN.png` (each object in a flat colour of its own, read as an id:
0x00RRGGBB, 0 where nothing is hit): a folder whose first frame has one has
the object pass, and then every frame needs it. Every fault names the frame and the
field, so the server can answer it as a 4xx and the artist knows what to fix.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # must be set before cv2 is imported

import cv2  # noqa: E402
import numpy as np  # noqa: E402


BLOCKOUT_FILE = "blockout.json"
"""In a passes folder where only the camera moves: `{file, clip}`, the blockout's triangles (a file beside it,
oyster_blender/blockout_mesh.py's layout) and the camera's clip range (oyster_blender.passes, `triangles=True`)."""


class PassesError(ValueError):
    """A pass that cannot be used; `frame` and `field` say which."""

    def __init__(self, frame: int | None, field: str, message: str):
        super().__init__(f"passes, frame {frame}, {field}: {message}" if frame is not None
                         else f"passes, {field}: {message}")
        self.frame, self.field = frame, field


@dataclass
class FramePasses:
    """One frame's geometry: z-depth float32 (H, W) metres with 0 for sky, grey shading uint8 (H, W) and,
    when the shot has the object pass, object ids int32 (H, W). `beyond`, where the passes can be drawn past the
    frame (Go Live's, painter/raster.py; a take's with the blockout's triangles, painter/ahead.py): the passes of
    a box (y0, y1, x0, x1) of the frame's pixel grid that may reach past its borders; None where they cannot."""

    depth: np.ndarray
    shade: np.ndarray
    object: np.ndarray | None = None
    beyond: Callable[[tuple[int, int, int, int]], "FramePasses"] | None = None


def depth_path(folder: Path, frame: int) -> Path:
    return folder / f"depth_{frame:04d}.exr"


def shade_path(folder: Path, frame: int) -> Path:
    return folder / f"shade_{frame:04d}.png"


def object_path(folder: Path, frame: int) -> Path:
    return folder / f"object_{frame:04d}.png"


def object_ids(rgb: np.ndarray) -> np.ndarray:
    """Object colours (H, W, 3) uint8 in R, G, B order as ids 0x00RRGGBB (H, W) int32 (black, sky: 0)."""
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _read(path: Path, frame: int, field: str, flags: int) -> np.ndarray:
    if not path.is_file():
        raise PassesError(frame, field, f"missing file {path}")
    image = cv2.imread(str(path), flags)
    if image is None:
        raise PassesError(frame, field, f"unreadable file {path}")
    return image


def check_frame(depth: np.ndarray, shade: np.ndarray, frame: int, width: int, height: int,
                objects: np.ndarray | None = None) -> FramePasses:
    """Arrays in memory (live, tests) get the same checks as files."""
    fields = (("depth", depth), ("shade", shade)) + ((("object", objects),) if objects is not None else ())
    for field, array in fields:
        if array.shape[:2] != (height, width):
            raise PassesError(frame, field, f"size {array.shape[1]}x{array.shape[0]}, the shot is {width}x{height}")
    depth = np.asarray(depth, np.float32)
    if not np.isfinite(depth).all():
        raise PassesError(frame, "depth", "NaN or infinite depth (sky must be 0)")
    if (depth < 0).any():
        raise PassesError(frame, "depth", "negative depth")
    return FramePasses(depth, np.asarray(shade, np.uint8), None if objects is None else np.asarray(objects, np.int32))


def read_frame(folder: Path, frame: int, width: int, height: int, objects: bool = False) -> FramePasses:
    depth = _read(depth_path(folder, frame), frame, "depth", cv2.IMREAD_UNCHANGED)
    if depth.ndim == 3:
        depth = depth[..., 0]
    shade = _read(shade_path(folder, frame), frame, "shade", cv2.IMREAD_GRAYSCALE)
    ids = object_ids(_read(object_path(folder, frame), frame, "object", cv2.IMREAD_COLOR)[..., ::-1]) \
        if objects else None
    return check_frame(depth, shade, frame, width, height, ids)


def has_objects(folder: Path, frames: list[int]) -> bool:
    """Whether the passes in `folder` have the object pass (its first frame's file is there)."""
    return bool(frames) and object_path(Path(folder), frames[0]).is_file()


def pass_files(folder: Path, frames: list[int]) -> list[Path]:
    """Every file of the passes of `frames` in `folder` (the object pass's where it has one), and the blockout's
    triangles where the folder has them (`BLOCKOUT_FILE` and the file it names beside it)."""
    folder = Path(folder)
    objects = has_objects(folder, frames)
    kinds = (depth_path, shade_path, object_path) if objects else (depth_path, shade_path)
    files = [path(folder, frame) for frame in frames for path in kinds]
    if not objects and (folder / BLOCKOUT_FILE).is_file():
        files.append(folder / BLOCKOUT_FILE)
        try:
            triangles = blockout_of(folder)[0]
        except PassesError:
            triangles = None  # copied as it is, and refused naming `blockout` when the take runs (painter/ahead.py)
        if triangles is not None and triangles.is_file():
            files.append(triangles)
    return files


def blockout_of(folder: Path) -> tuple[Path, tuple[float, float]] | None:
    """The blockout's triangles file and the camera's clip range that a passes folder names (`BLOCKOUT_FILE`);
    None when it names none; PassesError (field `blockout`) when it is malformed or names a file elsewhere."""
    path = Path(folder) / BLOCKOUT_FILE
    if not path.is_file():
        return None
    try:
        spec = json.loads(path.read_text())
        name, clip = spec["file"], (float(spec["clip"][0]), float(spec["clip"][1]))
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise PassesError(None, "blockout", f"{path} is not the passes' blockout: {error}") from None
    if not isinstance(name, str) or Path(name).name != name:
        raise PassesError(None, "blockout.file", f"{path} names {name!r}: a file beside it is expected")
    return Path(folder) / name, clip


def read_passes(folder: Path, frames: list[int], width: int, height: int) -> list[FramePasses]:
    """Every frame's passes, checked; the first fault raises PassesError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PassesError(None, "folder", f"no passes folder {folder}")
    objects = has_objects(folder, frames)
    return [read_frame(folder, frame, width, height, objects) for frame in frames]


class FolderPasses:
    """A shot's passes read from a folder frame by frame as the painter asks (checked as they are read)."""

    def __init__(self, folder: Path, frames: list[int], width: int, height: int):
        self.folder, self.frames, self.width, self.height = Path(folder), list(frames), width, height
        self.objects = has_objects(self.folder, self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, index: int) -> FramePasses:
        return read_frame(self.folder, self.frames[index], self.width, self.height, self.objects)


class ArrayPasses:
    """Passes held in memory: depth (F, H, W) float32 with 0 for sky, shade (F, H, W) uint8, object ids
    (F, H, W) int32 or None."""

    def __init__(self, depth: np.ndarray, shade: np.ndarray, objects: np.ndarray | None = None):
        self.depth, self.shade, self.objects = depth, shade, objects

    def __len__(self) -> int:
        return len(self.depth)

    def frame(self, index: int) -> FramePasses:
        return FramePasses(self.depth[index], self.shade[index],
                           None if self.objects is None else self.objects[index])
