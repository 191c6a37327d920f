"""The handoff from the bot to a person, and the agent console: keyword-only, synchronous, SQLAlchemy 2.0 style.

- The bot asks for a person (`request_handoff`). While the center is open the conversation joins the queue
  (chat status `queued`: the relay stops sending the supplier's turns to Rasa and only stores them); when
  it is closed the supplier learns when it opens and may ask for a callback (`request_callback`).
- Agents claim a waiting chat (`claim`: one conditional UPDATE, so exactly one of two agents wins), reply,
  transfer it, and close it with a disposition note; the supplier may then rate it (`rate`) and start over
  with the bot (`start_over`).
- Every change is stored (and committed) first, then published: to the widget through the chat's delivery,
  and to the agent consoles through `events`.

Times come from `hours.now()` (injectable) unless the caller passes `now`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import secrets
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import clock as auth_clock
from api.auth import sessions as auth_sessions
from api.auth.models import Role, User, UserSession
from api.chat import prechat as prechat_module
from api.chat import service as chat_service
from api.chat.delivery import hub
from api.chat.models import ChatMessage, Conversation, ConversationStatus, Sender
from api.chat.schemas import MAX_MESSAGE_CHARS, MessagePublic
from api.config import get_settings
from api.contact_center import PHONE, describe_opening
from api.documents import service as documents_service
from api.handoff import charts, chat_bridge, events, hours
from api.handoff.errors import HandoffError
from api.handoff.models import (
    REASON_TEXT,
    AgentTicket,
    CallbackRequest,
    CallbackState,
    Handoff,
    HandoffState,
    SatisfactionRating,
)
from api.handoff.schemas import (
    MAX_BEST_TIME_CHARS,
    MAX_COMMENT_CHARS,
    MAX_NOTE_CHARS,
    AgentLoad,
    AgentPublic,
    CallbackCreate,
    CallbackDetail,
    CallbackPublic,
    CannedReply,
    DaySatisfaction,
    HandoffAnswer,
    HandoffCreate,
    HandoffDetail,
    HandoffSummary,
    PrechatAnswer,
    QueueItem,
    QueuePublic,
    QueueStatus,
    RatingCreate,
    RatingDetail,
    RatingPublic,
    SupervisorStats,
    SupplierPublic,
    TicketPublic,
    TransferCreate,
)

CANNED_REPLIES_FILE = Path(__file__).resolve().parent / "canned_replies.json"
DEFAULT_HANDLE_MINUTES = 6.0
"""Assumed minutes an agent spends on a chat until enough chats were closed to measure it."""
HANDLE_TIME_WINDOW = dt.timedelta(days=30)
TICKET_LIFETIME = dt.timedelta(seconds=30)
UPLOAD_HISTORY_ROWS = 20
SATISFACTION_DAYS = 14

Published = list[tuple[str, ChatMessage]]


# --- small helpers ------------------------------------------------------------------------------------------


def _minutes(n: int) -> str:
    return f"{n} minute{'s' if n != 1 else ''}"


def format_phone(e164: str | None) -> str | None:
    """+12025550143 -> (202) 555-0143; anything else unchanged."""
    if e164 and re.fullmatch(r"\+1\d{10}", e164):
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164


def topic_label(topic: str) -> str:
    """The pre-chat label of a topic code ('uploading_documents' -> 'Uploading documents'), or the text."""
    for field in prechat_module.load_config().fields:
        for option in field.options:
            if option.value == topic:
                return option.label
    if re.fullmatch(r"[a-z0-9_]+", topic or ""):
        return topic.replace("_", " ").capitalize()
    return topic or "Not given"


def prechat_answers(prechat: dict[str, Any] | None) -> list[PrechatAnswer]:
    """The pre-chat answers in the form's order, labelled as the supplier saw them."""
    answers = []
    for field in prechat_module.load_config().fields:
        value = (prechat or {}).get(field.name)
        if not value:
            continue
        if field.rule == "us_phone":
            value = format_phone(value)
        value = next((o.label for o in field.options if o.value == value), value)
        answers.append(PrechatAnswer(name=field.name, label=field.label, value=str(value)))
    return answers


def _clean_text(value: str, *, limit: int, rule: str, what: str) -> str:
    text = value.strip()
    if not text or len(text) > limit:
        raise HandoffError(
            422,
            rule,
            f"The {what} must have 1 to {limit:,} characters and this one has {len(text):,}; "
            f"{'write one' if not text else 'shorten it'} and try again.",
        )
    return text


TOKEN_LIKE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")
BASE32_KEY = re.compile(r"(?<![A-Z2-7])[A-Z2-7]{16,}(?![A-Z2-7])")
CODE_ONLY = re.compile(r"^\s*\d{3}[\s-]?\d{3}\s*$")
CODE_IN_TEXT = re.compile(r"(?<![\d-])(?:\d{6}|\d{3} \d{3})(?![\d -])")
HIDDEN_CODE = "[hidden: a 6-digit number, which may be a one-time code]"
HIDDEN_SECRET = "[hidden: looks like a key or token]"  # noqa: S105  (a label, not a secret)


def redact(text: str, *, typed: bool = True) -> str:
    """What an agent may read of a message: anything shaped like a token or an authenticator key is hidden,
    and in what a person typed (or the bot's detail) so is a 6-digit number, which may be a one-time code
    typed in the wrong box. Bidder numbers reach the agent from the pre-chat form and the account instead."""
    if typed and CODE_ONLY.match(text):
        return HIDDEN_CODE
    text = BASE32_KEY.sub(HIDDEN_SECRET, TOKEN_LIKE.sub(HIDDEN_SECRET, text))
    return CODE_IN_TEXT.sub("[hidden code]", text) if typed else text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value, typed=False)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def agent_view(message: ChatMessage) -> MessagePublic:
    """A message as the agent console shows it (redacted)."""
    public = chat_service.message_public(message)
    typed = public.sender is not Sender.system  # the bot may echo what the supplier typed
    return public.model_copy(update={"text": redact(public.text, typed=typed), "data": _redact_value(public.data)})


