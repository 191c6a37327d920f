"""Starting, watching and stopping the three services."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api.config import Settings
from stack import paths

RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONWARNINGS": "ignore",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    # The sentence encoder's NumPy matrix products (bot/nlu/encoder.py) on one BLAS thread: with OpenBLAS's
    # default threads a turn cost Rasa 84-98 ms of CPU instead of about 45, for 1 ms less wall time.
    "OPENBLAS_NUM_THREADS": "1",
}


@dataclass
class Service:
    name: str
    argv: list[str]
    port: int
    health_url: str
    healthy: Callable[[httpx.Response], bool]
    env: dict[str, str] = field(default_factory=dict)
    color: str = "0"
    process: subprocess.Popen[bytes] | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=30))

    @property
    def log_file(self) -> Path:
        return paths.LOGS / f"{self.name}-{self.port}.log"


def rasa_env(settings: Settings) -> dict[str, str]:
    return RASA_ENV | {"RASA_CACHE_DIRECTORY": str(paths.VAR / "rasa-cache"), "MPLCONFIGDIR": str(paths.VAR / "mpl")}


API_SERVER_OPTIONS = ("--no-server-header", "--ws-per-message-deflate", "false")
"""uvicorn's options for the API, wherever it is started (here, the scaled layout, the relay benchmark).
No compression of WebSocket frames: chat frames are a few hundred bytes, and compressing them cost the
relay CPU on every frame (py-spy on `make bench-relay`, bench/results/chat-profile.md)."""


def build_services(settings: Settings, endpoints_file: Path) -> list[Service]:
    rasa_bin = paths.RASA_VENV / "bin"
    token = settings.rasa_auth_token or ""
    shared = {"API_URL": settings.api_url, "ACTION_SERVICE_TOKEN": settings.action_service_token or ""}
    return [
        Service(
            name="api",
            argv=[
                str(paths.API_VENV / "bin" / "python"),
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                settings.api_host,
                "--port",
                str(settings.api_port),
                "--log-level",
                settings.log_level,
                *API_SERVER_OPTIONS,
            ],
            port=settings.api_port,
            health_url=f"{settings.api_url}/healthz",
            healthy=lambda r: r.status_code == 200,
            color="36",
        ),
        Service(
            name="actions",
            argv=[
                str(rasa_bin / "python"),
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "--port",
                str(settings.action_port),
            ],
            port=settings.action_port,
            health_url=f"{settings.action_url}/health",
            healthy=lambda r: r.status_code == 200,
            env=rasa_env(settings) | shared | {"SANIC_HOST": "127.0.0.1", "LOG_LEVEL": settings.log_level.upper()},
            color="35",
        ),
        Service(
            name="rasa",
            # Rasa's own `rasa run`, through bot/rasa_server.py (which applies a speed fix to Rasa first).
            argv=[
                str(rasa_bin / "python"),
                "-m",
                "bot.rasa_server",
                "run",
                "--enable-api",
                "--auth-token",
                token,
                "--interface",
                "127.0.0.1",
                "--port",
                str(settings.rasa_port),
                "--credentials",
                str(paths.CREDENTIALS),
                "--endpoints",
                str(endpoints_file),
                "--model",
                str(paths.MODEL_FILE),
            ],
            port=settings.rasa_port,
            health_url=f"{settings.rasa_url}/status?token={token}",
            healthy=lambda r: r.status_code == 200 and bool(r.json().get("model_id")),
            env=rasa_env(settings) | {"LOG_LEVEL": settings.log_level.upper()},
            color="33",
        ),
    ]


class ServiceFailed(Exception):
    def __init__(self, service: Service, reason: str) -> None:
        self.service = service
        tail = "\n".join(f"    {line}" for line in list(service.tail)[-12:])
        super().__init__(f"The {service.name} service {reason}. Its last lines (full log: {service.log_file}):\n{tail}")


class Supervisor:
    """Runs services as child process groups, mirrors their output, stops them on request."""

    def __init__(self, services: list[Service], *, echo: bool = True) -> None:
        self.services = services
        self.echo = echo
        self.colors = sys.stdout.isatty()
        self._lock = threading.Lock()

    def _pump(self, service: Service) -> None:
        assert service.process and service.process.stdout
        width = max(len(s.name) for s in self.services)
        with open(service.log_file, "ab") as log:
            for raw in iter(service.process.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip()
                service.tail.append(line)
                if self.echo:
                    label = f"{service.name:<{width}} |"
                    if self.colors:
                        label = f"\033[{service.color}m{label}\033[0m"
                    with self._lock:
                        print(f"{label} {line}", flush=True)

    def start(self) -> None:
        paths.LOGS.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            env = os.environ | {"PYTHONUNBUFFERED": "1"} | service.env
            service.process = subprocess.Popen(
                service.argv,
                cwd=paths.ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us, not them
            )
            threading.Thread(target=self._pump, args=(service,), daemon=True).start()

    def wait_healthy(self, timeout: float, on_ready: Callable[[Service, float], None] | None = None) -> None:
        started = time.monotonic()
        pending = list(self.services)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for service in list(pending):
                    self.check_alive(service)
                    try:
                        if service.healthy(client.get(service.health_url)):
                            pending.remove(service)
                            if on_ready:
                                on_ready(service, time.monotonic() - started)
                    except (httpx.HTTPError, ValueError):
                        pass
                if pending and time.monotonic() - started > timeout:
                    raise ServiceFailed(pending[0], f"was not healthy after {timeout:.0f} seconds")
                time.sleep(0.25)

    def check_alive(self, service: Service) -> None:
        assert service.process
        code = service.process.poll()
        if code is not None:
            time.sleep(0.2)  # let the pump thread take the last lines
            raise ServiceFailed(service, f"stopped with exit code {code}")

    def first_dead(self) -> Service | None:
        for service in self.services:
            if service.process and service.process.poll() is not None:
                return service
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to each process group (Rasa first, the API last), then SIGKILL what is left."""
        for service in reversed(self.services):
            if service.process and service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for service in reversed(self.services):
            if not service.process:
                continue
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()
