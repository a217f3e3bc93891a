"""The built zip installs and enables through Blender's own extension installer, into a temporary user
folder, and registers and unregisters twice without leaving anything behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import build

pytest.importorskip("bpy")

SCRIPT = r'''
import json, sys
import bpy, addon_utils

MODULE = "bl_ext.user_default.oyster"


def footprint():
    """Everything an add-on can leave behind: types, Scene properties, operators, handlers, timers."""
    module = sys.modules.get(MODULE + ".ui")
    return {
        "types": sorted(n for n in dir(bpy.types) if n.startswith("OYSTER")),
        "scene_props": sorted(p.identifier for p in bpy.types.Scene.bl_rna.properties),
        "ops": sorted(op for op in dir(bpy.ops.oyster) if _op_registered(op)),
        "handlers": {name: len(getattr(bpy.app.handlers, name)) for name in dir(bpy.app.handlers)
                     if isinstance(getattr(bpy.app.handlers, name), list)},
        "timer": bool(module) and bpy.app.timers.is_registered(module._redraw_on_status_change),
        "enabled": MODULE in bpy.context.preferences.addons,
    }


def _op_registered(name):
    try:
        getattr(bpy.ops.oyster, name).get_rna_type()
    except KeyError:
        return False
    return True


before = footprint()
result = bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default",
                                                   enable_on_install=True)
installed = footprint()
# the installed extension works: a shot from the scene camera
scene = bpy.context.scene
scene.camera = bpy.data.objects["Camera"]
bpy.ops.oyster.add_shot()
shots = [(s.name, s.frame_start, s.frame_end) for s in scene.oyster.shots]
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs_fields = [k for k in ("runtime_python", "runtime_address", "runtime_token", "output_folder") if hasattr(prefs, k)]
cycles = []
for _ in range(2):
    bpy.ops.preferences.addon_disable(module=MODULE)
    off = footprint()
    bpy.ops.preferences.addon_enable(module=MODULE)
    cycles.append({"off": off, "on": footprint()})
bpy.ops.preferences.addon_disable(module=MODULE)
print("RESULT " + json.dumps({"result": sorted(result), "before": before, "installed": installed, "shots": shots,
                              "prefs": prefs_fields, "cycles": cycles, "after": footprint(),
                              "path": bpy.utils.user_resource("EXTENSIONS")}))
'''


def test_install_enable_and_two_register_cycles_leave_nothing(tmp_path):
    target = build.build_zip(tmp_path / "dist")
    user = tmp_path / "blender_user"
    script = tmp_path / "install.py"
    script.write_text(SCRIPT)
    # BLENDER_USER_RESOURCES is read when bpy is imported: set in the child's environment, before `import bpy`
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user))
    done = subprocess.run([sys.executable, str(script), str(target)], env=env, capture_output=True, text=True,
                          timeout=240, cwd=tmp_path)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])

    assert out["result"] == ["FINISHED"]
    assert Path(out["path"]).is_relative_to(user)  # never a real Blender setup
    assert (user / "extensions" / "user_default" / "oyster" / "__init__.py").is_file()
    installed, before = out["installed"], out["before"]
    assert installed["enabled"] and not installed["timer"]  # background: no windows, no redraw timer
    assert {"OYSTER_OT_add_shot", "OYSTER_OT_generate_take", "OYSTER_PT_shots", "OYSTER_UL_shots"} <= \
        set(installed["types"])
    assert "add_shot" in installed["ops"] and "generate_take" in installed["ops"]
    assert set(installed["scene_props"]) - set(before["scene_props"]) == {"oyster", "oyster_world"}
    assert out["shots"] == [["sh010", 1, 250]] and len(out["prefs"]) == 4
    for cycle in out["cycles"]:
        assert cycle["off"] == before, "unregister left something behind"
        assert cycle["on"] == installed, "register did not restore the same state"
    assert out["after"] == before