def _agent_public(user: User | None) -> AgentPublic | None:
    return AgentPublic(user_id=user.user_id, name=f"{user.first_name} {user.last_name}") if user else None


def _supplier(handoff: Handoff) -> SupplierPublic | None:
    user = handoff.user
    if user is None:
        return None
    numbers = list(handoff.bidder_numbers or [])
    return SupplierPublic(
        user_id=user.user_id,
        first_name=user.first_name,
        last_name=user.last_name,
        bidder_numbers=numbers,
        organizations=[b.organization for b in user.bidders if b.bidder_number in numbers],
    )


def _supplier_name(handoff: Handoff) -> str:
    prechat = handoff.prechat or {}
    name = " ".join(p for p in (prechat.get("first_name"), prechat.get("last_name")) if p)
    return name or (handoff.user.user_id if handoff.user else "Supplier")


def _fresh(statement: Select[Any]) -> Select[Any]:
    """The rows as the database has them now (conditional UPDATEs bypass the session's identity map)."""
    return statement.execution_options(populate_existing=True)


def _latest_handoff(db: Session, conversation_id: str) -> Handoff | None:
    return db.scalar(
        _fresh(select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc()).limit(1))
    )


def _handoff_or_404(db: Session, handoff_id: int) -> Handoff:
    handoff = db.get(Handoff, handoff_id)
    if handoff is None:
        raise HandoffError(404, "handoff_not_found", "No handoff has this id; pick a chat from the queue.")
    db.refresh(handoff)
    return handoff


def _queued(db: Session) -> list[Handoff]:
    """Waiting chats, oldest first (a chat sent back to the queue keeps its place)."""
    return list(
        db.scalars(
            _fresh(
                select(Handoff)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.state == HandoffState.queued, Conversation.status == ConversationStatus.queued)
                .order_by(Handoff.waiting_since, Handoff.id)
            )
        )
    )


def _position(db: Session, handoff: Handoff) -> int | None:
    for index, row in enumerate(_queued(db), start=1):
        if row.id == handoff.id:
            return index
    return None


def average_handle_minutes(*, db: Session, now: dt.datetime) -> float:
    """Mean minutes from claim to close of the chats closed in the last 30 days (2 to 30), or the default."""
    rows = db.execute(
        select(Handoff.claimed_at, Handoff.closed_at)
        .where(
            Handoff.state == HandoffState.closed,
            Handoff.claimed_at.is_not(None),
            Handoff.closed_at >= now - HANDLE_TIME_WINDOW,
        )
        .order_by(Handoff.closed_at.desc())
        .limit(200)
    ).all()
    durations = [
        (hours.aware(closed) - hours.aware(claimed)).total_seconds() / 60
        for claimed, closed in rows
        if closed and claimed
    ]
    if not durations:
        return DEFAULT_HANDLE_MINUTES
    return min(30.0, max(2.0, sum(durations) / len(durations)))


def estimate_wait_minutes(*, db: Session, position: int, now: dt.datetime) -> int:
    """Position x average handling time / agents connected (at least one), rounded up, at least 1."""
    agents = max(1, events.agents_online())
    return max(1, math.ceil(position * average_handle_minutes(db=db, now=now) / agents))


def _queue_text(position: int, minutes: int) -> str:
    if position == 1:
        return f"You're next in the queue for a person. Estimated wait: about {_minutes(minutes)}."
    return f"You're number {position} in the queue for a person. Estimated wait: about {_minutes(minutes)}."


def _announce_positions(*, db: Session, now: dt.datetime) -> None:
    """Tell every waiting supplier whose place changed their new place (stored, then delivered)."""
    for index, handoff in enumerate(_queued(db), start=1):
        if handoff.announced_position == index:
            continue
        changed = db.execute(
            update(Handoff)
            .where(
                Handoff.id == handoff.id,
                Handoff.state == HandoffState.queued,
                or_(Handoff.announced_position.is_(None), Handoff.announced_position != index),
            )
            .values(announced_position=index)
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0) != 1:
            db.rollback()
            continue
        minutes = estimate_wait_minutes(db=db, position=index, now=now)
        message = chat_bridge.system_event(
            db=db,
            conversation_id=handoff.conversation_id,
            text=_queue_text(index, minutes),
            data={
                "event": "handoff",
                "type": "handoff",
                "state": "queued",
                "position": index,
                "estimated_wait_minutes": minutes,
            },
        )
        db.commit()
        chat_bridge.publish(handoff.conversation_id, [message])


def _after_change(*, db: Session, now: dt.datetime) -> None:
    """After the queue changed: new places for those waiting, and a fresh queue for every console."""
    _announce_positions(db=db, now=now)
    events.queue_changed()


# --- the bot's handoff --------------------------------------------------------------------------------------


def _conversation_or_404(db: Session, conversation_id: str) -> Conversation:
    conversation = db.get(Conversation, conversation_id)
    if conversation is None:
        raise HandoffError(
            404, "conversation_not_found", "No chat has this id; hand over the conversation the supplier is in."
        )
    db.refresh(conversation)
    return conversation


