"""Servers that tests and benchmarks start: a free loopback port, and waiting until one answers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable

#: Seconds a started server has to answer (CI machines can be shared and loaded).
START_TIMEOUT_S = 90


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answers(url: str, process: subprocess.Popen, name: str,
                       ready: Callable[[bytes], bool] = lambda body: True,
                       timeout_s: float = START_TIMEOUT_S) -> None:
    """Return once a GET of ``url`` succeeds with a body ``ready`` accepts; raise
    RuntimeError if ``process`` (the server, called ``name`` in messages) exits first, and
    TimeoutError after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if ready(response.read()):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{name} did not answer on {url} within {timeout_s:g} s")


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = START_TIMEOUT_S
                 ) -> None:
    """Return once the Streamlit app at ``url`` says "ok" on ``/_stcore/health``."""
    wait_until_answers(f"{url}/_stcore/health", process, "streamlit",
                       ready=lambda body: body.strip() == b"ok", timeout_s=timeout_s)
