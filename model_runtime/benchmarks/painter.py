"""`python -m model_runtime bench`: how fast the painter (the default model) and the blockout passes run here.

One run builds a blockout of plain primitives with a 300-frame dolly and pan
(a child Blender), renders its passes with the product's renderer (the child
`oyster_blender.headless`, timed as 1 frame against all frames, so Blender's
start-up cancels out), then paints them at the shot's size with the shipped
painter and, as the baselines measured in the same run, the painter with its
network run on the whole frame every frame (`whole_frame_fps`; the shipped
painter runs it on boxes around the new ground, painter/regions.py) and the
painter without memory. Frames 10-20 against 290-300 are timed in turns (snapshots restored
alternately), since on a shared machine one pass compares moments, not frames.
In the same run (issue 16): a three-minute rollout (`--long-frames`, 4,320
frames) of the analytic shot (`analytic_shot`, passes made as they are asked,
so only the painter's own memory is held) at the same size, with resident
memory at minute 1 and minute 3, frames 100-200 against the last 100 in
turns, and drift: PSNR, colour shift and layout adherence against the shot's
closed-form look over frames 100-110 and over the take's last 10; the
achieved FLOP/s of a painter step (torch's FLOP counter over one step) as a
share of a plain float32 matmul timed here; and Go Live through
Blender (`live_latency`, in a child process: the bpy module is one per
process): frames shown per second from camera move to painted image, and
the plumbing on top of the model and the passes.
Prints the figures; `--out` also writes them as JSON (keys `fps`,
`resolution`, `late_over_early`, `passes_ms_per_frame`, `live_fps`,
`live_plumbing_ms`, `rss_mb_minute_1`, `rss_mb_minute_3`,
`long_late_over_early`, `step_share_of_matmul`, ...).
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
import torch
from torch.utils.flop_counter import FlopCounterMode

from model_runtime.benchmarks.analytic_shot import AnalyticPasses, cast, look, orbit_track
from model_runtime.evaluation.drift import colour_shift
from model_runtime.evaluation.metrics import psnr
from model_runtime.evaluation.painter_metrics import layout_adherence
from model_runtime.models import device as devices
from model_runtime.models.interface import ShotInput
from model_runtime.painter.ahead import reaching
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
    parser.add_argument("--long-frames", type=int, default=4320,
                        help="frames of the long rollout (4,320: three minutes at 24 fps; 0 skips it)")
    parser.add_argument("--live-frames", type=int, default=60, help="Go Live frames flown in Blender (0 skips)")
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


def rss_mb() -> float:
    """Resident memory of this process (VmRSS of /proc/self/status), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _in_turns(session, early_state, late_state, rounds: int, frames: int = 10) -> tuple[float, float]:
    """Median seconds a frame from each snapshot, timed alternately so that both see the same moments."""
    early, late = [], []
    for _ in range(rounds):
        session.restore(early_state)
        early.append(float(np.median(_frame_times(session, frames))))
        session.restore(late_state)
        late.append(float(np.median(_frame_times(session, frames))))
    return float(np.median(early)), float(np.median(late))


def _against_truth(frame: np.ndarray, track_frame: dict, width: int, height: int) -> dict:
    """A painted frame of the analytic shot against its closed-form look: PSNR, colour shift (8-bit levels of
    mean and spread), layout adherence (the evaluation's metrics)."""
    truth = look(track_frame, width, height)
    depth, _, _ = cast(track_frame, width, height)
    return {"psnr": psnr(frame, truth), "colour_shift": colour_shift(frame, truth),
            "layout": layout_adherence(frame, depth)}


