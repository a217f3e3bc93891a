"""The sidebar panel draws into a real Blender UILayout in every state the artist can reach.

The `bpy` module draws no regions by itself; a popover over the 3D viewport's
sidebar calls its draw function with a real layout, in which the panel's `draw`
runs (template_list calls the shot list's rows too). Finishing that popover
without a screen crashes Blender 4.5 in background mode, so the drawing runs in
a child process that prints its findings and leaves before the popover closes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy")

REPO = Path(__file__).resolve().parent.parent

SCRIPT = r'''
import json, os, sys, traceback
from types import SimpleNamespace
import bpy, addon_utils

addon_utils.enable("oyster_blender", default_set=True)  # as Blender enables it: preferences exist
from pathlib import Path
from oyster_blender import api
from oyster_blender.runtime_session import TAKES
from oyster_blender.runtime_status import STATUS
from oyster_blender.take_progress import TakeProgress
from oyster_blender.live_panel import OYSTER_PT_live
from oyster_blender.take_browser import OYSTER_PT_takes
from oyster_blender.ui import OYSTER_PT_notes_events, OYSTER_PT_shots, OYSTER_UL_shots


def scene_with_camera(name):
    scene = bpy.data.scenes.new(name)
    scene.frame_start, scene.frame_end = 1, 48
    camera = bpy.data.objects.new(f"{name}_cam", bpy.data.cameras.new(f"{name}_cam"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    return scene, camera


empty, _ = scene_with_camera("empty")
deleted, camera = scene_with_camera("deleted")
api.add_shot(deleted, "sh010", camera)
bpy.data.objects.remove(camera)
ready, _ = scene_with_camera("ready")
for i in range(6):
    api.add_shot(ready, f"sh{(i + 1) * 10:03d}", notes="ночь, неон, 雨 🌧 " * 500)
api.add_notes_event(ready, "sh060", 12, "雨が止む, the fog lifts " * 100)
STATUS.set_ready("oyster-tiny on cpu")
# the active shot has a take in flight (a progress bar and its Cancel button) and one that failed
TAKES.takes["t2"] = TakeProgress("t2", "sh060", Path("/p/oyster/sh060/take_002"), "running", 3, 12)
TAKES.problems["sh060"] = "take_001 failed: the generator failed: " + "долгая причина " * 40

rows, errors = [], []
original = OYSTER_UL_shots.draw_item


def counting(self, context, layout, data, item, *rest):
    rows.append(item.name)  # our own row drawing, counted; Blender decides which rows it asks for
    return original(self, context, layout, data, item, *rest)


OYSTER_UL_shots.draw_item = counting


def draw(popover, context):
    drawn = {}
    for scene in (empty, deleted, ready):
        before = len(rows)
        try:
            with bpy.context.temp_override(scene=scene):
                for panel in (OYSTER_PT_shots, OYSTER_PT_notes_events, OYSTER_PT_takes, OYSTER_PT_live):
                    if not hasattr(panel, "poll") or panel.poll(bpy.context):
                        panel.draw(SimpleNamespace(layout=popover.layout), bpy.context)
        except Exception:
            errors.append(traceback.format_exc())
        drawn[scene.name] = rows[before:]
    print("RESULT " + json.dumps({"rows": drawn, "errors": errors}), flush=True)
    os._exit(0)  # finishing the popover without a screen would crash Blender


window = bpy.context.window_manager.windows[0]
area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
region = next(r for r in area.regions if r.type == "UI")
with bpy.context.temp_override(window=window, area=area, region=region):
    bpy.context.window_manager.popover(draw)
print("the popover did not draw", flush=True)
'''


def run_script(tmp_path: Path, text: str, package_parent: Path) -> tuple[dict, str]:
    """Run a bpy script in a child process with `oyster_blender` importable from `package_parent`;
    (the JSON it printed after RESULT, its stderr)."""
    script = tmp_path / "script.py"
    script.write_text(text)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(package_parent)), cwd=tmp_path)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):]), done.stderr


def test_panel_draws_in_a_real_layout_in_each_state(tmp_path):
    out, stderr = run_script(tmp_path, SCRIPT, REPO)
    assert out["errors"] == []
    # Blender reports a misspelt property or operator in a layout on stderr, not as an exception
    assert not [line for line in stderr.splitlines() if "rna_uiItem" in line], stderr[-2000:]
    assert out["rows"]["empty"] == []
    assert out["rows"]["deleted"] == ["sh010"]  # a row for a shot whose camera is gone
    # rows=4 on a list of six: Blender asks for a window of rows scrolled to the active (last added) shot
    ready = out["rows"]["ready"]
    assert len(ready) >= 4 and ready[-1] == "sh060", ready
    assert ready == [f"sh{n:03d}" for n in range(70 - 10 * len(ready), 70, 10)]


NOT_SET_UP = r'''
import json, bpy, addon_utils

addon_utils.enable("oyster_blender", default_set=True)  # installed outside a checkout: no .venv to fall back on
from oyster_blender import api, runtime_session, ui

scene = bpy.context.scene
camera = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
scene.collection.objects.link(camera)
api.add_shot(scene, "sh010", camera, 1, 10)
prefs = bpy.context.preferences.addons["oyster_blender"].preferences
out = {"panel": ui.panel_state(scene, runtime_session.unavailable_reason(bpy.context)).status_text}
for name, call in (("generate", bpy.ops.oyster.generate_take), ("start", bpy.ops.oyster.start_runtime)):
    try:
        call()
    except RuntimeError as error:
        out[name] = str(error)
prefs.runtime_python = "/nonexistent/venv/bin/python"
out["missing"] = runtime_session.unavailable_reason(bpy.context)
prefs.runtime_python, prefs.runtime_address = "", "render-box"
out["address"] = runtime_session.unavailable_reason(bpy.context)
out["running"] = runtime_session.current() is not None
print("RESULT " + json.dumps(out), flush=True)
'''


def test_without_a_runtime_set_up_the_panel_says_what_to_set(tmp_path):
    """The extension enabled from a folder that is not a repository checkout, preferences empty."""
    addons = tmp_path / "addons"
    shutil.copytree(REPO / "oyster_blender", addons / "oyster_blender", ignore=shutil.ignore_patterns("__pycache__"))
    out, _ = run_script(tmp_path, NOT_SET_UP, addons)
    setup = "no runtime set up: in Oyster's preferences, set Runtime Python"
    assert out["panel"].startswith(setup)
    assert setup in out["generate"] and setup in out["start"]  # the disabled buttons say it too
    assert out["missing"] == ("the Runtime Python '/nonexistent/venv/bin/python' does not exist: "
                              "fix it in Oyster's preferences")
    assert out["address"].startswith("runtime address 'render-box' must be host:port")
    assert not out["running"]
