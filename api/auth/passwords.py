"""Passwords: hashing with Argon2id (argon2-cffi's current defaults) and the rules for new passwords.

The rules follow NIST SP 800-63B: at least 8 characters, up to 128 (so that long passphrases fit), no
composition rules, and not a commonly used password (`common_passwords.txt`, checked
case-insensitively) nor the user ID itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 8
MAX_LENGTH = 128
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not a password of anyone")


def spend_verification_time(password: str) -> None:
    """Verify against a throwaway hash, so that an unknown user ID takes as long as a wrong password."""
    verify_password(_dummy_hash(), password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("# "))


def broken_rule(password: str, *, user_id: str) -> tuple[str, str] | None:
    """(rule, sentence) for the first rule `password` breaks as a new password, or None."""
    if len(password) < MIN_LENGTH:
        return "password_too_short", f"Choose a password of at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return "password_too_long", f"Choose a password of at most {MAX_LENGTH} characters."
    if password.strip().lower() == user_id.strip().lower():
        return "password_is_user_id", "Choose a password that is not your user ID."
    if password.lower() in common_passwords():
        return (
            "password_too_common",
            "This password is one of the most common ones and easy to guess; choose a less common one "
            "(a few unrelated words work well).",
        )
    return None
