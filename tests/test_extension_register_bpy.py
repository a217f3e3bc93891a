"""Registering the package from a script (bpy as a module), and the panel's pieces that need no window."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from oyster_blender import ui  # noqa: E402
from oyster_blender.runtime_status import STATUS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_a_script_that_registers_and_never_unregisters_still_exits(tmp_path):
    # property callbacks left registered hang bpy-as-a-module at exit; register() guards against it
    script = "import bpy, oyster_blender\noyster_blender.register()\nbpy.ops.oyster.add_shot()\nprint('done')\n"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0 and "done" in done.stdout, done.stderr[-2000:]


def test_register_twice_in_one_process_leaves_nothing(empty_scene):
    import oyster_blender

    before = (set(dir(bpy.types)), {p.identifier for p in bpy.types.Scene.bl_rna.properties})
    for _ in range(2):
        oyster_blender.register()
        try:
            assert hasattr(bpy.types.Scene, "oyster") and "OYSTER_PT_shots" in dir(bpy.types)
            assert bpy.ops.oyster.add_shot.get_rna_type().identifier == "OYSTER_OT_add_shot"
        finally:
            oyster_blender.unregister()
        assert (set(dir(bpy.types)), {p.identifier for p in bpy.types.Scene.bl_rna.properties}) == before


def test_the_redraw_timer_notices_status_changes():
    assert ui._redraw_on_status_change() == ui.REDRAW_SECONDS  # no windows here: nothing to tag, no error
    STATUS.set_starting("importing torch")
    try:
        ui._redraw_on_status_change()
        assert ui._seen_version == STATUS.snapshot().version
    finally:
        STATUS.set_absent()


def test_panel_state_without_shots_or_data(oyster_scene):
    state = ui.panel_state(oyster_scene)
    assert state.has_data and state.problem.startswith("add a shot")
    assert not ui.panel_state(None).has_data
