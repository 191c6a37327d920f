"""Routes of the identity API: registration, sign-in in two steps, MFA devices, sessions, chats.

Secrets travel only in request bodies (password, code) and the Authorization header (tokens),
never in URLs. The chat client posts passwords and codes straight here, never through Rasa; the
bot learns only outcomes (`GET /api/v1/me/mfa-setup`, `GET /api/v1/me`) with the service credential.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import HTMLResponse

from api.auth import notifier as notifier_module
from api.auth import service
from api.auth.dependencies import (
    ActorDep,
    ChatActor,
    ClientAddress,
    CurrentAgent,
    CurrentSession,
    CurrentUser,
    OwnSession,
    SetupViewer,
)
from api.auth.errors import Problem, problem_responses
from api.auth.notifier import NotifierDep
from api.auth.schemas import (
    AccountPublic,
    BidderLink,
    ChatBindingCreate,
    ChatBindingPublic,
    CodeRequest,
    CodeSent,
    CodeVerify,
    DeviceOption,
    DevicePublic,
    DeviceRemoved,
    EnrollmentCreate,
    EnrollmentPublic,
    EnrollmentResult,
    EnrollmentVerify,
    MePublic,
    MfaSetupState,
    MfaVerified,
    RegistrationCreate,
    RegistrationPublic,
    SessionInfo,
    SignedOut,
    SignInCreate,
    SignInStep,
)
from api.config import get_settings
from api.database import SessionDep

router = APIRouter(prefix="/api/v1")
dev_router = APIRouter(prefix="/dev", tags=["development"])

EnrollmentId = Annotated[int, Path(ge=1, le=2_147_483_647, description="From the set-up's answer.")]
DeviceId = Annotated[int, Path(ge=1, le=2_147_483_647)]
SessionId = Annotated[int, Path(ge=1, le=2_147_483_647)]
AccountUserId = Annotated[str, Path(min_length=1, max_length=64, description="The CMS IDM user ID.")]

# Answers shared by the routes that take the user's own token (sign-in token or session).
ACTOR = ("not_signed_in", "sign_in_expired", "user_credential_required", "account_locked")
# ... and by those that also take the service credential for a chat.
CHAT_ACTOR = ("not_signed_in", "sign_in_expired", "chat_not_signed_in", "conversation_id_required", "account_locked")
THROTTLED = ("too_many_attempts", "account_locked")
CODE_REFUSED = ("code_incorrect", "code_expired", "code_already_used", "code_format")
SESSION = ("not_signed_in", "chat_not_signed_in", "conversation_id_required")


# --- registration and sign-in --------------------------------------------------------------------------


@router.post(
    "/auth/register",
    tags=["identity"],
    response_model=RegistrationPublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        "invalid_email",
        "invalid_phone",
        "password_too_short",
        "password_too_long",
        "password_too_common",
        "password_is_user_id",
        "user_id_taken",
    ),
)
def register(data: RegistrationCreate, db: SessionDep, address: ClientAddress) -> RegistrationPublic:
    """New User Registration: create a supplier account. Sign in next to set up an MFA device.

    Passwords: 8 to 128 characters, any characters, not a common password and not the user ID.
    Bidder numbers are linked by a customer service agent, not claimed at registration.
    """
    return service.register(db=db, data=data, address=address)


@router.post(
    "/auth/sign-in",
    tags=["identity"],
    response_model=SignInStep,
    responses=problem_responses("invalid_credentials", *THROTTLED, "conversation_in_use"),
)
def sign_in(data: SignInCreate, db: SessionDep, notifier: NotifierDep, address: ClientAddress) -> SignInStep:
    """Step 1 of signing in: user ID and password.

    `next_step` says what follows: `verify_code` (choose a device, then `/auth/mfa/challenge` for a
    text/voice/email code and `/auth/mfa/verify`), `set_up_device` (MFA is required and the user has no
    device: `/auth/mfa/enrollments` with the sign-in token), or `signed_in` (before the enforcement date,
    without a device). Give `conversation_id` when signing in through the chat, to link that chat.
    """
    return service.password_step(
        db=db,
        notifier=notifier,
        user_id=data.user_id,
        password=data.password,
        conversation_id=data.conversation_id,
        address=address,
    )


@router.post(
    "/auth/mfa/challenge",
    tags=["identity"],
    response_model=CodeSent,
    responses=problem_responses(
        *ACTOR, "too_many_attempts", "device_not_found", "no_code_to_send", "too_many_codes", "delivery_failed"
    ),
)
def send_code(
    data: CodeRequest, db: SessionDep, notifier: NotifierDep, actor: ActorDep, address: ClientAddress
) -> CodeSent:
    """Send a 6-digit code to a text message, voice call or email device (sign-in token or session).

    Sending a new code does not reset the count of failed attempts.
    """
    return service.send_code(db=db, notifier=notifier, actor=actor, device_id=data.device_id, address=address)


@router.post(
    "/auth/mfa/verify",
    tags=["identity"],
    response_model=MfaVerified,
    responses=problem_responses(*ACTOR, "too_many_attempts", "device_not_found", *CODE_REFUSED, "conversation_in_use"),
)
def verify_code(
    data: CodeVerify, db: SessionDep, notifier: NotifierDep, actor: ActorDep, address: ClientAddress
) -> MfaVerified:
    """Step 2 of signing in: a code from a device. With the sign-in token it gives the session (and links
    the chat); with a session it is a step-up, allowing device changes for 10 minutes.

    Post the code from the user's own client, never through the bot.
    """
    return service.verify_code(
        db=db,
        notifier=notifier,
        actor=actor,
        device_id=data.device_id,
        code=data.code,
        conversation_id=data.conversation_id,
        address=address,
    )


@router.get("/auth/mfa/device-options", tags=["identity"], response_model=list[DeviceOption])
def device_options() -> list[DeviceOption]:
    """The kinds of MFA device that can be set up, in the order CMS IDM lists them."""
    return service.DEVICE_OPTIONS


# --- devices --------------------------------------------------------------------------------------------


@router.post(
    "/auth/mfa/enrollments",
    tags=["identity"],
    response_model=EnrollmentPublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *CHAT_ACTOR,
        "fresh_verification_required",
        "device_already_set_up",
        "too_many_devices",
        "device_exists",
        "phone_required",
        "invalid_phone",
        "invalid_email",
        "delivery_failed",
    ),
)
def start_enrollment(
    data: EnrollmentCreate, db: SessionDep, notifier: NotifierDep, caller: ChatActor, address: ClientAddress
) -> EnrollmentPublic:
    """Start setting up a device. Apps get a key, provisioning URI and QR code; text, voice and email get a code.

    With a sign-in token: only a first device (MFA required, none set up). With a session: a second
    factor from the last 10 minutes (`/auth/mfa/verify`), or the password for a first device.
    The action server may start it for a chat (service credential + `X-Conversation-Id`) bound to a session,
    or named at the password step of a sign-in still waiting for its second step; its answer holds no key or
    QR code (the user's client reads them with `GET /auth/mfa/enrollments/{id}`), and only the user's own
    client can verify the code.
    """
    actor, own = caller
    return service.start_enrollment(db=db, notifier=notifier, actor=actor, data=data, address=address, own=own)


@router.get(
    "/auth/mfa/enrollments/{enrollment_id}",
    tags=["identity"],
    response_model=EnrollmentPublic,
    responses=problem_responses(*ACTOR, "enrollment_not_found"),
)
def get_enrollment(enrollment_id: EnrollmentId, db: SessionDep, actor: ActorDep) -> EnrollmentPublic:
    """A device set-up, for the user's own client: with an app's key and QR code while it is pending."""
    return service.get_enrollment(db=db, actor=actor, enrollment_id=enrollment_id)


@router.post(
    "/auth/mfa/enrollments/{enrollment_id}/resend",
    tags=["identity"],
    response_model=CodeSent,
    responses=problem_responses(
        *CHAT_ACTOR,
        "too_many_attempts",
        "enrollment_not_found",
        "enrollment_not_pending",
        "no_code_to_send",
        "too_many_codes",
        "delivery_failed",
    ),
)
def resend_enrollment_code(
    enrollment_id: EnrollmentId, db: SessionDep, notifier: NotifierDep, caller: ChatActor, address: ClientAddress
) -> CodeSent:
    """Send a new code for a text, voice or email device being set up (at most 5 per set-up).

    The user's own token, or the service credential for the chat (as for starting the set-up).
    """
    actor, _own = caller
    return service.resend_enrollment_code(
        db=db, notifier=notifier, actor=actor, enrollment_id=enrollment_id, address=address
    )


@router.post(
    "/auth/mfa/enrollments/{enrollment_id}/verify",
    tags=["identity"],
    response_model=EnrollmentResult,
    responses=problem_responses(
        *ACTOR,
        "too_many_attempts",
        "enrollment_not_found",
        "enrollment_not_pending",
        *CODE_REFUSED,
        "conversation_in_use",
    ),
)
def verify_enrollment(
    enrollment_id: EnrollmentId,
    data: EnrollmentVerify,
    db: SessionDep,
    notifier: NotifierDep,
    actor: ActorDep,
    address: ClientAddress,
) -> EnrollmentResult:
    """Finish setting up a device with its first code; the user is notified by email.

    A first device set up with the sign-in token also completes the sign-in: the answer holds the session.
    """
    return service.verify_enrollment(
        db=db,
        notifier=notifier,
        actor=actor,
        enrollment_id=enrollment_id,
        code=data.code,
        conversation_id=data.conversation_id,
        address=address,
    )


@router.get(
    "/auth/mfa/devices",
    tags=["identity"],
    response_model=list[DevicePublic],
    responses=problem_responses(*SESSION),
)
def list_devices(db: SessionDep, user: CurrentUser) -> list[DevicePublic]:
    """The user's devices, without secrets (session, or service credential with a linked chat)."""
    return [service.device_public(d) for d in service.active_devices(db=db, user=user)]


@router.delete(
    "/auth/mfa/devices/{device_id}",
    tags=["identity"],
    response_model=DeviceRemoved,
    responses=problem_responses(*ACTOR, "device_not_found", "last_device", "fresh_verification_required"),
)
def remove_device(
    device_id: DeviceId, db: SessionDep, notifier: NotifierDep, session: OwnSession, address: ClientAddress
) -> DeviceRemoved:
    """Remove a device; needs a second factor from the last 10 minutes. The last device stays once MFA is
    required. The user is notified by email."""
    return service.remove_device(db=db, notifier=notifier, session=session, device_id=device_id, address=address)


# --- sessions, chats, me --------------------------------------------------------------------------------


@router.post("/auth/sign-out", tags=["identity"], response_model=SignedOut, responses=problem_responses(*SESSION))
def sign_out(db: SessionDep, session: CurrentSession, address: ClientAddress) -> SignedOut:
    """Sign out: revoke the session. Chats linked to it can no longer act for the user.

    The action server may sign out the user of a linked chat (service credential + X-Conversation-Id).
    """
    return service.sign_out(db=db, session=session, address=address)


@router.get("/auth/sessions", tags=["identity"], response_model=list[SessionInfo], responses=problem_responses(*ACTOR))
def list_sessions(db: SessionDep, session: OwnSession) -> list[SessionInfo]:
    """The user's open sessions and the chats linked to each."""
    return service.list_sessions(db=db, session=session)


@router.delete(
    "/auth/sessions/{session_id}",
    tags=["identity"],
    response_model=SignedOut,
    responses=problem_responses(*ACTOR, "session_not_found"),
)
def revoke_session(session_id: SessionId, db: SessionDep, session: OwnSession, address: ClientAddress) -> SignedOut:
    """End one of the user's sessions (e.g. one left open on another computer)."""
    return service.revoke_session(db=db, session=session, session_id=session_id, address=address)


@router.post(
    "/chat-bindings",
    tags=["identity"],
    response_model=ChatBindingPublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*ACTOR, "conversation_in_use"),
)
def bind_chat(
    data: ChatBindingCreate, db: SessionDep, session: OwnSession, address: ClientAddress
) -> ChatBindingPublic:
    """Link a chat to the signed-in user's session (the user's own token only).

    The action server, with the service credential and `X-Conversation-Id`, then acts for this user
    and no one else, until the session ends or is signed out.
    """
    return service.bind_chat(db=db, session=session, conversation_id=data.conversation_id, address=address)


