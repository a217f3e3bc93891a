"""Benchmarks, all in one place: each prints figures (and a goal met or not), none asserts a time.

Two are runtime commands: `python -m model_runtime bench` (`painter`: the default model and the blockout
passes) and `python -m model_runtime bench-world` (`world`: the latent world model, oyster-tiny). The others
run as modules, `.venv/bin/python -m model_runtime.benchmarks.<name> [--help]` from the repository root (no
PYTHONPATH), or `python -m model_runtime.benchmarks.<name>` with an installed runtime from any folder:
`continuation`, `camera_track`, `runtime_latency`, `page_faults`, `gpu_check` (with its `analytic_shot`), and
`live_latency`, which builds the example scene of the checkout's `examples/` and so runs from a checkout only.
"""
