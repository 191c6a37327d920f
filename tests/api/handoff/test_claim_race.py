"""Two agents cannot claim the same chat: concurrent claims against a real uvicorn server (real threads, real
connections, the real database), exactly one wins and the others get a 409 that says who was first."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from stack.localhost import free_port, wait_healthy
from tests.api.handoff.conftest import PRECHAT, SERVICE

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def live_api(app_env: dict[str, str], demo_data: None, second_agent: str) -> Iterator[str]:
    """A real uvicorn server on the test database; the center is open at any hour (the test may run at night)."""
    port = free_port()
    env = {**os.environ, **app_env, "CONTACT_CENTER_ALWAYS_OPEN": "true", "RASA_PORT": str(free_port())}
    command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*command, "--log-level", "warning"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, "API server", timeout=180)  # generous: a loaded 2-core machine imports slowly
    except RuntimeError:
        proc.kill()
        raise
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _queued_chat(http: httpx.Client, n: int) -> tuple[str, str, int]:
    """(conversation id, client token, handoff id) of a new chat waiting in the queue."""
    started = http.post(
        "/api/v1/chat/conversations",
        json={"prechat": PRECHAT},
        headers={"X-Forwarded-For": f"race-{n}"},
    )
    assert started.status_code == 201, started.text
    body = started.json()
    answer = http.post(
        f"/api/v1/chat/conversations/{body['conversation_id']}/handoff",
        json={"reason": "asked_for_person", "topic": "uploading_documents"},
        headers=SERVICE,
    )
    assert answer.status_code == 200 and answer.json()["state"] == "queued", answer.text
    return body["conversation_id"], body["client_token"], _handoff_id(body["conversation_id"])


def _handoff_id(conversation_id: str) -> int:
    from api.database import get_sessionmaker
    from api.handoff.models import Handoff

    with get_sessionmaker()() as db:
        hid = db.scalar(select(Handoff.id).where(Handoff.conversation_id == conversation_id))
    assert hid is not None
    return hid


def _race(url: str, requests: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    """Send the POSTs at the same moment, each from its own thread and connection."""
    start = threading.Barrier(len(requests))

    def send(request: tuple[str, dict[str, str]]) -> httpx.Response:
        path, headers = request
        with httpx.Client(base_url=url, timeout=60) as http:
            http.get("/healthz")  # connect first, so that the barrier releases requests, not handshakes
            start.wait()
            return http.post(path, headers=headers)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def test_of_two_agents_claiming_at_once_exactly_one_wins_every_time(live_api, agent, agent2):
    with httpx.Client(base_url=live_api, timeout=30) as http:
        chats = [_queued_chat(http, n) for n in range(10)]
    for conversation_id, _token, hid in chats:
        path = f"/api/v1/agent/handoffs/{hid}/claim"
        responses = _race(live_api, [(path, agent), (path, agent2)])
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409).json()
        winner = next(r for r in responses if r.status_code == 200).json()
        assert loser["rule"] == "already_claimed"
        assert loser["detail"].endswith("claimed this chat first; pick another one from the queue.")
        assert winner["agent"]["name"] in loser["detail"]
        _assert_claimed_once(conversation_id, winner["agent"]["user_id"])


def test_of_eight_claims_at_once_one_wins(live_api, agent, agent2):
    with httpx.Client(base_url=live_api, timeout=30) as http:
        conversation_id, _token, hid = _queued_chat(http, 100)
    path = f"/api/v1/agent/handoffs/{hid}/claim"
    responses = _race(live_api, [(path, agent), (path, agent2)] * 4)
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    assert {r.json()["rule"] for r in responses if r.status_code == 409} == {"already_claimed"}
    winner = next(r for r in responses if r.status_code == 200).json()["agent"]["user_id"]
    _assert_claimed_once(conversation_id, winner)


def test_leaving_the_queue_and_a_claim_at_once_one_of_them_happens(live_api, agent):
    with httpx.Client(base_url=live_api, timeout=30) as http:
        chats = [_queued_chat(http, 200 + n) for n in range(5)]
    for conversation_id, token, hid in chats:
        responses = _race(
            live_api,
            [
                (f"/api/v1/agent/handoffs/{hid}/claim", agent),
                (f"/api/v1/chat/conversations/{conversation_id}/queue/leave", {"X-Chat-Token": token}),
            ],
        )
        claim, leave = responses
        assert sorted([claim.status_code, leave.status_code]) == [200, 409], [r.text for r in responses]
        status = _conversation_status(conversation_id)
        assert status == ("with_agent" if claim.status_code == 200 else "bot")


def _conversation_status(conversation_id: str) -> str:
    from api.chat.models import Conversation
    from api.database import get_sessionmaker

    with get_sessionmaker()() as db:
        return str(db.scalar(select(Conversation.status).where(Conversation.id == conversation_id)))


def _assert_claimed_once(conversation_id: str, winner_user_id: str) -> None:
    from api.auth.models import User
    from api.chat.models import ChatMessage, Conversation
    from api.database import get_sessionmaker
    from api.handoff.models import Handoff

    with get_sessionmaker()() as db:
        assert db.scalar(select(Conversation.status).where(Conversation.id == conversation_id)) == "with_agent"
        handoff = db.scalar(select(Handoff).where(Handoff.conversation_id == conversation_id))
        assert handoff is not None and handoff.state == "with_agent"
        assert db.get(User, handoff.agent_pk).user_id == winner_user_id  # type: ignore[union-attr]
        joined = db.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(ChatMessage.conversation_id == conversation_id, ChatMessage.text.like("%joined the chat%"))
        )
        assert joined == 1
