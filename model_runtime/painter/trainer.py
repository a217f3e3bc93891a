"""`python -m model_runtime train-painter`: train the painter on rendered clips, in chunks that resume.

The run folder holds `painter.safetensors` (the latest weights, a checkpoint
like any other), `state.safetensors` (weights, Adam moments, step and the
sampler's random state: a rerun continues where it stopped; with
`--adversarial-weight` also the patch critic's, painter/critic.py) and `log.jsonl`
(one line of losses per logged step). Runs in float32 on `--device` (the CPU, or CUDA: the net and each
batch move there; the examples are cut on the CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from model_runtime.data.shards import Clip, load_clips
from model_runtime.models import device as devices
from model_runtime.painter import checkpoint
from model_runtime.painter.examples import example
from model_runtime.painter.critic import PatchCritic, critic_loss, painted_share, painter_adversarial_loss
from model_runtime.painter.features import MEMORY_RGB, MEMORY_VALID, SHADE
from model_runtime.painter.network import PRESETS, PainterConfig, PainterNet
from model_runtime.painter.objective import EDGE_WEIGHT, ENERGY_WEIGHT, painter_loss


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="dataset folders with blockout passes")
    parser.add_argument("--run", type=Path, required=True, help="run folder (created; a rerun resumes)")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="the network's config (default: the resumed run's, else --init's, else painter-small)")
    parser.add_argument("--steps", type=int, required=True, help="train until this many steps in all")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", default="192x112", help="WIDTHxHEIGHT of the training crops (multiples of 16)")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--energy-weight", type=float, default=ENERGY_WEIGHT,
                        help=f"weight of the texture-energy term against L1 (default {ENERGY_WEIGHT})")
    parser.add_argument("--edge-weight", type=float, default=EDGE_WEIGHT,
                        help=f"weight of the edge-density term against L1 (default {EDGE_WEIGHT})")
    parser.add_argument("--adversarial-weight", type=float, default=0.0,
                        help="weight of the patch critic's term for the painter (0: no critic)")
    parser.add_argument("--critic-lr", type=float, default=2e-4)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--init", type=Path, help="start a new run from this painter checkpoint's weights "
                        "(fresh optimiser); ignored when the run folder resumes")
    parser.add_argument("--basis-init-std", type=float, default=0.0,
                        help="with --init into a preset with the texture basis: spread of its new stem weights "
                        "(0: the first frames are the initial painter's)")
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


def _adam_prefix(prefix: str) -> str:
    """The Adam moments' key prefix of a net's: "adam" for the painter (as in runs from before the critic)."""
    return "adam" if prefix == "model" else f"{prefix}_adam"


def _save_state(path: Path, nets: dict[str, tuple[torch.nn.Module, torch.optim.Adam]], step: int,
                rng: np.random.Generator) -> None:
    """Every trained net's weights and Adam moments under its prefix ("model": the painter, "critic")."""
    tensors = {}
    for prefix, (net, opt) in nets.items():
        tensors.update({f"{prefix}.{k}": v.detach().contiguous() for k, v in net.state_dict().items()})
        adam = _adam_prefix(prefix)
        for i, p in enumerate(net.parameters()):
            state = opt.state.get(p)
            if state:
                tensors[f"{adam}.{i}.exp_avg"] = state["exp_avg"].contiguous()
                tensors[f"{adam}.{i}.exp_avg_sq"] = state["exp_avg_sq"].contiguous()
                tensors[f"{adam}.{i}.step"] = torch.as_tensor(state["step"], dtype=torch.float32).reshape(1)
    meta = {"step": str(step), "rng": json.dumps(rng.bit_generator.state)}
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata=meta)
    os.replace(partial, path)


def _load_state(path: Path, nets: dict[str, tuple[torch.nn.Module, torch.optim.Adam]]) -> tuple[int, dict, set[str]]:
    """Step, sampler state and the prefixes found; a net whose prefix the file lacks keeps its weights."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    found = set()
    for prefix, (net, opt) in nets.items():
        weights = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        if not weights:
            continue
        found.add(prefix)
        net.load_state_dict(weights)
        adam = _adam_prefix(prefix)
        for i, p in enumerate(net.parameters()):
            if f"{adam}.{i}.exp_avg" in tensors:
                opt.state[p] = {"exp_avg": tensors[f"{adam}.{i}.exp_avg"].to(p.device),
                                "exp_avg_sq": tensors[f"{adam}.{i}.exp_avg_sq"].to(p.device),
                                "step": tensors[f"{adam}.{i}.step"].reshape(())}
    return int(meta["step"]), json.loads(meta["rng"]), found


def batch(clips: list[Clip], rng: np.random.Generator, size: int, crop: tuple[int, int],
          embeddings: dict[str, np.ndarray], basis_frequencies: tuple[float, ...] = ()
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    feats, truths, notes = [], [], []
    for _ in range(size):
        clip = clips[int(rng.integers(len(clips)))]
        f, t = example(clip, int(rng.integers(len(clip.rgb))), rng, crop, basis_frequencies=basis_frequencies)
        feats.append(f)
        truths.append(t)
        notes.append(embeddings[clip.caption])
    return torch.from_numpy(np.stack(feats)), torch.from_numpy(np.stack(truths)), torch.from_numpy(np.stack(notes))


def init_from(net: PainterNet, initial: PainterNet, basis_std: float = 0.0,
              generator: torch.Generator | None = None) -> None:
    """Load `initial`'s weights into `net`. A net that adds the texture basis to the same widths starts from
    `initial`: the stem's weights for the basis channels start at zero (its first frames are `initial`'s), or
    normal with `basis_std`, so texture is drawn from the first step. Why the second exists: from exactly
    zero, a texture whose phase the ground truth does not share gains nothing to first order (its sign is
    arbitrary), so the objective's pull toward it starts at nothing."""
    same = replace(initial.config, basis_frequencies=net.config.basis_frequencies)
    if same != net.config or (initial.config.basis_frequencies and initial.config != net.config):
        raise ValueError(f"a {initial.config} painter cannot start a {net.config} one")
    weights = initial.state_dict()
    stem = net.stem.weight.detach().clone()
    stem.zero_()
    if basis_std:
        stem.normal_(0.0, basis_std, generator=generator)
    # pixel_unshuffle puts input channel c at stem channels 4c .. 4c + 3, so the old channels come first
    stem[:, :weights["stem.weight"].shape[1]] = weights["stem.weight"]
    net.load_state_dict({**weights, "stem.weight": stem})


