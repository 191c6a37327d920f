"""Checks made before anything starts; each failure is one sentence with the fix."""

from __future__ import annotations

import errno
import socket

from sqlalchemy.engine import make_url

from api.config import Settings
from api.manage import check_database
from stack import paths


class PreflightError(Exception):
    """A problem with the machine or the configuration that the operator must fix."""


def port_problem(port: int, service: str, variable: str, host: str = "127.0.0.1") -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} ({service}) is already in use by another program: stop that program "
                    f"(see 'ss -ltnp sport = :{port}') or choose another port, e.g. {variable}={port + 1} make run."
                )
            return f"Cannot listen on {host}:{port} for the {service} ({exc.strerror}): set {variable} to another port."
    return None


def check_ports(settings: Settings) -> None:
    for port, service, variable, host in (
        (settings.api_port, "API", "API_PORT", settings.api_host),
        (settings.action_port, "action server", "ACTION_PORT", "127.0.0.1"),
        (settings.rasa_port, "Rasa server", "RASA_PORT", "127.0.0.1"),
    ):
        problem = port_problem(port, service, variable, host)
        if problem:
            raise PreflightError(problem)
    ports = [settings.api_port, settings.action_port, settings.rasa_port]
    if len(set(ports)) != 3:
        raise PreflightError(f"API_PORT, ACTION_PORT and RASA_PORT must differ; they are {ports}.")


def check_environments() -> None:
    if not (paths.RASA_VENV / "bin" / "rasa").exists():
        raise PreflightError(
            "The Rasa environment (.venv-rasa) is missing: run 'make setup', which finds or installs a "
            "Python 3.8-3.10 for Rasa (or set RASA_PYTHON to one)."
        )


def check_databases(settings: Settings) -> None:
    problem = check_database(settings.database_url)
    if problem:
        raise PreflightError(problem)
    tracker = settings.effective_tracker_store_url()
    if tracker != settings.database_url:
        problem = check_database(_as_api_url(tracker))
        if problem:
            raise PreflightError(problem.replace("DATABASE_URL", "TRACKER_STORE_URL"))


def _as_api_url(url: str) -> str:
    """The tracker store URL as the API's driver can open it (to check that it answers)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def check_lock_store(settings: Settings) -> None:
    if not settings.lock_store_url:
        return
    parsed = make_url(settings.lock_store_url)
    host, port = parsed.host or "127.0.0.1", parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                raise OSError("no PONG")
    except OSError as exc:
        raise PreflightError(
            f"Cannot reach Redis for the lock store at {host}:{port} ({exc}): start Redis or unset LOCK_STORE_URL."
        ) from exc
