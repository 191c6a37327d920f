"""The chat WebSocket: `/api/v1/chat/conversations/{id}/ws`.

Client frames (JSON): first `{"type": "hello", "token": <client token>, "after": <last seq seen>}`
(the token never goes in the URL), then `{"type": "message", "client_message_id", "text" | "payload"}`
and `{"type": "ping"}`.

Server frames: `ready` (the conversation's state), `message` (a stored message, by sequence number:
first everything after `after`, then new ones as they are stored, each exactly once and in order),
`ack` (a user turn is stored: its `seq`, and `duplicate` for a resend), `error` (`rule`, `detail`,
and the `client_message_id` it is about), `typing`, `status` and `pong`.

Close codes: 4400 no valid hello, 4401 no token, 4404 unknown chat or wrong token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import TypeAdapter, ValidationError

from api.chat import service, transport
from api.chat.delivery import SYNC_SECONDS, Subscription, hub
from api.chat.errors import ChatError
from api.chat.schemas import ClientFrame, HelloFrame, MessageFrame

logger = logging.getLogger("api.chat.ws")

router = APIRouter()

HELLO_TIMEOUT = 10.0
MAX_FRAME_CHARS = 32_000
BACKLOG_BATCH = 500
_client_frame: TypeAdapter[Any] = TypeAdapter(ClientFrame)


def _error_frame(rule: str, detail: str, client_message_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "rule": rule, "detail": detail}
    if client_message_id:
        frame["client_message_id"] = client_message_id
    return frame


async def _close_with(websocket: WebSocket, code: int, frame: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_json(frame)
        await websocket.close(code=code)


async def _hello(websocket: WebSocket, conversation_id: str) -> tuple[HelloFrame, Any] | None:
    """The client's hello and its conversation, or None after closing the socket with the reason."""
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT)
        hello = HelloFrame.model_validate_json(raw)
    except (TimeoutError, ValidationError, ValueError, KeyError):
        await _close_with(
            websocket,
            4400,
            _error_frame(
                "hello_required", 'Send {"type": "hello", "token": ..., "after": ...} first, within 10 seconds.'
            ),
        )
        return None
    try:
        conversation = await transport.in_db(
            service.authorize, conversation_id=conversation_id, client_token=hello.token
        )
    except ChatError as exc:
        await _close_with(websocket, 4404 if exc.status_code == 404 else 4401, _error_frame(exc.rule, exc.detail))
        return None
    return hello, conversation


class Connection:
    """One open socket: everything it sends goes through one queue, so frames never interleave."""

    def __init__(self, websocket: WebSocket, conversation_id: str, subscription: Subscription, after: int) -> None:
        self.websocket = websocket
        self.conversation_id = conversation_id
        self.subscription = subscription
        self.last_sent = after

    def send_later(self, frame: dict[str, Any]) -> None:
        self.subscription.put(frame)

    async def _send_backlog(self) -> None:
        """Every stored message after the last one sent, in batches, oldest first."""
        while True:
            messages = await transport.in_db(
                service.messages_after, conversation_id=self.conversation_id, after=self.last_sent, limit=BACKLOG_BATCH
            )
            for message in messages:
                await self.websocket.send_json(
                    {"type": "message", "message": service.message_public(message).model_dump(mode="json")}
                )
                self.last_sent = message.seq
            if len(messages) < BACKLOG_BATCH:
                return

    async def pump(self) -> None:
        """Send the backlog, then every event in order; a gap in the sequence is filled from the database."""
        await self._send_backlog()
        while True:
            event = await self.subscription.get(timeout=SYNC_SECONDS)
            if event is None:
                await self._send_backlog()  # messages another API process stored
                continue
            if event.get("type") == "message":
                seq = event["message"]["seq"]
                if seq <= self.last_sent:
                    continue  # already sent (from the backlog)
                if seq > self.last_sent + 1:
                    await self._send_backlog()  # published out of order: send in sequence from the database
                    continue
                self.last_sent = seq
            await self.websocket.send_json(event)

    async def handle(self, raw: str) -> None:
        if len(raw) > MAX_FRAME_CHARS:
            self.send_later(_error_frame("frame_too_large", "A frame can be at most 32,000 characters; send less."))
            return
        try:
            frame = _client_frame.validate_json(raw)
        except ValidationError as exc:
            client_id = _client_message_id(raw)
            detail = _frame_problem(exc)
            self.send_later(_error_frame("invalid_frame", detail, client_id))
            return
        if not isinstance(frame, MessageFrame):
            self.send_later({"type": "pong"})
            return
        try:
            accepted, job = await transport.in_db(
                _accept, autocommit=True, conversation_id=self.conversation_id, frame=frame
            )
        except ChatError as exc:
            self.send_later(_error_frame(exc.rule, exc.detail, frame.client_message_id))
            return
        public = service.message_public(accepted.message).model_dump(mode="json")
        self.send_later(
            {
                "type": "ack",
                "client_message_id": frame.client_message_id,
                "seq": public["seq"],
                "duplicate": accepted.duplicate,
            }
        )
        if accepted.duplicate:
            self.send_later({"type": "message", "message": public})
        else:
            service.deliver(self.conversation_id, [accepted.message])
        if accepted.relay:
            transport.spawn_turn(self.conversation_id, accepted.message.id, job)