def request_handoff(
    *, db: Session, conversation_id: str, data: HandoffCreate, now: dt.datetime | None = None
) -> HandoffAnswer:
    """Hand a conversation to a person: the queue while the center is open, else when it opens and a callback."""
    now = hours.utc_now(now)
    conversation = _conversation_or_404(db, conversation_id)
    current = _latest_handoff(db, conversation_id)
    if conversation.status is ConversationStatus.closed:
        raise HandoffError(
            409,
            "conversation_closed",
            "This chat has ended, so it cannot be handed to a person; the supplier can start a new chat.",
        )
    if conversation.status is ConversationStatus.with_agent:
        raise HandoffError(
            409, "already_with_agent", "This chat is already with an agent; the bot does not hand it over again."
        )
    if conversation.status is ConversationStatus.queued and current and current.state is HandoffState.queued:
        position = _position(db, current) or 1
        minutes = estimate_wait_minutes(db=db, position=position, now=now)
        return HandoffAnswer(state="queued", position=position, estimated_wait_minutes=minutes)
    center = hours.center_hours(now)
    topic = data.topic or str(conversation.prechat.get("topic") or "")
    session = auth_sessions.session_for_conversation(db=db, conversation_id=conversation_id)
    user = session.user if session is not None else None
    if not center.open_now and current is not None and current.state is HandoffState.after_hours:
        handoff = current  # asked again after hours: the same request, the latest reason and topic
        handoff.reason, handoff.topic, handoff.detail = data.reason, topic, data.detail
        handoff.opens_at = center.opens_at
    else:
        handoff = Handoff(
            conversation_id=conversation_id,
            reason=data.reason,
            topic=topic,
            detail=data.detail or None,
            state=HandoffState.queued if center.open_now else HandoffState.after_hours,
            prechat=dict(conversation.prechat),
            user_pk=user.id if user else None,
            bidder_numbers=user.bidder_numbers if user else [],
            requested_at=now,
            waiting_since=now,
            opens_at=center.opens_at,
            transfers=0,
        )
        db.add(handoff)
    db.flush()
    if not center.open_now:
        assert center.opens_at is not None and center.opens_at_text is not None
        prefill = format_phone(conversation.prechat.get("phone"))
        message = chat_bridge.system_event(
            db=db,
            conversation_id=conversation_id,
            text=f"The customer service center is closed now. It opens {center.opens_at_text}; call {PHONE} "
            "then, or leave your number and the best time to call and we'll call you back.",
            data={
                "event": "handoff",
                "type": "handoff",
                "state": "closed_hours",
                "opens_at": center.opens_at.isoformat(),
                "opens_at_text": center.opens_at_text,
                "phone": PHONE,
                "callback_phone_prefill": prefill,
            },
        )
        db.commit()
        chat_bridge.publish(conversation_id, [message])
        return HandoffAnswer(state="closed_hours", opens_at_text=center.opens_at_text)
    if not chat_bridge.try_status(
        db=db,
        conversation_id=conversation_id,
        expected=(ConversationStatus.bot,),
        status=ConversationStatus.queued,
        now=now,
    ):
        db.rollback()  # the status changed meanwhile (another handoff, the supplier ended the chat)
        raise HandoffError(
            409, "already_with_agent", "This chat was just handed over or ended; the bot does not hand it over again."
        )
    db.flush()
    position = _position(db, handoff) or 1
    minutes = estimate_wait_minutes(db=db, position=position, now=now)
    handoff.announced_position = position
    message = chat_bridge.system_event(
        db=db,
        conversation_id=conversation_id,
        text=_queue_text(position, minutes),
        data={
            "event": "status",
            "status": ConversationStatus.queued.value,
            "type": "handoff",
            "state": "queued",
            "position": position,
            "estimated_wait_minutes": minutes,
            "reason": data.reason.value,
        },
    )
    db.commit()
    chat_bridge.publish(conversation_id, [message], status=ConversationStatus.queued)
    events.queue_changed()
    return HandoffAnswer(state="queued", position=position, estimated_wait_minutes=minutes)


# --- the widget: queue, leaving it, callbacks, rating, starting over ---------------------------------------


def _callback_public(callback: CallbackRequest, *, now: dt.datetime, message: str = "") -> CallbackPublic:
    available = hours.aware(callback.available_from)
    text = describe_opening(available.astimezone(get_settings().tz), now) if available > now else "now"
    return CallbackPublic(
        phone=format_phone(callback.phone) or callback.phone,
        best_time=callback.best_time,
        state=callback.state,
        available_from=available,
        available_from_text=text,
        message=message
        or f"We'll call {format_phone(callback.phone)} ({callback.best_time}) when the center opens, {text}.",
    )


def _rating_of(db: Session, handoff_id: int) -> SatisfactionRating | None:
    return db.scalar(_fresh(select(SatisfactionRating).where(SatisfactionRating.handoff_id == handoff_id)))


def queue_status(*, db: Session, conversation: Conversation, now: dt.datetime | None = None) -> QueueStatus:
    """Where the supplier's request for a person stands (the widget reads it on every load)."""
    now = hours.utc_now(now)
    db.refresh(conversation)
    status = conversation.status
    handoff = _latest_handoff(db, conversation.id)
    prefill = format_phone(conversation.prechat.get("phone"))
    base: dict[str, Any] = {"conversation_status": status.value, "callback_phone_prefill": prefill}
    if handoff is None:
        return QueueStatus(state="none", message="This chat has not asked for a person.", **base)
    if handoff.state is HandoffState.queued and status is ConversationStatus.queued:
        position = _position(db, handoff) or 1
        minutes = estimate_wait_minutes(db=db, position=position, now=now)
        return QueueStatus(
            state="queued",
            position=position,
            estimated_wait_minutes=minutes,
            message=_queue_text(position, minutes),
            **base,
        )
    if handoff.state is HandoffState.with_agent and status is ConversationStatus.with_agent:
        name = handoff.agent.first_name if handoff.agent else "An agent"
        return QueueStatus(
            state="with_agent", agent_name=name, message=f"You're chatting with {name} from customer service.", **base
        )
    if handoff.state is HandoffState.after_hours:
        callback = db.scalar(_fresh(select(CallbackRequest).where(CallbackRequest.handoff_id == handoff.id)))
        opens_at = hours.aware(handoff.opens_at) if handoff.opens_at else None
        opens_text = (
            describe_opening(opens_at.astimezone(get_settings().tz), now) if opens_at and opens_at > now else None
        )
        if callback is not None:
            public = _callback_public(callback, now=now)
            return QueueStatus(
                state="callback_requested", opens_at_text=opens_text, callback=public, message=public.message, **base
            )
        return QueueStatus(
            state="closed_hours",
            opens_at_text=opens_text,
            message=f"The customer service center is closed now. It opens {opens_text or 'soon'}; call {PHONE} "
            "then, or ask us to call you back.",
            **base,
        )
    supplier_ended = handoff.state is HandoffState.with_agent and status is ConversationStatus.closed
    if handoff.state is HandoffState.closed or supplier_ended:
        rated = _rating_of(db, handoff.id) is not None
        return QueueStatus(
            state="ended",
            rating_requested=not rated,
            rated=rated,
            ended_by="supplier" if supplier_ended else "agent",
            message=("You ended the chat." if supplier_ended else "The agent closed the chat.")
            + ("" if rated else " Rate it from 1 to 5, or start over with the assistant."),
            **base,
        )
    if handoff.state is HandoffState.left:
        return QueueStatus(state="left", message="You left the queue; the assistant answers again.", **base)
    return QueueStatus(state="ended", message="This request for a person has ended.", **base)


