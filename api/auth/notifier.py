"""Delivery of one-time codes and account notices: text message, voice call (IVR) and email.

Services never talk to a provider; they hand a `Message` to a `Notifier`:

    class Notifier(Protocol):
        def send(self, message: Message) -> None: ...

`send` either delivers (or hands over to a provider that will) or raises `DeliveryError`; the
caller then answers 503 and saves nothing. It must not log the message body: bodies hold codes.

Two notifiers are built in, chosen by the `NOTIFIER` setting:

- `OutboxNotifier` (default): writes every message to the `outbox_messages` table, in the
  caller's transaction. Developers read it at `GET /dev/outbox` (not served in production) and the
  tests read the table. Voice messages hold the script the IVR would speak.
- `SmtpNotifier`: sends emails through the SMTP server of the settings (`SMTP_HOST`, `SMTP_PORT`,
  `SMTP_SENDER`, `SMTP_STARTTLS`, `SMTP_USERNAME`, `SMTP_PASSWORD`); text and voice go to the
  notifier it wraps (the outbox) until a provider is plugged in.

Plugging in a production SMS/voice provider (e.g. Twilio, Amazon SNS/Connect):

1. Write a class with `send(message)` that, for `Channel.text_message`, posts `message.body` to
   `message.to` (E.164) through the provider's SMS API, and for `Channel.voice_call` starts a call
   that speaks `message.body` (already written for speech: digits spaced and repeated). Use a
   timeout, and turn the provider's errors into `DeliveryError`. Do not log `message.body`.
2. Hand emails on to `SmtpNotifier` (give it your class as `fallback` the other way round, or
   compose: `SmtpNotifier(settings, fallback=ProviderNotifier(...))`).
3. Return it from `get_notifier` for a new `NOTIFIER` value, with its credentials in the settings.
   Tests keep the outbox; nothing else changes.
"""

from __future__ import annotations

import enum
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Annotated, Protocol

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import clock
from api.auth.models import OutboxMessage
from api.config import Settings, get_settings
from api.database import SessionDep

logger = logging.getLogger("api.auth.notifier")

SMTP_TIMEOUT_SECONDS = 10


class Channel(enum.StrEnum):
    text_message = "text_message"
    voice_call = "voice_call"
    email = "email"


@dataclass(frozen=True)
class Message:
    channel: Channel
    to: str  # E.164 phone number, or email address
    subject: str
    body: str
    purpose: str  # e.g. sign_in_code, device_added: for the outbox and logs, never secret

    def __repr__(self) -> str:  # keeps bodies (codes) out of tracebacks and debug output
        return f"Message(channel={self.channel.value}, to={self.to!r}, purpose={self.purpose!r})"


class DeliveryError(Exception):
    """The message could not be delivered or handed over."""


class Notifier(Protocol):
    def send(self, message: Message) -> None: ...


class OutboxNotifier:
    """Writes messages to the outbox table in the caller's transaction (committed with it)."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def send(self, message: Message) -> None:
        self.db.add(
            OutboxMessage(
                created_at=clock.now(),
                channel=message.channel.value,
                recipient=message.to,
                subject=message.subject,
                body=message.body,
                purpose=message.purpose,
            )
        )
        self.db.flush()
        logger.info("Wrote a %s message (%s) to the outbox", message.channel.value, message.purpose)


class SmtpNotifier:
    """Sends emails by SMTP; hands text and voice messages to `fallback`."""

    def __init__(self, settings: Settings, fallback: Notifier) -> None:
        self.settings = settings
        self.fallback = fallback

    def send(self, message: Message) -> None:
        if message.channel is not Channel.email:
            self.fallback.send(message)
            return
        s = self.settings
        email = EmailMessage()
        email["From"] = s.smtp_sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain="cbic.example")
        email.set_content(message.body)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username and s.smtp_password:
                    smtp.login(s.smtp_username, s.smtp_password)
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            logger.warning("Could not send an email (%s) by SMTP: %s", message.purpose, type(exc).__name__)
            raise DeliveryError(str(type(exc).__name__)) from exc
        logger.info("Sent an email (%s) by SMTP", message.purpose)


def get_notifier(db: SessionDep) -> Notifier:
    """The notifier chosen by the settings, bound to the request's database session."""
    outbox = OutboxNotifier(db)
    settings = get_settings()
    if settings.notifier == "smtp":
        return SmtpNotifier(settings, fallback=outbox)
    return outbox


NotifierDep = Annotated[Notifier, Depends(get_notifier)]


def outbox_messages(*, db: Session, recipient: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    """The newest outbox messages first, optionally only those to `recipient`."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if recipient is not None:
        query = query.where(OutboxMessage.recipient == recipient)
    return list(db.scalars(query))
