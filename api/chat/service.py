"""Conversations and their messages: start, authorize, accept user turns, store bot, agent and system
messages, count the limits, attach files. Keyword-only, synchronous (run them in a worker thread from
async code), SQLAlchemy 2.0 style.

Every message is stored (and committed) before anyone is told about it: the caller publishes the
returned messages with `deliver` afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Integer, Table, bindparam, case, exists, func, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.sql.expression import BindParameter

from api.auth import clock as auth_clock
from api.auth import sessions as auth_sessions
from api.chat import guard
from api.chat import prechat as prechat_module
from api.chat.delivery import hub
from api.chat.errors import ChatError, FieldProblem
from api.chat.models import ChatFile, ChatMessage, Conversation, ConversationStatus, MessageKind, RelayState, Sender
from api.chat.relay import BotReply
from api.chat.schemas import (
    MAX_FILES_PER_CONVERSATION,
    MAX_MESSAGE_CHARS,
    MAX_MESSAGES_PER_MINUTE,
    ChatFilePublic,
    ConversationPublic,
    MessageCreate,
    MessagePublic,
)
from api.documents import service as documents_service
from api.documents.errors import DocumentError
from api.documents.storage import FileStorage
from api.documents.upload_body import RequestBody, is_multipart

CONVERSATIONS_PER_ADDRESS_PER_MINUTE = 30
RATE_WINDOW = dt.timedelta(seconds=60)
STALE_RELAY = dt.timedelta(minutes=2)
"""A turn still `pending` after this long was lost with its process; a resend may relay it again."""
BUTTON_LOOKBACK = 50
"""A button payload is accepted when one of the last this-many bot messages offered it."""
START_TURN = "/greet"
"""What the relay sends Rasa when a chat starts, so that the assistant speaks first."""

SECURE_INPUT_OUTCOMES = ("verified", "failed", "locked", "expired")
CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters other than tab and newline, taken out of typed text (PostgreSQL refuses NUL)."""
COMMAND = re.compile(r"^/(?P<name>[a-z_]+)(?P<args>\{.*\})?$", re.DOTALL)
COMMAND_NOTES = {
    "signed_in": "You signed in.",
    "sign_in_cancelled": "Sign-in cancelled.",
    "file_cancelled": "File attachment cancelled.",
    "secure_input_done:verified": "Code verified.",
    "secure_input_done:failed": "The code was not accepted.",
    "secure_input_done:locked": "Too many wrong codes: code entry is locked for now.",
    "secure_input_done:expired": "The code expired.",
}
RELAY_FAILED = (
    "The assistant could not be reached, so your message was saved but not answered yet. Select Try again in a moment."
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- conversations ------------------------------------------------------------------------------------


def not_found() -> ChatError:
    return ChatError(
        404,
        "conversation_not_found",
        "No chat matches this id and client token; start a new chat from the Chat Now button.",
    )


def create_conversation(*, db: Session, prechat: dict[str, Any], address: str) -> tuple[Conversation, str]:
    """Check the pre-chat answers and start a conversation; the client token is returned once, never stored."""
    normalized, errors = prechat_module.validate_answers(prechat)
    if errors:
        first = errors[0].message
        detail = (
            first if len(errors) == 1 else f"{len(errors)} pre-chat answers need a fix, starting with this one: {first}"
        )
        raise ChatError(
            422, "prechat_invalid", detail, errors=[FieldProblem(field=e.field, message=e.message) for e in errors]
        )
    now = _now()
    recent = db.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.created_from == address[:64], Conversation.created_at > now - RATE_WINDOW)
    )
    if (recent or 0) >= CONVERSATIONS_PER_ADDRESS_PER_MINUTE:
        raise ChatError(
            429,
            "too_many_conversations",
            "Too many chats were started from your network in the last minute; wait a minute and start again.",
            headers={"Retry-After": "60"},
        )
    token = secrets.token_urlsafe(32)
    conversation = Conversation(
        id=secrets.token_urlsafe(24),
        client_token_hash=hash_token(token),
        status=ConversationStatus.bot,
        prechat=normalized,
        last_seq=0,
        created_from=address[:64],
        created_at=now,
        updated_at=now,
    )
    db.add(conversation)
    db.flush()
    append_message(
        db=db,
        conversation_id=conversation.id,
        sender=Sender.system,
        kind=MessageKind.event,
        text="Chat started.",
        data={"event": "chat_started"},
        commit=False,
    )
    db.commit()
    db.refresh(conversation)
    return conversation, token