@router.get("/me", tags=["identity"], response_model=MePublic, responses=problem_responses(*SESSION))
def me(db: SessionDep, session: CurrentSession) -> MePublic:
    """The signed-in user: user ID, names, bidder numbers, MFA status and devices (without secrets).

    With a session token, or the service credential and the `X-Conversation-Id` of a linked chat.
    """
    return service.profile(db=db, session=session)


@router.get(
    "/me/mfa-setup",
    tags=["identity"],
    response_model=MfaSetupState,
    responses=problem_responses("not_signed_in", "chat_not_signed_in", "conversation_id_required", "sign_in_expired"),
)
def mfa_setup(db: SessionDep, viewer: SetupViewer) -> MfaSetupState:
    """The latest device set-up: pending, verified, failed, expired, cancelled or locked.

    With the user's own token (sign-in or session) a pending app set-up includes its key and QR code.
    With the service credential and `X-Conversation-Id` (a linked chat, or one named at the password step
    in the last hour) only the outcome is given: the bot never sees keys, QR codes or codes.
    """
    user, own = viewer
    return service.mfa_setup_state(db=db, user=user, own=own)


# --- agents ---------------------------------------------------------------------------------------------


@router.post(
    "/agent/users/{user_id}/unlock",
    tags=["agents"],
    response_model=AccountPublic,
    responses=problem_responses(*SESSION, "agent_only", "user_not_found"),
)
def unlock_account(
    user_id: AccountUserId, db: SessionDep, agent: CurrentAgent, address: ClientAddress
) -> AccountPublic:
    """Unlock an account locked after 100 failed attempts (agents, after checking the caller's identity)."""
    return service.unlock_account(db=db, agent=agent, user_id=user_id, address=address)


