"""Set Up Runtime: a virtual environment with the runtime wheel installed, made in the background (no bpy).

The preferences' Set Up Runtime operator (preferences.py) starts a `RuntimeSetup`
and polls it from a `bpy.app.timers` callback; all the work happens on one
background thread that waits on child processes, so Blender's UI never waits:

1. find a Python 3.11: the one the artist named, else `python3.11` / `python3` /
   `python` on PATH, `py -3.11` on Windows, and Blender's own Python last (a venv
   made from it breaks when that Blender is removed);
2. check the source: a `.whl` file that exists, or an index URL (`http(s)://`,
   `file://`) that pip installs `oyster-runtime` from;
3. `python -m venv --clear <folder>`; with "Use the Python's packages" the venv
   also sees that Python's installed packages through a `.pth` file (a studio
   Python with CUDA torch already in it; works for a venv's Python too, which
   `--system-site-packages` would skip), and pip comes from there;
4. `pip install` the wheel (its pinned dependencies come from the index, or
   from that Python), with the artist's extra pip options;
5. check that the new interpreter imports the runtime and torch.

Progress is one line (the step and pip's latest output line); a failure is a
`SetupError`-style message naming the step, with the last lines of the child's
output. The result is the new interpreter, which the operator writes into the
Runtime Python preference; on failure the preference is left as it was.
"""
from __future__ import annotations

import ast
import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .core.errors import OysterError

PACKAGE = "oyster-runtime"
TAIL_LINES = 12
PROBE = ("import site, sys, venv; print(sys.version_info[0], sys.version_info[1]); print(sys.executable); "
         "print(repr(site.getsitepackages()))")
CHECK = ("import model_runtime, model_runtime.server.app, torch; "
         "print(model_runtime.__version__); print(model_runtime.__file__)")
IDLE, RUNNING, DONE, FAILED, CANCELLED = "IDLE", "RUNNING", "DONE", "FAILED", "CANCELLED"
STEPS = ("finding Python 3.11", "checking the source", "making the environment", "installing the runtime",
         "checking the runtime")


class SetupError(OysterError):
    """The setup stopped; the message says at which step and why (with the end of the child's output)."""


@dataclass(frozen=True)
class SetupRequest:
    """What the artist gave in the preferences."""

    folder: Path
    """Where the virtual environment goes (Blender's user folder for the extension)."""
    source: str
    """A `.whl` path, or an index URL to install `oyster-runtime` from."""
    python: str = ""
    """A Python 3.11 interpreter; empty: find one."""
    reuse_packages: bool = False
    """The venv also sees the chosen Python's installed packages (pip installs only what is missing)."""
    pip_options: str = ""
    """Extra `pip install` options, shell-quoted (e.g. `--extra-index-url URL`, `--no-index --find-links D`)."""
    blender_python: str = field(default_factory=lambda: sys.executable)
    """The last candidate when `python` is empty: the Python Blender runs."""


@dataclass(frozen=True)
class SetupSnapshot:
    state: str
    message: str
    """One line for the panel: the step and the latest output, the result, or the error."""
    tail: tuple[str, ...]
    """The last lines of the running (or failed) child's output."""
    python: str
    """The new runtime interpreter, once DONE."""
    version: int


def venv_python(folder: Path) -> Path:
    return folder / "Scripts" / "python.exe" if os.name == "nt" else folder / "bin" / "python"


