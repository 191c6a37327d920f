"""Request and response bodies of the handoff (bot and widget side) and of the agent console.

Every input has a length limit. Like the chat, the schema bounds are generous where a supplier can break a
rule with an otherwise well-formed request (a rating of 7, a long comment): the service answers those with
a sentence naming the rule and the fix.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

from api.chat.schemas import MessagePublic
from api.contact_center import PHONE
from api.documents.schemas import UploadPublic
from api.handoff.models import CallbackState, HandoffReason, HandoffState

MAX_COMMENT_CHARS = 1_000
MAX_BEST_TIME_CHARS = 200
MAX_NOTE_CHARS = 1_000

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Note = Annotated[str, Field(max_length=20_000, description=f"At most {MAX_NOTE_CHARS:,} characters.")]

# --- the bot's handoff (service credential) ------------------------------------------------------------------


REASON_ALIASES = {"requested": HandoffReason.asked_for_person, "out_of_scope": HandoffReason.not_allowed_topic}
"""Older names the bot may still send, read as the contract's reasons."""


def _reason(value: object) -> object:
    return REASON_ALIASES.get(value, value) if isinstance(value, str) else value


class HandoffCreate(BaseModel):
    """The bot asks for a person: why, about what, and optionally more detail (never a secret)."""

    reason: Annotated[HandoffReason, BeforeValidator(_reason)]
    topic: Annotated[Text200 | None, AfterValidator(lambda v: v or "")] = Field(
        "", description="A topic code (`uploading_documents`...) or free text; empty: the pre-chat topic."
    )
    detail: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1_000)] | None = None


class HandoffAnswer(BaseModel):
    """What the bot tells the supplier: queued (position and estimate) or closed now (when it opens)."""

    state: Literal["queued", "closed_hours"]
    position: int | None = Field(None, description="1 = next in line (queued only).")
    estimated_wait_minutes: int | None = Field(None, description="Rough estimate (queued only).")
    opens_at_text: str | None = Field(None, description="E.g. 'Monday, July 5 at 9 a.m. Eastern Time' (closed only).")
    phone: str = PHONE


# --- the widget (client token) -----------------------------------------------------------------------------


class CallbackCreate(BaseModel):
    """A callback request made after hours: the number to call and the best time, in the supplier's words."""

    phone: Annotated[str, Field(max_length=40, description="A US number with its area code, any common format.")]
    best_time: Annotated[
        str, Field(max_length=2_000, description=f"When to call, at most {MAX_BEST_TIME_CHARS} characters.")
    ]


class CallbackPublic(BaseModel):
    phone: str = Field(description="The number to call, as (202) 555-0143.")
    best_time: str
    state: CallbackState
    available_from: dt.datetime = Field(description="When the center opens next: agents call from then.")
    available_from_text: str
    message: str


class QueueStatus(BaseModel):
    """Where the supplier's request for a person stands: read on every (re)load of the widget."""

    state: Literal["none", "queued", "with_agent", "closed_hours", "callback_requested", "left", "ended"]
    conversation_status: str
    position: int | None = None
    estimated_wait_minutes: int | None = None
    opens_at_text: str | None = None
    phone: str = PHONE
    agent_name: str | None = None
    callback_phone_prefill: str | None = Field(None, description="The pre-chat phone, for the callback form.")
    callback: CallbackPublic | None = None
    rating_requested: bool = Field(False, description="An agent closed the chat and it is not rated yet.")
    rated: bool = False
    ended_by: Literal["agent", "supplier"] | None = Field(
        None, description="Who ended the chat with the agent (`ended` only); only the agent's may start over."
    )
    message: str


class RatingCreate(BaseModel):
    rating: Annotated[int, Field(ge=-1_000, le=1_000, description="1 (poor) to 5 (excellent).")]
    comment: Annotated[str, Field(max_length=20_000, description=f"At most {MAX_COMMENT_CHARS:,} characters.")] = ""


class RatingPublic(BaseModel):
    rating: int
    comment: str
    message: str


class TypingCreate(BaseModel):
    on: bool = Field(description="True while the supplier types, false when they stop.")


class TypingAck(BaseModel):
    delivered: bool = Field(description="True when an agent has the chat and was told.")


# --- the agent console (agent's session token) -------------------------------------------------------------


