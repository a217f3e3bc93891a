"""File-system names for shots, takes and frames (no bpy): safe, stable, never reused.

Shot names come from artists ("Shot 010: alley/chase*") and become folder names,
so they are reduced to a portable component: no separators, no `..`, no
characters Windows forbids, no control characters, bounded length. Letters of
any script are kept (NFKC-normalised) because artists name shots in their own
language; everything else becomes `_`.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

MAX_NAME_LENGTH = 64
TRASH_FOLDER = ".trash"
_TAKE = re.compile(r"^take_(\d{3,})$")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def sanitise_name(name: str, fallback: str = "shot") -> str:
    """A safe single path component for `name` (never empty, never `.` or `..`)."""
    text = unicodedata.normalize("NFKC", name)
    kept = "".join(ch if (ch.isalnum() or ch in "-_. ") else "_" for ch in text)
    kept = re.sub(r"\s+", "_", kept.strip())
    kept = re.sub(r"_+", "_", kept).strip("._")
    kept = kept[:MAX_NAME_LENGTH].rstrip("._")
    if not kept or kept.upper().split(".")[0] in _WINDOWS_RESERVED:
        kept = f"{fallback}_{kept}" if kept else fallback
    return kept


def take_folder_name(number: int) -> str:
    if number < 1:
        raise ValueError("take numbers start at 1")
    return f"take_{number:03d}"


def frame_file_name(frame: int) -> str:
    """`NNNN.png` by scene frame; negative frames keep their sign (`-001.png`) so names never collide."""
    return f"{frame:04d}.png"


def take_numbers(shot_dir: Path) -> list[int]:
    """Numbers of the takes of a shot, including takes moved to its trash folder."""
    numbers = []
    for folder in (shot_dir, shot_dir / TRASH_FOLDER):
        if folder.is_dir():
            numbers += [int(m.group(1)) for p in folder.iterdir() if (m := _TAKE.match(p.name))]
    return sorted(numbers)


def next_take_number(shot_dir: Path) -> int:
    """One past the highest take ever made in this shot folder, so a number is never reused."""
    numbers = take_numbers(shot_dir)
    return (numbers[-1] + 1) if numbers else 1


def inside(root: Path, path: Path) -> bool:
    """Whether `path` resolves to `root` or somewhere below it (symlinks and `..` resolved)."""
    root, path = root.resolve(), path.resolve()
    return path == root or root in path.parents
