"""When a person can take a handoff: the customer service center's hours (api/contact_center.py), read
through one injectable clock.

Call `hours.now()` (not `from hours import now`) so that tests can move time with monkeypatch, and the
setting `CONTACT_CENTER_ALWAYS_OPEN` (tests and demos only, ignored in production) keeps the center open
at every hour so that a browser test can reach an agent at night.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from api import contact_center


def now() -> dt.datetime:
    """The current time, aware, in UTC (tests replace this function)."""
    return dt.datetime.now(dt.UTC)


def utc_now(at: dt.datetime | None = None) -> dt.datetime:
    """`at` (default: `now()`) in UTC: every time is stored in UTC (SQLite keeps no offset)."""
    return (at or now()).astimezone(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """`value` with its time zone; SQLite gives back naive datetimes and every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class CenterHours:
    """Whether the center is open at a moment, and if not, when it opens next (in UTC, as stored)."""

    open_now: bool
    opens_at: dt.datetime | None
    opens_at_text: str | None


def always_open() -> bool:
    return contact_center.always_open()


def center_hours(at: dt.datetime) -> CenterHours:
    """Open or closed at `at` (prevailing Eastern Time, federal holidays as observed)."""
    if always_open() or contact_center.is_open(at):
        return CenterHours(open_now=True, opens_at=None, opens_at_text=None)
    opening = contact_center.next_opening(at)
    text = contact_center.describe_opening(opening, at)
    return CenterHours(open_now=False, opens_at=opening.astimezone(dt.UTC), opens_at_text=text)