def _long_rollout(model: PainterModel, frames: int, width: int, height: int, rounds: int) -> dict:
    """A `frames`-long take of the analytic orbit: resident memory at minute 1 and at the end; then, in turns,
    the first `100 // rounds` frames after a snapshot at frame 100 against the first after the take's end
    (the track runs on past it for them; the keys' "100_200" and "last_100" name those two windows)."""
    minute = 24 * 60
    track = orbit_track(frames + 100, width, height)
    session = model.start(ShotInput("a red box on a chequered stone floor at dusk", track, 0,
                                    passes=AnalyticPasses(track)))
    figures, early_state = {}, None
    windows = {"start": range(100, 110), "end": range(frames - 10, frames)}
    against_truth = {name: [] for name in windows}
    for index in range(frames):
        if index == 100:
            early_state = session.snapshot()
        frame = session.step()
        for name, window in windows.items():
            if index in window:
                against_truth[name].append(_against_truth(frame, track["frames"][index], width, height))
        if index + 1 == minute:
            figures["rss_mb_minute_1"] = round(rss_mb(), 1)
    for name, rows in against_truth.items():  # drift: the same figures against the truth at the start and the end
        for key in rows[0]:
            figures[f"long_{key}_{name}"] = round(float(np.nanmean([row[key] for row in rows])), 3)
    figures["rss_mb_minute_3"] = round(rss_mb(), 1)
    figures["memory_points_at_end"] = len(session.memory)
    early, late = _in_turns(session, early_state, session.snapshot(), rounds, frames=100 // max(rounds, 1))
    figures["long_frames"] = frames
    figures["long_ms_per_frame_100_200"] = round(1000 * early, 1)
    figures["long_ms_per_frame_last_100"] = round(1000 * late, 1)
    figures["long_late_over_early"] = round(late / early, 3)
    if "rss_mb_minute_1" in figures:
        figures["rss_growth_minute_1_to_3"] = round(figures["rss_mb_minute_3"] / figures["rss_mb_minute_1"] - 1, 4)
    return figures


def _step_share_of_matmul(model: PainterModel, shot: ShotInput, fps: float, size: int = 1024) -> dict:
    """The painter step's FLOP/s (torch's count of the FLOPs of a mean step over the frames `fps` is measured
    on, frames 10 to the end, x the measured frames/s) over a plain float32 matmul's, timed now on the same
    device. A mean step, since a step paints only the new ground: one frame may run no network at all."""
    session = model.start(shot)
    _frame_times(session, 10)
    counted = len(shot.track["frames"]) - 10
    with FlopCounterMode(display=False) as counter:
        _frame_times(session, counted)
    step_flops = counter.get_total_flops() / counted
    a = torch.randn(size, size, device=model.device)
    b = torch.randn(size, size, device=model.device)
    times = []
    for _ in range(12):
        tick = time.perf_counter()
        (a @ b).sum().item()
        times.append(time.perf_counter() - tick)
    matmul = 2 * size ** 3 / float(np.median(times[2:]))
    return {"step_gflop": round(step_flops / 1e9, 2), "step_gflops_per_s": round(step_flops * fps / 1e9, 1),
            "matmul_gflops_per_s": round(matmul / 1e9, 1), "step_share_of_matmul": round(step_flops * fps / matmul, 3)}


def _live(frames: int, width: int, height: int) -> dict:
    """Go Live flown in Blender by `live_latency` in a child process: live_fps and live_plumbing_ms."""
    with tempfile.TemporaryDirectory(prefix="oyster_live_bench_") as tmp:
        out = Path(tmp) / "live.json"
        subprocess.run([sys.executable, "-m", "model_runtime.benchmarks.live_latency", "--frames", str(frames),
                        "--size", f"{width}x{height}", "--baseline", "", "--json", str(out)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        flown = json.loads(out.read_text())
    return {"live_fps": flown["live_fps"], "live_plumbing_ms": flown["live_plumbing_ms"],
            "live_blockout_ms": flown["live_blockout_ms"], "live_model_ms": flown["live_model_ms"],
            "live_drawing_ms": flown["live_drawing_ms"]}


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
        for name, memory, new_ground_only in (("painter", True, True), ("whole_frame", True, False),
                                              ("no_memory", False, True)):
            model = PainterModel(args.checkpoint, use_memory=memory, device=device, new_ground_only=new_ground_only)
            shot = ShotInput(request["notes"], request["track"], 0,
                             passes=reaching(FolderPasses(folder, frames, width, height), request["track"]))
            session = model.start(shot)
            times = _frame_times(session, 300)
            fps = 1 / float(np.mean(times[10:]))
            figures[f"{name}_fps"] = round(fps, 2)
            if name == "painter":
                figures["fps"] = round(fps, 2)
                again = model.start(shot)
                _frame_times(again, 10)
                early_state = again.snapshot()
                _frame_times(again, 280)
                early, late = _in_turns(again, early_state, again.snapshot(), args.rounds)
                figures["ms_per_frame_10_20"] = round(1000 * early, 1)
                figures["ms_per_frame_290_300"] = round(1000 * late, 1)
                figures["late_over_early"] = round(late / early, 3)
                figures["memory_points_at_300"] = len(session.memory)
                figures.update(_step_share_of_matmul(model, shot, fps))
                if args.long_frames:
                    figures.update(_long_rollout(model, args.long_frames, width, height, args.rounds))
        figures["memory_cost_ratio"] = round(figures["no_memory_fps"] / figures["painter_fps"], 3)
        figures["new_ground_speedup"] = round(figures["painter_fps"] / figures["whole_frame_fps"], 3)
    if args.live_frames:
        figures.update(_live(args.live_frames, width, height))
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=1))
    return 0
