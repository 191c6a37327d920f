"""What the benchmarks share besides stack.localhost (a free port, waiting for a server): an earlier commit's
files, to run beside the working tree, and a stand-in for Rasa."""

from __future__ import annotations

import io
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def export_revision(revision: str, target: Path, *only: str) -> Path:
    """The files of git `revision` (all, or only the paths `only`) unpacked into the new folder `target`."""
    from stack import paths

    archive = subprocess.run(["git", "archive", revision, *only], cwd=paths.ROOT, check=True, capture_output=True)
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


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
    # Idle connections are kept as long as Rasa's server keeps them (120 s), not uvicorn's 5 s.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=120)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server