class TicketPublic(BaseModel):
    ticket: str = Field(description='Send in the first WebSocket frame: {"type": "hello", "ticket": ...}.')
    expires_at: dt.datetime


class AgentPublic(BaseModel):
    user_id: str
    name: str


class SupplierPublic(BaseModel):
    """The signed-in supplier when the handoff was made (no secret of theirs)."""

    user_id: str
    first_name: str
    last_name: str
    bidder_numbers: list[str]
    organizations: list[str]


class PrechatAnswer(BaseModel):
    """A pre-chat answer as the agent reads it: the question's label, the answer (phone formatted, topic named)."""

    name: str
    label: str
    value: str


class QueueItem(BaseModel):
    """A waiting chat or callback request, as the queue shows it."""

    kind: Literal["chat", "callback"]
    id: int = Field(description="The handoff id (chat) or the callback request id (callback).")
    handoff_id: int
    conversation_id: str
    waiting_since: dt.datetime
    waiting_seconds: int
    position: int | None = Field(None, description="Place in the chat queue (chats only).")
    reason: HandoffReason
    reason_text: str
    topic: str
    topic_label: str
    prechat: dict[str, str | None]
    prechat_answers: list[PrechatAnswer]
    supplier: SupplierPublic | None
    online: bool = Field(False, description="The supplier's chat window is connected now (chats only).")
    phone: str | None = Field(None, description="The number to call (callbacks only).")
    best_time: str | None = None
    available_from: dt.datetime | None = None


class QueuePublic(BaseModel):
    items: list[QueueItem] = Field(description="Waiting chats and callback requests, oldest first.")
    chats_waiting: int
    callbacks_waiting: int
    longest_wait_seconds: int
    generated_at: dt.datetime


class HandoffSummary(BaseModel):
    handoff_id: int
    conversation_id: str
    state: HandoffState
    topic_label: str
    reason_text: str
    supplier_name: str
    claimed_at: dt.datetime | None


class CallbackDetail(BaseModel):
    id: int
    phone: str
    best_time: str
    state: CallbackState
    requested_at: dt.datetime
    available_from: dt.datetime
    agent: AgentPublic | None
    disposition: str | None


class RatingDetail(BaseModel):
    rating: int
    comment: str
    created_at: dt.datetime


class HandoffDetail(BaseModel):
    """Everything an agent sees of a handoff: never a password, code, key or token."""

    handoff_id: int
    conversation_id: str
    state: HandoffState
    conversation_status: str
    reason: HandoffReason
    reason_text: str
    topic: str
    topic_label: str
    detail: str | None
    prechat: dict[str, str | None]
    prechat_answers: list[PrechatAnswer]
    supplier: SupplierPublic | None
    requested_at: dt.datetime
    waiting_since: dt.datetime
    claimed_at: dt.datetime | None
    closed_at: dt.datetime | None
    agent: AgentPublic | None
    disposition: str | None
    internal_notes: str | None = Field(None, description="Agents' transfer notes; never shown to the supplier.")
    transcript: list[MessagePublic]
    upload_history: list[UploadPublic] | None = Field(
        None, description="The signed-in supplier's latest uploads (newest first); None when not signed in."
    )
    upload_history_total: int = 0
    callback: CallbackDetail | None = None
    rating: RatingDetail | None = None


class AgentMessageCreate(BaseModel):
    text: Note


class TransferCreate(BaseModel):
    """Give the chat to another agent (their user ID), or back to the queue (`to_agent` empty)."""

    to_agent: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    note: Note = ""


class CloseCreate(BaseModel):
    disposition: Note = Field(description="What was done, for the record (1 to 1,000 characters).")


class CannedReply(BaseModel):
    id: str
    title: str
    text: str


class AgentLoad(BaseModel):
    user_id: str
    name: str
    active: int = Field(description="Chats with this agent now.")
    closed_today: int = Field(description="Chats this agent closed today (Eastern Time).")


class DaySatisfaction(BaseModel):
    day: dt.date
    average: float | None
    ratings: int


class SupervisorStats(BaseModel):
    generated_at: dt.datetime
    chats_waiting: int
    callbacks_waiting: int
    longest_wait_seconds: int
    with_agents: int
    per_agent: list[AgentLoad]
    satisfaction_by_day: list[DaySatisfaction] = Field(description="The last 14 days (Eastern Time), oldest first.")
    chart_svg: str = Field(description="A small bar chart of the daily averages, as inline SVG.")