def leave_queue(*, db: Session, conversation: Conversation, now: dt.datetime | None = None) -> QueueStatus:
    """The supplier leaves the queue: the assistant answers again (a system message says so)."""
    now = hours.utc_now(now)
    handoff = _latest_handoff(db, conversation.id)
    db.commit()
    moved = handoff is not None and chat_bridge.try_status(
        db=db,
        conversation_id=conversation.id,
        expected=(ConversationStatus.queued,),
        status=ConversationStatus.bot,
        now=now,
    )
    if not moved or handoff is None:
        db.rollback()
        db.refresh(conversation)
        if conversation.status is ConversationStatus.with_agent:
            raise HandoffError(
                409, "not_in_queue", "An agent has just joined your chat, so it is no longer in the queue; reply here."
            )
        raise HandoffError(409, "not_in_queue", "This chat is not waiting in the queue, so there is nothing to leave.")
    db.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.state == HandoffState.queued)
        .values(state=HandoffState.left, closed_at=now, announced_position=None)
        .execution_options(synchronize_session=False)
    )
    message = chat_bridge.system_event(
        db=db,
        conversation_id=conversation.id,
        text="You left the queue. The assistant is back: ask it anything, or ask for a person again.",
        data={"event": "status", "status": ConversationStatus.bot.value, "type": "handoff", "state": "left"},
    )
    db.commit()
    chat_bridge.publish(conversation.id, [message], status=ConversationStatus.bot)
    _after_change(db=db, now=now)
    return queue_status(db=db, conversation=conversation, now=now)


def request_callback(
    *, db: Session, conversation: Conversation, data: CallbackCreate, now: dt.datetime | None = None
) -> tuple[CallbackPublic, bool]:
    """(callback, created): store a callback request for the next open day (a second request updates it)."""
    now = hours.utc_now(now)
    phone = prechat_module.normalize_us_phone(data.phone.strip()) if data.phone.strip() else None
    if phone is None:
        raise HandoffError(
            422, "invalid_phone", "Phone: enter a 10-digit US number with its area code, for example (202) 555-0143."
        )
    best_time = " ".join(data.best_time.split())
    if not best_time or len(best_time) > MAX_BEST_TIME_CHARS:
        raise HandoffError(
            422,
            "best_time_required",
            f"Best time to call: say when we should call, in up to {MAX_BEST_TIME_CHARS} characters "
            "(for example, Monday morning).",
        )
    handoff = _latest_handoff(db, conversation.id)
    if handoff is None or handoff.state is not HandoffState.after_hours:
        raise HandoffError(
            409,
            "callback_not_offered",
            "A callback can be requested only after the assistant offered one while the center was closed; "
            "ask for a person in the chat.",
        )
    available = hours.aware(handoff.opens_at) if handoff.opens_at else hours.center_hours(now).opens_at or now
    callback = db.scalar(_fresh(select(CallbackRequest).where(CallbackRequest.handoff_id == handoff.id)))
    created = callback is None
    if callback is None:
        callback = CallbackRequest(
            handoff_id=handoff.id,
            conversation_id=conversation.id,
            phone=phone,
            best_time=best_time,
            state=CallbackState.waiting,
            requested_at=now,
            available_from=available,
        )
        db.add(callback)
    elif callback.state is CallbackState.waiting:
        callback.phone, callback.best_time = phone, best_time
    else:
        raise HandoffError(
            409, "callback_not_waiting", "An agent is already handling your callback request, so it cannot change now."
        )
    try:
        db.flush()
    except IntegrityError:  # the same request arrived twice at once: the first one is kept
        db.rollback()
        callback = db.scalar(_fresh(select(CallbackRequest).where(CallbackRequest.handoff_id == handoff.id)))
        assert callback is not None
        return _callback_public(callback, now=now), False
    public = _callback_public(callback, now=now)
    message = chat_bridge.system_event(
        db=db,
        conversation_id=conversation.id,
        text=("Callback requested. " if created else "Callback request updated. ") + public.message,
        data={
            "event": "handoff",
            "type": "handoff",
            "state": "callback_requested",
            "phone": public.phone,
            "best_time": public.best_time,
            "available_from_text": public.available_from_text,
        },
    )
    db.commit()
    chat_bridge.publish(conversation.id, [message])
    events.queue_changed()
    return public, created


def rate(*, db: Session, conversation: Conversation, data: RatingCreate) -> RatingPublic:
    """Store the supplier's 1-5 rating (and comment) of the chat an agent closed; once per chat."""
    if not 1 <= data.rating <= 5:
        raise HandoffError(422, "rating_out_of_range", "Rating: choose a whole number from 1 (poor) to 5 (excellent).")
    comment = data.comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise HandoffError(
            422,
            "comment_too_long",
            f"Comment: use at most {MAX_COMMENT_CHARS:,} characters (this one has {len(comment):,}); shorten it.",
        )
    db.refresh(conversation)
    latest = _latest_handoff(db, conversation.id)
    supplier_ended = (  # the supplier ended the chat while an agent had it (before the agent's disposition)
        latest is not None
        and latest.state is HandoffState.with_agent
        and conversation.status is ConversationStatus.closed
    )
    handoff = (
        latest
        if supplier_ended
        else db.scalar(
            select(Handoff)
            .where(Handoff.conversation_id == conversation.id, Handoff.state == HandoffState.closed)
            .order_by(Handoff.id.desc())
            .limit(1)
        )
    )
    if handoff is None:
        raise HandoffError(
            409,
            "rating_not_requested",
            "Only a chat with an agent can be rated, once it has ended; rate it after you or the agent end it.",
        )
    if _rating_of(db, handoff.id) is not None:
        raise HandoffError(409, "already_rated", "You rated this chat already; thank you, nothing more is needed.")
    db.add(
        SatisfactionRating(
            handoff_id=handoff.id,
            agent_pk=handoff.agent_pk,
            rating=data.rating,
            comment=comment,
            created_at=hours.utc_now(),
        )
    )
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise HandoffError(
            409, "already_rated", "You rated this chat already; thank you, nothing more is needed."
        ) from None
    message = chat_bridge.system_event(
        db=db,
        conversation_id=conversation.id,
        text=f"Thank you for rating this chat {data.rating} out of 5.",
        data={"event": "handoff", "type": "handoff", "state": "rated", "rating": data.rating},
    )
    db.commit()
    chat_bridge.publish(conversation.id, [message])
    return RatingPublic(rating=data.rating, comment=comment, message=message.text)


