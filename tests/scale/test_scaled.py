"""The scaled-out layout at a small scale: concurrent conversations spread over both API workers and both
Rasa servers keep every turn, in order, answered once; uploads land once; a Rasa server killed in the
middle of the load loses no user message, and the widget is told to retry.

The proof comes from what was stored: the API's transcripts (chat_messages), Rasa's tracker store
(events) and the shared file storage, plus nginx's access log for which server answered what.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import signal
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bench.chat_client import CONVERSATION, PRECHAT, Supplier, Turn, demo_sessions, relay_conversation
from tests.api.documents.pdfs import pdf
from tests.scale.conftest import ScaledStack

pytestmark = pytest.mark.stack
CONVERSATIONS = 10
WEBHOOK = "POST /webhooks/rest/webhook"


def _engine(stack: ScaledStack):  # type: ignore[no-untyped-def]
    from api.database import make_engine

    return make_engine(stack.database_url)


def transcript(stack: ScaledStack, conversation_id: str) -> list[Any]:
    from api.chat.models import ChatMessage

    engine = _engine(stack)
    with Session(engine) as db:
        rows = list(
            db.scalars(
                select(ChatMessage).where(ChatMessage.conversation_id == conversation_id).order_by(ChatMessage.seq)
            )
        )
        db.expunge_all()
    engine.dispose()
    return rows


def tracker_user_texts(stack: ScaledStack, conversation_id: str) -> list[str]:
    """The user messages Rasa's tracker store holds for the conversation, in order."""
    engine = _engine(stack)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
            {"s": conversation_id},
        ).all()
    engine.dispose()
    return [json.loads(row[0]).get("text") for row in rows]


def check_transcript(stack: ScaledStack, conversation_id: str, turns: tuple[Turn, ...]) -> int:
    """Every scripted turn stored once, in order, each answered by the bot before the next; returns the
    number of "could not be reached, try again" notices."""
    messages = transcript(stack, conversation_id)
    user = [m for m in messages if m.sender.value == "user"]
    assert [m.relay_text for m in user] == [t.relay_text for t in turns], (
        f"turns lost or reordered in {conversation_id}"
    )
    assert len({m.client_message_id for m in user}) == len(user)
    assert all(m.relay_state.value == "done" for m in user), [(m.seq, m.relay_state) for m in user]
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1)), "a gap in the sequence numbers"
    notices = 0
    for here, following in zip(user, [*user[1:], None], strict=True):
        end = following.seq if following else 10**9
        answer = [m for m in messages if here.seq < m.seq < end]
        bot = [m for m in answer if m.sender.value == "bot"]
        retry = [m for m in answer if (m.data or {}).get("code") == "retry"]
        assert bot, f"turn {here.seq} ({here.relay_text!r}) of {conversation_id} has no answer"
        # Failures come before the answer, never after it: the turn was answered once, at the end.
        assert all(r.seq < bot[0].seq for r in retry), f"turn {here.seq} was answered, then failed"
        assert all(r.data.get("retry_client_message_id") == here.client_message_id for r in retry)
        notices += len(retry)
    return notices


async def http_conversation(stack: ScaledStack, supplier: Supplier, token: str) -> tuple[str, list[float]]:
    """The widget's HTTP fallback: post each turn, long-poll for the answer (any worker may take either)."""
    conversation_id, chat_token = await supplier.start_chat()
    await supplier.bind(conversation_id, token)
    headers = {"X-Chat-Token": chat_token}
    path = f"/api/v1/chat/conversations/{conversation_id}/messages"
    await supplier.wait_for_greeting(conversation_id, chat_token)
    latencies = []
    for turn in CONVERSATION:
        body: dict[str, Any] = {"client_message_id": uuid.uuid4().hex}
        body |= {"payload": turn.payload} if turn.payload else {"text": turn.text}
        started = time.perf_counter()
        ack = await supplier.http.post(path, json=body, headers=headers)
        assert ack.status_code == 202, ack.text
        seq = ack.json()["message"]["seq"]
        while True:
            page = await supplier.http.get(path, params={"after": seq, "wait": 25}, headers=headers)
            assert page.status_code == 200, page.text
            if any(m["sender"] == "bot" for m in page.json()["messages"]):
                break
        latencies.append(time.perf_counter() - started)
    return conversation_id, latencies


