"""Handoffs from the bot to a person: the queue, callback requests, satisfaction ratings, agent tickets.

A `Handoff` is one request to reach a person, made by the bot (reason, topic) for a conversation. Its
snapshot of who the supplier is (pre-chat answers, signed-in user, bidder numbers) is taken when it is
made, so the agent sees what the supplier said then even after their session ends. The conversation's
own `status` (api/chat) says who answers the chat; the handoff says where the request stands.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.auth.models import User
from api.database import Base


class HandoffReason(enum.StrEnum):
    """Why the bot hands the conversation over (the triggers of issue 6)."""

    asked_for_person = "asked_for_person"
    not_understood = "not_understood"  # the bot failed to understand twice in a row
    task_failed = "task_failed"  # a task (upload, look-up, MFA set-up) failed twice
    account_locked = "account_locked"
    not_allowed_topic = "not_allowed_topic"


REASON_TEXT = {
    HandoffReason.asked_for_person: "Asked for a person",
    HandoffReason.not_understood: "The assistant did not understand twice",
    HandoffReason.task_failed: "A task failed twice",
    HandoffReason.account_locked: "Account locked",
    HandoffReason.not_allowed_topic: "A topic the assistant may not handle",
}


class HandoffState(enum.StrEnum):
    queued = "queued"  # waiting for an agent
    with_agent = "with_agent"
    after_hours = "after_hours"  # the center was closed: a callback may be requested
    left = "left"  # the supplier left the queue (back to the bot)
    closed = "closed"  # an agent closed it with a disposition note
    abandoned = "abandoned"  # the chat ended while it waited


class CallbackState(enum.StrEnum):
    waiting = "waiting"  # in the queue, for the next open day
    claimed = "claimed"  # an agent is calling
    done = "done"


class Handoff(Base):
    """A request of a conversation to reach a person at the customer service center."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_state_waiting_since", "state", "waiting_since"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("chat_conversations.id", ondelete="CASCADE"), index=True)
    reason: Mapped[HandoffReason] = mapped_column(Enum(HandoffReason, native_enum=False, length=32))
    topic: Mapped[str] = mapped_column(String(200), comment="Topic code or free text from the bot")
    detail: Mapped[str | None] = mapped_column(String(1000), comment="Optional detail from the bot")
    state: Mapped[HandoffState] = mapped_column(Enum(HandoffState, native_enum=False, length=16))
    prechat: Mapped[dict[str, Any]] = mapped_column(JSON, comment="The pre-chat answers when it was made")
    user_pk: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, comment="The signed-in supplier, if any"
    )
    bidder_numbers: Mapped[list[str]] = mapped_column(JSON, comment="The signed-in supplier's bidder numbers")
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    waiting_since: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), comment="Queue order: oldest first (kept when sent back to the queue)"
    )
    opens_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When the center opens next (after hours)"
    )
    announced_position: Mapped[int | None] = mapped_column(
        Integer, comment="The queue position last told to the supplier"
    )
    agent_pk: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, comment="The agent who has it"
    )
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disposition: Mapped[str | None] = mapped_column(Text, comment="The agent's closing note")
    internal_notes: Mapped[str | None] = mapped_column(
        Text, comment="Agents' notes on transfers (never shown to the supplier)"
    )
    transfers: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User | None] = relationship(foreign_keys=[user_pk])
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_pk])


class CallbackRequest(Base):
    """A supplier's request to be called back when the center opens (made after hours)."""

    __tablename__ = "handoff_callback_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("chat_conversations.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(20), comment="E.164")
    best_time: Mapped[str] = mapped_column(String(200), comment="When to call, in the supplier's words")
    state: Mapped[CallbackState] = mapped_column(Enum(CallbackState, native_enum=False, length=16), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    available_from: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), comment="The next opening after the request"
    )
    agent_pk: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disposition: Mapped[str | None] = mapped_column(Text)

    handoff: Mapped[Handoff] = relationship()
    agent: Mapped[User | None] = relationship()


class SatisfactionRating(Base):
    """The supplier's 1-5 rating (and comment) of a chat an agent closed."""

    __tablename__ = "handoff_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), unique=True)
    agent_pk: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class AgentTicket(Base):
    """A single-use, short-lived ticket that opens the agent WebSocket (the session token never goes in a URL
    or a frame the browser may log). Only a hash is stored."""

    __tablename__ = "agent_ws_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_pk: Mapped[int] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
