"""How the process that runs the world model is set up: memory kept between frames, torch threads per lane.

Memory: glibc's malloc serves blocks above its mmap threshold with fresh mappings and gives the top of its
heap back above its trim threshold. A frame of `tiny` allocates and frees tens of megabytes of activations
(2 MiB per full-resolution feature map), so every frame faulted them in again page by page: 2,000-4,000
page faults and 5-10 ms of system time per frame on the 2-core CPU. With both thresholds raised the pages
stay mapped and a frame faults almost none (tests/test_world_process.py).

Threads: a session runs two lanes at once (`generator.py`: sampling, decoding and the cache on one, each
frame's clean pass on the other), so each lane gets half the cores. More threads than cores make every
parallel region wait for a descheduled thread: on the shared 2-core machine a frame then took seconds.
"""
from __future__ import annotations

import ctypes
import os
import sys

import torch

M_TRIM_THRESHOLD = -1   # mallopt parameters, glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20   # glibc's largest allowed value: blocks up to 32 MiB come from the heap
TRIM_THRESHOLD = 256 << 20  # free heap kept before trimming
LANES = 2


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl): nothing to tune
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def lane_threads() -> int:
    """Torch threads per lane: the cores shared out between the lanes, at least one."""
    return max(1, (os.cpu_count() or 1) // LANES)


def prepare_inference_process() -> None:
    """Keep freed memory, and give torch `lane_threads()` threads unless OMP_NUM_THREADS says otherwise."""
    keep_freed_memory()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(lane_threads())
