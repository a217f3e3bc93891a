"""File-system names for shots, takes and frames (no bpy): safe, stable, never reused.

Shot names come from artists ("Shot 010: alley/chase*") and become folder names,
so they are reduced to a portable component: no separators, no `..`, no
characters Windows forbids, no control characters, bounded length. Letters and
digits of any script are kept (NFKC-normalised, with their combining marks,
e.g. Devanagari vowel signs) because artists name shots in their own language;
everything else (punctuation, symbols, emoji, separators, bidi controls)
becomes `_`. Distinct names can share a folder ("shot:1", "shot?1"); the shot
API refuses a second shot whose folder is taken, so takes never mix.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

MAX_NAME_LENGTH = 64
MAX_NAME_BYTES = 200  # file systems count bytes (255 on ext4/APFS); four-byte letters would pass 64 chars
TRASH_FOLDER = ".trash"
_TAKE = re.compile(r"^take_(\d{3,})$")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def sanitise_name(name: str, fallback: str = "shot") -> str:
    """A safe single path component for `name` (never empty, never `.` or `..`)."""
    text = unicodedata.normalize("NFKC", name)
    chars: list[str] = []
    for ch in text:
        # a combining mark belongs to the letter before it; alone it would be an invisible name
        mark = unicodedata.category(ch).startswith("M") and bool(chars) and chars[-1] != "_"
        chars.append(ch if (ch.isalnum() or ch in "-_. " or mark) else "_")
    kept = re.sub(r"\s+", "_", "".join(chars).strip())
    kept = re.sub(r"\.{2,}", ".", re.sub(r"_+", "_", kept)).strip("._")
    kept = kept[:MAX_NAME_LENGTH]
    while len(kept.encode("utf-8")) > MAX_NAME_BYTES:
        kept = kept[:-1]
    kept = kept.rstrip("._")
    if not kept or kept.upper().split(".")[0] in _WINDOWS_RESERVED:
        kept = f"{fallback}_{kept}" if kept else fallback
    return kept


def take_folder_name(number: int) -> str:
    """`take_NNN` (three digits, more from take 1000 on)."""
    if number < 1:
        raise ValueError("take numbers start at 1")
    return f"take_{number:03d}"


def frame_file_name(frame: int) -> str:
    """`NNNN.png` by scene frame; negative frames keep their sign (`-001.png`) so names never collide.

    Blender allows frames below zero; a sign is the one spelling that cannot clash
    with a positive frame, and image-sequence readers split it off as part of the name.
    """
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