def authorize(*, db: Session, conversation_id: str, client_token: str | None) -> Conversation:
    """The conversation, when `client_token` is its own; the same 404 for an unknown id and a wrong token."""
    if not client_token:
        raise ChatError(
            401,
            "chat_token_required",
            "Send the chat's client token in the X-Chat-Token header; it was given when the chat started.",
        )
    conversation = db.get(Conversation, conversation_id) if CONVERSATION_ID.fullmatch(conversation_id) else None
    if conversation is None or not hmac.compare_digest(conversation.client_token_hash, hash_token(client_token)):
        raise not_found()
    return conversation


def is_signed_in(*, db: Session, conversation_id: str) -> bool:
    """Whether the conversation is bound to a valid session of a signed-in user (the identity API decides)."""
    return bool(db.scalar(select(auth_sessions.bound_and_valid(conversation_id))))


def turn_context(
    *, db: Session, conversation_id: str, client_message_id: str
) -> tuple[Conversation, bool, list[ChatMessage]]:
    """The first statement of a turn, one round trip: the conversation, whether its user is signed in, and
    `_recent_turns` (the message with this client id, and the user's turns of the last minute)."""
    rows = db.execute(
        _TURN_CONTEXT,
        {
            "p_conversation_id": conversation_id,
            "p_client_message_id": client_message_id,
            "p_since": _now() - RATE_WINDOW,
            "p_now": auth_clock.now(),
        },
    ).all()
    if not rows:
        raise not_found()
    return rows[0][0], bool(rows[0][1]), [row[2] for row in rows if row[2] is not None]


def conversation_state(*, db: Session, conversation_id: str) -> ConversationPublic:
    """The public state of a conversation by id (for callers that hold no session of their own)."""
    conversation = db.get(Conversation, conversation_id)
    if conversation is None:
        raise not_found()
    return conversation_public(db=db, conversation=conversation)


def conversation_public(*, db: Session, conversation: Conversation) -> ConversationPublic:
    db.refresh(conversation)
    return ConversationPublic(
        conversation_id=conversation.id,
        status=conversation.status,
        signed_in=is_signed_in(db=db, conversation_id=conversation.id),
        last_seq=conversation.last_seq,
        prechat=conversation.prechat,
        created_at=_aware(conversation.created_at),
    )


# --- messages -----------------------------------------------------------------------------------------


def message_public(message: ChatMessage) -> MessagePublic:
    return MessagePublic(
        seq=message.seq,
        sender=message.sender,
        kind=message.kind,
        text=message.text,
        data=message.data or None,
        client_message_id=message.client_message_id,
        created_at=_aware(message.created_at),
    )


def append_message(
    *,
    db: Session,
    conversation_id: str,
    sender: Sender,
    kind: MessageKind,
    text: str,
    data: dict[str, Any] | None = None,
    client_message_id: str | None = None,
    relay_text: str | None = None,
    relay_state: RelayState | None = None,
    commit: bool = True,
) -> ChatMessage:
    """Store a message with the conversation's next sequence number (atomic: the row lock serializes writers)."""
    message = ChatMessage(
        sender=sender,
        kind=kind,
        text=text,
        data=data or None,
        client_message_id=client_message_id,
        relay_text=relay_text,
        relay_state=relay_state,
    )
    append_messages(db=db, conversation_id=conversation_id, messages=[message], commit=commit)
    return message


def append_messages(
    *,
    db: Session,
    conversation_id: str,
    messages: list[ChatMessage],
    commit: bool = True,
    answered_turn_id: int | None = None,
) -> list[ChatMessage]:
    """Store new messages with the conversation's next sequence numbers, in the order given.

    `answered_turn_id`: a user turn these messages answer, marked `done` with them.

    One UPDATE reserves the numbers for all of them (its row lock serializes writers until the commit)
    and one INSERT stores them: a bot answer of three messages costs two statements, not six. On
    PostgreSQL the two (and the turn's mark) are one statement, atomic on its own: one round trip, and
    callers may run it outside a transaction (`in_db(..., autocommit=True)`), which saves the BEGIN and
    COMMIT round trips as well.
    """
    now = _now()
    rows = [
        {"conversation_id": conversation_id, "created_at": now, **{c: getattr(m, c) for c in _MESSAGE_FIELDS}}
        for m in messages
    ]
    ids: dict[int, int] = {}
    if rows and db.get_bind().dialect.name == "postgresql":
        ids = _append_in_one_statement(db, conversation_id, rows, now, answered_turn_id)
    else:
        if rows:
            last = db.execute(
                _RESERVE_SEQ, {"p_conversation_id": conversation_id, "p_count": len(rows), "p_now": now}
            ).scalar_one()
            for offset, row in enumerate(rows):
                row["seq"] = last - len(rows) + 1 + offset
            # executemany with RETURNING: SQLAlchemy sends one INSERT for all the rows ("insertmanyvalues")
            # and, unlike .values(rows), reuses the compiled statement (compiling it was 13 % of a turn's CPU).
            ids = {seq: id_ for seq, id_ in db.execute(_INSERT_MESSAGES, rows)}
        if answered_turn_id is not None:  # also when Rasa answered with silence
            db.execute(_SET_RELAY_STATE, {"p_id": answered_turn_id, "p_state": RelayState.done})
    for row, seq, message in zip(rows, sorted(ids), messages, strict=True):
        row["seq"] = seq
        for column, value in row.items():  # every column set: none is left to load later
            setattr(message, column, value)
        message.id = ids[seq]
        # Stored by the INSERT above: the session now holds it as if it had been read back.
        make_transient_to_detached(message)
        db.add(message)
    if commit:
        db.commit()
    return messages


