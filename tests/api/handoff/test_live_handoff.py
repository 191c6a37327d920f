"""The real path on the live stack (API, action server, Rasa): the supplier asks for a person, the bot says why
and its action_handoff queues the chat through the API; the bot then stays silent while the supplier waits
and while an agent has the chat, and greets again when the supplier starts over after the rating."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.api.handoff.conftest import PRECHAT, events_of

pytestmark = pytest.mark.stack


def _wait(predicate, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _settle(messages, quiet: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until no new message has come for `quiet` seconds (the bot's turn is over)."""
    count, since = -1, time.monotonic()
    while time.monotonic() - since < quiet:
        now = len(messages())
        if now != count:
            count, since = now, time.monotonic()
        time.sleep(0.2)


def test_asking_the_bot_for_a_person_queues_the_chat_and_silences_the_bot(live_stack, sign_in):
    api = httpx.Client(base_url=live_stack.api_url, timeout=30)
    started = api.post(
        "/api/v1/chat/conversations", json={"prechat": PRECHAT}, headers={"X-Forwarded-For": uuid.uuid4().hex}
    )
    assert started.status_code == 201, started.text
    cid, token = started.json()["conversation_id"], started.json()["client_token"]
    chat = {"X-Chat-Token": token}

    def messages() -> list[dict[str, Any]]:
        return api.get(f"/api/v1/chat/conversations/{cid}/messages", headers=chat).json()["messages"]

    def say(text: str) -> None:
        sent = api.post(
            f"/api/v1/chat/conversations/{cid}/messages",
            json={"client_message_id": uuid.uuid4().hex, "text": text},
            headers=chat,
        )
        assert sent.status_code == 202, sent.text

    assert _wait(lambda: [m for m in messages() if m["sender"] == "bot"]), "the bot did not greet"
    sent = api.post(  # the greeting's quick reply "Talk to a person"
        f"/api/v1/chat/conversations/{cid}/messages",
        json={"client_message_id": uuid.uuid4().hex, "payload": "/request_human"},
        headers=chat,
    )
    assert sent.status_code == 202, sent.text
    assert _wait(lambda: events_of(messages(), "queued")), "the chat did not reach the queue"
    status = api.get(f"/api/v1/chat/conversations/{cid}/queue", headers=chat).json()
    assert status["state"] == "queued" and status["position"] >= 1
    # The bot's answers to that turn follow the queue marker: it says why it hands over.
    assert _wait(lambda: [m for m in messages() if m["sender"] == "bot" and "person" in m["text"]])
    _settle(messages)

    before = len([m for m in messages() if m["sender"] == "bot"])
    say("Hello? Is anyone there?")
    time.sleep(3)
    assert len([m for m in messages() if m["sender"] == "bot"]) == before, "the bot answered while queued"

    agent = sign_in("demo.agent")
    queue = api.get("/api/v1/agent/queue", headers=agent).json()
    (item,) = [i for i in queue["items"] if i["conversation_id"] == cid]
    assert item["reason"] == "asked_for_person"
    claimed = api.post(f"/api/v1/agent/handoffs/{item['handoff_id']}/claim", headers=agent)
    assert claimed.status_code == 200, claimed.text
    texts = [m["text"] for m in claimed.json()["transcript"]]
    assert "Talk to a person" in texts and "Hello? Is anyone there?" in texts
    say("Thanks for joining")
    reply = api.post(
        f"/api/v1/agent/handoffs/{item['handoff_id']}/messages", json={"text": "Hi, I'm Alex."}, headers=agent
    )
    assert reply.status_code == 201
    time.sleep(2)
    assert len([m for m in messages() if m["sender"] == "bot"]) == before, "the bot answered while with an agent"
    assert [m for m in messages() if m["sender"] == "agent"][-1]["text"] == "Hi, I'm Alex."

    closed = api.post(
        f"/api/v1/agent/handoffs/{item['handoff_id']}/close", json={"disposition": "Answered."}, headers=agent
    )
    assert closed.status_code == 200
    rated = api.post(f"/api/v1/chat/conversations/{cid}/rating", json={"rating": 5, "comment": "Thanks"}, headers=chat)
    assert rated.status_code == 201
    assert api.post(f"/api/v1/chat/conversations/{cid}/start-over", headers=chat).status_code == 200
    assert _wait(lambda: len([m for m in messages() if m["sender"] == "bot"]) > before), "the bot did not greet again"
