"""`--device auto|cpu|cuda[:N]`: which torch device the runtime's commands run their models on.

    parse("cuda:1")  -> "cuda:1"      the spelling checked, no torch imported (the server checks early)
    resolve("auto")  -> torch.device  CUDA (device 0) when torch sees one, else the CPU
    resolve("cuda")  -> DeviceError   when torch sees no CUDA device, naming what was asked and what it sees

On the CPU nothing changes: the models run in float32 exactly as before the flag existed, so a take
regenerates bit-for-bit. On CUDA the models also run in float32: autocast (bf16/fp16) is allowed only
behind a measured decision (quality and speed on a real GPU), and none has been measured yet
(docs/decisions.md, 2026-12-03).
"""
from __future__ import annotations

import argparse
import re
import sys

CHOICES = "auto|cpu|cuda[:N]"
DEFAULT = "auto"
_SPEC = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


class DeviceError(ValueError):
    """A device that cannot be used; the message names what was asked and what torch sees."""


def parse(spec: str) -> str:
    """The device spelled canonically (`auto`, `cpu`, `cuda`, `cuda:N`); DeviceError for anything else."""
    text = str(spec).strip().lower()
    match = _SPEC.match(text)
    if match is None or (match.group(2) is not None and match.group(1) != "cuda"):
        raise DeviceError(f"unknown device {spec!r}: use {CHOICES} (e.g. auto, cpu, cuda, cuda:1)")
    return text


def seen() -> str:
    """What torch sees, in words (for error messages and reports)."""
    import torch

    if not torch.cuda.is_available():
        build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a build without CUDA")
        return f"no CUDA device ({build})"
    count = torch.cuda.device_count()
    names = ", ".join(f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(count))
    return f"{count} CUDA device{'s' if count != 1 else ''} ({names})"


def resolve(spec: str):
    """The torch.device to run on (`auto`: CUDA device 0 when torch sees one, else the CPU)."""
    import torch

    text = parse(spec)
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"--device {text} was asked, but torch sees {seen()}; use --device cpu or auto")
    index = int(text.split(":")[1]) if ":" in text else 0
    if index >= torch.cuda.device_count():
        raise DeviceError(f"--device {text} was asked, but torch sees {seen()}")
    return torch.device("cuda", index)


def name(device) -> str:
    """How take.json and /v1/info write a device: `cpu` or `cuda:N`."""
    device = str(device)
    return "cuda:0" if device == "cuda" else device


def describe(device) -> str:
    """The device with its hardware name where it has one, e.g. `cuda:0 (NVIDIA H200)`."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"{name(device)} ({torch.cuda.get_device_name(device)})"
    return "cpu"


def _argument(text: str) -> str:
    try:
        return parse(text)
    except DeviceError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_argument(parser: argparse.ArgumentParser, default: str = DEFAULT) -> None:
    """The commands' `--device` option (checked for spelling here; `resolve` when the models load)."""
    parser.add_argument("--device", type=_argument, default=default, metavar=CHOICES,
                        help=f"where the model runs: auto (CUDA when torch sees one, else the CPU), cpu, cuda or "
                             f"cuda:N (default {default})")


def resolve_or_exit(spec: str, command: str):
    """`resolve` for a command: a DeviceError ends the command with its message (exit status 2)."""
    try:
        return resolve(spec)
    except DeviceError as error:
        print(f"{command}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
