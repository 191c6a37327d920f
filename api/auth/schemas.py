"""Request and response bodies of the identity API, kept apart from the ORM models.

Every input has a length limit; secrets (passwords, codes) are only ever in request bodies, tokens
only in the Authorization header.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from api.auth.models import DeviceKind, EnrollmentStatus, Role


def _no_control_characters(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


PlainText = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_no_control_characters)]
UserId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"),
    Field(description="The CMS IDM user ID: letters, digits and . _ @ -", examples=["demo.supplier"]),
]
ConversationId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$"),
    Field(description="The chat conversation (Rasa sender id) to link to the signed-in user."),
]
# Generous bound: the password rules (8 to 128 characters) are checked by the service with a clear message.
Password = Annotated[str, Field(max_length=1024, description="Never logged or stored; checked against a hash.")]
Code = Annotated[str, Field(max_length=32, description="The 6-digit code, as typed (spaces are fine).")]
DatabaseId = Annotated[int, Field(ge=1, le=2_147_483_647)]


# --- registration -------------------------------------------------------------------------------


class RegistrationCreate(BaseModel):
    user_id: UserId
    first_name: Annotated[PlainText, Field(min_length=1, max_length=100)]
    last_name: Annotated[PlainText, Field(min_length=1, max_length=100)]
    email: Annotated[PlainText, Field(min_length=3, max_length=254)]
    phone: Annotated[PlainText | None, Field(max_length=40, description="US number, any common format.")] = None
    password: Password


class RegistrationPublic(BaseModel):
    user_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    message: str


# --- devices and sessions ---------------------------------------------------------------------------


class DevicePublic(BaseModel):
    """A set-up device, without its secret; phone numbers and emails are masked."""

    id: int
    kind: DeviceKind
    kind_name: str = Field(examples=["Google Authenticator"])
    label: str
    sent_to: str | None = Field(None, description="Masked phone number or email, for code devices.")
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class DeviceOption(BaseModel):
    kind: DeviceKind
    name: str
    needs: Literal["app", "phone", "email"]
    description: str


class SessionPublic(BaseModel):
    session_token: str = Field(description="Send as `Authorization: Bearer <token>`; shown once.")
    expires_at: dt.datetime
    user_id: str
    conversation_id: str | None = Field(None, description="The chat now linked to this session, if any.")


class SignInCreate(BaseModel):
    user_id: Annotated[str, Field(min_length=1, max_length=256)]
    password: Password
    conversation_id: ConversationId | None = None


class SignInStep(BaseModel):
    """The answer to the password step: what to do next."""

    next_step: Literal["verify_code", "set_up_device", "signed_in"]
    message: str
    sign_in_token: str | None = Field(
        None, description="Short-lived (15 minutes); good only for the second step. Send as a Bearer token."
    )
    sign_in_expires_at: dt.datetime | None = None
    devices: list[DevicePublic] = Field(default_factory=list, description="The devices to choose from.")
    device_options: list[DeviceOption] = Field(default_factory=list, description="Devices that can be set up.")
    session: SessionPublic | None = Field(None, description="Given at once only while MFA is optional.")
    advice: str | None = None


class CodeRequest(BaseModel):
    device_id: DatabaseId


class CodeSent(BaseModel):
    device_id: int
    kind: DeviceKind
    sent_to: str
    expires_at: dt.datetime
    codes_left: int = Field(description="How many more codes may be sent for this sign-in or set-up.")
    message: str


class CodeVerify(BaseModel):
    device_id: DatabaseId
    code: Code
    conversation_id: ConversationId | None = None


class MfaVerified(BaseModel):
    outcome: Literal["signed_in", "verified"]
    message: str
    session: SessionPublic | None = Field(None, description="When a sign-in was completed.")
    fresh_until: dt.datetime | None = Field(None, description="Until when devices may be added or removed.")
    advice: str | None = None


# --- device set-up ---------------------------------------------------------------------------------


class EnrollmentCreate(BaseModel):
    kind: DeviceKind
    phone: Annotated[
        PlainText | None, Field(max_length=40, description="For text message or voice call; default: the account's.")
    ] = None
    email: Annotated[PlainText | None, Field(max_length=254, description="For email; default: the account's.")] = None
    label: Annotated[PlainText | None, Field(min_length=1, max_length=60)] = None


class AuthenticatorSetup(BaseModel):
    """What an authenticator app needs; shown only to the user's own client."""

    secret: str = Field(description="The key to type in when the QR code cannot be scanned.")
    provisioning_uri: str
    qr_code: str = Field(description="PNG QR code of the provisioning URI, as a data: URL.")


class EnrollmentPublic(BaseModel):
    enrollment_id: int
    status: EnrollmentStatus
    kind: DeviceKind
    kind_name: str
    label: str
    sent_to: str | None = None
    expires_at: dt.datetime
    failed_attempts: int
    last_error: str | None = Field(None, description="Rule of the last refused code, e.g. `code_incorrect`.")
    device_id: int | None = Field(None, description="The device, once verified.")
    authenticator: AuthenticatorSetup | None = Field(
        None, description="For a pending app set-up, only with the user's own credential."
    )
    qr_code_available: bool = Field(
        False, description="A QR code is waiting to be shown by the user's own client (pending app set-up)."
    )
    message: str


class EnrollmentVerify(BaseModel):
    code: Code
    conversation_id: ConversationId | None = None


class EnrollmentResult(BaseModel):
    enrollment: EnrollmentPublic
    device: DevicePublic | None
    session: SessionPublic | None = Field(None, description="When setting up the first device completed a sign-in.")
    message: str
    advice: str | None = None


class MfaSetupState(BaseModel):
    """The latest device set-up of the user: what the bot may learn about it."""

    status: Literal["none", "pending", "verified", "failed", "expired", "cancelled", "locked"]
    enrollment: EnrollmentPublic | None
    active_devices: int
    message: str


class DeviceRemoved(BaseModel):
    removed_device_id: int
    remaining_devices: list[DevicePublic]
    message: str
    advice: str | None = None


# --- me, sessions, chats, agents -------------------------------------------------------------------


class BidderPublic(BaseModel):
    bidder_number: str
    organization: str


class MfaStatus(BaseModel):
    status: Literal["enabled", "not_set_up"]
    required: bool = Field(description="Whether MFA is required now (from the enforcement date).")
    enforcement_date: dt.date
    device_count: int
    devices: list[DevicePublic]
    advice: str | None = None


class MePublic(BaseModel):
    user_id: str
    first_name: str
    last_name: str
    role: Role
    bidder_numbers: list[str]
    bidders: list[BidderPublic]
    mfa: MfaStatus
    session_expires_at: dt.datetime


class SessionInfo(BaseModel):
    id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    current: bool
    conversation_ids: list[str]


class SignedOut(BaseModel):
    message: str


class ChatBindingCreate(BaseModel):
    conversation_id: ConversationId


class ChatBindingPublic(BaseModel):
    conversation_id: str
    user_id: str
    expires_at: dt.datetime
    message: str


class BidderLink(BaseModel):
    bidder_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16, pattern=r"^[A-Za-z0-9-]+$")
    ]


class AccountPublic(BaseModel):
    user_id: str
    locked: bool
    bidder_numbers: list[str]
    message: str
