"""The prepared GPU check runs here in its test-sized mode on the CPU (the same steps, CPU on both sides)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from runtime_fixtures import ROOT


def test_the_gpu_check_runs_quick_on_the_cpu_and_reports_every_figure(tmp_path: Path):
    out = tmp_path / "figures.json"
    result = subprocess.run([sys.executable, "-m", "model_runtime.benchmarks.gpu_check", "--device", "cpu", "--quick",
                             "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["device"] == "cpu" and figures["quick"] is True and figures["resolution"] == [64, 36]
    for key in ("cpu_fps", "device_fps", "train_steps_per_s"):
        assert figures[key] > 0
    # two CPU runs of the same seed and checkpoint paint the same frames
    assert figures["max_abs_diff_frame_0"] == figures["max_abs_diff_all_frames"] == 0
    assert figures["train_steps"] == 3 and figures["dataset_mb"] < 50
    assert f"cpu_fps: {figures['cpu_fps']}" in result.stdout
