"""Throttling of failed passwords and codes, per account and per client address (NIST SP 800-63B).

- The first `FREE_FAILURES` consecutive failures cost nothing; after that each attempt waits a
  delay that doubles with every further failure (`BASE_DELAY`, up to `MAX_DELAY`): an attempt made
  too early is answered 429 with Retry-After, without checking the password or code.
- After `LOCK_AFTER` consecutive failures the account is locked until an agent unlocks it; the
  user is told to call customer service.
- An account's count goes back to zero only when the user completes a second factor (a full
  sign-in, a step-up or a device set-up), never when a new code is sent. A client address's count
  is forgotten after `ADDRESS_MEMORY` without failures (many users may share one address).

Every failure and lock is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.auth import audit, clock
from api.auth.errors import CUSTOMER_SERVICE_PHONE, Problem
from api.auth.models import EnrollmentStatus, FailureCounter, MfaEnrollment, User

logger = logging.getLogger("api.auth.throttle")

FREE_FAILURES = {"account": 3, "address": 10}
BASE_DELAY = dt.timedelta(seconds=5)
MAX_DELAY = dt.timedelta(minutes=15)
LOCK_AFTER = 100
ADDRESS_MEMORY = dt.timedelta(hours=1)

LOCKED_MESSAGE = (
    "Your account is locked after too many failed sign-in attempts. To unlock it, call the CBIC customer "
    f"service center at {CUSTOMER_SERVICE_PHONE}, 9 a.m. to 5:30 p.m. Eastern Time, Monday to Friday."
)


def account_key(user: User) -> str:
    return f"user:{user.id}"


def delay_after(failures: int, *, scope: str) -> dt.timedelta:
    """How long to wait after `failures` consecutive failures before the next attempt."""
    free = FREE_FAILURES[scope]
    if failures < free:
        return dt.timedelta(0)
    return min(BASE_DELAY * 2 ** min(failures - free, 20), MAX_DELAY)


def _counter(db: Session, scope: str, key: str) -> FailureCounter | None:
    return db.scalar(
        select(FailureCounter)
        .where(FailureCounter.scope == scope, FailureCounter.key == key)
        .execution_options(populate_existing=True)
    )


def _current_failures(row: FailureCounter | None, scope: str, now: dt.datetime) -> int:
    if row is None:
        return 0
    if scope == "address" and now - clock.aware(row.last_failure_at) > ADDRESS_MEMORY:
        return 0
    return row.failures


def locked_problem() -> Problem:
    return Problem(423, "account_locked", LOCKED_MESSAGE)


def check(*, db: Session, user: User | None, address: str) -> None:
    """Raise 423 for a locked account, 429 while a delay is running (both audited); otherwise return."""
    if user is not None and user.locked_at is not None:
        audit.record(db=db, event="refused_locked", user=user, client_address=address)
        db.commit()
        raise locked_problem()
    now = clock.now()
    wait = dt.timedelta(0)
    keys = [("address", address[:80])]
    if user is not None:
        keys.append(("account", account_key(user)))
    for scope, key in keys:
        row = _counter(db, scope, key)
        failures = _current_failures(row, scope, now)
        if row is not None and failures:
            ready_at = clock.aware(row.last_failure_at) + delay_after(failures, scope=scope)
            wait = max(wait, ready_at - now)
    if wait > dt.timedelta(0):
        seconds = max(1, math.ceil(wait.total_seconds()))
        audit.record(db=db, event="throttled", user=user, client_address=address, detail=f"retry after {seconds} s")
        db.commit()
        raise Problem(
            429,
            "too_many_attempts",
            f"Too many failed attempts. Wait {_describe(seconds)} before trying again.",
            headers={"Retry-After": str(seconds)},
        )


def _describe(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def _bump(db: Session, scope: str, key: str, now: dt.datetime) -> int:
    """Add one failure to a counter, creating it on first use; one atomic upsert. Returns the new count."""
    insert = postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    next_count: ColumnElement[int] = FailureCounter.failures + 1
    if scope == "address":  # an address's old failures are forgotten
        next_count = case((FailureCounter.last_failure_at < now - ADDRESS_MEMORY, 1), else_=FailureCounter.failures + 1)
    statement = (
        insert(FailureCounter)
        .values(scope=scope, key=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(index_elements=["scope", "key"], set_={"failures": next_count, "last_failure_at": now})
        .returning(FailureCounter.failures)
    )
    return int(db.execute(statement).scalar_one())


@dataclass(frozen=True)
class FailureOutcome:
    account_failures: int
    locked_now: bool


def record_failure(
    *,
    db: Session,
    user: User | None,
    address: str,
    event: str,
    attempted_user_id: str | None = None,
    detail: str | None = None,
) -> FailureOutcome:
    """Count a failed password or code, audit it, lock the account at `LOCK_AFTER`; commits."""
    now = clock.now()
    _bump(db, "address", address[:80], now)
    account_failures = 0
    locked_now = False
    if user is not None:
        account_failures = _bump(db, "account", account_key(user), now)
    audit.record(
        db=db,
        event=event,
        user=user,
        attempted_user_id=attempted_user_id,
        client_address=address,
        detail=f"{detail + '; ' if detail else ''}{account_failures} consecutive failures" if user else detail,
    )
    if user is not None and account_failures >= LOCK_AFTER and user.locked_at is None:
        user.locked_at = now
        locked_now = True
        db.execute(
            update(MfaEnrollment)
            .where(MfaEnrollment.user_pk == user.id, MfaEnrollment.status == EnrollmentStatus.pending)
            .values(status=EnrollmentStatus.locked, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            db=db,
            event="account_locked",
            user=user,
            client_address=address,
            detail=f"after {account_failures} failures",
        )
        logger.warning("Locked account %s after %d consecutive failures", user.user_id, account_failures)
    db.commit()
    return FailureOutcome(account_failures=account_failures, locked_now=locked_now)


def record_success(*, db: Session, user: User) -> None:
    """The user completed a second factor: the account's consecutive count starts again (caller commits)."""
    db.execute(
        update(FailureCounter)
        .where(FailureCounter.scope == "account", FailureCounter.key == account_key(user))
        .values(failures=0)
        .execution_options(synchronize_session=False)
    )


def unlock(*, db: Session, user: User) -> None:
    """Unlock the account and start its count again (caller commits)."""
    user.locked_at = None
    record_success(db=db, user=user)


def account_failures(*, db: Session, user: User) -> int:
    row = _counter(db, "account", account_key(user))
    return row.failures if row is not None else 0
