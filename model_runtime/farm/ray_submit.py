"""`python -m model_runtime ray-submit`: a batch of .blend shots as Ray tasks, the takes gathered into one project.

    python -m model_runtime ray-submit --address local --num-cpus 4 --out /project a.blend:sh010 a.blend:sh020
    python -m model_runtime ray-submit --address auto --out /mnt/show/project --list shots.txt
    python -m model_runtime ray-submit --address auto --gpus-per-shot 1 --device auto --out /mnt/show/project \
        --seed 7 /mnt/show/layout/sq010.blend:sh010 /mnt/show/layout/sq010.blend:sh020

One Ray task a shot, each running `generate_shot`: the function behind `generate --blend FILE --shot NAME
--out DIR` (model_runtime/takes/cli.py, called in the Ray worker; its child Blender renders the passes as
it does for `generate`), so every take lands in `<out>/oyster/<shot>/take_NNN/` exactly as `generate`
writes it (take numbers are claimed with mkdir: two tasks of the same shot get two takes, none reused).
Each finished shot prints one tab-separated line as it completes, then a summary:

    done    /mnt/a.blend:sh010    /mnt/project/oyster/sh010/take_003    pid=4121    node=farm07    36.2s
    failed  /mnt/b.blend:sh020    no .blend file at /mnt/b.blend on farm03 (...)    pid=4090    node=farm03    0.0s
    ray-submit: 1 of 2 shots done, 1 failed, 41.0 s

A failed shot never stops the others; the exit code is 1 when any failed, 2 for bad arguments or no
cluster. The workers must see the .blend files and `--out` at the same absolute paths as the submitting
machine (a shared filesystem) and have the runtime installed (`pip install oyster-runtime[farm]`);
docs/farm.md says what to do otherwise, and gives the render farms' job lines for `generate --blend`.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENTRY = re.compile(r"^(?P<blend>.+?\.blend):(?P<shot>.+)$")
ADDRESS_HELP = ("local: start a cluster on this machine with --num-cpus (and stop it at the end); auto: the "
                "cluster this machine belongs to (after `ray start`); HOST:PORT: a head node's GCS address; "
                "ray://HOST:10001: Ray Client (needs ray[client])")


@dataclass(frozen=True)
class Entry:
    blend: Path
    shot: str


def parse_entry(text: str, base: Path) -> Entry:
    """`FILE.blend:SHOT`, FILE made absolute against `base`; ValueError says what is wrong."""
    found = ENTRY.match(text.strip())
    if found is None or not found["shot"].strip():
        raise ValueError(f"{text!r} is not FILE.blend:SHOT")
    blend = Path(found["blend"]).expanduser()
    return Entry(blend if blend.is_absolute() else (base / blend).resolve(), found["shot"].strip())


def read_list(path: Path) -> list[Entry]:
    """One FILE.blend:SHOT a line (relative files: to the list's folder); blank lines and # lines are skipped."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                entries.append(parse_entry(line, path.resolve().parent))
            except ValueError as error:
                raise ValueError(f"{path}:{number}: {error}") from None
    return entries


def _problem(stderr: str) -> str:
    """What `generate` said was wrong: its stderr without the per-frame progress lines."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("frame ")]
    return "; ".join(lines[-4:])


def generate_shot(blend: str, shot: str, out: str, model: str | None = None, seed: int | None = None,
                  device: str = "auto") -> dict[str, Any]:
    """One shot's take, made by `generate --blend` in this process (a Ray worker); never raises.

    Returns {blend, shot, take (the folder, or None), error (None when done), pid, node, seconds}.
    """
    from model_runtime.takes import cli

    tick = time.perf_counter()
    node = socket.gethostname()
    result: dict[str, Any] = {"blend": blend, "shot": shot, "take": None, "error": None, "pid": os.getpid(),
                              "node": node}
    if not Path(blend).is_file():
        result["error"] = (f"no .blend file at {blend} on {node} (the Ray workers must see the submitter's "
                           f"paths: put the files on a filesystem every node mounts at the same path)")
        return dict(result, seconds=round(time.perf_counter() - tick, 3))
    argv = ["--blend", blend, "--shot", shot, "--out", out, "--device", device]
    if model:
        argv += ["--model", model]
    if seed is not None:
        argv += ["--seed", str(seed)]
    parser = argparse.ArgumentParser(prog="python -m model_runtime generate")
    cli.add_arguments(parser)
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.run(parser.parse_args(argv))
    except SystemExit as exit_:  # argparse, or a device that is not there
        code = exit_.code if isinstance(exit_.code, int) else 2
        if not isinstance(exit_.code, int) and exit_.code is not None:
            print(exit_.code, file=stderr)
    except Exception:  # noqa: BLE001 - whatever it is, the batch goes on and the shot says why
        code = 1
        print(traceback.format_exc().strip().splitlines()[-1], file=stderr)
    printed = [line for line in stdout.getvalue().splitlines() if line.strip()]
    if printed and Path(printed[-1]).is_dir():
        result["take"] = printed[-1]  # generate prints the take folder last, failed takes too
    if code != 0:
        result["error"] = _problem(stderr.getvalue()) or f"generate exited with {code}"
    return dict(result, seconds=round(time.perf_counter() - tick, 3))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from model_runtime.models import device as devices

    parser.add_argument("shots", nargs="*", metavar="FILE.blend:SHOT", help="the shots to generate")
    parser.add_argument("--list", type=Path, metavar="FILE",
                        help="more shots, one FILE.blend:SHOT a line (# comments; relative to the list's folder)")
    parser.add_argument("--out", type=Path, required=True,
                        help="project output folder every worker sees; takes go to OUT/oyster/<shot>/take_NNN/")
    parser.add_argument("--address", default="auto", help=ADDRESS_HELP + " (default auto)")
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="with --address local: the cluster's CPUs (default: this machine's)")
    parser.add_argument("--cpus-per-shot", type=float, default=1.0,
                        help="CPUs Ray reserves for each shot (default 1; its torch uses as many threads)")
    parser.add_argument("--gpus-per-shot", type=float, default=0.0,
                        help="GPUs Ray reserves for each shot (default 0); with --device auto the shot runs on "
                             "the GPU Ray gives it")
    parser.add_argument("--model", help="the model of every shot (default: each shot's, else the runtime's default)")
    parser.add_argument("--seed", type=int, help="the seed of every shot (default: each shot's)")
    devices.add_argument(parser)


def _entries(args: argparse.Namespace) -> list[Entry]:
    entries = [parse_entry(text, Path.cwd()) for text in args.shots]
    if args.list is not None:
        try:
            entries += read_list(args.list)
        except OSError as error:
            raise ValueError(f"cannot read --list {args.list}: {error.strerror or error}") from None
    if not entries:
        raise ValueError("no shots: name FILE.blend:SHOT arguments or --list FILE")
    return entries


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """For HOST:PORT and ray://HOST:PORT, ConnectionError unless something listens there: ray.init itself
    waits on its own timeouts (minutes) before it gives up on an address nobody answers."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("--address must be local, auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(f"nothing answers at {host}:{port} ({error.strerror or error})") from None


def connect(ray: Any, address: str, num_cpus: int | None) -> None:
    """ray.init for `--address`; a local cluster's workers import this runtime from where the driver does."""
    if address not in ("local", "auto"):
        check_reachable(address)
    if address == "local":
        import model_runtime

        here = str(Path(model_runtime.__file__).resolve().parents[1])
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        if here not in paths:  # the raylet and its workers inherit the environment
            os.environ["PYTHONPATH"] = os.pathsep.join([here, *paths])
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def _line(status: str, result: dict[str, Any]) -> str:
    where = result["take"] if status == "done" else " ".join(str(result["error"]).split())  # one line, no tabs
    return "\t".join([status, f"{result['blend']}:{result['shot']}", where, f"pid={result['pid']}",
                      f"node={result['node']}", f"{result['seconds']:.1f}s"])


def run(args: argparse.Namespace) -> int:
    try:
        entries = _entries(args)
    except ValueError as error:
        print(f"ray-submit: {error}", file=sys.stderr)
        return 2
    if args.num_cpus is not None and args.address != "local":
        print("ray-submit: --num-cpus is for --address local (a running cluster has its own)", file=sys.stderr)
        return 2
    try:
        import ray
    except ImportError:
        print("ray-submit needs Ray: pip install 'oyster-runtime[farm]' (or ray==2.60.0)", file=sys.stderr)
        return 2
    out = args.out.expanduser().resolve()
    tick = time.perf_counter()
    try:
        connect(ray, args.address, args.num_cpus)
    except Exception as error:  # noqa: BLE001 - ConnectionError, Ray's AuthenticationError, a version mismatch, ...
        print(f"ray-submit: cannot reach a Ray cluster at {args.address!r}: {error}", file=sys.stderr)
        return 2
    pending: dict[Any, Entry] = {}
    try:
        task = ray.remote(num_cpus=args.cpus_per_shot, num_gpus=args.gpus_per_shot)(generate_shot)
        for e in entries:
            pending[task.remote(str(e.blend), e.shot, str(out), args.model, args.seed, args.device)] = e
        print(f"ray-submit: {len(entries)} shots sent to {args.address} "
              f"({ray.cluster_resources().get('CPU', 0):g} CPUs)", file=sys.stderr, flush=True)
        done = failed = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                entry = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as error:  # the worker died, the node went away, ...
                    result = {"blend": str(entry.blend), "shot": entry.shot, "take": None, "pid": None,
                              "node": None, "seconds": 0.0,
                              "error": f"Ray: {str(error).strip().splitlines()[0] if str(error).strip() else error!r}"}
                status = "done" if result["error"] is None else "failed"
                done, failed = done + (status == "done"), failed + (status == "failed")
                print(_line(status, result), flush=True)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref)
        print(f"ray-submit: interrupted; {len(pending)} shots cancelled", file=sys.stderr)
        return 130
    finally:
        ray.shutdown()
    print(f"ray-submit: {done} of {len(entries)} shots done, {failed} failed, "
          f"{time.perf_counter() - tick:.1f} s", flush=True)
    return 1 if failed else 0
