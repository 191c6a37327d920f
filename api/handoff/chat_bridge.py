"""What the handoff needs from the chat that the chat service does not offer as such: a *conditional* status
change (queued -> with_agent only while still queued, so that two agents cannot both claim a chat) that
joins the caller's transaction, system markers stored in that same transaction, and publishing afterwards.

It uses the chat's models and its `append_message` / `deliver` / `hub` directly and changes nothing of
theirs. Every message is stored (and committed by the caller) before anyone is told about it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from api.chat import service as chat_service
from api.chat.delivery import hub
from api.chat.models import ChatMessage, Conversation, ConversationStatus, MessageKind, Sender


def try_status(
    *,
    db: Session,
    conversation_id: str,
    expected: tuple[ConversationStatus, ...],
    status: ConversationStatus,
    now: dt.datetime,
) -> bool:
    """Change who answers the chat only if its status is one of `expected` (no commit); True when it changed.

    One conditional UPDATE: of two concurrent callers exactly one sees its row changed.
    """
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status is ConversationStatus.closed:
        values["closed_at"] = now
    result = db.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.status.in_(expected))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def system_event(*, db: Session, conversation_id: str, text: str, data: dict[str, Any]) -> ChatMessage:
    """Store a system marker (not committed) with the conversation's next sequence number."""
    return chat_service.append_message(
        db=db,
        conversation_id=conversation_id,
        sender=Sender.system,
        kind=MessageKind.event,
        text=text,
        data=data,
        commit=False,
    )


def publish(conversation_id: str, messages: list[ChatMessage], status: ConversationStatus | None = None) -> None:
    """After the commit: deliver the stored messages to the widget (and say that the status changed)."""
    chat_service.deliver(conversation_id, messages)
    if status is not None:
        hub.publish(conversation_id, {"type": "status", "status": status.value})


def transcript(*, db: Session, conversation_id: str, limit: int = 5_000) -> list[ChatMessage]:
    """The whole conversation so far, oldest first."""
    return chat_service.messages_after(db=db, conversation_id=conversation_id, after=0, limit=limit)


def agent_typing(conversation_id: str, on: bool) -> None:
    """Show (or hide) the typing indicator in the widget while the agent writes (the bot is silent then)."""
    hub.publish(conversation_id, {"type": "typing", "on": on, "sender": "agent"})