def start_over(*, db: Session, conversation: Conversation, now: dt.datetime | None = None) -> QueueStatus:
    """After an agent closed the chat, the supplier goes back to the assistant in the same chat."""
    now = hours.utc_now(now)
    db.refresh(conversation)
    handoff = _latest_handoff(db, conversation.id)
    if conversation.status is ConversationStatus.bot:
        return queue_status(db=db, conversation=conversation, now=now)
    agent_closed = handoff is not None and handoff.state is HandoffState.closed
    if not agent_closed or conversation.status is not ConversationStatus.closed:
        raise HandoffError(
            409,
            "cannot_start_over",
            "Only a chat an agent has closed can go back to the assistant; to leave the queue use Leave queue.",
        )
    db.commit()
    if not chat_bridge.try_status(
        db=db,
        conversation_id=conversation.id,
        expected=(ConversationStatus.closed,),
        status=ConversationStatus.bot,
        now=now,
    ):
        db.rollback()
        return queue_status(db=db, conversation=conversation, now=now)
    db.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(closed_at=None)
        .execution_options(synchronize_session=False)
    )
    message = chat_bridge.system_event(
        db=db,
        conversation_id=conversation.id,
        text="You're back with the assistant.",
        data={"event": "status", "status": ConversationStatus.bot.value, "type": "handoff", "state": "bot"},
    )
    db.commit()
    chat_bridge.publish(conversation.id, [message], status=ConversationStatus.bot)
    return queue_status(db=db, conversation=conversation, now=now)


def supplier_typing(*, db: Session, conversation: Conversation, on: bool) -> bool:
    """Tell the agent who has the chat that the supplier is typing; False when no agent has it."""
    db.refresh(conversation)
    if conversation.status is not ConversationStatus.with_agent:
        return False
    events.supplier_typing(conversation.id, on)
    return True


# --- agent WebSocket tickets --------------------------------------------------------------------------------


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue_ticket(*, db: Session, session: UserSession) -> TicketPublic:
    """A single-use ticket, good for 30 seconds, that opens the agent WebSocket for this session."""
    now = auth_clock.now()
    ticket = "wst_" + secrets.token_urlsafe(32)
    db.add(
        AgentTicket(
            ticket_hash=_ticket_hash(ticket), session_pk=session.id, created_at=now, expires_at=now + TICKET_LIFETIME
        )
    )
    db.commit()
    return TicketPublic(ticket=ticket, expires_at=now + TICKET_LIFETIME)


