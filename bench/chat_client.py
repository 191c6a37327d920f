"""Drives Chat Now conversations the way the widget does, and the same turns straight to Rasa (the floor).

Shared by the chat benchmark (bench/chat_bench.py) and the scale-out tests (tests/scale/).

Through the transport: the conversation is started with `POST /api/v1/chat/conversations`, then every
turn goes over the chat WebSocket (the widget's path); a turn's latency runs from sending the frame to
the first bot message of the answer. Straight to Rasa: `POST /webhooks/rest/webhook`, latency to the
HTTP answer. Each simulated supplier connects from its own loopback address (127.0.0.x), as different
suppliers do, so the per-address limit on new chats applies per supplier.

Signing in is set up, not measured: a session is created for the demo supplier in the database and
the chat is bound to it with the public `POST /api/v1/chat-bindings`, which is what the sign-in panel
does after the second factor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from api.chat.schemas import EXAMPLE_PRECHAT as PRECHAT


@dataclass(frozen=True)
class Turn:
    label: str
    text: str | None = None  # typed text
    payload: str | None = None  # a widget command (`/signed_in`), as the widget sends it
    action: bool = False  # the bot runs a custom action that calls the API for this turn

    @property
    def relay_text(self) -> str:
        """What reaches Rasa for this turn (the transport sends a command payload as it is)."""
        return self.payload if self.payload is not None else (self.text or "")


# A realistic conversation: a greeting, questions from the FAQ, the supplier signs in and asks about
# their uploads (custom actions that call the API), one more question, thanks.
CONVERSATION: tuple[Turn, ...] = (
    Turn("greeting", text="Hello"),
    Turn("faq", text="What is a bidder number?"),
    Turn("faq", text="What is multi-factor authentication?"),
    Turn("sign-in", payload="/signed_in", action=True),
    Turn("history", text="Did my upload go through?", action=True),
    Turn("faq", text="Can I send documents after the bid window closes?"),
    Turn("thanks", text="Thanks, that's all"),
)


@dataclass
class TurnResult:
    path: str  # "relay" or "floor"
    turn: Turn
    seconds: float
    replies: list[dict[str, Any]]
    ok: bool
    conversation_id: str
    started: float = 0.0
    error: str | None = None
    retry_notices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Supplier:
    """One simulated supplier: own loopback address, own HTTP client."""

    index: int
    api_url: str
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.address = f"127.0.{1 + self.index // 250}.{1 + self.index % 250}"
        transport = httpx.AsyncHTTPTransport(local_address=self.address)
        self.http = httpx.AsyncClient(base_url=self.api_url, transport=transport, timeout=120)

    async def close(self) -> None:
        await self.http.aclose()

    async def start_chat(self) -> tuple[str, str]:
        response = await self.http.post("/api/v1/chat/conversations", json={"prechat": PRECHAT})
        response.raise_for_status()
        body = response.json()
        return body["conversation_id"], body["client_token"]

    async def bind(self, conversation_id: str, session_token: str) -> None:
        response = await self.http.post(
            "/api/v1/chat-bindings",
            json={"conversation_id": conversation_id},
            headers={"Authorization": f"Bearer {session_token}"},
        )
        response.raise_for_status()

    async def wait_for_greeting(self, conversation_id: str, token: str, timeout: float = 120) -> None:
        """Long-poll the transcript until the assistant's opening message is stored."""
        deadline = time.monotonic() + timeout
        after = 0
        while time.monotonic() < deadline:
            response = await self.http.get(
                f"/api/v1/chat/conversations/{conversation_id}/messages",
                params={"after": after, "wait": 10},
                headers={"X-Chat-Token": token},
            )
            response.raise_for_status()
            page = response.json()
            if any(m["sender"] == "bot" for m in page["messages"]):
                return
            after = max([after, *(m["seq"] for m in page["messages"])])
        raise TimeoutError("The assistant did not greet in time.")

    def ws_url(self, conversation_id: str) -> str:
        return self.api_url.replace("http", "ws", 1) + f"/api/v1/chat/conversations/{conversation_id}/ws"


class ChatSocket:
    """The widget's WebSocket to one conversation: sends turns and collects the stored messages by seq."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: dict[int, dict[str, Any]] = {}
        self.acks: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                message = frame["message"]
                message["received_at"] = time.perf_counter()
                self.messages.setdefault(message["seq"], message)
            elif kind == "ack":
                frame["received_at"] = time.perf_counter()
                self.acks[frame["client_message_id"]] = frame
            elif kind == "error":
                self.errors.append(frame)
            else:
                continue
            self._changed.set()

    async def wait_for(self, predicate: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = predicate()
            if found:
                return found
            if self._reader.done():
                self._reader.result()
                raise ConnectionError("The chat WebSocket closed.")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("No answer in time.")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def send(self, turn: Turn, client_message_id: str) -> None:
        frame: dict[str, Any] = {"type": "message", "client_message_id": client_message_id}
        if turn.payload is not None:
            frame["payload"] = turn.payload
        else:
            frame["text"] = turn.text
        await self.ws.send(json.dumps(frame))

    async def answer_to(self, client_message_id: str, timeout: float) -> tuple[int, list[dict[str, Any]]]:
        """(seq of the user turn, the bot or system messages that followed it, up to the next user turn)."""
        ack = await self.wait_for(lambda: self.acks.get(client_message_id), timeout)
        seq = ack["seq"]

        def answered() -> list[dict[str, Any]] | None:
            after = [m for s, m in sorted(self.messages.items()) if s > seq and m["sender"] in ("bot", "system")]
            return after or None

        return seq, await self.wait_for(answered, timeout)

    async def answer_with_retries(
        self, client_message_id: str, timeout: float, retries: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the bot's answer, the retry notices before it): on "assistant could not be reached" (code
        `retry`), resend the same client_message_id as the widget's Try again button does."""
        _seq, answer = await self.answer_to(client_message_id, timeout)
        notices: list[dict[str, Any]] = []
        while True:
            failed = [m for m in answer if (m.get("data") or {}).get("code") == "retry"]
            bot = [m for m in answer if m["sender"] == "bot" and (not notices or m["seq"] > notices[-1]["seq"])]
            if bot or not failed or len(notices) >= retries:
                return bot or answer, notices
            notices.append(failed[-1])
            await asyncio.sleep(1.0)
            await self.ws.send(json.dumps({"type": "message", "client_message_id": client_message_id, "text": ""}))
            last = notices[-1]["seq"]

            def retried(last: int = last) -> list[dict[str, Any]] | None:
                after = [m for s, m in sorted(self.messages.items()) if s > last and m["sender"] in ("bot", "system")]
                return after or None

            answer = await self.wait_for(retried, timeout)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def think(between: float | Callable[[], float]) -> None:
    """The supplier's pause after an answer: fixed seconds, or drawn by the given function."""
    seconds = between() if callable(between) else between
    if seconds > 0:
        await asyncio.sleep(seconds)


