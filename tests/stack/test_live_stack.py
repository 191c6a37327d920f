"""The whole chain through the real services: REST channel -> Rasa -> action server -> API."""

from __future__ import annotations

import uuid

import httpx
import psutil
import pytest

pytestmark = pytest.mark.stack


def sender() -> str:
    return f"test-{uuid.uuid4().hex}"


def texts(replies: list[dict]) -> str:
    return " ".join(r.get("text", "") for r in replies)


def test_rest_channel_greets(live_stack):
    replies = live_stack.say(sender(), "hi")
    assert "Chat Now assistant" in texts(replies)
    assert any(r.get("buttons") for r in replies), "the greeting offers quick replies"


def test_what_can_you_do(live_stack):
    reply = texts(live_stack.say(sender(), "what can you do?"))
    assert "upload" in reply.lower() and "MFA" in reply


def test_thanks_and_goodbye(live_stack):
    conversation = sender()
    assert "welcome" in texts(live_stack.say(conversation, "thanks a lot")).lower()
    assert "goodbye" in texts(live_stack.say(conversation, "bye")).lower()


def test_asking_for_a_person_gives_the_phone_number_and_hours(live_stack):
    reply = texts(live_stack.say(sender(), "I want to talk to a person"))
    assert "877-577-5331" in reply
    # The action asked the API whether the center is open now: the reply says "open now" or "closed now".
    assert "open now" in reply or "closed now" in reply


@pytest.mark.parametrize("message", ["zxqv blorf wubba", "tell me a joke about cats"])
def test_what_it_cannot_handle_gets_an_honest_answer(live_stack, message):
    reply = texts(live_stack.say(sender(), message))
    # Either the fallback ("didn't understand") or an out-of-scope answer that says so and hands over.
    honest = ("didn't understand", "can't help with that", "not able to help with that", "I can only help with")
    assert any(phrase in reply for phrase in honest)


def test_api_health_and_docs(live_stack):
    assert httpx.get(f"{live_stack.api_url}/healthz").json()["status"] == "ok"
    assert httpx.get(f"{live_stack.api_url}/docs").status_code == 200


def test_rasa_http_api_needs_the_token(live_stack):
    assert httpx.get(f"{live_stack.rasa_url}/status").status_code == 401
    ok = httpx.get(f"{live_stack.rasa_url}/status", params={"token": live_stack.rasa_token})
    assert ok.status_code == 200 and ok.json()["model_id"]


def test_rasa_and_actions_listen_on_loopback_only(live_stack):
    ports = {int(live_stack.rasa_url.rsplit(":", 1)[1]), int(live_stack.action_url.rsplit(":", 1)[1])}
    stack_pids = {live_stack.process.pid} | {c.pid for c in psutil.Process(live_stack.process.pid).children(True)}
    listening = [
        c
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in ports and c.pid in stack_pids
    ]
    assert {c.laddr.port for c in listening} == ports
    assert all(c.laddr.ip == "127.0.0.1" for c in listening), listening


def test_the_tracker_store_keeps_the_conversation_in_the_configured_database(live_stack):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from api.config import Settings

    conversation = sender()
    live_stack.say(conversation, "hello")
    url = make_url(Settings(database_url=live_stack.env["DATABASE_URL"]).effective_tracker_store_url())
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = (
            conn.execute(text("SELECT type_name FROM events WHERE sender_id = :s ORDER BY id"), {"s": conversation})
            .scalars()
            .all()
        )
    engine.dispose()
    assert "user" in rows and "bot" in rows
