"""`oyster_blender.core` is the contract both sides share: it imports with bpy absent and nothing outside
the standard library, and the runtime imports the extension through it (and `passes`) only."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "oyster_blender" / "core"

# Refuses bpy (and anything outside the standard library) at import, then imports every core module.
SCRIPT = """
import importlib, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top == "bpy" or (top not in sys.stdlib_module_names and top != "oyster_blender"):
            raise ImportError(f"core imported {name}")
        return None

sys.meta_path.insert(0, Refuse())
for name in sys.argv[1:]:
    importlib.import_module(name)
assert "bpy" not in sys.modules
print("ok", len(sys.argv) - 1)
"""


def core_modules() -> list[str]:
    return ["oyster_blender.core"] + sorted(f"oyster_blender.core.{p.stem}" for p in CORE.glob("*.py")
                                            if p.stem != "__init__")


def test_core_imports_without_bpy_or_third_party_packages():
    names = core_modules()
    assert {"oyster_blender.core.errors", "oyster_blender.core.naming", "oyster_blender.core.track_schema",
            "oyster_blender.core.camera_math"} <= set(names)
    done = subprocess.run([sys.executable, "-c", SCRIPT, *names], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", str(len(names))]


def test_runtime_imports_the_extension_only_through_core_and_passes():
    """The benchmarks that time both sides end to end drive the extension's own modules; they are a leaf that
    nothing of the runtime imports (the `bench` commands load theirs by name from __main__'s table)."""
    found = subprocess.run(["git", "grep", "-n", "-e", "import oyster_blender", "-e", "from oyster_blender",
                            "--", "model_runtime", ":(exclude)model_runtime/benchmarks"],
                           cwd=REPO, capture_output=True, text=True).stdout.splitlines()
    modules = {line.split(":", 2)[2].split()[1] for line in found}
    assert all(m == "oyster_blender.core" or m.startswith(("oyster_blender.core.", "oyster_blender.passes"))
               for m in modules), sorted(modules)
    users = subprocess.run(["git", "grep", "-l", "model_runtime.benchmarks", "--", "model_runtime/*.py",
                            ":(exclude)model_runtime/benchmarks", ":(exclude)model_runtime/__main__.py"],
                           cwd=REPO, capture_output=True, text=True).stdout.split()
    assert users == [], users
