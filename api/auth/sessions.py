"""Session tokens: created after the second factor, stored hashed, expiring and revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import ColumnElement, Exists, SQLColumnExpression, exists, select
from sqlalchemy.orm import Session, joinedload

from api.auth import clock
from api.auth.models import ConversationBinding, User, UserSession

SESSION_LIFETIME = dt.timedelta(hours=8)


def _now() -> dt.datetime:
    return clock.now()  # the identity code's one clock, which tests can move


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def create_session(*, db: Session, user: User, lifetime: dt.timedelta = SESSION_LIFETIME) -> tuple[str, UserSession]:
    """A new session for `user`; the token is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    now = _now()
    row = UserSession(token_hash=hash_token(token), user_pk=user.id, created_at=now, expires_at=now + lifetime)
    db.add(row)
    db.commit()
    return token, row


def is_valid(row: UserSession, now: dt.datetime | None = None) -> bool:
    now = now or _now()
    return row.revoked_at is None and _aware(row.expires_at) > now


def bound_and_valid(
    conversation_id: SQLColumnExpression[str] | str, now: ColumnElement[dt.datetime] | dt.datetime | None = None
) -> Exists:
    """SQL for "the conversation is bound to a valid session" (`is_valid` as a clause), to embed in a query:
    a chat turn reads its conversation and whether its user is signed in with one round trip. `now` may
    be a bind parameter, for a statement built once and executed many times."""
    return exists().where(
        ConversationBinding.conversation_id == conversation_id,
        UserSession.id == ConversationBinding.session_pk,
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > (_now() if now is None else now),
    )


def session_for_token(*, db: Session, token: str) -> UserSession | None:
    # The user comes in the same query: every caller reads it.
    row = db.scalar(
        select(UserSession).options(joinedload(UserSession.user)).where(UserSession.token_hash == hash_token(token))
    )
    return row if row is not None and is_valid(row) else None


def revoke(*, db: Session, row: UserSession) -> None:
    row.revoked_at = _now()
    db.commit()


def bind_conversation(*, db: Session, conversation_id: str, session: UserSession) -> None:
    """Bind (or re-bind) a conversation to a session."""
    binding = db.get(ConversationBinding, conversation_id)
    if binding is None:
        db.add(ConversationBinding(conversation_id=conversation_id, session_pk=session.id, bound_at=_now()))
    else:
        binding.session_pk = session.id
        binding.bound_at = _now()
    db.commit()


def session_for_conversation(*, db: Session, conversation_id: str) -> UserSession | None:
    binding = db.get(
        ConversationBinding,
        conversation_id,
        options=[joinedload(ConversationBinding.session).joinedload(UserSession.user)],
    )
    if binding is None or not is_valid(binding.session):
        return None
    return binding.session
