"""Fixtures of the handoff tests: a fake Rasa, a movable clock for the center's hours, chats and agents."""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.chat.schemas import EXAMPLE_PRECHAT as PRECHAT

SERVICE = {"Authorization": "Bearer test-service-token"}  # set by tests/conftest.py
OPEN = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)  # Wednesday 10:00 a.m. Eastern (EST)
CLOSED = dt.datetime(2026, 11, 21, 17, 0, tzinfo=dt.UTC)  # Saturday noon Eastern

_addresses = itertools.count(1)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client with an address of its own (chats started per address per minute are limited)."""
    n = next(_addresses)
    with TestClient(app, client=(f"10.66.{n // 256 % 256}.{n % 256}", 50000)) as test_client:
        yield test_client


class FakeRasa:
    """Stands in for Rasa's REST channel: records every turn and answers `bot heard: <text>`."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str, dict[str, Any]]] = []

    async def send_turn(self, *, conversation_id: str, text: str, metadata: dict[str, Any]) -> list[Any]:
        from api.chat.relay import BotReply

        self.turns.append((conversation_id, text, metadata))
        return [BotReply(text=f"bot heard: {text}")]

    def texts(self, conversation_id: str) -> list[str]:
        return [text for cid, text, _ in self.turns if cid == conversation_id]


@pytest.fixture
def fake_rasa(monkeypatch: pytest.MonkeyPatch) -> FakeRasa:
    from api.chat import relay

    fake = FakeRasa()
    monkeypatch.setattr(relay, "send_turn", fake.send_turn)
    return fake


class Clock:
    """Stands in for `api.handoff.hours.now`."""

    def __init__(self, at: dt.datetime) -> None:
        self.current = at

    def now(self) -> dt.datetime:
        return self.current

    def set(self, at: dt.datetime) -> None:
        self.current = at

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The handoff's clock, set to an open hour (Wednesday 10 a.m. Eastern) unless a test moves it."""
    from api.handoff import hours

    moving = Clock(OPEN)
    monkeypatch.setattr(hours, "now", moving.now)
    return moving


@dataclass
class Chat:
    """A supplier's chat, as the widget holds it."""

    client: TestClient
    id: str
    token: str
    headers: dict[str, str] = field(default_factory=dict)

    def url(self, suffix: str = "") -> str:
        return f"/api/v1/chat/conversations/{self.id}{suffix}"

    def handoff(self, reason: str = "asked_for_person", topic: str = "uploading_documents", **extra: Any) -> Any:
        return self.client.post(self.url("/handoff"), json={"reason": reason, "topic": topic, **extra}, headers=SERVICE)

    def say(self, text: str) -> Any:
        return self.client.post(
            self.url("/messages"),
            json={"client_message_id": uuid.uuid4().hex, "text": text},
            headers=self.headers,
        )

    def messages(self, after: int = 0) -> list[dict[str, Any]]:
        response = self.client.get(self.url(f"/messages?after={after}"), headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    def queue(self) -> dict[str, Any]:
        response = self.client.get(self.url("/queue"), headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def status(self) -> str:
        return self.client.get(self.url(), headers=self.headers).json()["status"]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages()
            if predicate(messages) or time.monotonic() > deadline:
                return messages
            time.sleep(0.05)


@pytest.fixture
def start_chat(client: TestClient, fake_rasa: FakeRasa, clock: Clock) -> Callable[..., Chat]:
    """start_chat(**prechat) -> a new chat whose greeting the (fake) bot has answered."""

    def _start(**overrides: Any) -> Chat:
        response = client.post("/api/v1/chat/conversations", json={"prechat": {**PRECHAT, **overrides}})
        assert response.status_code == 201, response.text
        body = response.json()
        chat = Chat(client, body["conversation_id"], body["client_token"], {"X-Chat-Token": body["client_token"]})
        chat.wait_for(lambda ms: any(m["sender"] == "bot" for m in ms))
        return chat

    return _start


@pytest.fixture(scope="session")
def second_agent(demo_data: None, app_env: dict[str, str]) -> str:
    """A second agent account (user ID), for claims and transfers."""
    from sqlalchemy import select

    from api.auth.models import Role, User
    from api.auth.passwords import hash_password
    from api.database import get_sessionmaker

    with get_sessionmaker()() as db:
        if db.scalar(select(User).where(User.user_id == "blake.agent")) is None:
            db.add(
                User(
                    user_id="blake.agent",
                    first_name="Blake",
                    last_name="Agent",
                    email="blake.agent@cbic.example",
                    phone=None,
                    role=Role.agent,
                    password_hash=hash_password("Agent-blake-2021"),
                )
            )
            db.commit()
    return "blake.agent"


@pytest.fixture
def agent(sign_in) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Headers of a signed-in session of the demo agent (Alex)."""
    return sign_in("demo.agent")


@pytest.fixture
def agent2(sign_in, second_agent: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return sign_in(second_agent)


@pytest.fixture(autouse=True)
def _empty_queue(app_env: dict[str, str]) -> Iterator[None]:
    """Each test starts with no chat waiting (earlier tests' chats are closed), so positions start at 1."""
    from sqlalchemy import update

    from api.chat.models import Conversation, ConversationStatus
    from api.database import get_sessionmaker
    from api.handoff.models import CallbackRequest, CallbackState, Handoff, HandoffState

    def _clear() -> None:
        with get_sessionmaker()() as db:
            db.execute(
                update(Conversation)
                .where(Conversation.status.in_((ConversationStatus.queued, ConversationStatus.with_agent)))
                .values(status=ConversationStatus.closed)
            )
            db.execute(
                update(Handoff)
                .where(Handoff.state.in_((HandoffState.queued, HandoffState.with_agent)))
                .values(state=HandoffState.abandoned)
            )
            db.execute(
                update(CallbackRequest)
                .where(CallbackRequest.state != CallbackState.done)
                .values(state=CallbackState.done)
            )
            db.commit()

    _clear()
    yield


def events_of(messages: list[dict[str, Any]], state: str | None = None) -> list[dict[str, Any]]:
    """The handoff markers among the messages (optionally of one state)."""
    return [
        m
        for m in messages
        if (m.get("data") or {}).get("type") == "handoff" and (state is None or m["data"]["state"] == state)
    ]
