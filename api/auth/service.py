"""Identity services: registration, the two sign-in steps, MFA devices, step-up, chats and sessions.

Each function is keyword-only, commits its own work and raises `Problem` for a rule the caller broke.
The `Actor` is whoever holds a token: a sign-in attempt (password step done) or a session.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from api.auth import audit, clock, mfa, passwords, sessions, throttle
from api.auth.errors import CUSTOMER_SERVICE_PHONE, Problem
from api.auth.models import (
    Bidder,
    CodePurpose,
    ConversationBinding,
    DeviceKind,
    DeviceStatus,
    EnrollmentStatus,
    MfaDevice,
    MfaEnrollment,
    OneTimeCode,
    Role,
    SignInAttempt,
    User,
    UserSession,
)
from api.auth.notifier import Channel, DeliveryError, Message, Notifier
from api.auth.schemas import (
    AccountPublic,
    AuthenticatorSetup,
    BidderPublic,
    ChatBindingPublic,
    CodeSent,
    DeviceOption,
    DevicePublic,
    DeviceRemoved,
    EnrollmentCreate,
    EnrollmentPublic,
    EnrollmentResult,
    MePublic,
    MfaSetupState,
    MfaStatus,
    MfaVerified,
    RegistrationCreate,
    RegistrationPublic,
    SessionInfo,
    SessionPublic,
    SignedOut,
    SignInStep,
)
from api.config import get_settings

logger = logging.getLogger("api.auth")

SIGN_IN_TOKEN_PREFIX = "si_"  # noqa: S105  (a prefix that tells sign-in tokens from session tokens)
SIGN_IN_LIFETIME = dt.timedelta(minutes=15)
ENROLLMENT_LIFETIME = dt.timedelta(minutes=15)
FRESH_WINDOW = dt.timedelta(minutes=10)
SETUP_STATE_WINDOW = dt.timedelta(hours=1)
MAX_CODES = 5  # per sign-in attempt, per device set-up, per session and 10 minutes for step-up
MAX_DEVICES = 10
MAX_ENROLLMENT_FAILURES = 5

ADVICE_MORE_DEVICES = (
    "It is wise to set up more than one device, so that you can still sign in if you lose one or cannot reach it."
)

CODE_MESSAGES = {
    "code_incorrect": "That code is not right. Check the code and enter it again, or ask for a new one.",
    "code_expired": "That code has expired (codes work for 10 minutes). Ask for a new code and enter it.",
    "code_already_used": "That code was already used; each code works once. Enter a new code.",
}

DEVICE_OPTIONS = [
    DeviceOption(
        kind=DeviceKind.google_authenticator,
        name="Google Authenticator",
        needs="app",
        description="An app on your phone shows a new 6-digit code every 30 seconds; scan a QR code to set it up.",
    ),
    DeviceOption(
        kind=DeviceKind.okta_verify,
        name="Okta Verify",
        needs="app",
        description="An app on your phone shows a new 6-digit code every 30 seconds; scan a QR code to set it up.",
    ),
    DeviceOption(
        kind=DeviceKind.text_message,
        name="Text message (SMS)",
        needs="phone",
        description="We text a 6-digit code to your US mobile number.",
    ),
    DeviceOption(
        kind=DeviceKind.voice_call,
        name="Voice call (IVR)",
        needs="phone",
        description="We call your US phone number and read out a 6-digit code.",
    ),
    DeviceOption(
        kind=DeviceKind.email, name="Email", needs="email", description="We email a 6-digit code to your address."
    ),
]


@dataclass
class Actor:
    """Who holds the token of a request: a sign-in attempt (password step done) or a session."""

    user: User
    attempt: SignInAttempt | None = None
    session: UserSession | None = None


# --- helpers -------------------------------------------------------------------------------------------


def mfa_required(now: dt.datetime | None = None) -> bool:
    """Whether MFA is required at `now` (from the enforcement date, in Eastern Time)."""
    settings = get_settings()
    return (now or clock.now()).astimezone(settings.tz).date() >= settings.mfa_enforcement_date


def _enforcement_date_text() -> str:
    day = get_settings().mfa_enforcement_date
    return f"{day:%B} {day.day}, {day.year}"


def _eastern(at: dt.datetime) -> str:
    local = at.astimezone(get_settings().tz)
    return f"{local:%B} {local.day}, {local.year} at {local:%I:%M %p} Eastern Time".replace(" 0", " ")


def active_devices(*, db: Session, user: User) -> list[MfaDevice]:
    return list(
        db.scalars(
            select(MfaDevice)
            .where(MfaDevice.user_pk == user.id, MfaDevice.status == DeviceStatus.active)
            .order_by(MfaDevice.id)
        )
    )


def device_public(device: MfaDevice) -> DevicePublic:
    return DevicePublic(
        id=device.id,
        kind=device.kind,
        kind_name=device.kind.display_name,
        label=device.label,
        sent_to=mfa.mask(device.destination),
        created_at=clock.aware(device.created_at),
        last_used_at=clock.aware(device.last_used_at) if device.last_used_at else None,
    )


def _session_public(token: str, row: UserSession, user: User, conversation_id: str | None) -> SessionPublic:
    return SessionPublic(
        session_token=token,
        expires_at=clock.aware(row.expires_at),
        user_id=user.user_id,
        conversation_id=conversation_id,
    )


def find_user(*, db: Session, user_id: str) -> User | None:
    """The user with this user ID (case-insensitive), or None; malformed IDs never reach the database."""
    candidate = user_id.strip()
    if not candidate or len(candidate) > 64 or any(ord(c) < 32 for c in candidate):
        return None
    return db.scalar(select(User).where(func.lower(User.user_id) == candidate.lower()))


def _invalid_credentials() -> Problem:
    return Problem(
        401,
        "invalid_credentials",
        "The user ID or password is not right. Check both and try again; user IDs are not case-sensitive, "
        "passwords are.",
    )


def _send_notice(*, db: Session, notifier: Notifier, user: User, subject: str, body: str, purpose: str) -> None:
    """Tell the user about a change to their account by email; a failed delivery is audited, not fatal."""
    try:
        notifier.send(Message(channel=Channel.email, to=user.email, subject=subject, body=body, purpose=purpose))
    except DeliveryError:
        audit.record(db=db, event="notice_failed", user=user, detail=purpose)


def _notify_locked(*, db: Session, notifier: Notifier, user: User) -> None:
    _send_notice(
        db=db,
        notifier=notifier,
        user=user,
        subject="Your CBP Connexion account is locked",
        body=(
            f"Your account {user.user_id} was locked on {_eastern(clock.now())} after too many failed sign-in "
            f"attempts.\n\nTo unlock it, call the CBIC customer service center at {CUSTOMER_SERVICE_PHONE}, "
            "9 a.m. to 5:30 p.m. Eastern Time, Monday to Friday."
        ),
        purpose="account_locked",
    )
    db.commit()


def _fail(
    *,
    db: Session,
    notifier: Notifier,
    user: User | None,
    address: str,
    event: str,
    problem: Problem,
    attempted_user_id: str | None = None,
    detail: str | None = None,
) -> Problem:
    """Count and audit a failure; the problem to raise (423 when this failure locked the account)."""
    outcome = throttle.record_failure(
        db=db, user=user, address=address, event=event, attempted_user_id=attempted_user_id, detail=detail
    )
    if outcome.locked_now and user is not None:
        _notify_locked(db=db, notifier=notifier, user=user)
        return throttle.locked_problem()
    return problem


def _check_conversation_free(*, db: Session, conversation_id: str | None, user: User) -> None:
    if conversation_id is None:
        return
    current = sessions.session_for_conversation(db=db, conversation_id=conversation_id)
    if current is not None and current.user_pk != user.id:
        raise Problem(
            409,
            "conversation_in_use",
            "This chat is signed in as another user. Sign that user out or start a new chat, then sign in again.",
        )


def _issue_session(
    *,
    db: Session,
    user: User,
    conversation_id: str | None,
    password_verified_at: dt.datetime,
    second_factor_at: dt.datetime | None,
    address: str,
    how: str,
) -> SessionPublic:
    """Create a session (and bind the chat, if any); resets the failure count; commits."""
    token, row = sessions.create_session(db=db, user=user)
    row.password_verified_at = password_verified_at
    row.second_factor_at = second_factor_at
    throttle.record_success(db=db, user=user)
    audit.record(db=db, event="signed_in", user=user, client_address=address, detail=how)
    db.commit()
    if conversation_id is not None:
        sessions.bind_conversation(db=db, conversation_id=conversation_id, session=row)
        audit.record(db=db, event="chat_linked", user=user, client_address=address, detail=conversation_id)
        db.commit()
    return _session_public(token, row, user, conversation_id)


# --- registration ------------------------------------------------------------------------------------


def register(*, db: Session, data: RegistrationCreate, address: str) -> RegistrationPublic:
    """Create a supplier account (New User Registration); MFA is set up at the next sign-in."""
    email = mfa.normalize_email(data.email)
    if email is None:
        raise Problem(422, "invalid_email", "The email address is not valid. Enter it as name@example.com.")
    phone = None
    if data.phone:
        phone = mfa.normalize_us_phone(data.phone)
        if phone is None:
            raise Problem(
                422, "invalid_phone", "The phone number is not a valid US number. Enter it as (202) 555-0143."
            )
    broken = passwords.broken_rule(data.password, user_id=data.user_id)
    if broken is not None:
        raise Problem(422, *broken)
    taken = Problem(409, "user_id_taken", "This user ID is taken. Choose another user ID.")
    if find_user(db=db, user_id=data.user_id) is not None:
        raise taken
    user = User(
        user_id=data.user_id,
        first_name=data.first_name,
        last_name=data.last_name,
        email=email,
        phone=phone,
        role=Role.supplier,
        password_hash=passwords.hash_password(data.password),
    )
    db.add(user)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise taken from None
    audit.record(db=db, event="registered", user=user, client_address=address)
    db.commit()
    return RegistrationPublic(
        user_id=user.user_id,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        phone=user.phone,
        message="Your account is ready. Sign in with your user ID and password to set up a "
        "multi-factor authentication device.",
    )


# --- sign-in: the password step ------------------------------------------------------------------------


def password_step(
    *,
    db: Session,
    notifier: Notifier,
    user_id: str,
    password: str,
    conversation_id: str | None,
    address: str,
) -> SignInStep:
    """Check the user ID and password; answer with the next step and a short-lived sign-in token."""
    user = find_user(db=db, user_id=user_id)
    throttle.check(db=db, user=user, address=address)
    if user is None:
        passwords.spend_verification_time(password)
        raise _fail(
            db=db,
            notifier=notifier,
            user=None,
            address=address,
            event="password_failed",
            problem=_invalid_credentials(),
            attempted_user_id=user_id,
            detail="unknown user ID",
        )
    if not passwords.verify_password(user.password_hash, password):
        raise _fail(
            db=db,
            notifier=notifier,
            user=user,
            address=address,
            event="password_failed",
            problem=_invalid_credentials(),
        )
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    _check_conversation_free(db=db, conversation_id=conversation_id, user=user)

    now = clock.now()
    devices = active_devices(db=db, user=user)
    if not devices and not mfa_required(now):
        session = _issue_session(
            db=db,
            user=user,
            conversation_id=conversation_id,
            password_verified_at=now,
            second_factor_at=None,
            address=address,
            how="password only (MFA optional before the enforcement date)",
        )
        return SignInStep(
            next_step="signed_in",
            message=f"You are signed in. From {_enforcement_date_text()} you will need a multi-factor "
            "authentication device to sign in; set one up now.",
            session=session,
            device_options=DEVICE_OPTIONS,
            advice=ADVICE_MORE_DEVICES,
        )

    token = SIGN_IN_TOKEN_PREFIX + secrets.token_urlsafe(32)
    attempt = SignInAttempt(
        token_hash=sessions.hash_token(token),
        user_pk=user.id,
        conversation_id=conversation_id,
        created_at=now,
        expires_at=now + SIGN_IN_LIFETIME,
        codes_sent=0,
    )
    db.add(attempt)
    audit.record(db=db, event="password_accepted", user=user, client_address=address)
    db.commit()
    if devices:
        return SignInStep(
            next_step="verify_code",
            message="Your password is right. Choose one of your devices and enter the 6-digit code it shows or "
            "that we send to it.",
            sign_in_token=token,
            sign_in_expires_at=attempt.expires_at,
            devices=[device_public(d) for d in devices],
        )
    return SignInStep(
        next_step="set_up_device",
        message=f"Since {_enforcement_date_text()} you need a multi-factor authentication device to sign in. "
        "Set up a device now to finish signing in: email, text message, Google Authenticator, voice call (IVR) "
        "or Okta Verify.",
        sign_in_token=token,
        sign_in_expires_at=attempt.expires_at,
        device_options=DEVICE_OPTIONS,
        advice=ADVICE_MORE_DEVICES,
    )


def resolve_token(*, db: Session, token: str) -> Actor:
    """The actor holding `token`: a pending sign-in attempt or a valid session."""
    if token.startswith(SIGN_IN_TOKEN_PREFIX):
        attempt = db.scalar(select(SignInAttempt).where(SignInAttempt.token_hash == sessions.hash_token(token)))
        if attempt is None or attempt.completed_at is not None or clock.aware(attempt.expires_at) <= clock.now():
            raise Problem(
                401,
                "sign_in_expired",
                "Your sign-in has timed out or was already completed. Enter your user ID and password again.",
            )
        if attempt.user.locked_at is not None:
            audit.record(db=db, event="refused_locked", user=attempt.user, detail="sign-in token of a locked account")
            db.commit()
            raise throttle.locked_problem()
        return Actor(user=attempt.user, attempt=attempt)
    row = sessions.session_for_token(db=db, token=token)
    if row is None:
        raise Problem(401, "not_signed_in", "Your session has ended. Sign in again to continue.")
    return Actor(user=row.user, session=row)


def latest_attempt_for_conversation(*, db: Session, conversation_id: str) -> SignInAttempt | None:
    """The newest sign-in attempt (of the last hour) that named this chat: lets the bot follow a first
    device set-up before the chat is signed in. It reveals only the set-up's state."""
    return db.scalar(
        select(SignInAttempt)
        .where(
            SignInAttempt.conversation_id == conversation_id,
            SignInAttempt.created_at > clock.now() - SETUP_STATE_WINDOW,
        )
        .order_by(SignInAttempt.id.desc())
        .limit(1)
    )


