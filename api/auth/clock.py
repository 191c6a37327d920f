"""The one clock of the identity code, so that tests can move time (monkeypatch `clock.now`).

Every expiry, delay and the MFA enforcement date are judged against `now()`; call it as
`clock.now()` (not `from clock import now`) so that a patched clock is seen everywhere.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """`value` with its time zone; SQLite gives back naive datetimes and every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