# --- the statements of a turn, built once ----------------------------------------------------------------
# A turn runs each of these once or twice. Built per call, they cost more CPU than their round trips to
# PostgreSQL: constructing the expression, its cache key and, for an ORM-enabled UPDATE, the ORM's bulk
# machinery (bench/results/chat-profile.md). Built once with bind parameters, their cache keys are
# memoized; the UPDATEs are plain Core statements on the tables (the session's objects are not
# synchronized: callers do not read `last_seq` or `relay_state` back from them).

_CONVERSATIONS = Conversation.__table__
_MESSAGES_TABLE = ChatMessage.__table__
assert isinstance(_CONVERSATIONS, Table) and isinstance(_MESSAGES_TABLE, Table)

_RECENT_TURN = (ChatMessage.client_message_id == bindparam("p_client_message_id")) | (
    (ChatMessage.sender == Sender.user) & (ChatMessage.created_at > bindparam("p_since"))
)
_RECENT_TURNS = (
    select(ChatMessage)
    .where(ChatMessage.conversation_id == bindparam("p_conversation_id"), _RECENT_TURN)
    .order_by(ChatMessage.seq)
)
# The conversation, its signed-in state and its recent turns (none: one row with no message).
_TURN_CONTEXT = (
    select(
        Conversation,
        auth_sessions.bound_and_valid(Conversation.id, bindparam("p_now", type_=DateTime(timezone=True))),
        ChatMessage,
    )
    .outerjoin(ChatMessage, (ChatMessage.conversation_id == Conversation.id) & _RECENT_TURN)
    .where(Conversation.id == bindparam("p_conversation_id"))
    .order_by(ChatMessage.seq)
)

_RESERVE_SEQ = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("p_conversation_id"))
    .values(last_seq=_CONVERSATIONS.c.last_seq + bindparam("p_count", type_=Integer), updated_at=bindparam("p_now"))
    .returning(_CONVERSATIONS.c.last_seq)
)

_SET_RELAY_STATE = (
    update(_MESSAGES_TABLE).where(_MESSAGES_TABLE.c.id == bindparam("p_id")).values(relay_state=bindparam("p_state"))
)

_INSERT_MESSAGES = insert(_MESSAGES_TABLE).returning(_MESSAGES_TABLE.c.seq, _MESSAGES_TABLE.c.id)
_MESSAGE_FIELDS = ("sender", "kind", "text", "data", "client_message_id", "relay_text", "relay_state")

# PostgreSQL: the sequence reservation, the INSERT of every message and the answered turn's mark in one
# statement (data-modifying CTEs run once, to completion, whether or not the INSERT reads them). The
# messages travel as one array per column, so the statement's text is the same for any number of them
# and psycopg prepares it once per connection.
_APPEND_POSTGRES = text(
    """
    WITH reserved AS (
        UPDATE chat_conversations SET last_seq = last_seq + :p_count, updated_at = :p_now
        WHERE id = :p_conversation_id
        RETURNING last_seq
    ), answered AS (
        UPDATE chat_messages SET relay_state = :p_answered_state WHERE id = :p_answered_id
    )
    INSERT INTO chat_messages
        (conversation_id, seq, created_at, sender, kind, text, data, client_message_id, relay_text, relay_state)
    SELECT :p_conversation_id, reserved.last_seq - :p_count + m.n, :p_now, m.sender, m.kind, m.text,
           CAST(m.data AS json), m.client_message_id, m.relay_text, m.relay_state
    FROM reserved, unnest(
        CAST(:p_sender AS text[]), CAST(:p_kind AS text[]), CAST(:p_text AS text[]), CAST(:p_data AS text[]),
        CAST(:p_client_message_id AS text[]), CAST(:p_relay_text AS text[]), CAST(:p_relay_state AS text[])
    ) WITH ORDINALITY AS m(sender, kind, text, data, client_message_id, relay_text, relay_state, n)
    RETURNING seq, id
    """
).bindparams(
    bindparam("p_now", type_=DateTime(timezone=True)),
    bindparam("p_count", type_=Integer),
    bindparam("p_answered_id", type_=Integer),
)


