"""`python -m model_runtime bench`: how fast the painter (the default model) and the blockout passes run here.

One run builds a blockout of plain primitives with a 300-frame dolly and pan
(a child Blender), renders its passes with the product's renderer (the child
`oyster_blender.headless`, timed as 1 frame against all frames, so Blender's
start-up cancels out), then paints them at the shot's size with the shipped
painter and, as the baseline measured in the same run, the painter without
memory. Frames 10-20 against 290-300 are timed in turns (snapshots restored
alternately), since on a shared machine one pass compares moments, not frames.
Prints the figures; `--out` also writes them as JSON (keys `fps`,
`resolution`, `late_over_early`, `passes_ms_per_frame`, ...).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model_runtime.models import device as devices
from model_runtime.models.interface import ShotInput
from model_runtime.painter.blend_shot import ROOT, blend_shot
from model_runtime.painter.passes import FolderPasses, read_passes
from model_runtime.painter.session import DEFAULT_CHECKPOINT, PainterModel

SCENE = """
import bpy, math, sys
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.resolution_x, scene.render.resolution_y = int(sys.argv[-3]), int(sys.argv[-2])
scene.frame_start, scene.frame_end = 1, 300
bpy.ops.mesh.primitive_plane_add(size=400)
for i in range(40):
    bpy.ops.mesh.primitive_cube_add(size=2, location=((i % 8) * 5 - 20, (i // 8) * 6 + 6, 1 + (i % 3)))
bpy.ops.mesh.primitive_uv_sphere_add(radius=2, location=(4, 20, 4))
data = bpy.data.cameras.new("Camera")
cam = bpy.data.objects.new("Camera", data)
scene.collection.objects.link(cam)
scene.camera = cam
for frame, y, yaw in ((1, -10, 0), (300, 10, 60)):
    cam.location = (0, y, 1.7)
    cam.rotation_euler = (math.radians(85), 0, math.radians(yaw))
    cam.keyframe_insert("location", frame=frame)
    cam.keyframe_insert("rotation_euler", frame=frame)
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--res", default="384x216", help="WIDTHxHEIGHT (the painter's native size)")
    parser.add_argument("--rounds", type=int, default=4, help="turns of frames 10-20 / 290-300")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    devices.add_argument(parser)


def _passes(folder: Path, width: int, height: int) -> tuple[dict, float]:
    """Render the bench blockout's passes; (request, ms per frame)."""
    blend = folder / "bench.blend"
    subprocess.run([sys.executable, "-c", SCENE, str(width), str(height), str(blend)], check=True,
                   capture_output=True, cwd=ROOT)
    times = {}
    for frames in ("1-1", "1-300"):
        tick = time.perf_counter()
        blend_shot(blend, folder / frames, camera="Camera", frames=frames, notes="a quiet town square at dusk")
        times[frames] = time.perf_counter() - tick
    request = json.loads((folder / "1-300" / "request.json").read_text())
    return request, (times["1-300"] - times["1-1"]) / 299 * 1000


def _frame_times(session, count: int) -> list[float]:
    out = []
    for _ in range(count):
        tick = time.perf_counter()
        session.step()
        out.append(time.perf_counter() - tick)
    return out


def run(args: argparse.Namespace) -> int:
    width, height = (int(v) for v in args.res.lower().split("x"))
    device = devices.resolve_or_exit(args.device, "bench")
    with tempfile.TemporaryDirectory(prefix="oyster_bench_") as tmp:
        request, passes_ms = _passes(Path(tmp), width, height)
        folder = Path(tmp) / "1-300" / "passes"
        frames = request["passes"]["frames"]
        read_passes(folder, frames, width, height)  # checked once, as the worker does
        figures: dict = {"resolution": [width, height], "device": devices.describe(device),
                         "passes_ms_per_frame": round(passes_ms, 1)}
        for name, memory in (("painter", True), ("no_memory", False)):
            model = PainterModel(args.checkpoint, use_memory=memory, device=device)
            shot = ShotInput(request["notes"], request["track"], 0, passes=FolderPasses(folder, frames, width, height))
            session = model.start(shot)
            times = _frame_times(session, 300)
            fps = 1 / float(np.mean(times[10:]))
            figures[f"{name}_fps"] = round(fps, 2)
            if memory:
                figures["fps"] = round(fps, 2)
                again = model.start(shot)
                _frame_times(again, 10)
                early_state = again.snapshot()
                _frame_times(again, 280)
                late_state = again.snapshot()
                early, late = [], []
                for _ in range(args.rounds):
                    again.restore(early_state)
                    early.append(float(np.median(_frame_times(again, 10))))
                    again.restore(late_state)
                    late.append(float(np.median(_frame_times(again, 10))))
                figures["ms_per_frame_10_20"] = round(1000 * float(np.median(early)), 1)
                figures["ms_per_frame_290_300"] = round(1000 * float(np.median(late)), 1)
                figures["late_over_early"] = round(float(np.median(late)) / float(np.median(early)), 3)
                figures["memory_points_at_300"] = len(session.memory)
        figures["memory_cost_ratio"] = round(figures["no_memory_fps"] / figures["painter_fps"], 3)
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=1))
    return 0
