"""Set Up Runtime's steps without Blender (runtime_setup.py is stdlib only): what it says when no Python 3.11
is found or the one given is not one, and that a cancel stops the pip it waits on."""
from __future__ import annotations

import socket
import stat
import sys
import time
from pathlib import Path

from oyster_blender.runtime_setup import CANCELLED, FAILED, RuntimeSetup, SetupRequest


def run(request: SetupRequest, timeout: float = 60) -> RuntimeSetup:
    setup = RuntimeSetup(request).start()
    setup.join(timeout)
    assert setup.finished, setup.snapshot()
    return setup


def executable(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_no_python_311_anywhere_says_what_was_tried_and_what_to_do(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # a `python3` on PATH that is another version (it answers the probe as Python 3.12 would)
    executable(bin_dir / "python3", "#!/bin/sh\nprintf '3 12\\n/usr/bin/python3.12\\n[]\\n'\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    snapshot = run(SetupRequest(tmp_path / "env", "x.whl", blender_python="")).snapshot()
    assert snapshot.state == FAILED
    assert snapshot.message == (f"no Python 3.11 found (tried: {bin_dir / 'python3'} (Python 3.12)): install "
                                "Python 3.11, or set 'Python for Setup' in Oyster's preferences")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert run(SetupRequest(tmp_path / "env", "x.whl", blender_python="")).snapshot().message.startswith(
        "no Python 3.11 found (tried: nothing on PATH)")
    assert not (tmp_path / "env").exists()


def test_a_given_python_that_is_not_311_is_refused_not_replaced(tmp_path):
    snapshot = run(SetupRequest(tmp_path / "env", "x.whl", python=str(tmp_path / "nope" / "python"))).snapshot()
    assert snapshot.state == FAILED
    assert snapshot.message.startswith(f"the Python given for the setup is not a usable Python 3.11: "
                                       f"{tmp_path / 'nope' / 'python'} (FileNotFoundError)")


def test_an_index_url_or_a_wheel_and_bad_pip_options(tmp_path):
    wheel = tmp_path / "oyster_runtime-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("")
    cases = {str(text): "is not a wheel (.whl)", "": "no runtime wheel or index given"}
    for source, words in cases.items():
        snapshot = run(SetupRequest(tmp_path / "env", source, python=sys.executable)).snapshot()
        assert snapshot.state == FAILED and words in snapshot.message, snapshot.message
    request = SetupRequest(tmp_path / "env", str(wheel), python=sys.executable, pip_options="--x 'open")
    snapshot = run(request).snapshot()
    assert snapshot.message.startswith("the pip options cannot be read")


def test_cancel_stops_pip_while_it_waits_on_the_index(tmp_path):
    # an index that accepts the connection and never answers: pip waits (its timeout is minutes)
    index = socket.socket()
    index.bind(("127.0.0.1", 0))
    index.listen()
    try:
        url = f"http://127.0.0.1:{index.getsockname()[1]}/simple"
        setup = RuntimeSetup(SetupRequest(tmp_path / "env", url, python=sys.executable, reuse_packages=True)).start()
        deadline = time.monotonic() + 60
        while "installing the runtime" not in setup.snapshot().message:
            assert time.monotonic() < deadline and not setup.finished, setup.snapshot()
            time.sleep(0.02)
        time.sleep(1.0)  # pip is running, waiting on the index
        assert not setup.finished
        started = time.monotonic()
        setup.cancel()
        setup.join(10)
        snapshot = setup.snapshot()
        assert snapshot.state == CANCELLED and snapshot.message == "setup cancelled" and not snapshot.python
        assert time.monotonic() - started < 5
    finally:
        index.close()
