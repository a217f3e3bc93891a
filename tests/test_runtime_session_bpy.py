"""The runtime session with the extension enabled as Blender enables it (preferences exist), in the real bpy:
a studio runtime that cannot be reached disables Generate with the reason, a local runtime that cannot
start says why, and quitting leaves no runtime process behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

bpy = pytest.importorskip("bpy")

import addon_utils  # noqa: E402

from oyster_blender import api, runtime_session  # noqa: E402
from oyster_blender.runtime_status import ERROR, STATUS  # noqa: E402
from oyster_blender.ui import panel_state  # noqa: E402
from runtime_fixtures import ROOT, alive  # noqa: E402
from timer_loop import run_timers  # noqa: E402


@pytest.fixture
def preferences(empty_scene, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the local runtime's state folder
    addon_utils.enable("oyster_blender", default_set=True)
    try:
        yield bpy.context.preferences.addons["oyster_blender"].preferences
    finally:
        addon_utils.disable("oyster_blender", default_set=True)


def test_an_unreachable_studio_runtime_disables_generate_with_the_reason(preferences, tmp_path):
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 10
    camera = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(camera)
    api.add_shot(scene, "sh010", camera, 1, 10)
    preferences.runtime_address, preferences.runtime_token = "127.0.0.1:9", "studio-token"  # nothing listens
    preferences.output_folder = str(tmp_path)
    assert bpy.ops.oyster.start_runtime() == {"FINISHED"}
    session = runtime_session.current()
    assert session.connection.local is None and session.connection.client.base_url == "http://127.0.0.1:9"
    run_timers(session.tick, lambda: STATUS.snapshot().state == ERROR, scene, timeout=20)
    reason = "the runtime is not reachable: the runtime at http://127.0.0.1:9 is not reachable"
    assert runtime_session.unavailable_reason(bpy.context).startswith(reason)
    assert panel_state(scene, runtime_session.unavailable_reason(bpy.context)).status_text.startswith(reason)
    with pytest.raises(RuntimeError, match=reason):
        bpy.ops.oyster.generate_take()
    assert bpy.ops.oyster.stop_runtime() == {"FINISHED"}
    assert runtime_session.current() is None and not bpy.app.timers.is_registered(session.tick)
    assert STATUS.snapshot().state == "ABSENT" and bpy.ops.oyster.start_runtime.poll()


def test_a_runtime_that_cannot_start_says_why_and_drops_the_take_sent_meanwhile(preferences, tmp_path):
    """The preferences name an interpreter that exits at once (a broken environment)."""
    repo = tmp_path / "repo"
    (repo / "model_runtime").mkdir(parents=True)
    (repo / ".venv" / "bin").mkdir(parents=True)
    python = repo / ".venv" / "bin" / "python"
    python.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named torch' >&2\nexit 3\n")
    python.chmod(0o755)
    preferences.runtime_python, preferences.output_folder = str(python), str(tmp_path)
    scene = bpy.context.scene
    camera = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(camera)
    api.add_shot(scene, "sh010", camera, 1, 10)
    # the camera sees nothing (an empty scene): Generate Sky Anyway, past the offer to build a world
    assert bpy.ops.oyster.generate_take(paint_sky=True) == {"FINISHED"}  # starts the runtime, holds the take
    session = runtime_session.current()
    deadline = time.monotonic() + 20
    while session.tick() is not None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    message = STATUS.snapshot().message
    assert message == ("the runtime exited with code 3: ModuleNotFoundError: No module named torch "
                       f"(log: {tmp_path / 'home' / '.oyster' / 'blender-runtime' / 'runtime.log'})")
    assert runtime_session.current() is None  # Generate and Start Runtime may try again
    assert panel_state(scene).take_problem == f"the take was not sent: {message}"
    assert bpy.ops.oyster.start_runtime.poll()


QUIT = r'''
import json, sys, time
import bpy, oyster_blender
from oyster_blender import runtime_session
from oyster_blender.runtime_status import READY, STATUS

oyster_blender.register()
bpy.ops.oyster.start_runtime()
session = runtime_session.current()
deadline = time.monotonic() + 120
while STATUS.snapshot().state != READY and time.monotonic() < deadline:
    session.tick()
    time.sleep(0.05)
info = session.connection.client.info()
print("PIDS " + json.dumps([session.connection.local.process.pid, info["worker"]["pid"]]), flush=True)
sys.exit(0)  # quitting: nothing stops the runtime by hand
'''


def test_quitting_blender_stops_the_runtime_it_started(tmp_path):
    script = tmp_path / "quit.py"
    script.write_text(QUIT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home")))
    lines = [line for line in done.stdout.splitlines() if line.startswith("PIDS ")]
    assert lines and done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    pids = json.loads(lines[-1][len("PIDS "):])
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids)