def redeem_ticket(*, db: Session, ticket: str) -> tuple[int, int, str, str] | None:
    """(agent pk, session pk, user ID, first name) for a fresh, unused ticket of a valid agent session, once."""
    now = auth_clock.now()
    used = db.execute(
        update(AgentTicket)
        .where(
            AgentTicket.ticket_hash == _ticket_hash(ticket), AgentTicket.used_at.is_(None), AgentTicket.expires_at > now
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(used, "rowcount", 0) != 1:
        db.rollback()
        return None
    row = db.scalar(select(AgentTicket).where(AgentTicket.ticket_hash == _ticket_hash(ticket)))
    db.commit()
    session = db.get(UserSession, row.session_pk) if row else None
    if session is None or not auth_sessions.is_valid(session) or session.user.role is not Role.agent:
        return None
    return session.user.id, session.id, session.user.user_id, session.user.first_name


def session_is_valid(*, db: Session, session_pk: int) -> bool:
    session = db.get(UserSession, session_pk)
    return session is not None and auth_sessions.is_valid(session)


# --- the agent console ------------------------------------------------------------------------------------


def _mark_abandoned(db: Session, now: dt.datetime) -> None:
    """Chats that ended (or went back to the bot) while waiting leave the queue."""
    result = db.execute(
        update(Handoff)
        .where(
            Handoff.state == HandoffState.queued,
            Handoff.conversation_id.in_(
                select(Conversation.id).where(
                    Conversation.status.in_((ConversationStatus.closed, ConversationStatus.bot))
                )
            ),
        )
        .values(state=HandoffState.abandoned, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0):
        db.commit()
    else:
        db.rollback()


def _waited(since: dt.datetime, now: dt.datetime) -> int:
    return max(0, int((now - hours.aware(since)).total_seconds()))


def _chat_item(handoff: Handoff, position: int, now: dt.datetime) -> QueueItem:
    return QueueItem(
        kind="chat",
        id=handoff.id,
        handoff_id=handoff.id,
        conversation_id=handoff.conversation_id,
        waiting_since=hours.aware(handoff.waiting_since),
        waiting_seconds=_waited(handoff.waiting_since, now),
        position=position,
        reason=handoff.reason,
        reason_text=REASON_TEXT[handoff.reason],
        topic=handoff.topic,
        topic_label=topic_label(handoff.topic),
        prechat=handoff.prechat or {},
        prechat_answers=prechat_answers(handoff.prechat),
        supplier=_supplier(handoff),
        online=hub.subscriber_count(handoff.conversation_id) > 0,
    )


def _callback_item(callback: CallbackRequest, now: dt.datetime) -> QueueItem:
    handoff = callback.handoff
    return QueueItem(
        kind="callback",
        id=callback.id,
        handoff_id=handoff.id,
        conversation_id=callback.conversation_id,
        waiting_since=hours.aware(callback.requested_at),
        waiting_seconds=_waited(callback.requested_at, now),
        reason=handoff.reason,
        reason_text=REASON_TEXT[handoff.reason],
        topic=handoff.topic,
        topic_label=topic_label(handoff.topic),
        prechat=handoff.prechat or {},
        prechat_answers=prechat_answers(handoff.prechat),
        supplier=_supplier(handoff),
        phone=format_phone(callback.phone),
        best_time=callback.best_time,
        available_from=hours.aware(callback.available_from),
    )


def agent_queue(*, db: Session, now: dt.datetime | None = None) -> QueuePublic:
    """Waiting chats and callback requests, oldest first, with how long each has waited."""
    now = hours.utc_now(now)
    _mark_abandoned(db, now)
    chats = [_chat_item(h, i, now) for i, h in enumerate(_queued(db), start=1)]
    callbacks = [
        _callback_item(c, now)
        for c in db.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.state == CallbackState.waiting)
            .order_by(CallbackRequest.requested_at, CallbackRequest.id)
        )
    ]
    items = sorted(chats + callbacks, key=lambda item: (item.waiting_since, item.kind, item.id))
    return QueuePublic(
        items=items,
        chats_waiting=len(chats),
        callbacks_waiting=len(callbacks),
        longest_wait_seconds=max((i.waiting_seconds for i in items), default=0),
        generated_at=now,
    )


def handoff_detail(*, db: Session, handoff_id: int) -> HandoffDetail:
    """Everything about a handoff an agent needs: the answers, the supplier, the transcript, their uploads."""
    handoff = _handoff_or_404(db, handoff_id)
    conversation = db.get(Conversation, handoff.conversation_id)
    history = None
    total = 0
    if handoff.user is not None:
        rows, total = documents_service.list_uploads(db=db, user=handoff.user, page_size=UPLOAD_HISTORY_ROWS)
        history = [documents_service.to_public(r) for r in rows]
    callback = db.scalar(_fresh(select(CallbackRequest).where(CallbackRequest.handoff_id == handoff.id)))
    rating = _rating_of(db, handoff.id)
    return HandoffDetail(
        handoff_id=handoff.id,
        conversation_id=handoff.conversation_id,
        state=handoff.state,
        conversation_status=conversation.status.value if conversation else ConversationStatus.closed.value,
        reason=handoff.reason,
        reason_text=REASON_TEXT[handoff.reason],
        topic=handoff.topic,
        topic_label=topic_label(handoff.topic),
        detail=redact(handoff.detail) if handoff.detail else None,
        prechat=handoff.prechat or {},
        prechat_answers=prechat_answers(handoff.prechat),
        supplier=_supplier(handoff),
        requested_at=hours.aware(handoff.requested_at),
        waiting_since=hours.aware(handoff.waiting_since),
        claimed_at=hours.aware(handoff.claimed_at) if handoff.claimed_at else None,
        closed_at=hours.aware(handoff.closed_at) if handoff.closed_at else None,
        agent=_agent_public(handoff.agent),
        disposition=handoff.disposition,
        internal_notes=handoff.internal_notes,
        transcript=[agent_view(m) for m in chat_bridge.transcript(db=db, conversation_id=handoff.conversation_id)],
        upload_history=history,
        upload_history_total=total,
        callback=(
            CallbackDetail(
                id=callback.id,
                phone=format_phone(callback.phone) or callback.phone,
                best_time=callback.best_time,
                state=callback.state,
                requested_at=hours.aware(callback.requested_at),
                available_from=hours.aware(callback.available_from),
                agent=_agent_public(callback.agent),
                disposition=callback.disposition,
            )
            if callback
            else None
        ),
        rating=(
            RatingDetail(rating=rating.rating, comment=rating.comment, created_at=hours.aware(rating.created_at))
            if rating
            else None
        ),
    )


def _claim_refused(db: Session, handoff: Handoff) -> HandoffError:
    db.rollback()
    db.refresh(handoff)
    if handoff.state is HandoffState.with_agent and handoff.agent is not None:
        return HandoffError(
            409,
            "already_claimed",
            f"{handoff.agent.first_name} {handoff.agent.last_name} claimed this chat first; "
            "pick another one from the queue.",
        )
    return HandoffError(
        409, "already_claimed", "This chat is no longer waiting (the supplier left); pick another one from the queue."
    )


def claim(*, db: Session, agent: User, handoff_id: int, now: dt.datetime | None = None) -> HandoffDetail:
    """Take a waiting chat. Exactly one of several agents claiming at once wins; the others get a 409."""
    now = hours.utc_now(now)
    handoff = _handoff_or_404(db, handoff_id)
    if handoff.state is not HandoffState.queued:
        raise _claim_refused(db, handoff)
    db.commit()  # a fresh transaction whose first statement is the conditional UPDATE
    if not chat_bridge.try_status(
        db=db,
        conversation_id=handoff.conversation_id,
        expected=(ConversationStatus.queued,),
        status=ConversationStatus.with_agent,
        now=now,
    ):
        raise _claim_refused(db, handoff)
    taken = db.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.state == HandoffState.queued)
        .values(state=HandoffState.with_agent, agent_pk=agent.id, claimed_at=now, announced_position=None)
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        raise _claim_refused(db, handoff)
    message = chat_bridge.system_event(
        db=db,
        conversation_id=handoff.conversation_id,
        text=f"{agent.first_name} from the customer service center joined the chat.",
        data={
            "event": "status",
            "status": ConversationStatus.with_agent.value,
            "type": "handoff",
            "state": "with_agent",
            "agent_name": agent.first_name,
        },
    )
    db.commit()
    chat_bridge.publish(handoff.conversation_id, [message], status=ConversationStatus.with_agent)
    _after_change(db=db, now=now)
    return handoff_detail(db=db, handoff_id=handoff.id)


