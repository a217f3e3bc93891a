"""`python -m model_runtime <command>`: one CLI for the runtime's jobs.

Each command lives in its own module exposing `add_arguments(parser)` and
`run(args) -> int`; modules are imported only when their command runs, so
`serve` never pays for the data renderer's imports and vice versa.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, one-line help)
COMMANDS = {
    "serve": ("model_runtime.server.cli", "run the HTTP server and its GPU/CPU worker"),
    "generate": ("model_runtime.takes.cli", "generate one take without a server"),
    "ray-submit": ("model_runtime.farm.ray_submit", "generate a batch of .blend shots as tasks on a Ray cluster"),
    "data": ("model_runtime.data.cli", "render training/validation data with Blender"),
    "eval": ("model_runtime.evaluation.cli", "evaluate a model or baseline on a data split"),
    "train": ("model_runtime.world.training.trainer", "train the world model"),
    "export-weights": ("model_runtime.world.checkpoint", "write a training checkpoint's weights as a shippable one"),
    "eval-painter": ("model_runtime.evaluation.painter_eval", "evaluate the painter and its baselines"),
    "eval-ahead": ("model_runtime.evaluation.ahead_eval", "the painter painting ahead of a pan against within the frame"),
    "train-painter": ("model_runtime.painter.trainer", "train the painter on blockout passes and looks"),
    "bench": ("model_runtime.benchmarks.painter", "time the default model (the painter) and the blockout passes"),
    "bench-world": ("model_runtime.benchmarks.world", "time the latent world model (oyster-tiny)"),
    "editorial": ("model_runtime.export.editorial", "write OTIO timelines and CMX 3600 EDLs"),
    "world": ("model_runtime.worldgen.cli", "build a world from scene notes into a .blend"),
    "eval-worlds": ("model_runtime.evaluation.world_eval", "paint worlds built from a split's captions and measure them"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m model_runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage and exits
    module = importlib.import_module(COMMANDS[argv[0]][0])
    command_parser = argparse.ArgumentParser(prog=f"python -m model_runtime {argv[0]}",
                                             description=COMMANDS[argv[0]][1])
    module.add_arguments(command_parser)
    return module.run(command_parser.parse_args(argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