@router.post(
    "/agent/users/{user_id}/bidders",
    tags=["agents"],
    response_model=AccountPublic,
    responses=problem_responses(*SESSION, "agent_only", "user_not_found", "bidder_not_found"),
)
def link_bidder(
    user_id: AccountUserId, data: BidderLink, db: SessionDep, agent: CurrentAgent, address: ClientAddress
) -> AccountPublic:
    """Let a user act for a bidder number (agents only: users cannot claim bidder numbers)."""
    return service.link_bidder(db=db, agent=agent, user_id=user_id, bidder_number=data.bidder_number, address=address)


# --- development ----------------------------------------------------------------------------------------


@dev_router.get(
    "/outbox",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "The newest messages, newest first."},
        **problem_responses("not_available"),
    },
)
def outbox_page(
    db: SessionDep,
    to: Annotated[
        str | None,
        Query(max_length=254, pattern=r"^[^\x00-\x1f]*$", description="Only messages to this phone or email."),
    ] = None,
) -> HTMLResponse:
    """The developer outbox: text messages, voice call scripts and emails the API has 'sent'.

    Not served in production (404), where codes go to real providers.
    """
    if get_settings().environment == "production":
        raise Problem(404, "not_available", "Not found.")
    rows = notifier_module.outbox_messages(db=db, recipient=to, limit=50)
    cells = "".join(
        "<tr>"
        f"<td>{html.escape(row.created_at.strftime('%Y-%m-%d %H:%M:%S'))} UTC</td>"
        f"<td>{html.escape(row.channel)}</td><td>{html.escape(row.recipient)}</td>"
        f"<td>{html.escape(row.purpose)}</td><td><b>{html.escape(row.subject)}</b>"
        f"<pre>{html.escape(row.body)}</pre></td>"
        "</tr>"
        for row in rows
    )
    empty = "<tr><td colspan='5'>No messages yet.</td></tr>"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Developer outbox</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}}
pre{{white-space:pre-wrap;margin:.3rem 0}}</style></head><body>
<h1>Developer outbox</h1>
<p>Text messages, voice calls and emails the API would have sent (newest first, 50 at most).
This page does not exist in production.</p>
<table><thead><tr><th>When</th><th>Channel</th><th>To</th><th>Purpose</th><th>Message</th></tr></thead>
<tbody>{cells or empty}</tbody></table></body></html>"""
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
