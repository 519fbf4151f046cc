"""Small network helpers shared by the local servers and the benchmarks."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_or_free(wanted: int) -> int:
    """`wanted` if nothing listens on it, else a free one (a demo on a busy machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", wanted))
            return wanted
        except OSError:
            return free_port()


def wait_for_port(
    host: str, port: int, timeout_s: float = 20.0, alive: Callable[[], int | None] | None = None
) -> None:
    """Block until something accepts TCP connections on host:port.

    `alive` is a process's `poll`: when it returns an exit code, waiting longer is pointless.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if alive is not None and (code := alive()) is not None:
            raise RuntimeError(f"the server exited with code {code}")
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s") from None
            time.sleep(0.05)