def pending_attempt_for_conversation(*, db: Session, conversation_id: str) -> SignInAttempt | None:
    """The newest sign-in attempt naming this chat that still waits for its second step."""
    now = clock.now()
    return db.scalar(
        select(SignInAttempt)
        .where(
            SignInAttempt.conversation_id == conversation_id,
            SignInAttempt.completed_at.is_(None),
            SignInAttempt.expires_at > now,
        )
        .order_by(SignInAttempt.id.desc())
        .limit(1)
    )


# --- codes ---------------------------------------------------------------------------------------------


def _active_device(*, db: Session, user: User, device_id: int) -> MfaDevice:
    device = db.get(MfaDevice, device_id)
    if device is None or device.user_pk != user.id or device.status is not DeviceStatus.active:
        raise Problem(404, "device_not_found", "That device is not set up on your account. Choose one of your devices.")
    return device


def _code_message(device: MfaDevice, code: str, user: User, why: str) -> Message:
    destination = device.destination or ""
    if device.kind is DeviceKind.voice_call:
        spoken = mfa.spoken_code(code)
        body = (
            f"Hello. This is the Medicare Competitive Bidding Program. Your verification code is {spoken}. "
            f"Again, your code is {spoken}. It expires in 10 minutes. Goodbye."
        )
        return Message(Channel.voice_call, destination, "Verification code call", body, why)
    if device.kind is DeviceKind.text_message:
        body = (
            f"CBP Connexion: your verification code is {code}. It expires in 10 minutes. "
            "Never share it; CBIC staff will never ask for it."
        )
        return Message(Channel.text_message, destination, "Verification code", body, why)
    body = (
        f"Hello {user.first_name},\n\nYour CBP Connexion verification code is {code}.\n\n"
        "It expires in 10 minutes and works once. If you did not just sign in or set up a device, someone "
        f"may know your password: call the CBIC customer service center at {CUSTOMER_SERVICE_PHONE}."
    )
    return Message(Channel.email, destination, "Your CBP Connexion verification code", body, why)


