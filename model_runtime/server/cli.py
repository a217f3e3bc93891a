"""`python -m model_runtime serve`: the HTTP server and its worker.

    python -m model_runtime serve [--host 127.0.0.1] [--port 0] [--token-file F]
                                  [--state-dir D] [--output-root R] [--parent-pid PID]
                                  [--device auto|cpu|cuda[:N][,...]] [--workers N]

When it accepts requests it prints one line on stdout, its address
(`http://127.0.0.1:PORT`, the real port when 0 was asked); logs go to stderr.
It binds to loopback unless told otherwise and refuses a non-loopback address
without a token. With `--parent-pid` it exits within a few seconds of that
process's end, so a crashed Blender never leaves a runtime holding the GPU.
`--device` (default auto: CUDA when torch sees it, else the CPU) is where the workers
run the models; an explicit `cuda` that torch cannot see stops `serve` at once
with the reason (exit status 2), before it binds. `--workers N` starts N take
workers on that device, a device list (`cuda:0,cuda:1`) one per device; free
workers take the queued takes in order.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn

from model_runtime.models import device as devices
from model_runtime.models.registry import DEFAULT_MODEL, available_models
from model_runtime.server.app import ServerConfig, create_app

PARENT_POLL_SECONDS = 0.5
# After the parent is gone: time for a clean shutdown before the process ends itself regardless.
SHUTDOWN_GRACE_SECONDS = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (printed in the ready line)")
    parser.add_argument("--token-file", type=Path, help="file holding the bearer token clients must send")
    parser.add_argument("--state-dir", type=Path, default=Path.home() / ".oyster" / "runtime",
                        help="where the queue database lives (default ~/.oyster/runtime)")
    parser.add_argument("--output-root", type=Path, default=Path.home(),
                        help="takes and first-frame inputs must lie below this folder (default: your home)")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone (Blender's pid)")
    parser.add_argument("--preload", nargs="*", default=[DEFAULT_MODEL], choices=available_models(),
                        metavar="MODEL", help=f"models the worker loads before taking work (default {DEFAULT_MODEL})")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--device", type=device_list, default=[devices.DEFAULT], metavar=f"{devices.CHOICES}[,...]",
                        help="where the workers run the models: auto (CUDA when torch sees one, else the CPU), cpu, "
                             "cuda or cuda:N; a comma-separated list (cuda:0,cuda:1) starts one take worker per "
                             f"device (default {devices.DEFAULT})")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="take workers on the one --device (default 1, or one per listed device); on the CPU "
                             "each gets its share of the cores as torch threads")


def device_list(text: str) -> list[str]:
    """`--device`: one device or a comma-separated list of them, each spelled as model_runtime/device.py wants."""
    try:
        return [devices.parse(item) for item in text.split(",")]
    except devices.DeviceError as error:
        raise argparse.ArgumentTypeError(f"{error} (a list: cuda:0,cuda:1)") from None


def worker_devices(asked: list[str], workers: int | None) -> list[str]:
    """One device per take worker: `--workers N` copies of a single device, or the listed devices one each.
    ValueError says what does not fit."""
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1 (got {workers})")
    if len(asked) == 1:
        return asked * (workers or 1)
    if workers is not None and workers != len(asked):
        raise ValueError(f"--workers {workers} does not match the {len(asked)} devices of --device "
                         f"{','.join(asked)}: a device list starts one worker per device")
    return asked


def cpu_threads(workers: int) -> int | None:
    """Torch threads for each worker process: torch's default for one worker, else the cores shared out
    (at least one each), so workers never run more threads than there are cores. The live worker, when
    started, gets the same share."""
    return None if workers == 1 else max(1, (os.cpu_count() or 1) // workers)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def process_alive(pid: int) -> bool:
    """Whether `pid` still runs, without signalling it (os.kill(pid, 0) would kill it on Windows)."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x00100000 | 0x1000, False, pid)  # SYNCHRONIZE | QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            return kernel32.WaitForSingleObject(handle, 0) == 0x102  # WAIT_TIMEOUT: still running
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0): it is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def watch_parent(pid: int, server: uvicorn.Server) -> None:
    """Poll the parent; when it is gone, shut down, and end the process if that takes too long."""
    while process_alive(pid):
        time.sleep(PARENT_POLL_SECONDS)
    logging.getLogger("oyster.runtime").warning("parent process %d is gone: shutting down", pid)
    server.should_exit = True
    time.sleep(SHUTDOWN_GRACE_SECONDS)
    os._exit(0)


def _lock_state_dir(state_dir: Path) -> object:
    """Hold an exclusive lock so two servers never share one queue (released when the process ends)."""
    handle = open(state_dir / "server.lock", "a+")
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise SystemExit(f"serve: another runtime is using the state dir {state_dir}") from None
    return handle


def run(args: argparse.Namespace) -> int:
    token = None
    if args.token_file is not None:
        try:
            token = args.token_file.read_text().strip()
        except OSError as error:
            print(f"serve: cannot read --token-file: {error}", file=sys.stderr)
            return 2
        if not token:
            print(f"serve: the token file {args.token_file} is empty", file=sys.stderr)
            return 2
    if not is_loopback(args.host) and token is None:
        print(f"serve: refusing to listen on {args.host} without --token-file: "
              "anyone on the network could drive the GPU and write files", file=sys.stderr)
        return 2
    if not args.output_root.is_dir():
        print(f"serve: --output-root {args.output_root} is not a folder", file=sys.stderr)
        return 2
    try:
        worker_list = worker_devices(args.device, args.workers)
    except ValueError as error:
        print(f"serve: {error}", file=sys.stderr)
        return 2
    for device in dict.fromkeys(worker_list):
        if device.startswith("cuda"):  # asked for by name: refuse now, not in a worker restarted forever
            try:
                devices.resolve(device)  # imports torch here only for this check; auto is resolved by the worker
            except devices.DeviceError as error:
                print(f"serve: {error}", file=sys.stderr)
                return 2
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.state_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_state_dir(args.state_dir)

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as error:
        print(f"serve: cannot bind {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    sock.listen(128)  # connections made before uvicorn accepts simply wait in the backlog
    host, port = sock.getsockname()[:2]
    address = f"http://[{host}]:{port}" if family == socket.AF_INET6 else f"http://{host}:{port}"

    def ready() -> None:
        print(address, flush=True)

    config = ServerConfig(state_dir=args.state_dir, output_root=args.output_root, token=token,
                          preload=args.preload, devices=worker_list, threads=cpu_threads(len(worker_list)),
                          on_ready=ready)
    # log_config=None: uvicorn's own config would print access logs on stdout, which carries only the ready line.
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level=args.log_level, log_config=None,
                                           timeout_graceful_shutdown=2, lifespan="on"))
    if args.parent_pid is not None:
        threading.Thread(target=watch_parent, args=(args.parent_pid, server), daemon=True,
                         name="parent-watchdog").start()
    server.run(sockets=[sock])
    del lock
    return 0
