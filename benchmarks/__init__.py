"""Benchmark scripts: each prints figures (and a goal met or not), none asserts a time.

Run them from the repository root as modules, so that `model_runtime` and `oyster_blender` import without
PYTHONPATH: `.venv/bin/python -m benchmarks.<name> [--help]`.
"""
