"""Conversations of the Chat Now widget, every message in them, and the files attached to them.

A conversation's id is unguessable and its client token is stored hashed: only the browser that
started the chat can read or write it. Every message gets a per-conversation sequence number from
the server (`Conversation.last_seq`), so a client that reconnects asks for what came after the last
number it saw, and a resent message (same `client_message_id`) is stored once.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.database import Base


class ConversationStatus(enum.StrEnum):
    """Who answers the supplier. Only `bot` relays user turns to Rasa; the others store them for people."""

    bot = "bot"
    queued = "queued"  # waiting for an agent (handoff, issue 6)
    with_agent = "with_agent"
    closed = "closed"


class Sender(enum.StrEnum):
    user = "user"
    bot = "bot"
    agent = "agent"
    system = "system"


class MessageKind(enum.StrEnum):
    text = "text"  # something a person or the bot said
    note = "note"  # a user turn the widget sent on the user's behalf (`/signed_in`), shown as a short note
    event = "event"  # a marker: chat started, agent joined or left, assistant unreachable


class RelayState(enum.StrEnum):
    """Where a user turn is on its way to Rasa."""

    pending = "pending"  # being relayed now
    done = "done"  # Rasa answered and the answer is stored
    failed = "failed"  # Rasa could not be reached: a resend of the same client_message_id tries again
    held = "held"  # not for the bot: the conversation was queued, with an agent or closed


class Conversation(Base):
    """One chat between a supplier's browser and the assistant (and later an agent)."""

    __tablename__ = "chat_conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, comment="secrets.token_urlsafe; the Rasa sender id")
    client_token_hash: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the client token")
    status: Mapped[ConversationStatus] = mapped_column(
        Enum(ConversationStatus, native_enum=False, length=16), default=ConversationStatus.bot
    )
    prechat: Mapped[dict[str, Any]] = mapped_column(JSON, comment="The normalized pre-chat answers")
    last_seq: Mapped[int] = mapped_column(Integer, default=0, comment="Sequence number of the newest message")
    created_from: Mapped[str] = mapped_column(String(64), comment="Client address, for the creation limit")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ChatMessage(Base):
    """A message of a conversation, stored before anyone is told about it."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
        UniqueConstraint("conversation_id", "client_message_id", name="uq_chat_messages_conversation_client_id"),
        Index("ix_chat_messages_conversation_sender_created", "conversation_id", "sender", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("chat_conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender: Mapped[Sender] = mapped_column(Enum(Sender, native_enum=False, length=16))
    kind: Mapped[MessageKind] = mapped_column(Enum(MessageKind, native_enum=False, length=16))
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, comment="buttons, image, custom payload, event details")
    client_message_id: Mapped[str | None] = mapped_column(String(64), comment="Set by the client; deduplicates")
    relay_text: Mapped[str | None] = mapped_column(Text, comment="What is sent to Rasa for a user turn")
    relay_state: Mapped[RelayState | None] = mapped_column(Enum(RelayState, native_enum=False, length=16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ChatFile(Base):
    """A file staged through a conversation (the documents API keeps the file; this counts and deduplicates)."""

    __tablename__ = "chat_files"
    __table_args__ = (
        UniqueConstraint("conversation_id", "idempotency_key", name="uq_chat_files_conversation_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("chat_conversations.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    staged_file_id: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