async def open_socket(supplier: Supplier, conversation_id: str, token: str, after: int = 0) -> ChatSocket:
    ws = await connect(supplier.ws_url(conversation_id), local_addr=(supplier.address, 0), max_size=2**22)
    await ws.send(json.dumps({"type": "hello", "token": token, "after": after}))
    return ChatSocket(ws)


async def relay_conversation(
    supplier: Supplier,
    session_token: str,
    turns: tuple[Turn, ...] = CONVERSATION,
    timeout: float = 120,
    retries: int = 0,
    between: float | Callable[[], float] = 0.0,
) -> list[TurnResult]:
    """One conversation through the public transport; the greeting that opens every chat is awaited first.

    With `retries`, a turn the assistant could not answer is sent again (the widget's Try again);
    `between` is a pause between turns in seconds (a supplier reading the answer and typing the next
    message), or a function that draws one.
    """
    results: list[TurnResult] = []
    try:
        conversation_id, token = await supplier.start_chat()
        await supplier.bind(conversation_id, session_token)
        socket = await open_socket(supplier, conversation_id, token)
    except (httpx.HTTPError, TimeoutError) as exc:  # the chat could not start: its turns count as failed
        return [TurnResult("relay", t, 0.0, [], False, "", time.perf_counter(), f"start: {exc}") for t in turns]
    try:
        try:
            await socket.wait_for(lambda: any(m["sender"] == "bot" for m in socket.messages.values()), timeout)
        except (TimeoutError, ConnectionError) as exc:
            return [
                TurnResult("relay", t, 0.0, [], False, conversation_id, time.perf_counter(), f"greeting: {exc}")
                for t in turns
            ]
        for turn in turns:
            client_id = uuid.uuid4().hex
            started = time.perf_counter()
            await socket.send(turn, client_id)
            try:
                answer, notices = await socket.answer_with_retries(client_id, timeout, retries)
            except (TimeoutError, ConnectionError) as exc:
                result = TurnResult(
                    "relay", turn, time.perf_counter() - started, [], False, conversation_id, started, str(exc)
                )
                results.append(result)
                break
            first = min(m["received_at"] for m in answer)
            ok = all(m["sender"] == "bot" for m in answer)
            result = TurnResult("relay", turn, first - started, answer, ok, conversation_id, started)
            result.retry_notices = notices
            results.append(result)
            await think(between)
    finally:
        await socket.close()
    return results


async def floor_conversation(
    supplier: Supplier,
    session_token: str,
    rasa_url: str,
    rasa: httpx.AsyncClient,
    turns: tuple[Turn, ...] = CONVERSATION,
    between: float | Callable[[], float] = 0.0,
) -> list[TurnResult]:
    """The same turns sent straight to Rasa's REST channel, with the metadata the relay sends.

    The chat is started and bound through the API first (not measured), so that the custom actions find
    the same signed-in user; its opening greeting is relayed once, as for every chat.
    """
    try:
        conversation_id, token = await supplier.start_chat()
        await supplier.bind(conversation_id, session_token)
        await supplier.wait_for_greeting(conversation_id, token)
    except (httpx.HTTPError, TimeoutError) as exc:
        return [TurnResult("floor", t, 0.0, [], False, "", time.perf_counter(), f"start: {exc}") for t in turns]
    metadata = {"prechat": PRECHAT, "signed_in": True}
    results: list[TurnResult] = []
    for turn in turns:
        started = time.perf_counter()
        body = {"sender": conversation_id, "message": turn.relay_text, "metadata": metadata}
        try:
            response = await rasa.post(f"{rasa_url}/webhooks/rest/webhook", json=body)
            response.raise_for_status()
            replies = response.json()
        except httpx.HTTPError as exc:
            results.append(
                TurnResult("floor", turn, time.perf_counter() - started, [], False, conversation_id, started, str(exc))
            )
            break
        results.append(
            TurnResult("floor", turn, time.perf_counter() - started, replies, bool(replies), conversation_id, started)
        )
        await think(between)
    return results


def demo_sessions(database_url: str, count: int) -> list[str]:
    """Session tokens of the demo supplier, created as the sign-in does after the second factor."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from api.auth.models import User
    from api.auth.sessions import create_session
    from api.database import make_engine

    engine = make_engine(database_url)
    with Session(engine) as db:
        user = db.scalar(select(User).where(User.user_id == "demo.supplier"))
        if user is None:
            raise LookupError("The demo supplier is missing: the stack did not load the demo data.")
        tokens = [create_session(db=db, user=user)[0] for _ in range(count)]
    engine.dispose()
    return tokens
