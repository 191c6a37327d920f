"""Helpers the benchmarks share: a free local port, waiting for a started API, a stand-in for Rasa."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def free_port() -> int:
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
        time.sleep(0.2)


RASA_ANSWER = [
    {"text": "One file can be up to 50 MB."},
    {"text": "Anything else?", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
]
"""What the stand-in for Rasa's REST channel answers to every turn."""


async def _rasa_webhook(request: Request) -> JSONResponse:
    await request.json()
    return JSONResponse(RASA_ANSWER)


def serve_rasa_stand_in(port: int) -> uvicorn.Server:
    """A stand-in for Rasa's REST channel on `port` (a thread of this process) that answers at once with
    RASA_ANSWER, so that what a benchmark measures is the client's or the relay's work, not Rasa's.
    Started when this returns; set `should_exit` on the server to stop it."""
    app = Starlette(routes=[Route("/webhooks/rest/webhook", _rasa_webhook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server
