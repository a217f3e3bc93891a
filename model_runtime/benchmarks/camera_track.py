"""Camera-track extraction time for 1,000 frames (goal: under 0.5 s) and the sidebar panel's draw time.

    .venv/bin/python -m model_runtime.benchmarks.camera_track [--frames 1000] [--repeats 5] [--shots 20]

The camera is a realistic previs rig, so every frame costs a full depsgraph
evaluation: it rides a Follow Path curve (animated evaluation time), aims with a
Track To at an animated target, sits under an animated parent, and zooms
(animated focal length). Prints the median and best of `repeats` runs of
`camera_track`, and of `validate_track` (which the runtime runs on every request).

Panel draw: the `bpy` module has a window but draws no regions, so Blender never
calls a panel's `draw` on its own. A popover does call its draw function with a
real `UILayout`, so the benchmark opens one over the 3D viewport's sidebar region
and draws `OYSTER_PT_shots` into that layout (shot list with `template_list` and
its UIList rows, the active shot's properties, the Generate and status rows),
timing the panel's own `draw`. That is the Python side of a redraw:
Blender's button layout and pixel drawing come after `draw` returns and are not
included. Finishing a popover without a screen crashes Blender 4.5 in background
mode, so that part runs in a child process that prints its figures and leaves
with `os._exit` before the popover is finished.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from types import SimpleNamespace

import bpy

import oyster_blender
from oyster_blender import api
from oyster_blender.camera import camera_track
from oyster_blender.core.track_schema import validate_track

GOAL_SECONDS = 0.5
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))  # the folder holding model_runtime


def build_rig(frames: int) -> tuple[bpy.types.Scene, bpy.types.Object]:
    """An empty file with a crane-parented camera on a path, tracking a moving target, zooming."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, frames
    scene.render.resolution_x, scene.render.resolution_y = 1920, 1080

    curve = bpy.data.curves.new("Path", "CURVE")
    curve.dimensions = "3D"
    spline = curve.splines.new("NURBS")
    spline.points.add(5)
    for i, point in enumerate(spline.points):
        point.co = (8 * math.cos(i), 8 * math.sin(i), 1.5 + 0.3 * i, 1.0)
    curve.use_path, curve.path_duration = True, frames
    curve.eval_time = 0
    curve.keyframe_insert("eval_time", frame=1)
    curve.eval_time = frames
    curve.keyframe_insert("eval_time", frame=frames)
    path = bpy.data.objects.new("Path", curve)
    scene.collection.objects.link(path)

    crane = bpy.data.objects.new("Crane", None)
    scene.collection.objects.link(crane)
    crane.keyframe_insert("location", frame=1)
    crane.location = (0, 0, 4)
    crane.keyframe_insert("location", frame=frames)

    target = bpy.data.objects.new("Target", None)
    scene.collection.objects.link(target)
    target.location = (-3, 0, 1)
    target.keyframe_insert("location", frame=1)
    target.location = (3, 2, 1)
    target.keyframe_insert("location", frame=frames)

    data = bpy.data.cameras.new("Cam")
    data.lens = 24
    data.keyframe_insert("lens", frame=1)
    data.lens = 85
    data.keyframe_insert("lens", frame=frames)
    camera = bpy.data.objects.new("Cam", data)
    scene.collection.objects.link(camera)
    camera.parent = crane
    follow = camera.constraints.new("FOLLOW_PATH")
    follow.target = path
    aim = camera.constraints.new("TRACK_TO")
    aim.target, aim.track_axis, aim.up_axis = target, "TRACK_NEGATIVE_Z", "UP_Y"
    scene.camera = camera
    return scene, camera


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float], goal: float | None = None) -> None:
    verdict = "" if goal is None else f"  goal < {goal:g} s: {'met' if min(times) < goal else 'NOT met'}"
    print(f"{label}: median {statistics.median(times) * 1000:.1f} ms, best {min(times) * 1000:.1f} ms "
          f"({len(times)} runs){verdict}")


def bench_track(frames: int, repeats: int) -> None:
    scene, camera = build_rig(frames)
    tracks = []
    times = timed(lambda: tracks.append(camera_track(scene, camera, 1, frames)), repeats)
    report(f"camera_track, {frames} frames (path + track-to + parent + zoom)", times, GOAL_SECONDS)
    report(f"validate_track, {frames} frames (the runtime runs it on every request)",
           timed(lambda: validate_track(tracks[-1]), repeats), GOAL_SECONDS)


def bench_panel_draw(shots: int, repeats: int) -> None:
    """Child process: draw the panel into a popover's real layout `repeats` times, print, leave at once."""
    scene, _camera = build_rig(100)
    oyster_blender.register()
    for i in range(shots):
        api.add_shot(scene, f"sh{(i + 1) * 10:03d}", frame_start=1 + i, frame_end=50 + i,
                     notes="rain-soaked neon alley, night, low fog")
    from oyster_blender.ui import OYSTER_PT_shots

    def draw(popover: bpy.types.UIPopover, context: bpy.types.Context) -> None:
        panel = SimpleNamespace(layout=popover.layout)  # draw() only uses self.layout
        times = timed(lambda: OYSTER_PT_shots.draw(panel, context), repeats)
        report(f"panel draw into a real UILayout, {shots} shots (Python side, no pixels)", times)
        sys.stdout.flush()
        os._exit(0)  # finishing the popover without a screen would crash Blender

    # template_list needs the region it draws in: the 3D viewport's sidebar, where the panel lives
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "UI")
    with bpy.context.temp_override(window=window, area=area, region=region):
        bpy.context.window_manager.popover(draw)
    raise SystemExit("the popover did not call its draw function")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shots", type=int, default=20, help="shots in the panel's list")
    parser.add_argument("--panel-draw-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.panel_draw_child:
        bench_panel_draw(args.shots, args.repeats * 20)
    bench_track(args.frames, args.repeats)
    child = subprocess.run([sys.executable, "-m", "model_runtime.benchmarks.camera_track", "--panel-draw-child",
                            "--shots", str(args.shots), "--repeats", str(args.repeats)],
                           capture_output=True, text=True, timeout=300, cwd=ROOT)
    lines = [line for line in child.stdout.splitlines() if line.startswith("panel draw")]
    if child.returncode != 0 or not lines:
        print(f"panel draw: failed (exit {child.returncode}): {child.stderr[-1500:]}", file=sys.stderr)
        return 1
    print(lines[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
