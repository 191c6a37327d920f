"""Imports every domain's models so that Alembic and the tests see the whole schema."""

import api.chat.models  # noqa: F401  (registers the chat tables)
from api.auth.models import (
    AuditEvent,
    Bidder,
    ConversationBinding,
    FailureCounter,
    MfaDevice,
    MfaEnrollment,
    OneTimeCode,
    OutboxMessage,
    SignInAttempt,
    User,
    UserSession,
    user_bidders,
)
from api.documents import models as documents_models  # noqa: F401  (registers the documents tables)

__all__ = [
    "AuditEvent",
    "Bidder",
    "ConversationBinding",
    "FailureCounter",
    "MfaDevice",
    "MfaEnrollment",
    "OneTimeCode",
    "OutboxMessage",
    "SignInAttempt",
    "User",
    "UserSession",
    "user_bidders",
]