def _issue_code(
    *,
    db: Session,
    notifier: Notifier,
    user: User,
    device: MfaDevice,
    purpose: CodePurpose,
    attempt: SignInAttempt | None = None,
    session: UserSession | None = None,
    enrollment: MfaEnrollment | None = None,
) -> OneTimeCode:
    """Create, store (hashed) and deliver a code; on a failed delivery nothing is kept (503)."""
    now = clock.now()
    code = mfa.new_code()
    salt = mfa.new_salt()
    row = OneTimeCode(
        device_pk=device.id,
        purpose=purpose,
        attempt_pk=attempt.id if attempt else None,
        session_pk=session.id if session else None,
        enrollment_pk=enrollment.id if enrollment else None,
        salt=salt,
        code_hash=mfa.hash_code(code, salt=salt),
        created_at=now,
        expires_at=now + mfa.CODE_LIFETIME,
    )
    db.add(row)
    try:
        notifier.send(_code_message(device, code, user, f"{purpose.value}_code"))
    except DeliveryError:
        db.rollback()
        raise Problem(
            503,
            "delivery_failed",
            "We could not send the code just now. Try again in a minute, or choose another device.",
        ) from None
    audit.record(db=db, event="code_sent", user=user, detail=f"{purpose.value} by {device.kind.value}")
    return row