def _accept(*, db: Any, conversation_id: str, frame: MessageFrame) -> tuple[service.AcceptedTurn, Any]:
    """The stored turn, and what to relay for it, in one worker-thread call. Run in an autocommit session:
    on PostgreSQL a typed turn is one round trip (`accept_typed_turn`), any other turn two, a read and a
    write that stores the turn atomically on its own
    (test_a_relayed_turn_and_its_three_message_answer_take_few_round_trips)."""
    typed = service.accept_typed_turn(db=db, conversation_id=conversation_id, data=frame)
    if typed is not None:
        return typed
    conversation, signed_in, recent = service.turn_context(
        db=db, conversation_id=conversation_id, client_message_id=frame.client_message_id
    )
    accepted = service.accept_user_turn(db=db, conversation=conversation, data=frame, recent=recent)
    job = (
        service.relay_job(db=db, conversation_id=conversation_id, message_id=accepted.message.id, signed_in=signed_in)
        if accepted.relay
        else None
    )
    return accepted, job


def _client_message_id(raw: str) -> str | None:
    try:
        value = json.loads(raw).get("client_message_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and len(value) <= 64 else None


def _frame_problem(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "The frame is not valid; send a message or ping frame as documented."
    loc = ".".join(str(p) for p in errors[0]["loc"] if not isinstance(p, int)) or "frame"
    return f"{loc}: {errors[0]['msg'].rstrip('.')}; send a message or ping frame as documented."


@router.websocket("/api/v1/chat/conversations/{conversation_id}/ws")
async def chat_socket(websocket: WebSocket, conversation_id: str) -> None:
    """The widget's connection to its chat: messages both ways, typing and status, reconnect by sequence."""
    await websocket.accept()
    opened = await _hello(websocket, conversation_id[:64])
    if opened is None:
        return
    hello, conversation = opened
    subscription = hub.subscribe(conversation.id)
    connection = Connection(websocket, conversation.id, subscription, hello.after)
    pump: asyncio.Task[None] | None = None
    try:
        state = await transport.in_db(service.conversation_state, conversation_id=conversation.id)
        await websocket.send_json(
            {"type": "ready", "conversation": state.model_dump(mode="json"), "typing": hub.is_typing(conversation.id)}
        )
        pump = asyncio.create_task(connection.pump())
        while True:
            receive = asyncio.create_task(websocket.receive_text())
            done, _ = await asyncio.wait({receive, pump}, return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                receive.cancel()
                pump.result()  # the socket broke while sending: raise and close
            await connection.handle(receive.result())
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    except Exception:
        logger.exception("Chat WebSocket failed")
        with contextlib.suppress(Exception):
            await websocket.close(code=1011)
    finally:
        hub.unsubscribe(subscription)
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump
