"""Fixtures of the chat transport tests: a fake Rasa REST channel and the real API served by uvicorn.

The fake Rasa answers like the real one (a list of messages with text, buttons and custom payloads) and
records every turn it gets, so the tests can see exactly what the relay sent (and what it never sends).
It can be told to be slow (to drop a connection in the middle of a reply) or broken.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.sync.client import ClientConnection, connect

from api.chat.schemas import EXAMPLE_PRECHAT as PRECHAT
from stack.localhost import free_port

GREETING = [
    {
        "text": "Hello! I'm the Chat Now assistant. How can I help you today?",
        "buttons": [
            {"title": "Upload a document", "payload": "/ask_capabilities"},
            {"title": "Talk to a person", "payload": "/request_human"},
        ],
    }
]


@dataclass
class FakeRasa:
    """A stand-in for Rasa's REST channel: `/greet` gets buttons, `slow ...` waits, `broken` fails."""

    port: int
    received: list[dict[str, Any]] = field(default_factory=list)
    slow_seconds: float = 1.5
    down: bool = False

    def turns(self, sender: str) -> list[dict[str, Any]]:
        return [body for body in self.received if body.get("sender") == sender]

    async def webhook(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.received.append(body)
        message = body.get("message", "")
        if self.down or message == "broken":
            return JSONResponse({"error": "boom"}, status_code=500)
        if message == "/greet":
            return JSONResponse(GREETING)
        if message.startswith("slow"):
            await asyncio.sleep(self.slow_seconds)
            return JSONResponse([{"text": f"After a while: {message}"}, {"text": "Anything else?"}])
        if message == "/ask_capabilities":
            return JSONResponse([{"text": "I can help you upload bid documents in Connexion."}])
        if message == "custom please":
            return JSONResponse(
                [
                    {"text": "Please sign in first."},
                    {"custom": {"type": "sign_in_required", "reason": "upload", "nested": {"dropped": True}}},
                    {"custom": {"type": "not_in_the_protocol"}},
                    {"image": "javascript:alert(1)"},
                    {"text": "A picture:", "image": "https://www.cms.gov/logo.png"},
                ]
            )
        return JSONResponse([{"text": f"You said: {message}"}])


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws_per_message_deflate=False,
        timeout_keep_alive=120,
    )
    # ws_per_message_deflate as in stack.services.API_SERVER_OPTIONS; idle connections kept as long as
    # Rasa keeps them (the relay's keep-alive is set below that: api/chat/relay.py KEEPALIVE_SECONDS).
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.05)
    return server, thread


@pytest.fixture(scope="session")
def fake_rasa(app_env: dict[str, str]) -> Iterator[FakeRasa]:
    """The fake Rasa, and the API's settings pointed at it for the whole session (never a real Rasa)."""
    from api.chat import service
    from api.config import get_settings

    fake = FakeRasa(port=free_port())
    app = Starlette(routes=[Route("/webhooks/rest/webhook", fake.webhook, methods=["POST"])])
    server, thread = _serve(app, fake.port)
    settings = get_settings()
    old_port, old_limit = settings.rasa_port, service.CONVERSATIONS_PER_ADDRESS_PER_MINUTE
    settings.rasa_port = fake.port
    service.CONVERSATIONS_PER_ADDRESS_PER_MINUTE = 10_000  # the tests start many chats; one test checks the rule
    yield fake
    settings.rasa_port = old_port
    service.CONVERSATIONS_PER_ADDRESS_PER_MINUTE = old_limit
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Socket:
    """A WebSocket client of one conversation (hello sent, `ready` read)."""

    ws: ClientConnection
    ready: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)

    def send(self, **frame: Any) -> None:
        self.ws.send(json.dumps(frame))

    def say(self, text: str, client_message_id: str | None = None, **extra: Any) -> str:
        client_message_id = client_message_id or uuid.uuid4().hex
        self.send(type="message", client_message_id=client_message_id, text=text, **extra)
        return client_message_id

    def recv(self, timeout: float = 10) -> dict[str, Any]:
        frame = json.loads(self.ws.recv(timeout=timeout))
        self.frames.append(frame)
        return frame

    def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> list[dict[str, Any]]:
        """Frames up to and including the first one that matches `predicate`."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; got {got}")
            frame = self.recv(timeout=left)
            got.append(frame)
            if predicate(frame):
                return got

    def messages_until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> list[dict[str, Any]]:
        """Messages (not acks or typing) up to the first message that matches `predicate`."""
        frames = self.until(lambda f: f["type"] == "message" and predicate(f["message"]), timeout)
        return [f["message"] for f in frames if f["type"] == "message"]

    def close(self) -> None:
        self.ws.close()


@dataclass
class Chat:
    server: ChatServer
    conversation_id: str
    token: str
    created: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Chat-Token": self.token}

    @property
    def path(self) -> str:
        return f"/api/v1/chat/conversations/{self.conversation_id}"

    def socket(self, after: int = 0) -> Socket:
        ws = connect(f"{self.server.ws_url}{self.path}/ws", open_timeout=10)
        ws.send(json.dumps({"type": "hello", "token": self.token, "after": after}))
        ready = json.loads(ws.recv(timeout=10))
        assert ready["type"] == "ready", ready
        return Socket(ws, ready)

    def post(self, text: str = "", **body: Any) -> httpx.Response:
        body.setdefault("client_message_id", uuid.uuid4().hex)
        return self.server.http.post(f"{self.path}/messages", json={"text": text, **body}, headers=self.headers)

    def messages(self, after: int = 0, wait: int = 0) -> dict[str, Any]:
        response = self.server.http.get(
            f"{self.path}/messages", params={"after": after, "wait": wait}, headers=self.headers, timeout=40
        )
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> list[dict[str, Any]]:
        """Every stored message, once one of them matches `predicate` (polling the HTTP fallback)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages()["messages"]
            if any(predicate(m) for m in messages):
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching message within {timeout}s: {messages}")
            time.sleep(0.1)


@dataclass
class ChatServer:
    base_url: str
    ws_url: str
    http: httpx.Client

    def start(self, **prechat: Any) -> Chat:
        response = self.http.post("/api/v1/chat/conversations", json={"prechat": {**PRECHAT, **prechat}})
        assert response.status_code == 201, response.text
        data = response.json()
        return Chat(self, data["conversation_id"], data["client_token"], data)


@pytest.fixture(scope="session")
def chat_server(fake_rasa: FakeRasa, app_env: dict[str, str], demo_data: None) -> Iterator[ChatServer]:
    """The real API (uvicorn, WebSockets) on a free port, relaying to the fake Rasa."""
    from api.chat import views, ws
    from api.main import create_app

    # One API process: every message reaches an open chat when it is published. The periodic re-read
    # of the database (for messages other processes stored) must not hide a delivery that failed.
    old_sync = ws.SYNC_SECONDS, views.SYNC_SECONDS
    ws.SYNC_SECONDS = views.SYNC_SECONDS = 600.0
    port = free_port()
    server, thread = _serve(create_app(), port)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        yield ChatServer(base_url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}", http=http)
    server.should_exit = True
    thread.join(timeout=10)
    ws.SYNC_SECONDS, views.SYNC_SECONDS = old_sync


@pytest.fixture
def chat(chat_server: ChatServer) -> Chat:
    """A new conversation whose greeting has been stored."""
    started = chat_server.start()
    started.wait_for(lambda m: m["sender"] == "bot")
    return started


@pytest.fixture(autouse=True)
def _relay_to_the_fake_rasa(fake_rasa: FakeRasa) -> None:
    """Every chat test relays to the fake Rasa, never to a Rasa someone left running on 5005."""