def _own_active(db: Session, agent: User, handoff_id: int) -> Handoff:
    handoff = _handoff_or_404(db, handoff_id)
    if handoff.state is HandoffState.closed:
        raise HandoffError(409, "handoff_closed", "This chat was closed already; open another one from the queue.")
    if handoff.state is not HandoffState.with_agent or handoff.agent_pk != agent.id:
        who = f"{handoff.agent.first_name} has this chat now" if handoff.agent else "No agent has this chat"
        raise HandoffError(409, "not_your_conversation", f"{who}; claim a chat from the queue to reply to it.")
    return handoff


def agent_reply(*, db: Session, agent: User, handoff_id: int, text: str) -> MessagePublic:
    """Send the supplier a message from the agent who has the chat (delivered to the widget at once)."""
    handoff = _own_active(db, agent, handoff_id)
    body = _clean_text(text, limit=MAX_MESSAGE_CHARS, rule="text_required", what="message")
    conversation = db.get(Conversation, handoff.conversation_id)
    if conversation is None or conversation.status is ConversationStatus.closed:
        raise HandoffError(
            409, "conversation_closed", "The supplier ended this chat; close it with a disposition note."
        )
    message = chat_service.post_agent_message(
        db=db, conversation_id=handoff.conversation_id, agent_name=agent.first_name, text=body
    )
    return agent_view(message)


def _note(existing: str | None, line: str) -> str:
    return f"{existing}\n{line}" if existing else line


def transfer(
    *, db: Session, agent: User, handoff_id: int, data: TransferCreate, now: dt.datetime | None = None
) -> HandoffDetail:
    """Give the chat to another agent, or back to the queue (where it keeps its place)."""
    now = hours.utc_now(now)
    handoff = _own_active(db, agent, handoff_id)
    note = data.note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise HandoffError(
            422, "text_required", f"The transfer note can have at most {MAX_NOTE_CHARS:,} characters; shorten it."
        )
    stamp = f"{now.astimezone(get_settings().tz):%b %d %I:%M %p} {agent.first_name}"
    if data.to_agent:
        target = db.scalar(select(User).where(User.user_id == data.to_agent, User.role == Role.agent))
        if target is None or target.id == agent.id:
            raise HandoffError(
                404, "agent_not_found", "No other agent has this user ID; choose an agent from the list."
            )
        db.commit()
        moved = db.execute(
            update(Handoff)
            .where(Handoff.id == handoff.id, Handoff.state == HandoffState.with_agent, Handoff.agent_pk == agent.id)
            .values(
                agent_pk=target.id,
                claimed_at=now,
                transfers=Handoff.transfers + 1,
                internal_notes=_note(handoff.internal_notes, f"{stamp} -> {target.first_name}: {note or '(no note)'}"),
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) != 1:
            db.rollback()
            raise HandoffError(409, "not_your_conversation", "This chat is no longer yours; it was not transferred.")
        message = chat_bridge.system_event(
            db=db,
            conversation_id=handoff.conversation_id,
            text=f"{agent.first_name} passed your chat to {target.first_name}, who will answer here.",
            data={"event": "handoff", "type": "handoff", "state": "with_agent", "agent_name": target.first_name},
        )
        db.commit()
        chat_bridge.publish(handoff.conversation_id, [message])
        events.assigned(target.id, handoff_id=handoff.id, conversation_id=handoff.conversation_id, by=agent.first_name)
        events.queue_changed()
        return handoff_detail(db=db, handoff_id=handoff.id)
    db.commit()
    if not chat_bridge.try_status(
        db=db,
        conversation_id=handoff.conversation_id,
        expected=(ConversationStatus.with_agent,),
        status=ConversationStatus.queued,
        now=now,
    ):
        db.rollback()
        raise HandoffError(
            409, "conversation_closed", "The supplier ended this chat; close it with a disposition note."
        )
    moved = db.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.state == HandoffState.with_agent, Handoff.agent_pk == agent.id)
        .values(
            state=HandoffState.queued,
            agent_pk=None,
            claimed_at=None,
            transfers=Handoff.transfers + 1,
            internal_notes=_note(handoff.internal_notes, f"{stamp} -> queue: {note or '(no note)'}"),
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        db.rollback()
        raise HandoffError(409, "not_your_conversation", "This chat is no longer yours; it was not transferred.")
    db.flush()
    db.refresh(handoff)
    position = _position(db, handoff) or 1
    minutes = estimate_wait_minutes(db=db, position=position, now=now)
    handoff.announced_position = position
    message = chat_bridge.system_event(
        db=db,
        conversation_id=handoff.conversation_id,
        text=f"{agent.first_name} passed your chat to the next available agent. " + _queue_text(position, minutes),
        data={
            "event": "status",
            "status": ConversationStatus.queued.value,
            "type": "handoff",
            "state": "queued",
            "position": position,
            "estimated_wait_minutes": minutes,
        },
    )
    db.commit()
    chat_bridge.publish(handoff.conversation_id, [message], status=ConversationStatus.queued)
    _after_change(db=db, now=now)
    return handoff_detail(db=db, handoff_id=handoff.id)


def close(
    *, db: Session, agent: User, handoff_id: int, disposition: str, now: dt.datetime | None = None
) -> HandoffDetail:
    """Close the chat with a disposition note; the supplier is asked for a rating and may start over."""
    now = hours.utc_now(now)
    handoff = _own_active(db, agent, handoff_id)
    note = _clean_text(disposition, limit=MAX_NOTE_CHARS, rule="text_required", what="disposition note")
    db.commit()
    chat_bridge.try_status(  # False when the supplier ended the chat first: the handoff closes all the same
        db=db,
        conversation_id=handoff.conversation_id,
        expected=(ConversationStatus.with_agent,),
        status=ConversationStatus.closed,
        now=now,
    )
    closed = db.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.state == HandoffState.with_agent, Handoff.agent_pk == agent.id)
        .values(state=HandoffState.closed, closed_at=now, disposition=note)
        .execution_options(synchronize_session=False)
    )
    if getattr(closed, "rowcount", 0) != 1:
        db.rollback()
        raise HandoffError(409, "not_your_conversation", "This chat is no longer yours; it was not closed.")
    rated = _rating_of(db, handoff.id) is not None  # the supplier ended the chat and rated it already
    message = chat_bridge.system_event(
        db=db,
        conversation_id=handoff.conversation_id,
        text=f"{agent.first_name} closed the chat."
        + ("" if rated else " How did we do? Rate this chat from 1 to 5, or start over with the assistant."),
        data={
            "event": "status",
            "status": ConversationStatus.closed.value,
            "type": "handoff",
            "state": "ended",
            "rating_requested": not rated,
        },
    )
    db.commit()
    chat_bridge.publish(handoff.conversation_id, [message], status=ConversationStatus.closed)
    events.queue_changed()
    return handoff_detail(db=db, handoff_id=handoff.id)


