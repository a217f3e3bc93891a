"""Two threads for the loops that let go of the GIL (numba's `nogil` kernels, Embree): a frame's work in halves.

This CPU has two cores; torch's own threads are idle while these run (the stages of a frame follow one
another).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

WORKERS = 2


@lru_cache(maxsize=1)
def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="oyster-halves")


def halves(length: int) -> tuple[slice, slice]:
    """[0, length) in two halves."""
    half = length // 2
    return slice(0, half), slice(half, length)
