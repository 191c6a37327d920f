"""Matching what a supplier typed to one of the choices the API offers (codes, names, common words)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, Iterable, List, Optional

# Words that say nothing about which choice is meant.
_NOISE = {
    "a", "an", "the", "it", "its", "it's", "is", "my", "our", "for", "of", "and", "this", "that", "one",
    "document", "documents", "doc", "docs", "file", "response", "statement", "please", "actually", "i",
    "im", "i'm", "uploading", "upload", "choose", "pick",
}  # fmt: skip

# Common ways of saying a choice whose words do not appear in its name.
ALIASES = {
    "cdr": "covered_document_review",
    "financials": "financial",
    "p&l": "income_statement",
    "pnl": "income_statement",
    "profit": "income_statement",
    "loss": "income_statement",
    "cashflow": "statement_of_cash_flows",
    "tax": "tax_return_extract",
    "surety": "bid_surety_bond",
    "bond": "bid_surety_bond",
}


def fold(value: Any) -> str:
    """Lowercase, accents removed, runs of spaces and punctuation made single spaces."""
    text = unicodedata.normalize("NFKD", str(value or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9&@.]+", " ", text.lower()).strip()


def _words(value: Any) -> List[str]:
    return [w for w in fold(value).replace(".", " ").split() if w not in _NOISE]


def match_choice(value: Any, choices: Iterable[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The one choice (`{"code", "name", ...}`) the text means, or None when none or several fit.

    An exact code or name wins; then an alias; then the choice sharing the most words (or word
    beginnings, so "financ" finds "Financial documents") with the text, if it is the only best one.
    """
    options = list(choices)
    text = fold(value)
    if not text:
        return None
    for option in options:
        if text in (fold(option.get("code", "")), fold(option.get("name", ""))):
            return option
        if text == fold(str(option.get("code", "")).replace("_", " ")):
            return option
    words = _words(value)
    aliased = {ALIASES[w] for w in words if w in ALIASES}
    by_alias = [o for o in options if o.get("code") in aliased]
    if len(by_alias) == 1:
        return by_alias[0]
    best: List[Dict[str, Any]] = []
    best_score = 0
    for option in options:
        names = _words(option.get("name", "")) + _words(str(option.get("code", "")).replace("_", " "))
        score = sum(1 for w in words if any(n == w or (len(w) >= 4 and n.startswith(w)) for n in names))
        if score > best_score:
            best, best_score = [option], score
        elif score == best_score and score > 0:
            best.append(option)
    unique = {id(o): o for o in best}
    return next(iter(unique.values())) if best_score > 0 and len(unique) == 1 else None


def match_bidder(value: Any, bidders: Iterable[Dict[str, Any]]) -> Optional[str]:
    """The bidder number the text names (by its digits, or by its organization's name), if it is one of these."""
    bidders = list(bidders)
    numbers = {str(b.get("bidder_number")) for b in bidders}
    for digits in re.findall(r"\d{3,10}", str(value or "")):
        if digits in numbers:
            return digits
    text = fold(value)
    if len(text) >= 4:
        named = [b for b in bidders if text in fold(b.get("organization")) or fold(b.get("organization")) in text]
        if len(named) == 1:
            return str(named[0].get("bidder_number"))
    return None


DEVICE_NAMES = {
    "google_authenticator": "Google Authenticator",
    "okta_verify": "Okta Verify",
    "text_message": "Text message",
    "voice_call": "Voice call",
    "email": "Email",
}
APP_KINDS = {"google_authenticator", "okta_verify"}
PHONE_KINDS = {"text_message", "voice_call"}

_DEVICE_WORDS = [
    ("okta_verify", ("okta",)),
    ("google_authenticator", ("google", "authenticator", "authentication app", "auth app", "app", "totp")),
    ("text_message", ("text", "sms", "txt", "texting")),
    ("voice_call", ("voice", "call", "ivr", "phone call")),
    ("email", ("email", "e mail", "mail")),
]


def match_device(value: Any) -> Optional[str]:
    """The MFA device kind the text names (a kind code, a name, or a common word for it)."""
    text = fold(value)
    if text.replace(" ", "_") in DEVICE_NAMES:
        return text.replace(" ", "_")
    padded = f" {text} "
    found = [kind for kind, words in _DEVICE_WORDS if any(f" {w} " in padded for w in words)]
    return found[0] if len(found) == 1 else None


def us_phone(value: Any) -> Optional[str]:
    """A US phone number as (202) 555-0143, or None."""
    digits = re.sub(r"\D", "", str(value or ""))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
        return None
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def email_address(value: Any) -> Optional[str]:
    match = re.search(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", str(value or ""))
    return match.group(0).lower() if match and len(match.group(0)) <= 254 else None


IDM_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,63}")


def idm_user_id(value: Any) -> Optional[str]:
    """The IDM user ID in "demo.supplier" or "my user ID is demo.supplier", or None."""
    text = str(value or "").strip().rstrip(".!")
    said = re.search(r"\b(?:user\s*id|id)\s*(?:is|:|=)?\s*(\S+)$", text, flags=re.IGNORECASE)
    candidate = said.group(1) if said else text
    return candidate if IDM_USER_ID.fullmatch(candidate) else None