def _append_in_one_statement(
    db: Session, conversation_id: str, rows: list[dict[str, Any]], now: dt.datetime, answered_turn_id: int | None
) -> dict[int, int]:
    """{seq: id} of the stored rows (PostgreSQL)."""

    def column(name: str) -> list[str | None]:
        values = [row[name] for row in rows]
        if name == "data":
            return [None if v is None else json.dumps(v) for v in values]
        return [None if v is None else str(v) for v in values]

    parameters: dict[str, Any] = {f"p_{name}": column(name) for name in _MESSAGE_FIELDS}
    parameters.update(
        p_conversation_id=conversation_id,
        p_count=len(rows),
        p_now=now,
        p_answered_id=answered_turn_id,
        p_answered_state=RelayState.done.value,
    )
    stored = {seq: id_ for seq, id_ in db.execute(_APPEND_POSTGRES, parameters)}
    if len(stored) != len(rows):  # no such conversation: nothing was stored
        raise not_found()
    return stored


def messages_after(*, db: Session, conversation_id: str, after: int, limit: int = 200) -> list[ChatMessage]:
    """The conversation's messages with a sequence number above `after`, oldest first."""
    return list(
        db.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conversation_id, ChatMessage.seq > after)
            .order_by(ChatMessage.seq)
            .limit(limit)
        )
    )


def last_seq(*, db: Session, conversation_id: str) -> int:
    return db.scalar(select(Conversation.last_seq).where(Conversation.id == conversation_id)) or 0


@dataclass
class AcceptedTurn:
    message: ChatMessage
    duplicate: bool
    relay: bool  # the caller relays it to Rasa now


def _by_client_id(db: Session, conversation_id: str, client_message_id: str) -> ChatMessage | None:
    return db.scalar(
        select(ChatMessage).where(
            ChatMessage.conversation_id == conversation_id, ChatMessage.client_message_id == client_message_id
        )
    )


