"""Start and stop a local runtime from Blender (stdlib only), or describe a remote one.

Locally the extension runs `<python> -m model_runtime serve --port 0 --parent-pid
<Blender's pid>` with the interpreter named in the preferences, a fresh random
token in a private file, and reads the one ready line (the address) on a thread,
so Blender never waits for the runtime to import torch. `stop()` ends it when
Blender quits (also registered with atexit); if Blender dies instead, the
runtime notices the parent is gone and exits by itself.
"""
from __future__ import annotations

import atexit
import os
import secrets
import subprocess
import threading
from pathlib import Path

from .client import RuntimeClient
from .errors import OysterError


class RuntimeStartError(OysterError):
    """The local runtime could not start; the message carries the end of its log."""


class LocalRuntime:
    """A runtime process this Blender started; poll `ready()` from a timer until it has an address."""

    def __init__(self, python: str, runtime_root: Path, state_dir: Path, output_root: Path | None = None,
                 preload: list[str] | None = None):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_urlsafe(32)
        token_file = state_dir / "token"
        # Private to this user: anyone who can read the token can drive the runtime.
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.token)
        self.log_path = state_dir / "runtime.log"
        command = [python, "-m", "model_runtime", "serve", "--port", "0", "--state-dir", str(state_dir),
                   "--token-file", str(token_file), "--parent-pid", str(os.getpid())]
        if output_root is not None:
            command += ["--output-root", str(output_root)]
        if preload is not None:
            command += ["--preload", *preload]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(runtime_root), os.environ.get("PYTHONPATH"))
                                                          if p))
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                                cwd=runtime_root, env=env)
            except OSError as error:
                raise RuntimeStartError(f"cannot run the runtime's Python {python!r}: {error}") from None
        self.url: str | None = None
        self._reader = threading.Thread(target=self._read_ready_line, daemon=True, name="oyster-runtime-ready")
        self._reader.start()
        atexit.register(self.stop)

    def _read_ready_line(self) -> None:
        line = self.process.stdout.readline().decode("utf-8", "replace").strip()
        if line.startswith("http"):
            self.url = line

    def ready(self) -> str | None:
        """The address once the runtime accepts requests, None while it starts; raises if it died."""
        if self.url is not None:
            return self.url
        if self.process.poll() is not None:
            self._reader.join(timeout=1)
            if self.url is None:
                raise RuntimeStartError(f"the runtime exited with code {self.process.returncode}:\n{self.log_tail()}")
        return self.url

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def client(self) -> RuntimeClient:
        if self.url is None:
            raise RuntimeStartError("the runtime is not ready yet")
        return RuntimeClient(self.url, self.token)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the runtime to stop (it marks a running take interrupted), then end it if it lingers."""
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def remote_client(host_port: str, token: str) -> RuntimeClient:
    """A studio runtime from the preferences' `host:port` and token."""
    address = host_port if "://" in host_port else f"http://{host_port}"
    return RuntimeClient(address, token)
