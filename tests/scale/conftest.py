"""The scaled-out layout (`python -m stack run-scaled`) started on free ports for the scale tests: nginx,
two API workers, two Rasa servers, one action server, on a fresh PostgreSQL database and Redis.

PostgreSQL is taken from DATABASE_URL when it names one, otherwise 127.0.0.1:5432 (user postgres);
Redis from SCALE_REDIS_URL, otherwise redis://127.0.0.1:6379/1. Both must answer: these tests prove
the shared-state layout and cannot run without it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stack.follow import wait_until_ready
from stack.localhost import LOCAL_POSTGRES as POSTGRES
from stack.localhost import free_port
from tests.live_stack import MODEL, ROOT

pytestmark = pytest.mark.stack


@dataclass
class ScaledStack:
    url: str  # nginx, the public origin
    rasa_url: str  # nginx in front of the Rasa servers
    api_ports: tuple[int, int]
    rasa_ports: tuple[int, int]
    database_url: str
    storage: Path
    access_log: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def upstreams(self, since: int = 0) -> list[tuple[str, int, str]]:
        """(request line, status, the upstream that answered) of every request nginx logged from line `since`
        on; when nginx passed a request on to the next server, the last one listed answered it."""
        found = []
        for line in self.access_log.read_text().splitlines()[since:]:
            parts = line.split('"')
            if len(parts) < 3 or "upstream=" not in line:
                continue
            status = int(parts[2].split()[0])
            upstream = line.split("upstream=")[1].split(" rt=")[0].split(", ")[-1]
            found.append((parts[1], status, upstream))
        return found

    def log_lines(self) -> int:
        return len(self.access_log.read_text().splitlines()) if self.access_log.exists() else 0

    def server_process(self, port: int) -> psutil.Process:
        """The process of the server listening on `port` (a child of the stack runner)."""
        for child in psutil.Process(self.process.pid).children():
            if str(port) in child.cmdline():
                return child
        raise LookupError(f"No server on port {port}")


def _postgres_base() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else POSTGRES


@pytest.fixture(scope="session")
def scaled_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledStack]:
    if not MODEL.exists():
        pytest.fail("No trained model: run `make test` (it trains first) or `make train`.")
    base = make_url(_postgres_base())
    name = f"cbp_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"The scale tests need PostgreSQL at {base.host}:{base.port} ({exc}); start it or set DATABASE_URL."
        )
    database_url = base.set(database=name).render_as_string(hide_password=False)
    storage = tmp_path_factory.mktemp("shared-storage")
    public, rasa_lb, action = free_port(), free_port(), free_port()
    api_ports = (free_port(), free_port())
    rasa_ports = (free_port(), free_port())
    env = os.environ | {
        "DATABASE_URL": database_url,
        "LOCK_STORE_URL": os.environ.get("SCALE_REDIS_URL", "redis://127.0.0.1:6379/1"),
        "STORAGE_DIR": str(storage),
        "API_PORT": str(public),
        "RASA_PORT": str(rasa_lb),
        "ACTION_PORT": str(action),
        "ACTION_SERVICE_TOKEN": "scale-service-token",
        "RASA_AUTH_TOKEN": "scale-rasa-token",
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stack",
            "run-scaled",
            "--quiet",
            "--timeout",
            "600",
            "--api-worker-ports",
            ",".join(map(str, api_ports)),
            "--rasa-server-ports",
            ",".join(map(str, rasa_ports)),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = ScaledStack(
        url=f"http://127.0.0.1:{public}",
        rasa_url=f"http://127.0.0.1:{rasa_lb}",
        api_ports=api_ports,
        rasa_ports=rasa_ports,
        database_url=database_url,
        storage=storage,
        access_log=ROOT / "var" / "log" / f"nginx-{public}.access.log",
        process=process,
    )
    if not wait_until_ready(process, stack.output, timeout=660):
        process.kill()
        pytest.fail("The scaled-out stack did not start:\n" + "\n".join(stack.output[-40:]))
    try:
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