def _config(args: argparse.Namespace) -> PainterConfig:
    """--preset's config; without one, the resumed run's, else the --init checkpoint's (so a fine-tune of the
    shipped painter keeps its architecture), else painter-small."""
    if args.preset:
        return PRESETS[args.preset]
    for path in (args.run / "painter.safetensors", args.init):
        if path is not None and path.exists():
            return checkpoint.load(path)[0].config
    return PRESETS["painter-small"]


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
    net = PainterNet(_config(args)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    nets = {"model": (net, opt)}
    if args.adversarial_weight:
        critic = PatchCritic().to(device)
        nets["critic"] = (critic, torch.optim.Adam(critic.parameters(), lr=args.critic_lr, betas=(0.5, 0.999)))
    state_path = args.run / "state.safetensors"
    step, rng = 0, np.random.default_rng(args.seed)
    if state_path.exists():
        step, rng_state, found = _load_state(state_path, nets)
        rng.bit_generator.state = rng_state
        print(f"resumed at step {step}" + ("" if set(nets) <= found else " (a new critic)"), flush=True)
    elif args.init is not None:
        initial, _ = checkpoint.load(args.init)
        try:
            init_from(net, initial, args.basis_init_std, torch.Generator().manual_seed(args.seed))
        except ValueError as error:
            raise SystemExit(f"--init {args.init}: {error} (preset {args.preset or 'of the run'})") from None
        print(f"started from {args.init}", flush=True)
    record = {"data": [str(d) for d in args.data], "clips": len(clips), "preset": args.preset,
              "config": net.config.to_dict(),
              "device": str(device), "batch": args.batch, "crop": list(crop), "lr": args.lr, "seed": args.seed,
              "energy_weight": args.energy_weight, "edge_weight": args.edge_weight,
              "adversarial_weight": args.adversarial_weight,
              "init": str(args.init) if args.init is not None else None}
    log = open(args.run / "log.jsonl", "a")
    start, sums = time.time(), {"loss": 0.0, "l1": 0.0, "energy": 0.0, "edges": 0.0}
    if args.adversarial_weight:
        sums.update(adversarial=0.0, critic=0.0)
    while step < args.steps:
        x, y, n = (t.to(device) for t in batch(clips, rng, args.batch, crop, embeddings,
                                                net.config.basis_frequencies))
        painted = net(x, n)
        loss, parts = painter_loss(painted, y, x[:, MEMORY_RGB], x[:, MEMORY_VALID],
                                   energy_weight=args.energy_weight, edge_weight=args.edge_weight)
        if args.adversarial_weight:
            critic, critic_opt = nets["critic"]
            kept, shade = x[:, MEMORY_VALID], x[:, SHADE]
            shown = kept * x[:, MEMORY_RGB] + (1 - kept) * painted   # what the frame shows, as the loss scores it
            critic_opt.zero_grad(set_to_none=True)
            fake = critic(shown.detach(), shade)
            share = painted_share(1 - kept, fake)
            judged = critic_loss(critic(y, shade), fake, share)
            judged.backward()
            critic_opt.step()
            adversarial = painter_adversarial_loss(critic(shown, shade), share)
            loss = loss + args.adversarial_weight * adversarial
            parts.update(adversarial=float(adversarial.detach()), critic=float(judged.detach()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        sums["loss"] += loss.item()
        for key in sums.keys() - {"loss"}:
            sums[key] += parts[key]
        if step % args.save_every == 0 or step == args.steps:
            means = {k: v / args.save_every for k, v in sums.items()}
            line = {"step": step, **means, "seconds": round(time.time() - start, 1)}
            log.write(json.dumps(line) + "\n")
            log.flush()
            print(json.dumps(line), flush=True)
            sums = dict.fromkeys(sums, 0.0)
            _save_state(state_path, nets, step, rng)
            checkpoint.save(net, args.run / "painter.safetensors", {**record, "steps": step})
    return 0
