"""What the benchmarks share besides stack.localhost (a free port, waiting for a server): a stand-in for Rasa."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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
