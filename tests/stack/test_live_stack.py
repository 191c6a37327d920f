"""The whole chain through the real services: REST channel -> Rasa -> action server -> API."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from api.chat import relay
from stack import paths

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


def _get_root(sock: socket.socket) -> bytes:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: rasa\r\n\r\n")
    received = b""
    while b"Hello from Rasa" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            return received  # the server closed the connection
        received += chunk
    return received


def test_rasa_keeps_an_idle_connection_open_longer_than_the_relay_does(live_stack):
    # The relay keeps its idle connections to Rasa for KEEPALIVE_SECONDS and must close them first: a turn
    # sent on a connection the server is closing fails. Rasa's value is its own constant...
    rasa_python = paths.RASA_VENV / "bin" / "python"
    code = "from rasa.core.constants import DEFAULT_KEEP_ALIVE_TIMEOUT as t; print(t)"
    rasa_seconds = int(subprocess.run([rasa_python, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert rasa_seconds > relay.KEEPALIVE_SECONDS
    # ... and the running server uses it, not Sanic's default of 5 s: an idle connection still answers.
    address = urlsplit(live_stack.rasa_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        assert b" 200 " in _get_root(sock)
        time.sleep(7)
        assert b" 200 " in _get_root(sock), "Rasa closed a connection idle for 7 s"
