"""Page faults per frame of the world model with glibc's default malloc thresholds and with the inference
process's (`model_runtime.world.process.keep_freed_memory`).

    .venv/bin/python -m model_runtime.benchmarks.page_faults [--frames 8]

Each case runs in a fresh interpreter (the thresholds are process-wide) with one torch thread: an encode
and a decode of a 192x108 frame per step, as a session makes them, with `tiny`'s untrained weights. The
first three steps warm up; the figure is minor page faults per step after them. The plain case holds
glibc's default mmap threshold (128 KiB), since left alone glibc raises it after the first frees, by
chance. Linux with glibc only.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the folder holding model_runtime (a checkout or site-packages)
WARM_UP = 3

CASE = """
import ctypes, resource, sys
import torch
from model_runtime.world.config import preset
from model_runtime.world.model import WorldModel
from model_runtime.world.process import M_MMAP_THRESHOLD, keep_freed_memory

torch.set_num_threads(1)
case, frames, warm_up = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if case == "keep":
    assert keep_freed_memory()
else:
    assert ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 128 * 1024)
model = WorldModel(preset("tiny")).for_inference()
rgb, depth = torch.rand(1, 108, 192, 3), torch.full((1, 108, 192), 5.0)
with torch.no_grad():
    for frame in range(frames):
        if frame == warm_up:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        model.decode_frames(model.encode_frames(rgb, depth))
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / (frames - warm_up))
"""


def faults(case: str, frames: int) -> float:
    done = subprocess.run([sys.executable, "-c", CASE, case, str(frames), str(WARM_UP)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{case}: {done.stderr[-2000:]}")
    return float(done.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8, help=f"steps per case, the first {WARM_UP} left out")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("glibc's malloc: Linux only")
    if args.frames <= WARM_UP:
        raise SystemExit(f"--frames must be over {WARM_UP}")
    plain, kept = faults("plain", args.frames), faults("keep", args.frames)
    print(f"minor page faults per frame (tiny, 192x108, encode + decode, {args.frames - WARM_UP} frames)")
    print(f"  glibc's default thresholds   {plain:10.0f}")
    print(f"  keep_freed_memory()          {kept:10.0f}   ({kept / plain if plain else 0:.3f} of the default)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
