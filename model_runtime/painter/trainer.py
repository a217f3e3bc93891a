"""`python -m model_runtime train-painter`: train the painter on rendered clips, in chunks that resume.

The run folder holds `painter.safetensors` (the latest weights, a checkpoint
like any other), `state.safetensors` (weights, Adam moments, step and the
sampler's random state: a rerun continues where it stopped) and `log.jsonl`
(one line of losses per logged step). Runs in float32 on `--device` (the CPU, or CUDA: the net and each
batch move there; the examples are cut on the CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from model_runtime.data.shards import Clip, load_clips
from model_runtime.models import device as devices
from model_runtime.painter import checkpoint
from model_runtime.painter.examples import example
from model_runtime.painter.features import MEMORY_RGB, MEMORY_VALID
from model_runtime.painter.network import PRESETS, PainterNet
from model_runtime.painter.objective import ENERGY_WEIGHT, painter_loss


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="dataset folders with blockout passes")
    parser.add_argument("--run", type=Path, required=True, help="run folder (created; a rerun resumes)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="painter-small")
    parser.add_argument("--steps", type=int, required=True, help="train until this many steps in all")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", default="192x112", help="WIDTHxHEIGHT of the training crops (multiples of 16)")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--energy-weight", type=float, default=ENERGY_WEIGHT,
                        help=f"weight of the texture-energy term against L1 (default {ENERGY_WEIGHT})")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--init", type=Path, help="start a new run from this painter checkpoint's weights "
                        "(fresh optimiser); ignored when the run folder resumes")
    devices.add_argument(parser)


def _clips(folders: list[Path]) -> list[Clip]:
    clips, missing = [], []
    for folder in folders:  # each folder read once: a training set is gigabytes
        loaded = load_clips(folder)
        if not any(c.shade is not None for c in loaded):
            missing.append(str(folder))
        clips += loaded
    if missing:
        raise SystemExit(f"no blockout passes (shade) in {', '.join(missing)}: render them with this version")
    return clips


def _save_state(path: Path, net: PainterNet, opt: torch.optim.Adam, step: int, rng: np.random.Generator) -> None:
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in net.state_dict().items()}
    for i, p in enumerate(net.parameters()):
        state = opt.state.get(p)
        if state:
            tensors[f"adam.{i}.exp_avg"] = state["exp_avg"].contiguous()
            tensors[f"adam.{i}.exp_avg_sq"] = state["exp_avg_sq"].contiguous()
            tensors[f"adam.{i}.step"] = torch.as_tensor(state["step"], dtype=torch.float32).reshape(1)
    meta = {"step": str(step), "rng": json.dumps(rng.bit_generator.state)}
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata=meta)
    os.replace(partial, path)


def _load_state(path: Path, net: PainterNet, opt: torch.optim.Adam) -> tuple[int, dict]:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    net.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    for i, p in enumerate(net.parameters()):
        if f"adam.{i}.exp_avg" in tensors:
            opt.state[p] = {"exp_avg": tensors[f"adam.{i}.exp_avg"].to(p.device),
                            "exp_avg_sq": tensors[f"adam.{i}.exp_avg_sq"].to(p.device),
                            "step": tensors[f"adam.{i}.step"].reshape(())}
    return int(meta["step"]), json.loads(meta["rng"])


def batch(clips: list[Clip], rng: np.random.Generator, size: int, crop: tuple[int, int],
          embeddings: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    feats, truths, notes = [], [], []
    for _ in range(size):
        clip = clips[int(rng.integers(len(clips)))]
        f, t = example(clip, int(rng.integers(len(clip.rgb))), rng, crop)
        feats.append(f)
        truths.append(t)
        notes.append(embeddings[clip.caption])
    return torch.from_numpy(np.stack(feats)), torch.from_numpy(np.stack(truths)), torch.from_numpy(np.stack(notes))


def run(args: argparse.Namespace) -> int:
    from model_runtime.world.text import embed_notes

    if args.threads:
        torch.set_num_threads(args.threads)
    device = devices.resolve_or_exit(args.device, "train-painter")
    crop = tuple(int(v) for v in args.crop.lower().split("x"))
    if len(crop) != 2 or crop[0] % 16 or crop[1] % 16:
        raise SystemExit(f"--crop must be WIDTHxHEIGHT in multiples of 16, got {args.crop!r}")
    clips = _clips(args.data)
    captions = sorted({c.caption for c in clips})
    embeddings = dict(zip(captions, embed_notes(captions)))
    args.run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    net = PainterNet(PRESETS[args.preset]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    state_path = args.run / "state.safetensors"
    step, rng = 0, np.random.default_rng(args.seed)
    if state_path.exists():
        step, rng_state = _load_state(state_path, net, opt)
        rng.bit_generator.state = rng_state
        print(f"resumed at step {step}", flush=True)
    elif args.init is not None:
        initial, _ = checkpoint.load(args.init)
        if initial.config != net.config:
            raise SystemExit(f"--init {args.init} is a {initial.config} painter, the preset {args.preset} is "
                             f"{net.config}")
        net.load_state_dict(initial.state_dict())
        print(f"started from {args.init}", flush=True)
    record = {"data": [str(d) for d in args.data], "clips": len(clips), "preset": args.preset,
              "device": str(device), "batch": args.batch, "crop": list(crop), "lr": args.lr, "seed": args.seed,
              "energy_weight": args.energy_weight,
              "init": str(args.init) if args.init is not None else None}
    log = open(args.run / "log.jsonl", "a")
    start, sums = time.time(), {"loss": 0.0, "l1": 0.0, "energy": 0.0}
    while step < args.steps:
        x, y, n = (t.to(device) for t in batch(clips, rng, args.batch, crop, embeddings))
        loss, parts = painter_loss(net(x, n), y, x[:, MEMORY_RGB], x[:, MEMORY_VALID],
                                   energy_weight=args.energy_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        sums["loss"] += loss.item()
        sums["l1"] += parts["l1"]
        sums["energy"] += parts["energy"]
        if step % args.save_every == 0 or step == args.steps:
            means = {k: v / args.save_every for k, v in sums.items()}
            line = {"step": step, **means, "seconds": round(time.time() - start, 1)}
            log.write(json.dumps(line) + "\n")
            log.flush()
            print(json.dumps(line), flush=True)
            sums = dict.fromkeys(sums, 0.0)
            _save_state(state_path, net, opt, step, rng)
            checkpoint.save(net, args.run / "painter.safetensors", {**record, "steps": step})
    return 0