def _claim_retry(db: Session, message: ChatMessage) -> bool:
    """Take a failed (or long-stuck) turn for relaying again; only one resend wins the claim."""
    stale = _now() - STALE_RELAY
    claimed = db.execute(
        update(ChatMessage)
        .where(
            ChatMessage.id == message.id,
            (ChatMessage.relay_state == RelayState.failed)
            | ((ChatMessage.relay_state == RelayState.pending) & (ChatMessage.created_at < stale)),
        )
        .values(relay_state=RelayState.pending)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.commit()
    return claimed == 1


def _recent_turns(db: Session, conversation_id: str, client_message_id: str) -> list[ChatMessage]:
    """In one query: the message with this client id (a resend), and the user's turns of the last minute."""
    parameters = {
        "p_conversation_id": conversation_id,
        "p_client_message_id": client_message_id,
        "p_since": _now() - RATE_WINDOW,
    }
    return list(db.scalars(_RECENT_TURNS, parameters))


def _check_rate(recent_turns: list[ChatMessage]) -> None:
    """`recent_turns`: the user's turns of the last minute, oldest first (from `_recent_turns`, no resend)."""
    if len(recent_turns) >= MAX_MESSAGES_PER_MINUTE:
        oldest = _aware(recent_turns[0].created_at)
        wait = max(1, int((oldest + RATE_WINDOW - _now()).total_seconds()) + 1)
        raise ChatError(
            429,
            "too_many_messages",
            f"You can send at most {MAX_MESSAGES_PER_MINUTE} messages a minute; wait {wait} seconds and send it again.",
            headers={"Retry-After": str(wait)},
        )


def _offered_button(db: Session, conversation_id: str, payload: str) -> dict[str, str] | None:
    recent = db.scalars(
        select(ChatMessage.data)
        .where(ChatMessage.conversation_id == conversation_id, ChatMessage.sender == Sender.bot)
        .order_by(ChatMessage.seq.desc())
        .limit(BUTTON_LOOKBACK)
    )
    for data in recent:
        for button in (data or {}).get("buttons", []):
            if button.get("payload") == payload:
                return button
    return None


def _command_not_allowed() -> ChatError:
    return ChatError(
        422,
        "command_not_allowed",
        "This payload is not one of the assistant's buttons or a Chat Now command; type your message instead.",
    )


def _interpret_command(
    db: Session, conversation: Conversation, name: str, args: dict[str, Any] | None
) -> tuple[str, str, dict[str, Any]]:
    """(note shown in the transcript, text relayed to Rasa, data) for a widget command, after checking it."""
    cid = conversation.id
    if name in ("signed_in", "sign_in_cancelled", "file_cancelled") and args is None:
        if name == "signed_in" and not is_signed_in(db=db, conversation_id=cid):
            raise ChatError(
                409,
                "chat_not_signed_in",
                "This chat is not signed in yet; finish signing in with the chat's sign-in panel first.",
            )
        return COMMAND_NOTES[name], f"/{name}", {"command": name}
    if name == "secure_input_done" and args is not None and set(args) == {"outcome"}:
        outcome = args["outcome"]
        if outcome in SECURE_INPUT_OUTCOMES:
            relay = "/secure_input_done" + json.dumps({"outcome": outcome})
            return COMMAND_NOTES[f"{name}:{outcome}"], relay, {"command": name, "outcome": outcome}
    if name == "file_staged" and args is not None and set(args) == {"staged_file_id"}:
        staged_id = args["staged_file_id"]
        attached = (
            db.scalar(select(ChatFile).where(ChatFile.conversation_id == cid, ChatFile.staged_file_id == staged_id))
            if isinstance(staged_id, str)
            else None
        )
        if attached is None:
            raise ChatError(
                422,
                "staged_file_unknown",
                "That file was not attached to this chat; attach it again with the paperclip button.",
            )
        relay = "/file_staged" + json.dumps({"staged_file_id": staged_id})
        note = f"File attached: {attached.file_name}."
        return note, relay, {"command": name, "staged_file_id": staged_id, "file_name": attached.file_name}
    raise _command_not_allowed()


def _interpret(db: Session, conversation: Conversation, data: MessageCreate) -> tuple[MessageKind, str, str, dict]:
    """(kind, text to show, text to relay, data) for a user turn; raises when it breaks a rule."""
    if data.payload is not None:
        payload = data.payload.strip()
        match = COMMAND.match(payload)
        if match and match["name"] in (
            "signed_in",
            "sign_in_cancelled",
            "file_cancelled",
            "secure_input_done",
            "file_staged",
        ):
            args: dict[str, Any] | None = None
            if match["args"]:
                try:
                    parsed = json.loads(match["args"])
                except ValueError:
                    raise _command_not_allowed() from None
                if not isinstance(parsed, dict):
                    raise _command_not_allowed()
                args = parsed
            note, relay, extra = _interpret_command(db, conversation, match["name"], args)
            return MessageKind.note, note, relay, extra
        button = _offered_button(db, conversation.id, payload)
        if button is None:
            raise _command_not_allowed()
        return MessageKind.text, button["title"], payload, {"button_payload": payload}
    text, relay = _typed_text(data.text)
    # A code, token or password typed here by mistake is neither stored nor relayed (see guard.py).
    refused = guard.refusal(db=db, conversation_id=conversation.id, prechat=conversation.prechat, text=text)
    if refused is not None:
        raise ChatError(422, *refused)
    return MessageKind.text, text, relay, {}


def _typed_text(typed: str) -> tuple[str, str]:
    """(text to show, text to relay) of a typed message; raises when it is too long or empty."""
    text = CONTROL_CHARACTERS.sub("", typed).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        raise ChatError(
            422,
            "message_too_long",
            f"Messages can be at most {MAX_MESSAGE_CHARS:,} characters and this one has {len(text):,}; "
            "shorten it or send it in two parts.",
        )
    # Typed text never becomes a Rasa intent (`/signed_in`...): only checked payloads above do.
    relay = text.lstrip("/").strip()
    if not relay:
        raise ChatError(422, "message_empty", "The message is empty; type something before sending.")
    return text, relay


def accept_user_turn(
    *,
    db: Session,
    conversation: Conversation,
    data: MessageCreate,
    recent: list[ChatMessage] | None = None,
) -> AcceptedTurn:
    """Store a user turn once (a resend of the same client_message_id returns the stored one).

    `recent`: the caller read `conversation` and its recent turns just now (`turn_context`), so neither
    is read again.
    """
    loaded_now = recent is not None
    if recent is None:
        recent = _recent_turns(db, conversation.id, data.client_message_id)
    existing = next((m for m in recent if m.client_message_id == data.client_message_id), None)
    if existing is not None:
        return AcceptedTurn(existing, duplicate=True, relay=_claim_retry(db, existing))
    if not loaded_now:
        db.refresh(conversation)
    if conversation.status is ConversationStatus.closed:
        raise ChatError(409, "conversation_closed", "This chat has ended; start a new chat to continue.")
    kind, text, relay_text, extra = _interpret(db, conversation, data)
    _check_rate(recent)
    state = RelayState.pending if conversation.status is ConversationStatus.bot else RelayState.held
    try:
        message = append_message(
            db=db,
            conversation_id=conversation.id,
            sender=Sender.user,
            kind=kind,
            text=text,
            data=extra,
            client_message_id=data.client_message_id,
            relay_text=relay_text,
            relay_state=state,
        )
    except IntegrityError:  # the same message arrived twice at once: the other one stored it
        db.rollback()
        existing = _by_client_id(db, conversation.id, data.client_message_id)
        if existing is None:
            raise
        return AcceptedTurn(existing, duplicate=True, relay=False)
    return AcceptedTurn(message, duplicate=False, relay=state is RelayState.pending)


@dataclass
class RelayJob:
    conversation_id: str
    text: str
    metadata: dict[str, Any]
    message_id: int | None
    client_message_id: str | None


def relay_job(
    *, db: Session, conversation_id: str, message_id: int | None, signed_in: bool | None = None
) -> RelayJob | None:
    """What to send Rasa for a stored turn (or the start of the chat), or None when the bot is not answering.

    `signed_in`: read by the caller in the transaction that stored the turn (`turn_context`);
    otherwise it is read here.
    """
    conversation = db.get(Conversation, conversation_id)
    if conversation is None:
        return None
    message = db.get(ChatMessage, message_id) if message_id is not None else None
    if conversation.status is not ConversationStatus.bot:
        if message is not None:
            message.relay_state = RelayState.held
            db.commit()
        return None
    if signed_in is None:
        signed_in = is_signed_in(db=db, conversation_id=conversation_id)
    metadata = {"prechat": conversation.prechat, "signed_in": signed_in}
    if message is None:
        return RelayJob(conversation_id, START_TURN, metadata, None, None)
    return RelayJob(
        conversation_id, message.relay_text or message.text, metadata, message.id, message.client_message_id
    )


# PostgreSQL: a typed turn stored in one statement, with what relaying it needs. The sequence number is
# reserved only when the conversation is not closed, the turn is no resend of a stored one and the user sent
# fewer than MAX_MESSAGES_PER_MINUTE turns in the last minute; then the turn is inserted, `pending` for the
# bot or `held` for people, and the row comes back with the pre-chat fields and the signed-in state. When
# nothing comes back, `accept_user_turn` finds out why, as for any turn.
_P_CONVERSATION: BindParameter[str] = bindparam("p_conversation_id")
_P_NOW = bindparam("p_now", type_=DateTime(timezone=True))
_P_CLIENT_ID: BindParameter[str] = bindparam("p_client_message_id")
_RESERVED_FOR_TURN = (
    update(_CONVERSATIONS)
    .where(
        _CONVERSATIONS.c.id == _P_CONVERSATION,
        _CONVERSATIONS.c.status != ConversationStatus.closed,
        ~exists().where(
            _MESSAGES_TABLE.c.conversation_id == _P_CONVERSATION, _MESSAGES_TABLE.c.client_message_id == _P_CLIENT_ID
        ),
        select(func.count())
        .select_from(_MESSAGES_TABLE)
        .where(
            _MESSAGES_TABLE.c.conversation_id == _P_CONVERSATION,
            _MESSAGES_TABLE.c.sender == Sender.user,
            _MESSAGES_TABLE.c.created_at > bindparam("p_since", type_=DateTime(timezone=True)),
        )
        .scalar_subquery()
        < MAX_MESSAGES_PER_MINUTE,
    )
    .values(last_seq=_CONVERSATIONS.c.last_seq + 1, updated_at=_P_NOW)
    .returning(_CONVERSATIONS.c.id, _CONVERSATIONS.c.last_seq, _CONVERSATIONS.c.status, _CONVERSATIONS.c.prechat)
    .cte("reserved")
)
_STATE_TYPE = _MESSAGES_TABLE.c.relay_state.type
_TYPED_TURN_COLUMNS = [
    "conversation_id",
    "seq",
    "created_at",
    "sender",
    "kind",
    "text",
    "client_message_id",
    "relay_text",
    "relay_state",
]
_ACCEPT_TYPED_POSTGRES = (
    insert(_MESSAGES_TABLE)
    .from_select(
        _TYPED_TURN_COLUMNS,
        select(
            _RESERVED_FOR_TURN.c.id,
            _RESERVED_FOR_TURN.c.last_seq,
            _P_NOW,
            literal(Sender.user, _MESSAGES_TABLE.c.sender.type),
            literal(MessageKind.text, _MESSAGES_TABLE.c.kind.type),
            bindparam("p_text"),
            _P_CLIENT_ID,
            bindparam("p_relay_text"),
            case(
                (_RESERVED_FOR_TURN.c.status == ConversationStatus.bot, literal(RelayState.pending, _STATE_TYPE)),
                else_=literal(RelayState.held, _STATE_TYPE),
            ),
        ),
    )
    .returning(
        _MESSAGES_TABLE.c.id,
        _MESSAGES_TABLE.c.seq,
        _MESSAGES_TABLE.c.relay_state,
        select(_RESERVED_FOR_TURN.c.prechat).scalar_subquery(),
        auth_sessions.bound_and_valid(_P_CONVERSATION, bindparam("p_auth_now", type_=DateTime(timezone=True))),
    )
)


def accept_typed_turn(
    *, db: Session, conversation_id: str, data: MessageCreate
) -> tuple[AcceptedTurn, RelayJob | None] | None:
    """A typed turn stored in one round trip on PostgreSQL (`_ACCEPT_TYPED_POSTGRES`), with its relay job;
    None when the turn needs the general way (`turn_context`, `accept_user_turn`, `relay_job`): on SQLite,
    for buttons and commands, for text the guard checks against the chat's user, and for every turn the
    statement did not store (a resend, a closed chat, too many messages, a rule the text breaks), so that
    each gets the same answer as through the general way. Run it in an autocommit session.

    The general way costs two round trips and loads the conversation and its recent turns as objects: about
    twice the time of this one (bench/results/chat-profile.md, session 12).
    """
    if data.payload is not None or db.get_bind().dialect.name != "postgresql":
        return None
    try:
        text, relay_text = _typed_text(data.text)
    except ChatError:
        return None
    if guard.needs_lookup(text) or guard.secret_refusal(text):
        return None
    now = _now()
    parameters = {
        "p_conversation_id": conversation_id,
        "p_client_message_id": data.client_message_id,
        "p_now": now,
        "p_since": now - RATE_WINDOW,
        "p_auth_now": auth_clock.now(),
        "p_text": text,
        "p_relay_text": relay_text,
    }
    try:
        row = db.execute(_ACCEPT_TYPED_POSTGRES, parameters).first()
    except IntegrityError:  # the same turn stored at this moment by another connection: a resend
        db.rollback()
        return None
    if row is None:
        return None
    message_id, seq, state, prechat, signed_in = row
    message = ChatMessage(
        id=message_id,
        conversation_id=conversation_id,
        seq=seq,
        created_at=now,
        sender=Sender.user,
        kind=MessageKind.text,
        text=text,
        data=None,
        client_message_id=data.client_message_id,
        relay_text=relay_text,
        relay_state=state,
    )
    if state is not RelayState.pending:
        return AcceptedTurn(message, duplicate=False, relay=False), None
    metadata = {"prechat": prechat, "signed_in": bool(signed_in)}
    job = RelayJob(conversation_id, relay_text, metadata, message_id, data.client_message_id)
    return AcceptedTurn(message, duplicate=False, relay=True), job


def complete_relay(*, db: Session, job: RelayJob, replies: list[BotReply]) -> list[ChatMessage]:
    """Store the bot's replies and mark the turn answered, in one transaction."""
    stored = append_messages(
        db=db,
        conversation_id=job.conversation_id,
        messages=[
            ChatMessage(sender=Sender.bot, kind=MessageKind.text, text=reply.text, data=reply.data or None)
            for reply in replies
        ],
        commit=False,
        answered_turn_id=job.message_id,
    )
    db.commit()
    return stored


def fail_relay(*, db: Session, job: RelayJob) -> ChatMessage:
    """Keep the turn (as `failed`, so a resend relays it again) and tell the client to retry."""
    if job.message_id is not None:
        db.execute(_SET_RELAY_STATE, {"p_id": job.message_id, "p_state": RelayState.failed})
    data: dict[str, Any] = {"event": "relay_failed", "code": "retry"}
    if job.client_message_id:
        data["retry_client_message_id"] = job.client_message_id
    text = (
        RELAY_FAILED
        if job.message_id is not None
        else ("The assistant could not be reached just now; type your question and it will answer when it is back.")
    )
    return append_message(
        db=db, conversation_id=job.conversation_id, sender=Sender.system, kind=MessageKind.event, text=text, data=data
    )


def deliver(conversation_id: str, messages: list[ChatMessage]) -> None:
    """Publish stored messages to the conversation's open connections."""
    for message in messages:
        hub.publish(conversation_id, {"type": "message", "message": message_public(message).model_dump(mode="json")})


# --- status and agents: the hooks of the handoff (issue 6) -----------------------------------------------


def set_status(
    *, db: Session, conversation_id: str, status: ConversationStatus, note: str, data: dict[str, Any] | None = None
) -> ChatMessage:
    """Change who answers the chat and store a marker saying so (e.g. "An agent joined the chat.").

    While the status is not `bot`, user turns are stored but not relayed to Rasa.
    """
    values: dict[str, Any] = {"status": status}
    if status is ConversationStatus.closed:
        values["closed_at"] = _now()
    db.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    message = append_message(
        db=db,
        conversation_id=conversation_id,
        sender=Sender.system,
        kind=MessageKind.event,
        text=note,
        data={"event": "status", "status": status.value, **(data or {})},
    )
    deliver(conversation_id, [message])
    hub.publish(conversation_id, {"type": "status", "status": status.value})
    return message


def post_agent_message(*, db: Session, conversation_id: str, agent_name: str, text: str) -> ChatMessage:
    """Store and deliver a message an agent typed."""
    message = append_message(
        db=db,
        conversation_id=conversation_id,
        sender=Sender.agent,
        kind=MessageKind.text,
        text=text[:MAX_MESSAGE_CHARS],
        data={"agent_name": agent_name[:100]},
    )
    deliver(conversation_id, [message])
    return message


def close_conversation(*, db: Session, conversation: Conversation) -> ChatMessage | None:
    """End the chat at the supplier's request (idempotent)."""
    db.refresh(conversation)
    if conversation.status is ConversationStatus.closed:
        return None
    return set_status(
        db=db, conversation_id=conversation.id, status=ConversationStatus.closed, note="You ended the chat."
    )


# --- files --------------------------------------------------------------------------------------------


def file_public(*, db: Session, row: ChatFile, message: str) -> ChatFilePublic:
    used = db.scalar(select(func.count()).select_from(ChatFile).where(ChatFile.conversation_id == row.conversation_id))
    return ChatFilePublic(
        staged_file_id=row.staged_file_id,
        file_name=row.file_name,
        size_bytes=row.size_bytes,
        pages=row.pages,
        files_left=max(0, MAX_FILES_PER_CONVERSATION - (used or 0)),
        message=message,
    )


def attached_file(*, db: Session, conversation_id: str, idempotency_key: str) -> ChatFile | None:
    return db.scalar(
        select(ChatFile).where(ChatFile.conversation_id == conversation_id, ChatFile.idempotency_key == idempotency_key)
    )


def check_file_allowance(*, db: Session, conversation: Conversation) -> None:
    """Refuse before reading the body when the chat has taken all the files it may."""
    db.refresh(conversation)
    if conversation.status is ConversationStatus.closed:
        raise ChatError(409, "conversation_closed", "This chat has ended; start a new chat to attach a file.")
    used = db.scalar(select(func.count()).select_from(ChatFile).where(ChatFile.conversation_id == conversation.id))
    if (used or 0) >= MAX_FILES_PER_CONVERSATION:
        raise ChatError(
            409,
            "too_many_files",
            f"A chat can take at most {MAX_FILES_PER_CONVERSATION} files and this one has; "
            "upload more in Connexion or start a new chat.",
        )


def record_file(
    *,
    db: Session,
    conversation_id: str,
    idempotency_key: str,
    staged_file_id: str,
    file_name: str,
    size_bytes: int,
    pages: int,
) -> tuple[ChatFile, bool]:
    """(row, created): remember a staged file under its key; a concurrent twin keeps the first one."""
    row = ChatFile(
        conversation_id=conversation_id,
        idempotency_key=idempotency_key,
        staged_file_id=staged_file_id,
        file_name=file_name,
        size_bytes=size_bytes,
        pages=pages,
        created_at=_now(),
    )
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        first = attached_file(db=db, conversation_id=conversation_id, idempotency_key=idempotency_key)
        if first is None:
            raise
        return first, False
    return row, True


def attach_file(
    *, db: Session, storage: FileStorage, conversation: Conversation, body: RequestBody, idempotency_key: str
) -> tuple[ChatFilePublic, bool]:
    """(file, replayed): stage a PDF for the signed-in user of the chat with the documents API, once per key.

    A retry with the same Idempotency-Key (say after the connection dropped) returns the first result
    instead of staging the file twice. The documents API checks the file (PDF, under 50 MB, no password).
    """
    first = attached_file(db=db, conversation_id=conversation.id, idempotency_key=idempotency_key)
    if first is not None:
        return file_public(db=db, row=first, message=f"{first.file_name} was already attached."), True
    check_file_allowance(db=db, conversation=conversation)
    session = auth_sessions.session_for_conversation(db=db, conversation_id=conversation.id)
    if session is None:
        raise ChatError(
            409,
            "chat_not_signed_in",
            "Sign in through the chat before attaching a file, so that it is kept for your account.",
        )
    if not is_multipart(body.content_type):
        raise ChatError(
            415, "unsupported_media_type", "Send the file as multipart/form-data with the PDF in the field 'file'."
        )
    user = session.user
    try:
        staged = documents_service.stage_file(db=db, storage=storage, user=user, body=body)
    except DocumentError as exc:
        raise ChatError(exc.status_code, exc.rule, exc.detail) from exc
    row, created = record_file(
        db=db,
        conversation_id=conversation.id,
        idempotency_key=idempotency_key,
        staged_file_id=staged.staged_file_id,
        file_name=staged.file_name,
        size_bytes=staged.size_bytes,
        pages=staged.page_count,
    )
    if not created:  # a twin request with the same key won the race: keep its file only
        documents_service.discard_staged_file(db=db, storage=storage, staged=staged)
        return file_public(db=db, row=row, message=f"{row.file_name} was already attached."), True
    return file_public(db=db, row=row, message=documents_service.staged_public(staged).message), False
