"""`python -m model_runtime bench-world`: how fast the latent world model (oyster-tiny) runs on this machine.

Reports, for one config at its native resolution:
- time to first frame, cold (checkpoint and text encoder loaded in this call; torch already imported)
  and warm (a new shot on the loaded model),
- frames per second over a long notes-only rollout, and the per-frame time at frames 10-20 against frames
  290-300 (the sliding KV window and the bounded point cache keep it flat): once as the rollout passes
  them, and interleaved (the session restored to frame 10, then to frame 290, in turns), since on a shared
  machine the speed drifts by a third over a rollout's half minute and a single pass compares moments,
  not frames,
- the same rollout in one lane with all the threads (each frame's clean pass in order, not beside the next
  frame's work), as the baseline of the two lanes,
- the dynamics cost of one frame with the KV cache against naive recomputation of the whole window,
- the dynamics pass's achieved FLOP/s against a plain matmul measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from model_runtime.models.interface import ShotInput
from model_runtime.world.config import DynamicsConfig, preset
from model_runtime.world.generator import DEFAULT_CHECKPOINT, OysterWorldModel, WorldSession
from model_runtime.world.model import WorldModel
from model_runtime.world.process import LANES, prepare_inference_process
from model_runtime.world.text import embed_notes


def bench_track(frames: int, width: int, height: int) -> dict:
    """A slow dolly with a pan (wire format), the kind of move a long previs shot makes."""
    fx = width / 2 / np.tan(np.radians(30.0))                          # 60 degree horizontal field of view
    out, prev = [], None
    for i in range(frames):
        a = np.radians(0.3 * i)
        c2w = np.eye(4)
        c2w[:3, :3] = [[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]
        c2w[:3, 3] = [0.0, 0.0, 0.03 * i]
        rel = np.eye(4) if prev is None else np.linalg.inv(prev) @ c2w
        out.append({"frame": 1 + i, "c2w": c2w.tolist(), "fx": fx, "fy": fx, "cx": width / 2, "cy": height / 2,
                    "rel": rel.tolist()})
        prev = c2w
    return {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": 1, "frame_end": frames,
            "scale": 1.0, "frames": out}


def dynamics_flops(config: DynamicsConfig, n_query: int, n_keys: int, token_in: int, token_out: int,
                   keys_only: bool = False) -> float:
    """Multiply-adds x 2 of one dynamics pass: n_query tokens of one frame attending to n_keys keys.

    `keys_only`: the clean pass (`LatentDynamics.remember`), which stops after the last block's keys and values.
    The adaLN modulations are counted apart (`modulation_flops`): a frame computes them once for all passes.
    """
    d, L = config.d_model, config.n_layers
    per_layer = 2 * n_query * d * (3 * d + d + 2 * config.mlp_ratio * d) + 4 * n_query * n_keys * d
    flops = L * per_layer + 2 * n_query * token_in * d
    if keys_only:
        return flops - (2 * n_query * d * (d + 2 * config.mlp_ratio * d) + 4 * n_query * n_keys * d)
    return flops + 2 * n_query * d * token_out


def modulation_flops(config: DynamicsConfig, passes: int) -> float:
    """Multiply-adds x 2 of the adaLN modulations of `passes` passes (6d per block and 2d for the head)."""
    return 2 * passes * config.d_model * (6 * config.d_model * config.n_layers + 2 * config.d_model)


def _timed(fn, repeats: int) -> float:
    """Median seconds of `fn()` over `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 / _timed(lambda: torch.mm(a, b), repeats) / 1e9


@torch.no_grad()
def kv_against_naive(model: WorldModel, repeats: int) -> dict:
    """Dynamics time of one frame at a full window (the sampler's passes, then the clean pass that keeps the
    frame's keys and values), through the KV window against recomputing the whole window for every pass."""
    cfg, dyn = model.config, model.dynamics
    n, d, window_frames, steps = cfg.tokens_per_frame, cfg.dynamics.d_model, cfg.dynamics.window, cfg.sampler.steps
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn((1, window_frames + 1, n, d), generator=g)                 # embedded tokens
    cond = torch.randn((1, window_frames + 1, d), generator=g)
    window = dyn.new_window()
    for t in range(window_frames):                                                  # fill the KV window
        dyn.remember(tokens[:, t], dyn.modulations(cond[:, t:t + 1]), window)
    last = tokens[:, -1]
    passes = torch.randn((steps + 1, 1, d), generator=g)                            # each pass's condition
    cached_out = dyn.step(last, dyn.modulations(cond[:, -1:]), window)
    naive_out = dyn(tokens, cond)[:, -1]

    def cached_frame() -> None:
        modulations = dyn.modulations(passes)                                       # all passes at once
        for i in range(steps):
            dyn.step(last, [m[i:i + 1] for m in modulations], window)
        dyn.remember(last, [m[steps:] for m in modulations], window)               # full window: slides

    cached = _timed(cached_frame, repeats)
    naive = _timed(lambda: [dyn(tokens, cond) for _ in range(steps + 1)], repeats)
    flops = [dynamics_flops(cfg.dynamics, n, (window_frames + 1) * n, dyn.token_in.in_features,
                            dyn.out.out_features, keys_only=clean) for clean in (False, True)]
    frame_flops = steps * flops[0] + flops[1] + modulation_flops(cfg.dynamics, steps + 1)
    return {"passes_per_frame": steps + 1, "cached_ms": cached * 1e3, "naive_ms": naive * 1e3,
            "naive_over_cached": naive / cached, "max_abs_difference": float((cached_out - naive_out).abs().max()),
            "dynamics_gflops": frame_flops / cached / 1e9, "dynamics_gflop_per_frame": frame_flops / 1e9}


def bench_shot(model: WorldModel, frames: int, seed: int) -> ShotInput:
    """The notes-only shot the rollouts time, at the model's native size."""
    return ShotInput("a quiet street at dusk, light fog", bench_track(frames, model.config.width,
                                                                       model.config.height), seed)


def rollout(generator_model: WorldModel, frames: int, seed: int, context_lane: bool = True) -> list[float]:
    """Seconds per frame of a notes-only shot."""
    session = WorldSession(generator_model, bench_shot(generator_model, frames, seed), context_lane=context_lane)
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        session.step()
        times.append(time.perf_counter() - start)
    return times


def late_against_early(model: WorldModel, frames: int, rounds: int) -> dict:
    """Per-frame time at frames 10-20 and 290-300 of the bench shot, measured in turns: the session's state
    at frame 10 and at frame 290 (snapshots: KV window, point cache, noise) is restored in alternation and
    ten frames are timed from each, `rounds` times; medians over all the timed frames."""
    session = WorldSession(model, bench_shot(model, frames, 0))
    states = {}
    for i in range(291):
        if i in (10, 290):
            states[i] = session.snapshot()
        if i < 290:
            session.step()
    times: dict[int, list[float]] = {10: [], 290: []}
    for _ in range(rounds):
        for start, state in states.items():
            session.restore(state)
            for _ in range(10):
                began = time.perf_counter()
                session.step()
                times[start].append(time.perf_counter() - began)
    early, late = (1e3 * float(np.median(times[k])) for k in (10, 290))
    return {"rounds": rounds, "median_ms_frames_10_20": early, "median_ms_frames_290_300": late,
            "late_over_early": late / early, "cached_points_at_10_and_290": [len(states[k].cache[0]) for k in states]}


def one_lane_fps(model: WorldModel, frames: int) -> float:
    """The baseline of the two lanes: the same rollout in one lane with all the lanes' threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(LANES * threads)
    try:
        return frames / sum(rollout(model, frames, seed=0, context_lane=False))
    finally:
        torch.set_num_threads(threads)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help="world-model checkpoint (default: the shipped oyster-tiny)")
    parser.add_argument("--config", default="tiny",
                        help="config to time with untrained weights when the checkpoint does not exist")
    parser.add_argument("--frames", type=int, default=300, help="rollout length (at least 300)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads per lane (0: the runtime's choice, half the cores)")
    parser.add_argument("--repeats", type=int, default=20, help="repeats of the micro-benchmarks")
    parser.add_argument("--rounds", type=int, default=8, help="turns of the interleaved frames 10-20 / 290-300")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")


def run(args: argparse.Namespace) -> int:
    if args.frames < 300:
        raise SystemExit("bench: --frames must be at least 300 (frames 290-300 are compared with 10-20)")
    prepare_inference_process()  # as the runtime's worker does when it loads the model
    if args.threads:
        torch.set_num_threads(args.threads)
    report: dict = {"lanes": LANES, "threads_per_lane": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                    "torch": torch.__version__}
    start = time.perf_counter()
    if args.checkpoint.is_file():
        generator = OysterWorldModel(args.checkpoint)
        model = generator.model
        report["checkpoint"] = str(args.checkpoint)
    else:
        model = WorldModel(preset(args.config)).for_inference()
        report["checkpoint"] = f"none ({args.checkpoint} missing): untrained {args.config}, timings only"
    cfg = model.config
    track = bench_track(2, cfg.width, cfg.height)
    WorldSession(model, ShotInput("a quiet street at dusk", track, 0)).step()     # loads the text encoder
    report["first_frame_cold_s"] = time.perf_counter() - start
    start = time.perf_counter()
    embed_notes(["an empty beach at noon"])
    WorldSession(model, ShotInput("an empty beach at noon", track, 1)).step()
    report["first_frame_warm_s"] = time.perf_counter() - start
    times = rollout(model, args.frames, seed=0)
    report.update({
        "config": cfg.name, "resolution": f"{cfg.width}x{cfg.height}", "sampler_steps": cfg.sampler.steps,
        "frames": args.frames, "fps": len(times) / sum(times),
        "ms_frames_10_20": 1e3 * float(np.mean(times[10:20])),
        "ms_frames_290_300": 1e3 * float(np.mean(times[290:300])),
        # medians too: on a shared machine one descheduled frame moves a 10-frame mean by a tenth of its delay
        "median_ms_frames_10_20": 1e3 * float(np.median(times[10:20])),
        "median_ms_frames_290_300": 1e3 * float(np.median(times[290:300])),
    })
    report["late_over_early"] = report["ms_frames_290_300"] / report["ms_frames_10_20"]
    report["late_over_early_median"] = report["median_ms_frames_290_300"] / report["median_ms_frames_10_20"]
    report["interleaved"] = late_against_early(model, args.frames, args.rounds)
    report["fps_one_lane"] = one_lane_fps(model, args.frames)
    report["two_lanes_over_one"] = report["fps"] / report["fps_one_lane"]
    report["kv_cache"] = kv_against_naive(model, args.repeats)
    report["matmul_1024_gflops"] = matmul_gflops(repeats=args.repeats)
    report["dynamics_share_of_matmul"] = report["kv_cache"]["dynamics_gflops"] / report["matmul_1024_gflops"]
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime bench-world", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
