"""Servers on this machine for the benchmarks and the tests: a free port, waiting for one to be healthy, and
the local PostgreSQL server. (The stack itself waits for its services with `Supervisor.wait_healthy`.)"""

from __future__ import annotations

import socket
import subprocess
import time

import httpx

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
"""The PostgreSQL server of a development machine (trust authentication), where the tests and benchmarks that
need PostgreSQL create databases of their own unless DATABASE_URL names another server."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base_url: str, process: subprocess.Popen, what: str, timeout: float = 60) -> None:  # type: ignore[type-arg]
    """Wait until `{base_url}/healthz` answers 200; RuntimeError when `process` ends or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the {what} did not start")
        time.sleep(0.1)
