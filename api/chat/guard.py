"""Secrets typed into the chat by mistake: a one-time code, a key or token, or the user's own password.

The chat box is not the place for them: the widget has a secure code field and a sign-in panel that post
straight to the identity API. A supplier will still paste a code into the chat box now and then. Such a
turn is refused before it is stored or relayed, so it never reaches Rasa, the transcript or an agent,
and the supplier is told where the code goes instead.

- A code: a 6-digit number standing on its own ("123456", "123 456", "my code is 123456"), unless it is
  one of the chat's bidder numbers (from the pre-chat form or the signed-in account). Phone numbers and
  longer numbers are left alone.
- A key or token: a long run of letters and digits such as a session token (mixed case and digits) or an
  authenticator key (base32 capitals with a digit).
- A password: only when the chat knows whose it could be (bound to a session, or named at the password
  step of a sign-in still under way), by checking a one-word message, or the words of a longer one that
  are shaped like a password ("Bayside-demo-2021"), against that user's hash (`password_candidates`).
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from api.auth import passwords
from api.auth import service as auth_service
from api.auth import sessions as auth_sessions
from api.auth.models import User

CODE = re.compile(r"(?<![\w-])(?<!\d[ .-])(\d{6}|\d{3} \d{3})(?![\w-])(?![ .-]\d)")
TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")
BASE32_KEY = re.compile(r"(?<![A-Za-z2-7])[A-Z2-7]{16,}(?![A-Za-z2-7])")
TRAILING_PUNCTUATION = ".,;:!?)'\""
PASSWORD_CHECKS = 3
"""At most this many parts of a message are checked against the password hash: each check is slow on
purpose (Argon2), so only parts shaped like a password are checked at all."""

# rule -> what the supplier reads under the message that was not sent.
REFUSALS = {
    "code_in_message": "This looks like a one-time code, so it was not sent. Please don't type codes in the "
    "chat: type them in the secure code box when the assistant asks for one.",
    "secret_in_message": "This looks like a key or a sign-in token, so it was not sent. Please don't paste "
    "keys or tokens in the chat.",
    "password_in_message": "This looks like your password, so it was not sent. Please don't type your password "
    "in the chat: use the sign-in panel, and change your password if someone else saw it.",
}


def _is_token(candidate: str) -> bool:
    # A session token is random: capitals and small letters, and digits unless it is long (43 characters).
    # File names and long words ("my_document_for_the_bid_2021_final") are not mixed like that.
    mixed_case = any(c.isupper() for c in candidate) and any(c.islower() for c in candidate)
    return mixed_case and (any(c.isdigit() for c in candidate) or len(candidate) >= 40)


def _is_key(candidate: str) -> bool:
    # An authenticator key: base32 capitals, with a digit unless it is long (most keys are 32 characters).
    return any(c.isdigit() for c in candidate) or len(candidate) >= 24


def _chat_user(db: Session, conversation_id: str) -> User | None:
    """The user the chat is signed in as, or who named it at the password step of a sign-in under way."""
    session = auth_sessions.session_for_conversation(db=db, conversation_id=conversation_id)
    if session is not None:
        return session.user
    attempt = auth_service.pending_attempt_for_conversation(db=db, conversation_id=conversation_id)
    return attempt.user if attempt is not None else None


# Characters that join the parts of a plain word ("multi-factor", "supplier's"); alone they do not make a
# word look like a password.
WORD_JOINERS = "-'\u2019"  # hyphen, apostrophe, typographic apostrophe


def _password_shaped(word: str) -> bool:
    """8 to 128 characters without spaces, with a letter and a digit or a symbol that is neither sentence
    punctuation at its end nor a hyphen or apostrophe inside a word: "Bayside-demo-2021", "Plenty2021!",
    but not "through?" or "multi-factor"."""
    core = word.rstrip(TRAILING_PUNCTUATION)
    return (
        passwords.MIN_LENGTH <= len(word) <= passwords.MAX_LENGTH
        and any(c.isalpha() for c in core)
        and any(not c.isalpha() and c not in WORD_JOINERS for c in core)
    )


def password_candidates(text: str) -> list[str]:
    """The parts of a typed message that are checked against the chat user's password hash.

    Each check is an Argon2 verification, slow on purpose (about a fifth of a second of CPU here): checking
    every longish word of every message made the password check most of the API's work per chat turn (the
    chat benchmark, bench/results/chat-profile.md). So:
    - a message of one word (a password pasted on its own) is checked whatever its shape;
    - in a longer message, only the words shaped like a password, with and without the punctuation
      after them ("my password is Harbor-lantern-42." or "... is Plenty-2021!"), at most PASSWORD_CHECKS.
    A password of plain words ("correct-horse-battery") is found when sent on its own, not inside a
    sentence; a passphrase with spaces is not found.
    """
    if len(text.split()) == 1:
        return [text] if passwords.MIN_LENGTH <= len(text) <= passwords.MAX_LENGTH else []
    shaped = [w for w in text.split() if _password_shaped(w)]
    variants = [v for w in shaped for v in (w, w.rstrip(TRAILING_PUNCTUATION))]
    return [v for v in dict.fromkeys(variants) if len(v) >= passwords.MIN_LENGTH][:PASSWORD_CHECKS]


def needs_lookup(text: str) -> bool:
    """Whether `refusal` reads the chat's user for `text`: it holds a 6-digit number or a password candidate.
    Otherwise `refusal` is `secret_refusal`: the text alone, without the database or the pre-chat fields."""
    return CODE.search(text) is not None or bool(password_candidates(text))


def secret_refusal(text: str) -> tuple[str, str] | None:
    """(rule, sentence) when `text` holds something shaped like a key or a sign-in token; else None."""
    if any(_is_token(m.group(0)) for m in TOKEN.finditer(text)) or any(
        _is_key(m.group(0)) for m in BASE32_KEY.finditer(text)
    ):
        return "secret_in_message", REFUSALS["secret_in_message"]
    return None


def refusal(*, db: Session, conversation_id: str, prechat: dict | None, text: str) -> tuple[str, str] | None:
    """(rule, sentence) when typed `text` holds a code, a key or token, or the chat user's password; else None.

    The chat's user is looked up only when the text holds a 6-digit number other than the pre-chat bidder
    number, or a password candidate: most turns need no database read here.
    """
    codes = {m.group(1).replace(" ", "") for m in CODE.finditer(text)}
    codes.discard(str((prechat or {}).get("bidder_number") or ""))
    candidates = password_candidates(text)
    user = _chat_user(db, conversation_id) if codes or candidates else None
    if codes - set(user.bidder_numbers if user is not None else ()):
        return "code_in_message", REFUSALS["code_in_message"]
    if secret := secret_refusal(text):
        return secret
    if user is not None and any(passwords.verify_password(user.password_hash, c) for c in candidates):
        return "password_in_message", REFUSALS["password_in_message"]
    return None