def my_conversations(*, db: Session, agent: User) -> list[HandoffSummary]:
    """The chats this agent has now, oldest claim first."""
    rows = db.scalars(
        select(Handoff)
        .where(Handoff.state == HandoffState.with_agent, Handoff.agent_pk == agent.id)
        .order_by(Handoff.claimed_at, Handoff.id)
    )
    return [
        HandoffSummary(
            handoff_id=h.id,
            conversation_id=h.conversation_id,
            state=h.state,
            topic_label=topic_label(h.topic),
            reason_text=REASON_TEXT[h.reason],
            supplier_name=_supplier_name(h),
            claimed_at=hours.aware(h.claimed_at) if h.claimed_at else None,
        )
        for h in rows
    ]


def _callback_or_404(db: Session, callback_id: int) -> CallbackRequest:
    callback = db.get(CallbackRequest, callback_id)
    if callback is None:
        raise HandoffError(404, "callback_not_found", "No callback request has this id; pick one from the queue.")
    db.refresh(callback)
    return callback


def claim_callback(*, db: Session, agent: User, callback_id: int, now: dt.datetime | None = None) -> HandoffDetail:
    """Take a waiting callback request (to call the supplier); one agent only."""
    now = hours.utc_now(now)
    callback = _callback_or_404(db, callback_id)
    db.commit()
    taken = db.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == callback.id, CallbackRequest.state == CallbackState.waiting)
        .values(state=CallbackState.claimed, agent_pk=agent.id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        db.rollback()
        raise HandoffError(
            409, "callback_not_waiting", "Another agent took this callback request first; pick another from the queue."
        )
    db.commit()
    events.queue_changed()
    return handoff_detail(db=db, handoff_id=callback.handoff_id)


def complete_callback(*, db: Session, agent: User, callback_id: int, disposition: str) -> HandoffDetail:
    """Record how the call went; the request leaves the queue."""
    callback = _callback_or_404(db, callback_id)
    note = _clean_text(disposition, limit=MAX_NOTE_CHARS, rule="text_required", what="disposition note")
    if callback.state is not CallbackState.claimed or callback.agent_pk != agent.id:
        raise HandoffError(
            409, "callback_not_yours", "Claim this callback request before recording the call; it is not yours now."
        )
    callback.state = CallbackState.done
    callback.done_at = hours.utc_now()
    callback.disposition = note
    db.commit()
    events.queue_changed()
    return handoff_detail(db=db, handoff_id=callback.handoff_id)


def list_agents(*, db: Session) -> list[AgentPublic]:
    rows = db.scalars(select(User).where(User.role == Role.agent).order_by(User.first_name, User.user_id))
    return [a for a in (_agent_public(u) for u in rows) if a]


@lru_cache
def canned_replies() -> list[CannedReply]:
    """The canned replies agents can insert (from `canned_replies.json`)."""
    return [CannedReply.model_validate(r) for r in json.loads(CANNED_REPLIES_FILE.read_text(encoding="utf-8"))]


def supervisor_stats(*, db: Session, now: dt.datetime | None = None) -> SupervisorStats:
    """Queue length, longest wait, chats per agent, and satisfaction averages by day (with a chart)."""
    now = hours.utc_now(now)
    tz = get_settings().tz
    queue = agent_queue(db=db, now=now)
    today = now.astimezone(tz).date()
    day_start = dt.datetime.combine(today, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    active = dict(
        db.execute(
            select(Handoff.agent_pk, func.count())
            .where(Handoff.state == HandoffState.with_agent)
            .group_by(Handoff.agent_pk)
        ).all()
    )
    closed_today = dict(
        db.execute(
            select(Handoff.agent_pk, func.count())
            .where(Handoff.state == HandoffState.closed, Handoff.closed_at >= day_start)
            .group_by(Handoff.agent_pk)
        ).all()
    )
    per_agent = [
        AgentLoad(
            user_id=u.user_id,
            name=f"{u.first_name} {u.last_name}",
            active=active.get(u.id, 0),
            closed_today=closed_today.get(u.id, 0),
        )
        for u in db.scalars(select(User).where(User.role == Role.agent).order_by(User.first_name, User.user_id))
    ]
    first_day = today - dt.timedelta(days=SATISFACTION_DAYS - 1)
    since = dt.datetime.combine(first_day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for rating, created in db.execute(
        select(SatisfactionRating.rating, SatisfactionRating.created_at).where(SatisfactionRating.created_at >= since)
    ).all():
        by_day[hours.aware(created).astimezone(tz).date()].append(rating)
    days = []
    for offset in range(SATISFACTION_DAYS):
        day = first_day + dt.timedelta(days=offset)
        values = by_day.get(day, [])
        days.append(
            DaySatisfaction(
                day=day, average=round(sum(values) / len(values), 2) if values else None, ratings=len(values)
            )
        )
    return SupervisorStats(
        generated_at=now,
        chats_waiting=queue.chats_waiting,
        callbacks_waiting=queue.callbacks_waiting,
        longest_wait_seconds=queue.longest_wait_seconds,
        with_agents=sum(active.values()),
        per_agent=per_agent,
        satisfaction_by_day=days,
        chart_svg=charts.satisfaction_svg(days),
    )
