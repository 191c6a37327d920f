"""The mechanics of second factors: TOTP (RFC 6238), one-time codes, phone numbers and emails.

No database here: `service.py` decides what to accept and stores the outcome.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass

import phonenumbers
import pyotp
import qrcode
from email_validator import EmailNotValidError, validate_email

ISSUER = "CBP Connexion"
TOTP_PERIOD_SECONDS = 30
TOTP_DIGITS = 6
TOTP_DRIFT_STEPS = 1  # accept the previous and the next 30-second step (clock drift)
CODE_DIGITS = 6
CODE_LIFETIME = dt.timedelta(minutes=10)

_SEPARATORS = re.compile(r"[\s\-.]")
# The United States and its territories that share +1 numbering.
US_REGIONS = frozenset({"US", "PR", "GU", "VI", "AS", "MP"})


# --- TOTP ---------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A new random TOTP secret: 160 bits, base32 (what authenticator apps expect)."""
    return pyotp.random_base32(length=32)


def totp_step(at: dt.datetime | int | float) -> int:
    """The RFC 6238 time step (counter) of `at` (an aware datetime or a Unix time)."""
    seconds = at.timestamp() if isinstance(at, dt.datetime) else at
    return int(seconds) // TOTP_PERIOD_SECONDS


def totp_code_for_step(secret: str, step: int, *, digits: int = TOTP_DIGITS) -> str:
    """The TOTP code (HMAC-SHA1, RFC 4226 truncation) of `secret` for time step `step`."""
    return pyotp.TOTP(secret, digits=digits, interval=TOTP_PERIOD_SECONDS).generate_otp(step)


def totp_code(secret: str, at: dt.datetime | int | float, *, digits: int = TOTP_DIGITS) -> str:
    """The TOTP code of `secret` at time `at`."""
    return totp_code_for_step(secret, totp_step(at), digits=digits)


@dataclass(frozen=True)
class TotpMatch:
    step: int | None  # the accepted time step, or None
    replayed: bool  # the code matched a step already used (refused)


def match_totp(
    secret: str,
    code: str,
    *,
    at: dt.datetime | int | float,
    last_step: int | None,
    digits: int = TOTP_DIGITS,
) -> TotpMatch:
    """Check `code` against the steps around `at`; a step at or before `last_step` is a replay."""
    current = totp_step(at)
    replayed = False
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if step < 0:
            continue
        if hmac.compare_digest(totp_code_for_step(secret, step, digits=digits), code):
            if last_step is not None and step <= last_step:
                replayed = True
                continue
            return TotpMatch(step=step, replayed=False)
    return TotpMatch(step=None, replayed=replayed)


def provisioning_uri(secret: str, *, account: str) -> str:
    """The otpauth:// URI that Google Authenticator and Okta Verify read from the QR code."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER
    )


def qr_png_data_url(text: str) -> str:
    """A PNG QR code of `text` as a data: URL, ready for an <img src>."""
    image = qrcode.make(text, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --- one-time codes ---------------------------------------------------------------------------


def new_code() -> str:
    """A new 6-digit code from the operating system's cryptographic random source."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_code(code: str, *, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def code_matches(code: str, *, salt: str, code_hash: str) -> bool:
    return hmac.compare_digest(hash_code(code, salt=salt), code_hash)


def normalize_code(raw: str) -> str | None:
    """The 6 digits of a typed code ("123 456" and "123-456" are fine), or None."""
    code = _SEPARATORS.sub("", raw)
    if len(code) == CODE_DIGITS and code.isascii() and code.isdigit():
        return code
    return None


def spoken_code(code: str) -> str:
    """The code as an IVR reads it: digit by digit."""
    return ", ".join(code)


# --- destinations -----------------------------------------------------------------------------


def normalize_us_phone(raw: str) -> str | None:
    """The E.164 form of a valid US phone number, or None."""
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(number) not in US_REGIONS or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str | None:
    """The normalized form of a valid email address, or None (no DNS lookups)."""
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except (EmailNotValidError, UnicodeError, ValueError):
        return None


def mask_phone(e164: str) -> str:
    """'+12025550143' -> '(***) ***-0143'."""
    return f"(***) ***-{e164[-4:]}"


def mask_email(address: str) -> str:
    """'dana@acme.example' -> 'd***@acme.example'."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask(destination: str | None) -> str | None:
    if destination is None:
        return None
    return mask_email(destination) if "@" in destination else mask_phone(destination)