def _bound_codes(actor: Actor, enrollment: MfaEnrollment | None) -> tuple[CodePurpose, list[ColumnElement[bool]]]:
    """What a code must have been sent for: this set-up, this sign-in attempt or this session."""
    if enrollment is not None:
        return CodePurpose.enrollment, [OneTimeCode.enrollment_pk == enrollment.id]
    if actor.attempt is not None:
        return CodePurpose.sign_in, [OneTimeCode.attempt_pk == actor.attempt.id]
    assert actor.session is not None
    return CodePurpose.step_up, [OneTimeCode.session_pk == actor.session.id]


def _check_code(
    *, db: Session, device: MfaDevice, code: str, actor: Actor, enrollment: MfaEnrollment | None = None
) -> str | None:
    """None when `code` is accepted for `device` (and consumed); otherwise the rule it broke."""
    now = clock.now()
    if device.kind.uses_app:
        assert device.totp_secret is not None
        match = mfa.match_totp(device.totp_secret, code, at=now, last_step=device.last_totp_step)
        if match.step is None:
            return "code_already_used" if match.replayed else "code_incorrect"
        claimed = db.execute(
            update(MfaDevice)
            .where(
                MfaDevice.id == device.id,
                or_(MfaDevice.last_totp_step.is_(None), MfaDevice.last_totp_step < match.step),
            )
            .values(last_totp_step=match.step)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return "code_already_used"
        set_committed_value(device, "last_totp_step", match.step)
        return None
    purpose, binding = _bound_codes(actor, enrollment)
    row = db.scalar(
        select(OneTimeCode)
        .where(OneTimeCode.device_pk == device.id, OneTimeCode.purpose == purpose, *binding)
        .order_by(OneTimeCode.id.desc())
        .limit(1)
    )
    if row is None:
        return "code_expired"
    if not mfa.code_matches(code, salt=row.salt, code_hash=row.code_hash):
        return "code_incorrect"
    if row.used_at is not None:
        return "code_already_used"
    if clock.aware(row.expires_at) <= now:
        return "code_expired"
    claimed = db.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == row.id, OneTimeCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return "code_already_used"
    return None


def _normalized_code(code: str) -> str:
    normalized = mfa.normalize_code(code)
    if normalized is None:
        raise Problem(422, "code_format", "A code is 6 digits. Enter the 6 digits you received or your app shows.")
    return normalized


def send_code(*, db: Session, notifier: Notifier, actor: Actor, device_id: int, address: str) -> CodeSent:
    """Send a code to a text, voice or email device, for the sign-in or for a step-up."""
    user = actor.user
    throttle.check(db=db, user=user, address=address)
    device = _active_device(db=db, user=user, device_id=device_id)
    if device.kind.uses_app:
        raise Problem(
            422,
            "no_code_to_send",
            f"{device.kind.display_name} makes its own codes: open the app and enter the 6-digit code it shows "
            "for CBP Connexion.",
        )
    now = clock.now()
    if actor.attempt is not None:
        sent = actor.attempt.codes_sent
    else:
        assert actor.session is not None
        sent = int(
            db.scalar(
                select(func.count(OneTimeCode.id)).where(
                    OneTimeCode.session_pk == actor.session.id, OneTimeCode.created_at > now - FRESH_WINDOW
                )
            )
            or 0
        )
    if sent >= MAX_CODES:
        raise Problem(
            429,
            "too_many_codes",
            f"We have already sent {MAX_CODES} codes. Enter the latest code, use another device, or start again "
            "by entering your user ID and password.",
        )
    if actor.attempt is not None:
        row = _issue_code(
            db=db, notifier=notifier, user=user, device=device, purpose=CodePurpose.sign_in, attempt=actor.attempt
        )
        actor.attempt.codes_sent = sent + 1
    else:
        row = _issue_code(
            db=db, notifier=notifier, user=user, device=device, purpose=CodePurpose.step_up, session=actor.session
        )
    db.commit()
    sent_to = mfa.mask(device.destination) or ""
    return CodeSent(
        device_id=device.id,
        kind=device.kind,
        sent_to=sent_to,
        expires_at=clock.aware(row.expires_at),
        codes_left=MAX_CODES - sent - 1,
        message=f"We sent a 6-digit code to {sent_to}. It expires in 10 minutes.",
    )


def verify_code(
    *,
    db: Session,
    notifier: Notifier,
    actor: Actor,
    device_id: int,
    code: str,
    conversation_id: str | None,
    address: str,
) -> MfaVerified:
    """Check a second factor: completes a sign-in (sign-in token) or refreshes a session (step-up)."""
    user = actor.user
    throttle.check(db=db, user=user, address=address)
    device = _active_device(db=db, user=user, device_id=device_id)
    normalized = _normalized_code(code)
    if actor.attempt is not None:
        conversation_id = conversation_id or actor.attempt.conversation_id
        _check_conversation_free(db=db, conversation_id=conversation_id, user=user)
    rule = _check_code(db=db, device=device, code=normalized, actor=actor)
    if rule is not None:
        raise _fail(
            db=db,
            notifier=notifier,
            user=user,
            address=address,
            event="code_failed",
            problem=Problem(401, rule, CODE_MESSAGES[rule]),
            detail=f"{rule} for {device.kind.value}",
        )
    now = clock.now()
    device.last_used_at = now
    if actor.attempt is not None:
        actor.attempt.completed_at = now
        session = _issue_session(
            db=db,
            user=user,
            conversation_id=conversation_id,
            password_verified_at=clock.aware(actor.attempt.created_at),
            second_factor_at=now,
            address=address,
            how=f"password and {device.kind.value}",
        )
        count = len(active_devices(db=db, user=user))
        return MfaVerified(
            outcome="signed_in",
            message=f"You are signed in, {user.first_name}.",
            session=session,
            advice=ADVICE_MORE_DEVICES if count == 1 else None,
        )
    assert actor.session is not None
    actor.session.second_factor_at = now
    throttle.record_success(db=db, user=user)
    audit.record(db=db, event="step_up", user=user, client_address=address, detail=device.kind.value)
    db.commit()
    return MfaVerified(
        outcome="verified",
        message="Thank you, it is you. You may add or remove devices in the next 10 minutes.",
        fresh_until=now + FRESH_WINDOW,
    )


# --- device set-up ------------------------------------------------------------------------------------


def _is_fresh(value: dt.datetime | None, now: dt.datetime) -> bool:
    return value is not None and now - clock.aware(value) <= FRESH_WINDOW


def _require_fresh(*, session: UserSession, has_devices: bool, now: dt.datetime) -> None:
    if has_devices:
        if not _is_fresh(session.second_factor_at, now):
            raise Problem(
                403,
                "fresh_verification_required",
                "For your security, first enter a code from one of your devices, then add or remove devices "
                "within 10 minutes.",
            )
    elif not (_is_fresh(session.password_verified_at, now) or _is_fresh(session.second_factor_at, now)):
        raise Problem(
            403,
            "fresh_verification_required",
            "For your security, sign in again with your password, then set up your first device within 10 minutes.",
        )


def _enrollment_message(enrollment: MfaEnrollment, sent_to: str | None) -> str:
    status = enrollment.status
    name = enrollment.kind.display_name
    if status is EnrollmentStatus.pending:
        retry = " The last code entered was not right; try again." if enrollment.last_error else ""
        if enrollment.kind.uses_app:
            return (
                f"Open {name}, add an account by scanning the QR code (or typing the key), then enter the "
                f"6-digit code the app shows.{retry}"
            )
        return f"We sent a 6-digit code to {sent_to}. Enter it to finish setting up this device.{retry}"
    if status is EnrollmentStatus.verified:
        return f"{enrollment.label} is set up. {ADVICE_MORE_DEVICES}"
    if status is EnrollmentStatus.failed:
        return f"Setting up {name} failed after {MAX_ENROLLMENT_FAILURES} wrong codes. Start the set-up again."
    if status is EnrollmentStatus.expired:
        return f"Setting up {name} timed out. Start the set-up again."
    if status is EnrollmentStatus.cancelled:
        return f"This set-up of {name} was replaced by a newer one."
    return throttle.LOCKED_MESSAGE


def enrollment_public(enrollment: MfaEnrollment, *, user: User, own: bool) -> EnrollmentPublic:
    """The set-up as its user (own=True: with the app secret and QR code while pending) or the bot sees it."""
    device = enrollment.device
    pending_app = enrollment.status is EnrollmentStatus.pending and enrollment.kind.uses_app
    authenticator = None
    if own and pending_app and device is not None and device.totp_secret:
        uri = mfa.provisioning_uri(device.totp_secret, account=user.user_id)
        authenticator = AuthenticatorSetup(
            secret=device.totp_secret, provisioning_uri=uri, qr_code=mfa.qr_png_data_url(uri)
        )
    sent_to = mfa.mask(device.destination) if device is not None else None
    return EnrollmentPublic(
        enrollment_id=enrollment.id,
        status=enrollment.status,
        kind=enrollment.kind,
        kind_name=enrollment.kind.display_name,
        label=enrollment.label,
        sent_to=sent_to,
        expires_at=clock.aware(enrollment.expires_at),
        failed_attempts=enrollment.failed_attempts,
        last_error=enrollment.last_error,
        device_id=device.id if device is not None and enrollment.status is EnrollmentStatus.verified else None,
        authenticator=authenticator,
        qr_code_available=pending_app,
        message=_enrollment_message(enrollment, sent_to),
    )


def start_enrollment(
    *, db: Session, notifier: Notifier, actor: Actor, data: EnrollmentCreate, address: str, own: bool = True
) -> EnrollmentPublic:
    """Start setting up a device: an app gets a key and QR code (shown only when `own`), others a code."""
    user = actor.user
    if user.locked_at is not None:
        raise throttle.locked_problem()
    now = clock.now()
    devices = active_devices(db=db, user=user)
    if actor.attempt is not None:
        if devices:
            raise Problem(
                403,
                "device_already_set_up",
                "You already have a device. Finish signing in with it, then add more devices.",
            )
    else:
        assert actor.session is not None
        _require_fresh(session=actor.session, has_devices=bool(devices), now=now)
    if len(devices) >= MAX_DEVICES:
        raise Problem(
            409, "too_many_devices", f"You have {MAX_DEVICES} devices, the most allowed. Remove one to add another."
        )

    kind = data.kind
    phone = email = secret = None
    if kind.uses_app:
        secret = mfa.new_totp_secret()
        label = data.label or kind.display_name
    elif kind in (DeviceKind.text_message, DeviceKind.voice_call):
        raw = data.phone or user.phone
        if not raw:
            raise Problem(422, "phone_required", "Enter the US phone number to send codes to.")
        phone = mfa.normalize_us_phone(raw)
        if phone is None:
            raise Problem(
                422, "invalid_phone", "The phone number is not a valid US number. Enter it as (202) 555-0143."
            )
        label = data.label or f"{kind.display_name} to {mfa.mask_phone(phone)}"
    else:
        email = mfa.normalize_email(data.email or user.email)
        if email is None:
            raise Problem(422, "invalid_email", "The email address is not valid. Enter it as name@example.com.")
        label = data.label or f"Email to {mfa.mask_email(email)}"
    destination = phone or email
    if destination and any(d.kind is kind and d.destination == destination for d in devices):
        raise Problem(409, "device_exists", f"{label} is already set up on your account.")

    # One set-up at a time: a newer one replaces the pending one, and devices never verified (with the keys
    # of abandoned app set-ups) are deleted; their set-ups stay, as history.
    db.execute(
        update(MfaEnrollment)
        .where(MfaEnrollment.user_pk == user.id, MfaEnrollment.status == EnrollmentStatus.pending)
        .values(status=EnrollmentStatus.cancelled, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.execute(
        delete(MfaDevice)
        .where(MfaDevice.user_pk == user.id, MfaDevice.status == DeviceStatus.pending)
        .execution_options(synchronize_session=False)
    )
    device = MfaDevice(
        user_pk=user.id,
        kind=kind,
        status=DeviceStatus.pending,
        label=label,
        phone=phone,
        email=email,
        totp_secret=secret,
        created_at=now,
    )
    db.add(device)
    db.flush()
    enrollment = MfaEnrollment(
        user_pk=user.id,
        device_pk=device.id,
        attempt_pk=actor.attempt.id if actor.attempt else None,
        session_pk=actor.session.id if actor.session else None,
        kind=kind,
        label=label,
        status=EnrollmentStatus.pending,
        failed_attempts=0,
        codes_sent=0,
        created_at=now,
        expires_at=now + ENROLLMENT_LIFETIME,
        updated_at=now,
    )
    enrollment.device = device
    db.add(enrollment)
    db.flush()
    if not kind.uses_app:
        _issue_code(
            db=db, notifier=notifier, user=user, device=device, purpose=CodePurpose.enrollment, enrollment=enrollment
        )
        enrollment.codes_sent = 1
    audit.record(
        db=db,
        event="enrollment_started",
        user=user,
        client_address=address,
        detail=kind.value if own else f"{kind.value}, by the chat",
    )
    db.commit()
    return enrollment_public(enrollment, user=user, own=own)


def _own_enrollment(*, db: Session, actor: Actor, enrollment_id: int) -> MfaEnrollment:
    enrollment = db.get(MfaEnrollment, enrollment_id)
    if enrollment is None or enrollment.user_pk != actor.user.id:
        raise Problem(404, "enrollment_not_found", "That device set-up was not found. Start the set-up again.")
    if actor.attempt is not None and enrollment.attempt_pk != actor.attempt.id:
        raise Problem(404, "enrollment_not_found", "That device set-up was not found. Start the set-up again.")
    return enrollment


def _ensure_pending(*, db: Session, enrollment: MfaEnrollment) -> None:
    now = clock.now()
    if enrollment.status is EnrollmentStatus.pending and clock.aware(enrollment.expires_at) <= now:
        enrollment.status = EnrollmentStatus.expired
        enrollment.updated_at = now
        db.commit()
    if enrollment.status is not EnrollmentStatus.pending:
        raise Problem(409, "enrollment_not_pending", _enrollment_message(enrollment, None))


def get_enrollment(*, db: Session, actor: Actor, enrollment_id: int) -> EnrollmentPublic:
    """A device set-up as its user sees it: with the app's key and QR code while pending."""
    enrollment = _own_enrollment(db=db, actor=actor, enrollment_id=enrollment_id)
    now = clock.now()
    if enrollment.status is EnrollmentStatus.pending and clock.aware(enrollment.expires_at) <= now:
        enrollment.status = EnrollmentStatus.expired
        enrollment.updated_at = now
        db.commit()
    return enrollment_public(enrollment, user=actor.user, own=True)


def resend_enrollment_code(
    *, db: Session, notifier: Notifier, actor: Actor, enrollment_id: int, address: str
) -> CodeSent:
    """Send a new code for a text, voice or email device being set up."""
    throttle.check(db=db, user=actor.user, address=address)
    enrollment = _own_enrollment(db=db, actor=actor, enrollment_id=enrollment_id)
    _ensure_pending(db=db, enrollment=enrollment)
    device = enrollment.device
    assert device is not None
    if device.kind.uses_app:
        raise Problem(
            422,
            "no_code_to_send",
            f"{device.kind.display_name} makes its own codes: enter the 6-digit code the app shows.",
        )
    if enrollment.codes_sent >= MAX_CODES:
        raise Problem(
            429,
            "too_many_codes",
            f"We have already sent {MAX_CODES} codes for this set-up. Enter the latest code or start the set-up again.",
        )
    row = _issue_code(
        db=db, notifier=notifier, user=actor.user, device=device, purpose=CodePurpose.enrollment, enrollment=enrollment
    )
    enrollment.codes_sent += 1
    enrollment.updated_at = clock.now()
    db.commit()
    sent_to = mfa.mask(device.destination) or ""
    return CodeSent(
        device_id=device.id,
        kind=device.kind,
        sent_to=sent_to,
        expires_at=clock.aware(row.expires_at),
        codes_left=MAX_CODES - enrollment.codes_sent,
        message=f"We sent a new 6-digit code to {sent_to}. It expires in 10 minutes.",
    )


def verify_enrollment(
    *,
    db: Session,
    notifier: Notifier,
    actor: Actor,
    enrollment_id: int,
    code: str,
    conversation_id: str | None,
    address: str,
) -> EnrollmentResult:
    """Finish setting up a device with its first code; a first device set up while signing in signs in."""
    user = actor.user
    throttle.check(db=db, user=user, address=address)
    enrollment = _own_enrollment(db=db, actor=actor, enrollment_id=enrollment_id)
    _ensure_pending(db=db, enrollment=enrollment)
    device = enrollment.device
    assert device is not None
    normalized = _normalized_code(code)
    if actor.attempt is not None:
        conversation_id = conversation_id or actor.attempt.conversation_id
        _check_conversation_free(db=db, conversation_id=conversation_id, user=user)
    now = clock.now()
    rule = _check_code(db=db, device=device, code=normalized, actor=actor, enrollment=enrollment)
    if rule is not None:
        enrollment.failed_attempts += 1
        enrollment.last_error = rule
        enrollment.updated_at = now
        message = CODE_MESSAGES[rule]
        if enrollment.failed_attempts >= MAX_ENROLLMENT_FAILURES:
            enrollment.status = EnrollmentStatus.failed
            message = f"That code is not right either. {_enrollment_message(enrollment, None)}"
        raise _fail(
            db=db,
            notifier=notifier,
            user=user,
            address=address,
            event="enrollment_code_failed",
            problem=Problem(401, rule, message),
            detail=f"{rule} for {device.kind.value}",
        )

    device.status = DeviceStatus.active
    device.activated_at = now
    device.last_used_at = now
    enrollment.status = EnrollmentStatus.verified
    enrollment.last_error = None
    enrollment.updated_at = now
    throttle.record_success(db=db, user=user)
    audit.record(db=db, event="device_added", user=user, client_address=address, detail=device.kind.value)
    _send_notice(
        db=db,
        notifier=notifier,
        user=user,
        subject="A sign-in device was added to your CBP Connexion account",
        body=(
            f"Hello {user.first_name},\n\n{device.label} was set up as a multi-factor authentication device for "
            f"your account {user.user_id} on {_eastern(now)}.\n\nIf you did not do this, call the CBIC customer "
            f"service center at {CUSTOMER_SERVICE_PHONE} right away."
        ),
        purpose="device_added",
    )
    db.commit()
    session = None
    if actor.attempt is not None:
        actor.attempt.completed_at = now
        session = _issue_session(
            db=db,
            user=user,
            conversation_id=conversation_id,
            password_verified_at=clock.aware(actor.attempt.created_at),
            second_factor_at=now,
            address=address,
            how=f"password and a new {device.kind.value} device",
        )
    count = len(active_devices(db=db, user=user))
    return EnrollmentResult(
        enrollment=enrollment_public(enrollment, user=user, own=True),
        device=device_public(device),
        session=session,
        message=f"{device.label} is set up." + (" You are signed in." if session else ""),
        advice=ADVICE_MORE_DEVICES if count == 1 else None,
    )


def mfa_setup_state(*, db: Session, user: User, own: bool) -> MfaSetupState:
    """The latest device set-up of `user`; `own` adds the QR code of a pending app set-up."""
    enrollment = db.scalar(
        select(MfaEnrollment).where(MfaEnrollment.user_pk == user.id).order_by(MfaEnrollment.id.desc()).limit(1)
    )
    count = len(active_devices(db=db, user=user))
    if user.locked_at is not None:
        return MfaSetupState(
            status="locked",
            enrollment=enrollment_public(enrollment, user=user, own=False) if enrollment else None,
            active_devices=count,
            message=throttle.LOCKED_MESSAGE,
        )
    if enrollment is None:
        return MfaSetupState(
            status="none", enrollment=None, active_devices=count, message="No device set-up has been started."
        )
    now = clock.now()
    if enrollment.status is EnrollmentStatus.pending and clock.aware(enrollment.expires_at) <= now:
        enrollment.status = EnrollmentStatus.expired
        enrollment.updated_at = now
        db.commit()
    public = enrollment_public(enrollment, user=user, own=own)
    return MfaSetupState(
        status=enrollment.status.value,  # type: ignore[arg-type]  # the same names
        enrollment=public,
        active_devices=count,
        message=public.message,
    )


def remove_device(
    *, db: Session, notifier: Notifier, session: UserSession, device_id: int, address: str
) -> DeviceRemoved:
    """Remove a device; needs a fresh second factor, and keeps the last device once MFA is required."""
    user = session.user
    device = _active_device(db=db, user=user, device_id=device_id)
    now = clock.now()
    devices = active_devices(db=db, user=user)
    if len(devices) == 1 and mfa_required(now):
        raise Problem(
            409,
            "last_device",
            "You cannot remove your only device: every user needs one to sign in. Add another device first, "
            "then remove this one.",
        )
    _require_fresh(session=session, has_devices=True, now=now)
    label, kind = device.label, device.kind
    db.delete(device)
    audit.record(db=db, event="device_removed", user=user, client_address=address, detail=kind.value)
    _send_notice(
        db=db,
        notifier=notifier,
        user=user,
        subject="A sign-in device was removed from your CBP Connexion account",
        body=(
            f"Hello {user.first_name},\n\n{label} was removed from the multi-factor authentication devices of your "
            f"account {user.user_id} on {_eastern(now)}.\n\nIf you did not do this, call the CBIC customer service "
            f"center at {CUSTOMER_SERVICE_PHONE} right away."
        ),
        purpose="device_removed",
    )
    db.commit()
    remaining = active_devices(db=db, user=user)
    return DeviceRemoved(
        removed_device_id=device_id,
        remaining_devices=[device_public(d) for d in remaining],
        message=f"{label} was removed.",
        advice=ADVICE_MORE_DEVICES if len(remaining) <= 1 else None,
    )


# --- me, sessions, chats, agents -----------------------------------------------------------------------


def mfa_status(*, db: Session, user: User) -> MfaStatus:
    devices = active_devices(db=db, user=user)
    return MfaStatus(
        status="enabled" if devices else "not_set_up",
        required=mfa_required(),
        enforcement_date=get_settings().mfa_enforcement_date,
        device_count=len(devices),
        devices=[device_public(d) for d in devices],
        advice=ADVICE_MORE_DEVICES if len(devices) <= 1 else None,
    )


def profile(*, db: Session, session: UserSession) -> MePublic:
    user = session.user
    return MePublic(
        user_id=user.user_id,
        first_name=user.first_name,
        last_name=user.last_name,
        role=user.role,
        bidder_numbers=user.bidder_numbers,
        bidders=[BidderPublic(bidder_number=b.bidder_number, organization=b.organization) for b in user.bidders],
        mfa=mfa_status(db=db, user=user),
        session_expires_at=clock.aware(session.expires_at),
    )


def sign_out(*, db: Session, session: UserSession, address: str) -> SignedOut:
    """Revoke the session; chats bound to it can no longer act for the user."""
    sessions.revoke(db=db, row=session)
    audit.record(db=db, event="signed_out", user=session.user, client_address=address)
    db.commit()
    return SignedOut(message="You are signed out. Chats linked to this session can no longer act for you.")


def bind_chat(*, db: Session, session: UserSession, conversation_id: str, address: str) -> ChatBindingPublic:
    """Link a chat to the caller's session so that the bot can act for them (and only them)."""
    user = session.user
    _check_conversation_free(db=db, conversation_id=conversation_id, user=user)
    sessions.bind_conversation(db=db, conversation_id=conversation_id, session=session)
    audit.record(db=db, event="chat_linked", user=user, client_address=address, detail=conversation_id)
    db.commit()
    return ChatBindingPublic(
        conversation_id=conversation_id,
        user_id=user.user_id,
        expires_at=clock.aware(session.expires_at),
        message="This chat is linked to your account until you sign out or your session ends.",
    )


def list_sessions(*, db: Session, session: UserSession) -> list[SessionInfo]:
    now = clock.now()
    rows = db.scalars(
        select(UserSession)
        .where(UserSession.user_pk == session.user_pk, UserSession.revoked_at.is_(None), UserSession.expires_at > now)
        .order_by(UserSession.id.desc())
    )
    out = []
    for row in rows:
        if not sessions.is_valid(row, now):
            continue
        chats = db.scalars(select(ConversationBinding.conversation_id).where(ConversationBinding.session_pk == row.id))
        out.append(
            SessionInfo(
                id=row.id,
                created_at=clock.aware(row.created_at),
                expires_at=clock.aware(row.expires_at),
                current=row.id == session.id,
                conversation_ids=list(chats),
            )
        )
    return out


def revoke_session(*, db: Session, session: UserSession, session_id: int, address: str) -> SignedOut:
    row = db.get(UserSession, session_id)
    if row is None or row.user_pk != session.user_pk or not sessions.is_valid(row):
        raise Problem(404, "session_not_found", "That session was not found or has already ended.")
    return sign_out(db=db, session=row, address=address)


def _user_or_404(*, db: Session, user_id: str) -> User:
    user = find_user(db=db, user_id=user_id)
    if user is None:
        raise Problem(404, "user_not_found", "No account has this user ID. Check the user ID and try again.")
    return user


def _account_public(user: User, message: str) -> AccountPublic:
    return AccountPublic(
        user_id=user.user_id, locked=user.locked_at is not None, bidder_numbers=user.bidder_numbers, message=message
    )


def unlock_account(*, db: Session, agent: User, user_id: str, address: str) -> AccountPublic:
    """An agent unlocks a locked account (after checking the caller's identity by phone)."""
    user = _user_or_404(db=db, user_id=user_id)
    was_locked = user.locked_at is not None
    throttle.unlock(db=db, user=user)
    # Set-ups stopped by the lock are over; the user starts a new one.
    db.execute(
        update(MfaEnrollment)
        .where(MfaEnrollment.user_pk == user.id, MfaEnrollment.status == EnrollmentStatus.locked)
        .values(status=EnrollmentStatus.expired, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    audit.record(db=db, event="account_unlocked", user=user, client_address=address, detail=f"by {agent.user_id}")
    db.commit()
    return _account_public(user, "The account is unlocked." if was_locked else "The account was not locked.")


def link_bidder(*, db: Session, agent: User, user_id: str, bidder_number: str, address: str) -> AccountPublic:
    """An agent lets a user act for a bidder number (users cannot claim bidder numbers themselves)."""
    user = _user_or_404(db=db, user_id=user_id)
    bidder = db.scalar(select(Bidder).where(Bidder.bidder_number == bidder_number))
    if bidder is None:
        raise Problem(404, "bidder_not_found", "No bidder has this bidder number. Check the number and try again.")
    if bidder not in user.bidders:
        user.bidders.append(bidder)
    audit.record(
        db=db, event="bidder_linked", user=user, client_address=address, detail=f"{bidder_number} by {agent.user_id}"
    )
    db.commit()
    return _account_public(user, f"{user.user_id} can now act for bidder number {bidder_number}.")
