"""Fixtures of the identity tests: a movable clock, fresh users, a client address per test."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.auth.helpers import PASSWORD, Account

_addresses = itertools.count(1)


class MovableClock:
    """Stands in for `api.auth.clock.now`: starts at the real time (or `at`) and moves only when told."""

    def __init__(self, at: dt.datetime) -> None:
        self.current = at

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current

    def set(self, at: dt.datetime) -> None:
        self.current = at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> MovableClock:
    from api.auth import clock as clock_module

    moving = MovableClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    monkeypatch.setattr(clock_module, "now", moving.now)
    return moving


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client with an address of its own, so that per-address throttling of one test spares the others."""
    n = next(_addresses)
    with TestClient(app, client=(f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}", 50000)) as test_client:
        yield test_client


@pytest.fixture
def settings(app_env):  # type: ignore[no-untyped-def]
    from api.config import get_settings

    return get_settings()


@pytest.fixture
def mfa_optional(settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The world before the enforcement date: MFA is optional."""
    monkeypatch.setattr(settings, "mfa_enforcement_date", dt.date(2999, 1, 1))


@pytest.fixture
def make_account(app_env) -> Callable[..., Account]:  # type: ignore[no-untyped-def]
    """make_account(devices=("totp", "sms", "voice", "email")) -> a fresh supplier with those active devices."""
    from api.auth import clock as clock_module
    from api.auth import mfa
    from api.auth.models import DeviceKind, DeviceStatus, MfaDevice, Role, User
    from api.auth.passwords import hash_password
    from api.database import get_sessionmaker

    password_hash = hash_password(PASSWORD)

    def _make(devices: tuple[str, ...] = ()) -> Account:
        suffix = uuid.uuid4().hex[:8]
        user_id = f"user.{suffix}"
        n = int(suffix[:4], 16) % 10000
        account = Account(
            user_id=user_id,
            password=PASSWORD,
            pk=0,
            email=f"{user_id}@supplier.example",
            phone=f"+1202555{n:04d}",
        )
        with get_sessionmaker()() as db:
            user = User(
                user_id=user_id,
                first_name="Pat",
                last_name="Tester",
                email=account.email,
                phone=account.phone,
                role=Role.supplier,
                password_hash=password_hash,
            )
            db.add(user)
            db.flush()
            account.pk = user.id
            now = clock_module.now()
            for name in devices:
                kind = {
                    "totp": DeviceKind.google_authenticator,
                    "sms": DeviceKind.text_message,
                    "voice": DeviceKind.voice_call,
                    "email": DeviceKind.email,
                }[name]
                device = MfaDevice(
                    user_pk=user.id,
                    kind=kind,
                    status=DeviceStatus.active,
                    label=kind.display_name,
                    phone=account.phone if name in ("sms", "voice") else None,
                    email=account.email if name == "email" else None,
                    totp_secret=mfa.new_totp_secret() if name == "totp" else None,
                    created_at=now,
                    activated_at=now,
                )
                db.add(device)
                db.flush()
                setattr(account, f"{name}_device_id", device.id)
                if name == "totp":
                    account.totp_secret = device.totp_secret
            db.commit()
        return account

    return _make
