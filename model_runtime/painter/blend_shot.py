"""A shot from a .blend file: its request and its blockout passes, made by Blender in a child process.

The runtime's own `bpy` runs `oyster_blender.headless` in a separate process,
so that Blender never shares a process with torch and the server or worker
survives whatever Blender does. The extension saves a copy of the artist's
file and names it in the request (`blockout`), so Blender's UI never waits
for a render; `generate --blend` uses the same child for farms and scripts.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from model_runtime.painter.passes import PassesError

TIMEOUT_S = 3600
ROOT = Path(__file__).resolve().parents[2]


def blend_shot(blend: Path, out: Path, *, shot: str | None = None, scene: str | None = None,
               camera: str | None = None, frames: str | None = None, notes: str = "", size: str | None = None,
               passes_only: bool = False) -> Path:
    """Run the child; returns `out` holding `passes/` (and `request.json`); PassesError with Blender's reason."""
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "oyster_blender.headless", "--blend", str(blend), "--out", str(out)]
    for flag, value in (("--shot", shot), ("--scene", scene), ("--camera", camera), ("--frames", frames),
                        ("--size", size)):
        if value is not None:
            command += [flag, value]
    if notes:
        command += ["--notes", notes]
    if passes_only:
        command.append("--passes-only")
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                          cwd=ROOT)
    if done.returncode != 0:
        shutil.rmtree(out / "passes", ignore_errors=True)
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise PassesError(None, "blockout", f"Blender could not make the shot from {blend}: {reason}")
    return out