def run_in_own_loop(make: Any) -> Any:
    """Run `make()` (a coroutine) to completion on a fresh event loop in a worker thread.

    Earlier tests in the same session (Playwright's sync API) can leave an event loop running in the main
    thread, where `asyncio.run` refuses to start.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def spread(
    stack: ScaledStack, since: int, request_prefix: str, ports: tuple[int, ...], answered: bool = False
) -> Counter[int]:
    """How many requests each server took (with `answered`, only those it answered with a 2xx)."""
    counts: Counter[int] = Counter()
    for request, status, upstream in stack.upstreams(since):
        if request.startswith(request_prefix) and (not answered or 200 <= status < 300):
            for port in ports:
                if upstream == f"127.0.0.1:{port}":
                    counts[port] += 1
    return counts


def test_conversations_spread_over_both_servers_keep_every_turn(scaled_stack: ScaledStack) -> None:
    stack = scaled_stack
    since = stack.log_lines()
    tokens = demo_sessions(stack.database_url, CONVERSATIONS)

    async def run() -> tuple[list[Any], list[Any]]:
        suppliers = [Supplier(i, stack.url) for i in range(CONVERSATIONS)]
        try:
            half = CONVERSATIONS // 2
            ws = [relay_conversation(s, tokens[s.index], timeout=180) for s in suppliers[:half]]
            http = [http_conversation(stack, s, tokens[s.index]) for s in suppliers[half:]]
            results = await asyncio.gather(*ws, *http)
        finally:
            for supplier in suppliers:
                await supplier.close()
        return list(results[:half]), list(results[half:])

    ws_results, http_results = run_in_own_loop(run)
    for turns in ws_results:
        assert len(turns) == len(CONVERSATION) and all(t.ok for t in turns), [(t.turn.label, t.error) for t in turns]
    conversation_ids = [turns[0].conversation_id for turns in ws_results] + [cid for cid, _ in http_results]
    assert len(set(conversation_ids)) == CONVERSATIONS

    # Spread: both API workers took chat requests, both Rasa servers took turns.
    api = spread(stack, since, "", stack.api_ports)
    rasa = spread(stack, since, WEBHOOK, stack.rasa_ports)
    assert all(api[p] > 0 for p in stack.api_ports), f"API requests per worker: {dict(api)}"
    turns = CONVERSATIONS * (len(CONVERSATION) + 1)  # + the greeting of each chat
    assert sum(rasa.values()) >= turns, f"turns relayed per Rasa server: {dict(rasa)}"
    assert all(rasa[p] >= turns // 5 for p in stack.rasa_ports), f"turns per Rasa server: {dict(rasa)}"

    for conversation_id in conversation_ids:
        assert check_transcript(stack, conversation_id, CONVERSATION) == 0
        # Rasa saw every user turn exactly once, in order (none lost, none processed twice).
        assert tracker_user_texts(stack, conversation_id) == ["/greet", *(t.relay_text for t in CONVERSATION)]


def test_uploads_through_both_workers_land_exactly_once(scaled_stack: ScaledStack) -> None:
    from api.chat.models import ChatFile
    from api.documents.models import StagedFile

    stack = scaled_stack
    since = stack.log_lines()
    token = demo_sessions(stack.database_url, 1)[0]
    files = {f"balance-sheet-{i}.pdf": pdf(pages=1, text=uuid.uuid4().hex) for i in range(6)}

    with httpx.Client(base_url=stack.url, timeout=60) as http:
        chat = http.post("/api/v1/chat/conversations", json={"prechat": PRECHAT}).json()
        cid = chat["conversation_id"]
        http.post("/api/v1/chat-bindings", json={"conversation_id": cid}, headers={"Authorization": f"Bearer {token}"})

    def attach(name: str, key: str) -> httpx.Response:
        # Each try on its own connection, as a browser retrying after a dropped one would.
        with httpx.Client(base_url=stack.url, timeout=60) as client:
            return client.post(
                f"/api/v1/chat/conversations/{cid}/files",
                files={"file": (name, files[name], "application/pdf")},
                headers={"X-Chat-Token": chat["client_token"], "Idempotency-Key": key},
            )

    keys = {name: uuid.uuid4().hex for name in files}
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        # Every file sent twice at the same time with the same key: a retry racing the first try.
        answers = list(pool.map(lambda args: attach(*args), [(n, keys[n]) for n in files for _ in range(2)]))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    by_name: dict[str, list[httpx.Response]] = {}
    for answer in answers:
        by_name.setdefault(answer.json()["file_name"], []).append(answer)
    for name, pair in by_name.items():
        assert len({a.json()["staged_file_id"] for a in pair}) == 1, f"{name} was staged twice"

    engine = _engine(stack)
    with Session(engine) as db:
        rows = list(db.scalars(select(ChatFile).where(ChatFile.conversation_id == cid)))
        staged_ids = {r.staged_file_id for r in rows}
        staged = list(db.scalars(select(StagedFile).where(StagedFile.staged_file_id.in_(staged_ids))))
    engine.dispose()
    assert sorted(r.file_name for r in rows) == sorted(files)
    assert len(staged) == len(files)
    # One file on the shared storage per staged file, whichever worker wrote it.
    stored = [p for p in (stack.storage / "files").rglob("*") if p.is_file()]
    assert len(stored) == len(files), [p.name for p in stored]
    uploads = spread(stack, since, f"POST /api/v1/chat/conversations/{cid}/files", stack.api_ports)
    assert all(uploads[p] > 0 for p in stack.api_ports), f"uploads per worker: {dict(uploads)}"


def test_a_rasa_server_killed_mid_load_loses_no_user_message(scaled_stack: ScaledStack) -> None:
    stack = scaled_stack
    since = stack.log_lines()
    tokens = demo_sessions(stack.database_url, CONVERSATIONS)
    victim = stack.server_process(stack.rasa_ports[0])
    killed_at: list[int] = []

    async def run() -> list[Any]:
        suppliers = [Supplier(i, stack.url) for i in range(CONVERSATIONS)]

        async def kill_soon() -> None:
            # Once the turns flow through both servers, kill one (SIGKILL: no clean shutdown).
            while sum(spread(stack, since, WEBHOOK, stack.rasa_ports).values()) < CONVERSATIONS * 2:
                await asyncio.sleep(0.2)
            victim.send_signal(signal.SIGKILL)
            await asyncio.sleep(0.5)  # requests it answered before dying are logged by now
            killed_at.append(stack.log_lines())

        try:
            conversations = [
                relay_conversation(s, tokens[s.index], timeout=180, retries=5, between=0.2) for s in suppliers
            ]
            results = await asyncio.gather(*conversations, kill_soon())
        finally:
            for supplier in suppliers:
                await supplier.close()
        return list(results[:-1])

    results = run_in_own_loop(run)
    assert killed_at, "the Rasa server was not killed"
    assert not victim.is_running() or victim.status() == "zombie"
    for turns in results:
        assert len(turns) == len(CONVERSATION), [(t.turn.label, t.error) for t in turns]
        assert all(t.ok for t in turns), [(t.turn.label, t.error, t.replies) for t in turns if not t.ok]

    notices = 0
    for turns in results:
        conversation_id = turns[0].conversation_id
        notices += check_transcript(stack, conversation_id, CONVERSATION)
        # Rasa holds every user turn too; a turn cut off by the kill may have been saved by the dead server
        # before it was sent again, never lost.
        seen = tracker_user_texts(stack, conversation_id)
        expected = ["/greet", *(t.relay_text for t in CONVERSATION)]
        assert [t for i, t in enumerate(seen) if i == 0 or t != seen[i - 1]] == expected
    # A turn cut off by the kill was shown as "try again" (a warning with a Try again button), never an error.
    for turns in results:
        for result in turns:
            for notice in result.retry_notices:
                assert notice["sender"] == "system" and notice["data"]["event"] == "relay_failed"

    # After the kill, the live server answered everything.
    after = spread(stack, killed_at[0], WEBHOOK, stack.rasa_ports, answered=True)
    assert after[stack.rasa_ports[1]] > 0 and after[stack.rasa_ports[0]] == 0, f"answered turns after the kill: {after}"
    assert stack.process.poll() is None, "the stack stopped when one Rasa server died"
    print(f"retry notices shown during the fault: {notices}")
