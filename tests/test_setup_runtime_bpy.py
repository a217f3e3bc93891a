"""Set Up Runtime in the real bpy module: the extension installed from its zip into a temporary user folder,
the operator run against the locally built runtime wheel, its timer driven until the setup ends.

The environment it makes reuses this environment's pinned packages ("Use the Python's Packages", with
this interpreter as the Python for setup) and pip runs with `--no-index`, so nothing is downloaded: pip
still resolves the wheel's pinned dependencies, against what is installed here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import build

pytest.importorskip("bpy")
pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent

SCRIPT = r'''
import json, os, sys, traceback
from pathlib import Path
sys.path.insert(0, sys.argv[4])  # tests/, for the timer loop
import bpy
from timer_loop import run_timers

MODULE = "bl_ext.user_default.oyster"
zip_path, wheel, missing = sys.argv[1], sys.argv[2], sys.argv[3]
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
prefs = bpy.context.preferences.addons[MODULE].preferences
preferences = sys.modules[MODULE + ".preferences"]
settings = sys.modules[MODULE + ".settings"]
scene = bpy.context.scene
setups = []


def set_up(source, **fields):
    prefs.setup_source = source
    for name, value in fields.items():
        setattr(prefs, name, value)
    result = bpy.ops.oyster.setup_runtime()
    assert result == {"FINISHED"}, result
    started = preferences.SETUP.setup
    polls, applied = [], []

    def tick():
        polls.append(started.snapshot().message.splitlines()[0])
        interval = preferences.SETUP.poll()
        if interval is None:  # the last tick: the result is applied, Blender would drop the timer
            applied.append(True)
            return 0.0
        return interval

    # the timer the operator registered is SETUP.poll: driven here as Blender's loop would call it
    assert bpy.app.timers.is_registered(preferences.SETUP.poll)
    run_timers(tick, lambda: bool(applied), scene, timeout=400)
    bpy.app.timers.unregister(preferences.SETUP.poll)
    setups.append(started)
    snap = started.snapshot()
    return {"state": snap.state, "message": snap.message, "tail": list(snap.tail), "python": prefs.runtime_python,
            "polls": sorted(set(polls)), "folder": str(started.request.folder)}


prefs.runtime_python = "/previous/python"
out = {"missing": set_up(missing),
       "broken": set_up(str(Path(missing).parent / "broken" / Path(wheel).name), setup_python=sys.executable,
                        setup_reuse_packages=True, setup_pip_options="--no-index")}
prefs.runtime_python = ""
out["good"] = set_up(wheel)
out["local"] = [str(p) for p in settings.local_runtime(settings.RuntimeSettings(python=prefs.runtime_python),
                                                        Path(sys.argv[3]).parent)]


def draw(popover, context):
    """The preferences in a real layout after each setup (the bpy module draws no region by itself)."""
    out["drawn"], errors = [], []
    for setup in setups:
        preferences.SETUP.setup = setup
        try:
            preferences.draw_preferences(prefs, popover.layout.column())
            out["drawn"].append(setup.snapshot().state)
        except Exception:
            errors.append(traceback.format_exc())
    out["draw_errors"] = errors
    print("RESULT " + json.dumps(out), flush=True)
    os._exit(0)  # finishing the popover without a screen would crash Blender (test_extension_panel_bpy)


window = bpy.context.window_manager.windows[0]
area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
with bpy.context.temp_override(window=window, area=area, region=area.regions[0]):
    bpy.context.window_manager.popover(draw)
print("the popover did not draw", flush=True)
'''


@pytest.fixture(scope="module")
def setup_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    tmp = tmp_path_factory.mktemp("setup_runtime")
    zip_path, wheel = build.build_zip(tmp / "dist"), build.build_wheel(tmp / "dist")
    (tmp / "broken").mkdir()
    (tmp / "broken" / wheel.name).write_bytes(b"this is not a zip file")  # a wheel's name, not a wheel
    script = tmp / "setup.py"
    script.write_text(SCRIPT)
    user = tmp / "blender_user"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(script), str(zip_path), str(wheel), str(tmp / "missing.whl"),
                           str(TESTS)], env=env, capture_output=True, text=True, timeout=600, cwd=tmp)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    out = json.loads(lines[-1].removeprefix("RESULT "))
    out["user"] = str(user)
    return out, done.stdout + done.stderr


def test_a_missing_wheel_fails_with_its_path_and_leaves_the_preference(setup_runs):
    out, _ = setup_runs
    missing = out["missing"]
    assert missing["state"] == "FAILED"
    assert missing["message"].startswith("the runtime wheel '") and "missing.whl' does not exist" in \
        missing["message"]
    assert missing["python"] == "/previous/python"  # unchanged


def test_a_pip_failure_shows_the_end_of_pips_output_and_leaves_the_preference(setup_runs):
    out, _ = setup_runs
    broken = out["broken"]
    assert broken["state"] == "FAILED" and broken["python"] == "/previous/python"
    first, *rest = broken["message"].splitlines()
    assert first.startswith("pip install failed (exit ")
    assert rest and any(line.startswith("ERROR:") for line in rest), rest  # pip's own reason


def test_the_preferences_draw_each_outcome_in_a_real_layout(setup_runs):
    out, log = setup_runs
    assert out["draw_errors"] == [] and out["drawn"] == ["FAILED", "FAILED", "DONE"]
    # Blender reports a misspelt property or operator in a layout as a line of output ("rna_uiItemR:
    # property not found: ..." on stdout, its Python line on stderr), not as an exception
    assert not [line for line in log.splitlines() if "rna_uiItem" in line or "preferences.py:" in line], log[-2000:]


def test_set_up_runtime_points_the_preference_at_a_working_interpreter(setup_runs, tmp_path):
    out, _ = setup_runs
    user = Path(out["user"])
    good = out["good"]
    assert good["state"] == "DONE", good["message"] + "\n" + "\n".join(good["tail"])
    python = Path(good["python"])
    # in the extension's own user folder, under the temporary BLENDER_USER_RESOURCES
    assert python == user / "extensions" / ".user" / "user_default" / "oyster" / "oyster_runtime" / "bin" / "python"
    assert good["message"] == f"runtime ready: {python}"
    # the panel's line while pip ran (seconds; the timer polls every 0.2 s): the step and pip's latest line
    assert any(p.startswith("step 4 of 5: installing the runtime: ") for p in good["polls"]), good["polls"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run([str(python), "-c", "import model_runtime, torch; print(model_runtime.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(python.parent.parent)  # the wheel's copy, not the checkout's
    # the extension starts its local runtime from there: the interpreter and its site-packages
    site_packages = Path(probe.stdout.strip()).parent.parent
    assert out["local"] == [str(python), str(site_packages)]
