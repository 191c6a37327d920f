"""The agent console's WebSocket: `/api/v1/agent/ws`.

Client frames (JSON): first `{"type": "hello", "ticket": <ticket from POST /api/v1/agent/ws-ticket>}` (a
single-use, 30-second ticket: the session token never goes in a URL or a frame), then
`{"type": "watch", "conversation_id", "after"}` (stream a handed-off chat's messages after sequence number
`after`), `{"type": "unwatch", "conversation_id"}`, `{"type": "typing", "conversation_id", "on"}` (only for
a chat the agent has) and `{"type": "ping"}`.

Server frames: `ready` (the agent and the queue), `queue` (the queue, whenever it changes and every few
seconds), `message` (`conversation_id`, `message`: redacted as in the console), `status`, `typing` (the
supplier is typing), `assigned` (a chat was transferred to this agent), `error` and `pong`.

Close codes: 4400 no valid hello, 4401 unknown, used or expired ticket (or the session ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.chat import service as chat_service
from api.chat import transport
from api.chat.delivery import Subscription, hub
from api.handoff import chat_bridge, events, service
from api.handoff.models import Handoff, HandoffState

logger = logging.getLogger("api.handoff.ws")

router = APIRouter()

HELLO_TIMEOUT = 10.0
SYNC_SECONDS = 5.0
"""How often the queue is re-read (other API processes) and the session re-checked."""
MAX_FRAME_CHARS = 4_000


def _error(rule: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "rule": rule, "detail": detail}


def _queue(*, db: Session) -> dict[str, Any]:
    return service.agent_queue(db=db).model_dump(mode="json")


def _has_handoff(*, db: Session, conversation_id: str) -> bool:
    return db.scalar(select(Handoff.id).where(Handoff.conversation_id == conversation_id).limit(1)) is not None


def _owns(*, db: Session, conversation_id: str, agent_pk: int) -> bool:
    return (
        db.scalar(
            select(Handoff.id).where(
                Handoff.conversation_id == conversation_id,
                Handoff.state == HandoffState.with_agent,
                Handoff.agent_pk == agent_pk,
            )
        )
        is not None
    )


def _backlog(*, db: Session, conversation_id: str, after: int) -> list[dict[str, Any]]:
    messages = chat_service.messages_after(db=db, conversation_id=conversation_id, after=after, limit=1_000)
    return [service.agent_view(m).model_dump(mode="json") for m in messages]


class AgentConnection:
    """One console: a single outgoing queue, fed by its subscriptions, so frames never interleave."""

    def __init__(self, websocket: WebSocket, agent_pk: int, session_pk: int) -> None:
        self.websocket = websocket
        self.agent_pk = agent_pk
        self.session_pk = session_pk
        self.outgoing: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=5_000)
        self.forwarders: dict[str, list[tuple[Subscription, asyncio.Task[None]]]] = {}
        self.last_seq: dict[str, int] = {}

    def _forward(self, key: str, subscription: Subscription, tag: str) -> None:
        async def run() -> None:
            while True:
                event = await subscription.get(timeout=3600)
                if event is not None:
                    await self.outgoing.put((tag, event))

        task = asyncio.create_task(run())
        self.forwarders.setdefault(key, []).append((subscription, task))

    def subscribe_agent_channels(self) -> None:
        self._forward("queue", events.agent_hub.subscribe(events.QUEUE), "queue")
        self._forward("own", events.agent_hub.subscribe(f"agent:{self.agent_pk}"), "own")

    async def watch(self, conversation_id: str, after: int) -> None:
        if not await transport.in_db(_has_handoff, conversation_id=conversation_id):
            await self.send(
                _error("handoff_not_found", "This chat was never handed to a person; pick one from the queue.")
            )
            return
        if conversation_id not in self.forwarders:
            self._forward(conversation_id, hub.subscribe(conversation_id), f"chat:{conversation_id}")
            self._forward(conversation_id, events.agent_hub.subscribe(f"typing:{conversation_id}"), "typing")
        self.last_seq[conversation_id] = after
        await self.send_backlog(conversation_id)

    def unwatch(self, key: str) -> None:
        for subscription, task in self.forwarders.pop(key, []):
            task.cancel()
            hub.unsubscribe(subscription)
            events.agent_hub.unsubscribe(subscription)
        self.last_seq.pop(key, None)

    def close_all(self) -> None:
        for key in list(self.forwarders):
            self.unwatch(key)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.websocket.send_json(frame)

    async def send_queue(self) -> None:
        await self.send({"type": "queue", "queue": await transport.in_db(_queue)})

    async def send_backlog(self, conversation_id: str) -> None:
        after = self.last_seq.get(conversation_id, 0)
        for message in await transport.in_db(_backlog, conversation_id=conversation_id, after=after):
            await self.send({"type": "message", "conversation_id": conversation_id, "message": message})
            self.last_seq[conversation_id] = message["seq"]

    async def on_event(self, tag: str, event: dict[str, Any]) -> None:
        if tag == "queue":
            while not self.outgoing.empty():  # many changes at once: one fresh queue is enough
                next_tag, next_event = self.outgoing.get_nowait()
                if next_tag != "queue":
                    await self.on_event(next_tag, next_event)
            await self.send_queue()
        elif tag == "own" or tag == "typing":
            await self.send(event)
        elif tag.startswith("chat:"):
            conversation_id = tag[5:]
            if conversation_id not in self.last_seq:
                return
            if event.get("type") == "message":
                seq = event["message"]["seq"]
                if seq <= self.last_seq[conversation_id]:
                    return
                await self.send_backlog(conversation_id)  # in order, redacted, from the database
            elif event.get("type") == "status":
                await self.send({"type": "status", "conversation_id": conversation_id, "status": event.get("status")})

    async def handle(self, raw: str) -> None:
        if len(raw) > MAX_FRAME_CHARS:
            await self.send(_error("frame_too_large", "A frame can be at most 4,000 characters; send less."))
            return
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            await self.send(_error("invalid_frame", "Send a JSON object with a type: watch, unwatch, typing or ping."))
            return
        kind = frame.get("type")
        raw_id = frame.get("conversation_id")
        conversation_id = raw_id if isinstance(raw_id, str) else ""
        valid_id = 0 < len(conversation_id) <= 64
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "watch" and valid_id:
            after = frame.get("after", 0)
            await self.watch(conversation_id, after if isinstance(after, int) and after >= 0 else 0)
        elif kind == "unwatch" and valid_id:
            self.unwatch(conversation_id)
        elif kind == "typing" and valid_id and isinstance(frame.get("on"), bool):
            if await transport.in_db(_owns, conversation_id=conversation_id, agent_pk=self.agent_pk):
                chat_bridge.agent_typing(conversation_id, frame["on"])
        else:
            await self.send(
                _error("invalid_frame", "Send watch or unwatch with a conversation_id, typing with on, or ping.")
            )


async def _hello(websocket: WebSocket) -> tuple[int, int, str, str] | None:
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT)
        hello = json.loads(raw)
        ticket = hello["ticket"] if hello.get("type") == "hello" else None
    except (TimeoutError, ValueError, KeyError, AttributeError, TypeError):
        ticket = None
    if not isinstance(ticket, str) or not 0 < len(ticket) <= 128:
        with contextlib.suppress(Exception):
            await websocket.send_json(
                _error("hello_required", 'Send {"type": "hello", "ticket": ...} first, within 10 seconds.')
            )
            await websocket.close(code=4400)
        return None
    agent = await transport.in_db(service.redeem_ticket, ticket=ticket)
    if agent is None:
        with contextlib.suppress(Exception):
            await websocket.send_json(
                _error(
                    "ticket_invalid",
                    "The ticket is unknown, used or expired; get a new one from /api/v1/agent/ws-ticket.",
                )
            )
            await websocket.close(code=4401)
    return agent


@router.websocket("/api/v1/agent/ws")
async def agent_socket(websocket: WebSocket) -> None:
    """The agent console's live connection: the queue, watched chats' messages, the supplier typing."""
    await websocket.accept()
    agent = await _hello(websocket)
    if agent is None:
        return
    agent_pk, session_pk, user_id, first_name = agent
    connection = AgentConnection(websocket, agent_pk, session_pk)
    connection.subscribe_agent_channels()
    loop = asyncio.get_running_loop()
    receive: asyncio.Task[str] | None = None
    getter: asyncio.Task[tuple[str, dict[str, Any]]] | None = None
    try:
        await connection.send(
            {"type": "ready", "agent": {"user_id": user_id, "name": first_name}, "queue": await transport.in_db(_queue)}
        )
        receive = asyncio.create_task(websocket.receive_text())
        getter = asyncio.create_task(connection.outgoing.get())
        synced = loop.time()
        while True:
            done, _ = await asyncio.wait({receive, getter}, timeout=SYNC_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                tag, event = getter.result()
                getter = asyncio.create_task(connection.outgoing.get())
                await connection.on_event(tag, event)
            if receive in done:
                raw = receive.result()
                receive = asyncio.create_task(websocket.receive_text())
                await connection.handle(raw)
            if loop.time() - synced >= SYNC_SECONDS:  # other processes' changes, and whether the session holds
                synced = loop.time()
                if not await transport.in_db(service.session_is_valid, session_pk=session_pk):
                    await connection.send(_error("not_signed_in", "Your session has ended; sign in again."))
                    await websocket.close(code=4401)
                    return
                await connection.send_queue()
                for conversation_id in list(connection.last_seq):
                    await connection.send_backlog(conversation_id)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    except Exception:
        logger.exception("Agent WebSocket failed")
        with contextlib.suppress(Exception):
            await websocket.close(code=1011)
    finally:
        for task in (receive, getter):
            if task is not None:
                task.cancel()
        connection.close_all()
