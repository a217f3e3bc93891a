"""The inference process set-up (model_runtime/world/process.py): freed memory stays mapped, threads per lane.

Each case runs in a fresh interpreter, since both settings are process-wide.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PAGE_FAULTS = """
import ctypes, resource, sys
import torch
from model_runtime.world.config import preset
from model_runtime.world.model import WorldModel
from model_runtime.world.process import M_MMAP_THRESHOLD, keep_freed_memory

torch.set_num_threads(1)
if sys.argv[1] == "keep":
    assert keep_freed_memory()
else:  # glibc's default mmap threshold (128 KiB), held: left alone it rises after the first frees, by chance
    assert ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 128 * 1024)
model = WorldModel(preset("tiny")).for_inference()
rgb, depth = torch.rand(1, 108, 192, 3), torch.full((1, 108, 192), 5.0)
with torch.no_grad():
    for frame in range(8):  # an encode and a decode per frame, as a session makes them
        if frame == 3:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        model.decode_frames(model.encode_frames(rgb, depth))
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def _run(code: str, *args: str, env: dict | None = None) -> str:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                            env={**(env or os.environ), "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_kept_memory_spares_the_page_faults_of_every_frame():
    plain, kept = float(_run(PAGE_FAULTS, "plain")), float(_run(PAGE_FAULTS, "keep"))
    assert plain > 500, plain                  # the activations are mapped afresh every frame
    assert kept < plain / 10, (kept, plain)


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
