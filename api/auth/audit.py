"""The audit log of sign-in and MFA: every failure and lock, and the successes around them."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import clock
from api.auth.models import AuditEvent, User

logger = logging.getLogger("api.auth.audit")


def _printable(text: str | None, limit: int) -> str | None:
    """`text` without control characters (PostgreSQL refuses NUL), cut to `limit`; typed input may hold anything."""
    if not text:
        return None
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def record(
    *,
    db: Session,
    event: str,
    user: User | None = None,
    attempted_user_id: str | None = None,
    client_address: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session (the caller commits). Never pass secrets in `detail`."""
    row = AuditEvent(
        at=clock.now(),
        event=event,
        user_pk=user.id if user is not None else None,
        attempted_user_id=_printable(attempted_user_id, 64) if user is None else None,
        client_address=_printable(client_address, 64),
        detail=_printable(detail, 300),
    )
    db.add(row)
    # The typed user ID of an unknown user stays out of the log: people type passwords there by mistake.
    who = user.user_id if user is not None else "an unknown user ID"
    logger.info("auth event %s: %s from %s%s", event, who, client_address, f" ({detail})" if detail else "")
    return row


def events_for(*, db: Session, user: User, limit: int = 200) -> list[AuditEvent]:
    """The newest audit events of `user` first."""
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.user_pk == user.id).order_by(AuditEvent.id.desc()).limit(limit))
    )
