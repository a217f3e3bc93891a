"""Read and check the blockout's passes as `oyster_blender.passes` writes them (numpy, OpenCV).

Per frame: `depth_NNNN.exr` (float32 z-depth in metres, 0 where nothing is hit)
and `shade_NNNN.png` (8-bit grey shading). Every fault names the frame and the
field, so the server can answer it as a 4xx and the artist knows what to fix.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # must be set before cv2 is imported

import cv2  # noqa: E402
import numpy as np  # noqa: E402


class PassesError(ValueError):
    """A pass that cannot be used; `frame` and `field` say which."""

    def __init__(self, frame: int | None, field: str, message: str):
        super().__init__(f"passes, frame {frame}, {field}: {message}" if frame is not None
                         else f"passes, {field}: {message}")
        self.frame, self.field = frame, field


@dataclass
class FramePasses:
    """One frame's geometry: z-depth float32 (H, W) metres with 0 for sky, grey shading uint8 (H, W)."""

    depth: np.ndarray
    shade: np.ndarray


def depth_path(folder: Path, frame: int) -> Path:
    return folder / f"depth_{frame:04d}.exr"


def shade_path(folder: Path, frame: int) -> Path:
    return folder / f"shade_{frame:04d}.png"


def _read(path: Path, frame: int, field: str, flags: int) -> np.ndarray:
    if not path.is_file():
        raise PassesError(frame, field, f"missing file {path}")
    image = cv2.imread(str(path), flags)
    if image is None:
        raise PassesError(frame, field, f"unreadable file {path}")
    return image


def check_frame(depth: np.ndarray, shade: np.ndarray, frame: int, width: int, height: int) -> FramePasses:
    """Arrays in memory (live, tests) get the same checks as files."""
    for field, array in (("depth", depth), ("shade", shade)):
        if array.shape[:2] != (height, width):
            raise PassesError(frame, field, f"size {array.shape[1]}x{array.shape[0]}, the shot is {width}x{height}")
    depth = np.asarray(depth, np.float32)
    if not np.isfinite(depth).all():
        raise PassesError(frame, "depth", "NaN or infinite depth (sky must be 0)")
    if (depth < 0).any():
        raise PassesError(frame, "depth", "negative depth")
    return FramePasses(depth, np.asarray(shade, np.uint8))


def read_frame(folder: Path, frame: int, width: int, height: int) -> FramePasses:
    depth = _read(depth_path(folder, frame), frame, "depth", cv2.IMREAD_UNCHANGED)
    if depth.ndim == 3:
        depth = depth[..., 0]
    shade = _read(shade_path(folder, frame), frame, "shade", cv2.IMREAD_GRAYSCALE)
    return check_frame(depth, shade, frame, width, height)


def read_passes(folder: Path, frames: list[int], width: int, height: int) -> list[FramePasses]:
    """Every frame's passes, checked; the first fault raises PassesError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PassesError(None, "folder", f"no passes folder {folder}")
    return [read_frame(folder, frame, width, height) for frame in frames]


class FolderPasses:
    """A shot's passes read from a folder frame by frame as the painter asks (checked as they are read)."""

    def __init__(self, folder: Path, frames: list[int], width: int, height: int):
        self.folder, self.frames, self.width, self.height = Path(folder), list(frames), width, height

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, index: int) -> FramePasses:
        return read_frame(self.folder, self.frames[index], self.width, self.height)


class ArrayPasses:
    """Passes held in memory: depth (F, H, W) float32 with 0 for sky, shade (F, H, W) uint8."""

    def __init__(self, depth: np.ndarray, shade: np.ndarray):
        self.depth, self.shade = depth, shade

    def __len__(self) -> int:
        return len(self.depth)

    def frame(self, index: int) -> FramePasses:
        return FramePasses(self.depth[index], self.shade[index])
