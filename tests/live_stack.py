"""A live stack (API, action server, Rasa) started by the real stack runner on free ports.

The `live_stack` fixture is registered once, in tests/conftest.py, so that every directory that needs
it (tests/stack, tests/browser, tests/api/chat) shares one stack per test session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from stack.follow import wait_until_ready
from stack.localhost import free_port

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "var" / "models" / "cbp-assistant.tar.gz"


@dataclass
class LiveStack:
    api_url: str
    rasa_url: str
    action_url: str
    rasa_token: str
    service_token: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def say(self, sender: str, message: str, metadata: dict | None = None) -> list[dict]:
        body: dict = {"sender": sender, "message": message}
        if metadata:
            body["metadata"] = metadata
        response = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=30)
        response.raise_for_status()
        return response.json()


def stack_env(database_url: str, storage: Path, **ports: int) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": database_url,
        "STORAGE_DIR": str(storage),
        "API_PORT": str(ports["api"]),
        "RASA_PORT": str(ports["rasa"]),
        "ACTION_PORT": str(ports["action"]),
        "ACTION_SERVICE_TOKEN": "live-stack-service-token",
        "RASA_AUTH_TOKEN": "live-stack-rasa-token",
        "ENVIRONMENT": "test",
        # Handoffs reach the agents' queue at any hour (tests run at night and on weekends too).
        "CONTACT_CENTER_ALWAYS_OPEN": "true",
    }


# Why the stack could not start, once it failed: pytest sets a failed session fixture up again for every
# test that uses it, and each attempt would wait the whole start-up timeout again.
_START_FAILURE: list[str] = []

# Start-up timeout of the stack: generous, because a loaded 2-core machine can take minutes to load the
# Rasa model. It bounds a hang; it is not a performance check (those are in bench/).
# LIVE_STACK_TIMEOUT raises it further on a very busy machine.
START_TIMEOUT = int(os.environ.get("LIVE_STACK_TIMEOUT", "600"))


@pytest.fixture(scope="session")
def live_stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    if _START_FAILURE:
        pytest.fail(_START_FAILURE[0])
    if not MODEL.exists():
        pytest.fail("No trained model: run `make test` (it trains first) or `make train`.")
    ports = {"api": free_port(), "rasa": free_port(), "action": free_port()}
    env = stack_env(database_url, tmp_path_factory.mktemp("live-storage"), **ports)
    process = subprocess.Popen(
        [sys.executable, "-m", "stack", "run", "--no-train", "--quiet", "--timeout", str(START_TIMEOUT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = LiveStack(
        api_url=f"http://127.0.0.1:{ports['api']}",
        rasa_url=f"http://127.0.0.1:{ports['rasa']}",
        action_url=f"http://127.0.0.1:{ports['action']}",
        rasa_token=env["RASA_AUTH_TOKEN"],
        service_token=env["ACTION_SERVICE_TOKEN"],
        env=env,
        process=process,
    )
    if not wait_until_ready(process, stack.output, timeout=START_TIMEOUT + 60):
        process.kill()
        _START_FAILURE.append("The stack did not start:\n" + "\n".join(stack.output[-40:]))
        pytest.fail(_START_FAILURE[0])
    yield stack
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # what Ctrl-C does in `make run`
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    with httpx.Client(timeout=1) as client:
        for url in (f"{stack.api_url}/healthz", f"{stack.action_url}/health"):
            with pytest.raises(httpx.HTTPError):
                client.get(url)
