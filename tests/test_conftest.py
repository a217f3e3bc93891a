"""The suite in the project's own environment fails, rather than skipping the bpy tests, when bpy is missing."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, in_project_venv

WITHOUT_BPY = """
import sys
sys.modules["bpy"] = None  # as if bpy were not installed
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "tests/test_naming.py"]))
"""


@pytest.mark.skipif(not in_project_venv(), reason="the check holds only in the project's own .venv")
def test_a_missing_bpy_fails_the_session_in_the_project_venv():
    done = subprocess.run([sys.executable, "-c", WITHOUT_BPY], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "bpy is not importable" in done.stderr and "build.py setup" in done.stderr
