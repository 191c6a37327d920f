"""Helpers of the identity tests: reading the outbox and the audit log, codes, headers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

PASSWORD = "correct horse battery staple"
SERVICE_TOKEN = "test-service-token"  # set by tests/conftest.py


@dataclass
class Account:
    user_id: str
    password: str
    pk: int
    email: str
    phone: str
    totp_secret: str | None = None
    sms_device_id: int | None = None
    email_device_id: int | None = None
    voice_device_id: int | None = None
    totp_device_id: int | None = None


def latest_message(recipient: str, purpose: str | None = None):  # type: ignore[no-untyped-def]
    """The newest outbox message to `recipient` (optionally of one purpose), read afresh."""
    from api.auth.models import OutboxMessage
    from api.database import get_sessionmaker

    with get_sessionmaker()() as db:
        query = select(OutboxMessage).where(OutboxMessage.recipient == recipient)
        if purpose is not None:
            query = query.where(OutboxMessage.purpose == purpose)
        return db.scalar(query.order_by(OutboxMessage.id.desc()).limit(1))


def messages_to(recipient: str) -> list:  # type: ignore[type-arg]
    from api.auth.models import OutboxMessage
    from api.database import get_sessionmaker

    with get_sessionmaker()() as db:
        return list(db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)))


def code_in(body: str) -> str:
    """The 6-digit code of a text, email or (spoken, '1, 2, 3, 4, 5, 6') voice message."""
    digits = re.search(r"\b\d(?:, \d){5}\b", body)
    if digits:
        return digits.group(0).replace(", ", "")
    match = re.search(r"\b\d{6}\b", body)
    assert match, f"no code in {body!r}"
    return match.group(0)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_events(user_pk: int) -> list[str]:
    from api.auth.models import AuditEvent
    from api.database import get_sessionmaker

    with get_sessionmaker()() as db:
        return list(db.scalars(select(AuditEvent.event).where(AuditEvent.user_pk == user_pk).order_by(AuditEvent.id)))


def fresh_db() -> Session:
    from api.database import get_sessionmaker

    return get_sessionmaker()()


def service_headers(conversation_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Conversation-Id": conversation_id}
