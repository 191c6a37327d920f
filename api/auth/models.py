"""Users and the bidder numbers each may act for; sessions, MFA devices, codes, throttling and audit."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, DateTime, Enum, ForeignKey, Integer, String, Table, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.database import Base


class Role(enum.StrEnum):
    supplier = "supplier"
    agent = "agent"


user_bidders = Table(
    "user_bidders",
    Base.metadata,
    Column("user_pk", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("bidder_pk", ForeignKey("bidders.id", ondelete="CASCADE"), primary_key=True),
)


class Bidder(Base):
    """A bidding organisation, identified by its bidder number."""

    __tablename__ = "bidders"

    id: Mapped[int] = mapped_column(primary_key=True)
    bidder_number: Mapped[str] = mapped_column(String(16), unique=True)
    organization: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A CMS IDM account: a supplier's user or a customer service agent."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), unique=True, comment="The CMS IDM user ID.")
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20), comment="E.164")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), default=Role.supplier)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    locked_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="Set after 100 consecutive failed attempts; an agent unlocks."
    )

    bidders: Mapped[list[Bidder]] = relationship(secondary=user_bidders, order_by=Bidder.bidder_number)

    @property
    def bidder_numbers(self) -> list[str]:
        return [b.bidder_number for b in self.bidders]


class UserSession(Base):
    """A signed-in session. Only a hash of its token is stored, so sessions can be listed and revoked."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    password_verified_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When the password was last checked for this session."
    )
    second_factor_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When a second factor was last verified for this session (step-up)."
    )

    user: Mapped[User] = relationship()


class ConversationBinding(Base):
    """Binds a chat conversation to the session of the user who signed in through the chat client.

    The action server, holding only the service credential and a conversation id, may act for that
    user while the session is valid, and for no one else.
    """

    __tablename__ = "conversation_bindings"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_pk: Mapped[int] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True)
    bound_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    session: Mapped[UserSession] = relationship()


class DeviceKind(enum.StrEnum):
    """The MFA devices CMS IDM offers; the two apps both use TOTP (RFC 6238)."""

    google_authenticator = "google_authenticator"
    okta_verify = "okta_verify"
    text_message = "text_message"
    voice_call = "voice_call"
    email = "email"

    @property
    def uses_app(self) -> bool:
        return self in (DeviceKind.google_authenticator, DeviceKind.okta_verify)

    @property
    def display_name(self) -> str:
        return DEVICE_NAMES[self]


DEVICE_NAMES = {
    DeviceKind.google_authenticator: "Google Authenticator",
    DeviceKind.okta_verify: "Okta Verify",
    DeviceKind.text_message: "Text message (SMS)",
    DeviceKind.voice_call: "Voice call (IVR)",
    DeviceKind.email: "Email",
}


class DeviceStatus(enum.StrEnum):
    pending = "pending"  # being set up, not usable to sign in
    active = "active"


class MfaDevice(Base):
    """A second factor of a user: an authenticator app (TOTP secret) or a phone number or email for codes."""

    __tablename__ = "mfa_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DeviceKind] = mapped_column(Enum(DeviceKind, native_enum=False, length=32))
    status: Mapped[DeviceStatus] = mapped_column(Enum(DeviceStatus, native_enum=False, length=16))
    label: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), comment="E.164, for text message and voice call")
    email: Mapped[str | None] = mapped_column(String(254))
    totp_secret: Mapped[str | None] = mapped_column(String(64), comment="Base32 TOTP secret (apps only)")
    last_totp_step: Mapped[int | None] = mapped_column(
        Integer, comment="Last accepted TOTP time step; a code of this step or older is refused (no replay)."
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def destination(self) -> str | None:
        return self.phone or self.email


class SignInAttempt(Base):
    """The password step of a sign-in: its short-lived token is good only for the second step."""

    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship()


class EnrollmentStatus(enum.StrEnum):
    pending = "pending"
    verified = "verified"
    failed = "failed"  # too many wrong codes: start again
    expired = "expired"
    cancelled = "cancelled"  # replaced by a newer set-up
    locked = "locked"  # the account was locked meanwhile


class MfaEnrollment(Base):
    """The set-up of one device, from start to verified (or failed); the bot may read its outcome."""

    __tablename__ = "mfa_enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device_pk: Mapped[int | None] = mapped_column(ForeignKey("mfa_devices.id", ondelete="SET NULL"), index=True)
    attempt_pk: Mapped[int | None] = mapped_column(ForeignKey("sign_in_attempts.id", ondelete="SET NULL"))
    session_pk: Mapped[int | None] = mapped_column(ForeignKey("user_sessions.id", ondelete="SET NULL"))
    kind: Mapped[DeviceKind] = mapped_column(Enum(DeviceKind, native_enum=False, length=32))
    label: Mapped[str] = mapped_column(String(100))
    status: Mapped[EnrollmentStatus] = mapped_column(Enum(EnrollmentStatus, native_enum=False, length=16))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(40), comment="Rule of the last refused code")
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    device: Mapped[MfaDevice | None] = relationship()


class CodePurpose(enum.StrEnum):
    sign_in = "sign_in"
    step_up = "step_up"
    enrollment = "enrollment"


class OneTimeCode(Base):
    """A code sent by text, voice or email: stored only as a salted hash, single use, 10 minutes.

    It is bound to what it was sent for: a sign-in attempt, a session's step-up, or a device set-up.
    """

    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("mfa_devices.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[CodePurpose] = mapped_column(Enum(CodePurpose, native_enum=False, length=16))
    attempt_pk: Mapped[int | None] = mapped_column(ForeignKey("sign_in_attempts.id", ondelete="CASCADE"), index=True)
    session_pk: Mapped[int | None] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True)
    enrollment_pk: Mapped[int | None] = mapped_column(ForeignKey("mfa_enrollments.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class FailureCounter(Base):
    """Consecutive failed passwords and codes, per account (`user:<pk>`) and per client address."""

    __tablename__ = "auth_failure_counters"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_auth_failure_counters_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(80))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """What happened in sign-in and MFA: every failure and lock, and the successes around them.

    Never holds a password, code, secret or token.
    """

    __tablename__ = "auth_audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    user_pk: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    attempted_user_id: Mapped[str | None] = mapped_column(String(64), comment="As typed, for unknown users")
    client_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(300))


class OutboxMessage(Base):
    """A text message, voice call script or email written by the outbox notifier (the default delivery)."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(40))