def child_env() -> dict[str, str]:
    """The environment for every child: no PYTHONPATH/PYTHONHOME, so only the venv's own packages count."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}


def is_index(source: str) -> bool:
    return source.startswith(("http://", "https://", "file://"))


class RuntimeSetup:
    """One setup run on a background thread; `snapshot()` from the main thread, `cancel()` to stop it."""

    def __init__(self, request: SetupRequest):
        self.request = request
        self._lock = threading.Lock()
        self._state, self._message, self._python, self._version = IDLE, "", "", 0
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._process: subprocess.Popen | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="oyster-runtime-setup")

    # ------------------------------------------------------------ main thread

    def start(self) -> RuntimeSetup:
        self._set(RUNNING, "starting")
        self._thread.start()
        return self

    def snapshot(self) -> SetupSnapshot:
        with self._lock:
            return SetupSnapshot(self._state, self._message, tuple(self._tail), self._python, self._version)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        return self.snapshot().state in (DONE, FAILED, CANCELLED)

    # ------------------------------------------------------------ background thread

    def _set(self, state: str, message: str, python: str = "") -> None:
        with self._lock:
            self._state, self._message, self._version = state, message, self._version + 1
            if python:
                self._python = python

    def _step(self, index: int, detail: str = "") -> None:
        with self._lock:
            if self._cancelled:
                raise SetupError("cancelled")
        self._set(RUNNING, f"step {index + 1} of {len(STEPS)}: {STEPS[index]}" + (f": {detail}" if detail else ""))

    def _run(self) -> None:
        try:
            python = self._run_steps()
        except SetupError as error:
            with self._lock:
                cancelled = self._cancelled
            self._set(CANCELLED if cancelled else FAILED, "setup cancelled" if cancelled else str(error))
            return
        except Exception as error:  # noqa: BLE001 - a thread's error must reach the panel, not stderr
            self._set(FAILED, f"setup failed: {type(error).__name__}: {error}")
            return
        self._set(DONE, f"runtime ready: {python}", python=python)

    def _run_steps(self) -> str:
        request = self.request
        self._step(0)
        python, site_packages = self._find_python()
        self._step(1)
        if is_index(request.source):
            target = ["--index-url", request.source, PACKAGE]
        else:
            wheel = Path(request.source).expanduser()
            if not request.source.strip():
                raise SetupError("no runtime wheel or index given: set 'Runtime Wheel or Index' in Oyster's "
                                 "preferences (dist/oyster_runtime-<version>-py3-none-any.whl, or an index URL)")
            if not wheel.is_file():
                raise SetupError(f"the runtime wheel {str(wheel)!r} does not exist: give the path of "
                                 "oyster_runtime-<version>-py3-none-any.whl or an index URL")
            if wheel.suffix != ".whl":
                raise SetupError(f"{str(wheel)!r} is not a wheel (.whl): give the runtime's wheel or an index URL")
            target = [str(wheel.resolve())]
        try:
            options = shlex.split(request.pip_options)
        except ValueError as error:
            raise SetupError(f"the pip options cannot be read: {error}") from None
        folder = request.folder
        self._step(2, str(folder))
        folder.parent.mkdir(parents=True, exist_ok=True)
        self._call("making the environment", [python, "-m", "venv", "--clear",
                                              *(["--without-pip"] if request.reuse_packages else []), str(folder)])
        runtime_python = venv_python(folder)
        if request.reuse_packages:
            self._share_packages(runtime_python, site_packages)
        self._step(3)
        self._call("pip install", [str(runtime_python), "-m", "pip", "install", "--no-input",
                                   "--disable-pip-version-check", *options, *target], show_progress=True)
        self._step(4)
        lines = self._call("checking the runtime", [str(runtime_python), "-c", CHECK])
        if len(lines) < 2 or not Path(lines[-1]).resolve().is_relative_to(folder.resolve()):
            raise SetupError(f"checking the runtime: {runtime_python} imports model_runtime from "
                             f"{lines[-1] if lines else 'nowhere'}, not from its environment {folder}")
        return str(runtime_python)

    def _find_python(self) -> tuple[str, list[str]]:
        """(interpreter, its site-packages) of the first Python 3.11; SetupError listing what was tried."""
        request = self.request
        if request.python:
            candidates = [[request.python]]
        else:
            candidates = [[found] for name in ("python3.11", "python3", "python") if (found := shutil.which(name))]
            if os.name == "nt" and shutil.which("py"):
                candidates.append(["py", "-3.11"])
            if request.blender_python:
                candidates.append([request.blender_python])
        tried = []
        for command in candidates:
            try:
                probe = subprocess.run([*command, "-c", PROBE], capture_output=True, text=True, timeout=60,
                                       env=child_env(), stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as error:
                tried.append(f"{' '.join(command)} ({type(error).__name__})")
                continue
            lines = probe.stdout.strip().splitlines()
            if probe.returncode != 0 or len(lines) < 3:
                reason = (probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"])[-1]
                tried.append(f"{' '.join(command)} ({reason})")
                continue
            if lines[0] != "3 11":
                tried.append(f"{' '.join(command)} (Python {lines[0].replace(' ', '.')})")
                continue
            return lines[1], site_packages_list(lines[2])
        if request.python:
            raise SetupError(f"the Python given for the setup is not a usable Python 3.11: {tried[0]}; the runtime "
                             "needs Python 3.11 (bpy 4.5 is built for it)")
        raise SetupError("no Python 3.11 found (tried: " + ", ".join(tried or ["nothing on PATH"]) +
                         "): install Python 3.11, or set 'Python for Setup' in Oyster's preferences")

    def _share_packages(self, runtime_python: Path, site_packages: list[str]) -> None:
        probe = subprocess.run([str(runtime_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, env=child_env(), timeout=60)
        if probe.returncode != 0:
            raise SetupError(f"making the environment: {runtime_python} does not run: {probe.stderr.strip()[-500:]}")
        purelib = Path(probe.stdout.strip())
        (purelib / "oyster_base_packages.pth").write_text("".join(f"{p}\n" for p in site_packages))

    def _call(self, what: str, command: list[str], show_progress: bool = False) -> list[str]:
        """Run one child, its output lines into the tail (and the progress line); SetupError when it fails."""
        with self._lock:
            self._tail.clear()
            if self._cancelled:
                raise SetupError("cancelled")
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       errors="replace", env=child_env(), stdin=subprocess.DEVNULL,
                                       cwd=self.request.folder.parent)
        except OSError as error:
            raise SetupError(f"{what}: cannot run {command[0]!r}: {error}") from None
        with self._lock:
            self._process = process
        lines = []
        base = self.snapshot().message
        for raw in process.stdout:
            line = raw.rstrip()
            if not line.strip():
                continue
            lines.append(line)
            with self._lock:
                self._tail.append(line)
            if show_progress:
                self._set(RUNNING, f"{base.split(': ', 2)[0]}: {STEPS[3]}: {line.strip()[:160]}")
        process.wait()
        process.stdout.close()
        with self._lock:
            self._process = None
            cancelled = self._cancelled
        if cancelled:
            raise SetupError("cancelled")
        if process.returncode != 0:
            last = "\n".join(lines[-TAIL_LINES:]) or f"exit {process.returncode}"
            raise SetupError(f"{what} failed (exit {process.returncode}):\n{last}")
        return lines


def site_packages_list(text: str) -> list[str]:
    """A printed list of strings (`repr(site.getsitepackages())`), read without eval."""
    value = ast.literal_eval(text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SetupError(f"finding Python 3.11: unexpected site-packages {text!r}")
    return value
