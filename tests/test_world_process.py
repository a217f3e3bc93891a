"""The inference process set-up (model_runtime/world/process.py): torch threads per lane.

Each case runs in a fresh interpreter, since the setting is process-wide. What keeping freed memory spares
(page faults per frame) is a measurement, not a test: `python -m model_runtime.benchmarks.page_faults`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(code: str, *args: str, env: dict | None = None) -> str:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                            env={**(env or os.environ), "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


THREADS = """
import torch
from model_runtime.world.process import lane_threads, prepare_inference_process
prepare_inference_process()
print(torch.get_num_threads(), lane_threads())
"""


def test_each_lane_gets_half_the_cores_unless_omp_num_threads_says_otherwise():
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    threads, lane = map(int, _run(THREADS, env=env).split())
    assert threads == lane == max(1, (os.cpu_count() or 1) // 2)
    if lane * 2 <= (os.cpu_count() or 1):  # a count torch accepts that differs from the lanes' share
        threads, _ = map(int, _run(THREADS, env={**env, "OMP_NUM_THREADS": str(lane * 2)}).split())
        assert threads == lane * 2
