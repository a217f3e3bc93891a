"""The edit for editorial: `edit.json` (the shots in order, docs/timeline_export.md), from which the
runtime's interpreter writes `previs.otio`, `.edl` and `.aaf` with opentimelineio and its adapters (the
extension stays stdlib-only).
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import bpy

from ..core.naming import sanitise_name
from .cameras import camera_paths
from .shots import ExportError, ShotExport

EDIT_JSON = "edit.json"


def edit_description(scene: bpy.types.Scene, shots: list[ShotExport], out: Path) -> dict[str, Any]:
    """edit.json: the shots in order, each pointing at its exported frames (docs/timeline_export.md)."""
    return {"name": "previs", "fps": scene.render.fps / scene.render.fps_base, "shots": [
        {"name": s.name, "take": s.take_dir.name, "frames": str((out / "frames" / s.clip).resolve()),
         "name_prefix": f"{s.clip}.", "frame_start": s.frame_start, "frame_end": s.frame_end, "notes": s.notes,
         "camera": {"name": s.camera.name, "lens_mm": s.camera.data.lens,
                    **{kind: path.relative_to(out).as_posix() for kind, path in camera_paths(out, s.name).items()},
                    "techvis": f"techvis/{sanitise_name(s.name)}.json"}}
        for s in sorted(shots, key=lambda s: s.frame_start)]}


def write_edit(scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str,
               runtime_root: Path | None = None) -> tuple[Path, Path]:
    """edit.json, then the .otio, .edl and .aaf that the runtime writes from it with opentimelineio.

    `runtime_root` is the folder that holds `model_runtime` (the repository) when the
    runtime's Python does not have it installed.
    """
    edit_path, partial = out / EDIT_JSON, out / f".{EDIT_JSON}.partial"
    partial.write_text(json.dumps(edit_description(scene, shots, out), indent=1))
    os.replace(partial, edit_path)
    env = dict(os.environ)
    if runtime_root is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(runtime_root), env.get("PYTHONPATH")) if p)
    command = [runtime_python, "-m", "model_runtime", "editorial", "--edit", str(edit_path), "--out", str(out)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=runtime_root,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ExportError(f"cannot run the runtime's Python {runtime_python!r} for the OTIO/EDL/AAF: {error}") \
            from None
    if result.returncode != 0:
        raise ExportError(f"the runtime could not write the OTIO/EDL/AAF: {(result.stdout + result.stderr).strip()}")
    return out / "previs.otio", out / "previs.edl", out / "previs.aaf"
