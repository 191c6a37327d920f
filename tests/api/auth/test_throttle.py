"""Throttling: growing delays, the lock after 100 consecutive failures, and the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from api.auth import mfa, throttle
from tests.api.auth.helpers import audit_events, bearer, code_in, fresh_db, latest_message


def _password(client, account, password=None):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": password or account.password}
    )


def _wrong_code(real: str) -> str:
    return "000000" if real != "000000" else "111111"


def test_failed_passwords_bring_growing_delays(client, make_account, clock):
    account = make_account(devices=("totp",))
    for _ in range(3):
        assert _password(client, account, "wrong password").status_code == 401
    early = _password(client, account)  # even the right password waits
    assert early.status_code == 429
    assert early.json()["rule"] == "too_many_attempts"
    assert early.headers["Retry-After"] == "5"
    assert "Wait 5 seconds" in early.json()["detail"]

    clock.advance(seconds=5)
    assert _password(client, account, "wrong password").status_code == 401
    second = _password(client, account)
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "10"
    clock.advance(seconds=10)
    assert _password(client, account, "wrong password").status_code == 401
    assert _password(client, account).headers["Retry-After"] == "20"
    clock.advance(seconds=20)
    assert _password(client, account).status_code == 200
    events = audit_events(account.pk)
    assert events.count("password_failed") == 5
    assert events.count("throttled") == 3


def test_delays_stop_growing_at_fifteen_minutes():
    assert throttle.delay_after(2, scope="account") == dt.timedelta(0)
    assert throttle.delay_after(3, scope="account") == dt.timedelta(seconds=5)
    assert throttle.delay_after(50, scope="account") == dt.timedelta(minutes=15)


def test_a_new_code_does_not_reset_the_count(client, make_account, clock):
    account = make_account(devices=("sms",))
    token = _password(client, account).json()["sign_in_token"]
    challenge = {"device_id": account.sms_device_id}
    client.post("/api/v1/auth/mfa/challenge", json=challenge, headers=bearer(token))
    real = code_in(latest_message(account.phone).body)
    for _ in range(3):
        wrong = client.post(
            "/api/v1/auth/mfa/verify",
            json={"device_id": account.sms_device_id, "code": _wrong_code(real)},
            headers=bearer(token),
        )
        assert wrong.status_code == 401
    clock.advance(seconds=5)
    resent = client.post("/api/v1/auth/mfa/challenge", json=challenge, headers=bearer(token))
    assert resent.status_code == 200
    new = code_in(latest_message(account.phone).body)
    wrong = client.post(
        "/api/v1/auth/mfa/verify",
        json={"device_id": account.sms_device_id, "code": _wrong_code(new)},
        headers=bearer(token),
    )
    assert wrong.status_code == 401
    # Four consecutive failures: the delay is now 10 seconds, as if no code had been sent.
    throttled = client.post(
        "/api/v1/auth/mfa/verify", json={"device_id": account.sms_device_id, "code": new}, headers=bearer(token)
    )
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "10"
    assert throttle.account_failures(db=fresh_db(), user=_user(account)) == 4


def _user(account):  # type: ignore[no-untyped-def]
    from api.auth.models import User

    with fresh_db() as db:
        return db.get(User, account.pk)


def test_the_account_locks_after_100_consecutive_failures(client, make_account, clock, monkeypatch, sign_in):
    from api.auth.models import AuditEvent

    # The delays are tested above; here they would only make the test wait.
    monkeypatch.setattr(throttle, "delay_after", lambda failures, scope: dt.timedelta(0))
    account = make_account(devices=("totp",))
    token = _password(client, account).json()["sign_in_token"]
    real = mfa.totp_code(account.totp_secret, clock.now())
    for n in range(1, 100):
        response = client.post(
            "/api/v1/auth/mfa/verify",
            json={"device_id": account.totp_device_id, "code": _wrong_code(real)},
            headers=bearer(token),
        )
        assert response.status_code == 401, (n, response.text)
    # Passwords and codes count together: the 100th failure is a password.
    hundredth = _password(client, account, "wrong password")
    assert hundredth.status_code == 423
    assert hundredth.json()["rule"] == "account_locked"
    assert "call the CBIC customer service center at 877-577-5331" in hundredth.json()["detail"]

    right = _password(client, account)
    assert right.status_code == 423
    assert "877-577-5331" in right.json()["detail"]
    code = client.post(
        "/api/v1/auth/mfa/verify", json={"device_id": account.totp_device_id, "code": real}, headers=bearer(token)
    )
    assert code.status_code == 423

    events = audit_events(account.pk)
    assert events.count("code_failed") == 99
    assert events.count("password_failed") == 1
    assert events.count("account_locked") == 1
    assert events.count("refused_locked") == 2  # the right password and the right code, both refused
    with fresh_db() as db:
        detail = db.scalar(
            select(AuditEvent.detail).where(AuditEvent.user_pk == account.pk, AuditEvent.event == "account_locked")
        )
    assert detail == "after 100 failures"
    notice = latest_message(account.email, purpose="account_locked")
    assert notice is not None and "877-577-5331" in notice.body

    # An agent unlocks the account after checking the caller; the count starts again.
    unlocked = client.post(f"/api/v1/agent/users/{account.user_id}/unlock", headers=sign_in("demo.agent"))
    assert unlocked.status_code == 200
    assert unlocked.json()["locked"] is False
    assert _password(client, account).status_code == 200
    assert "account_unlocked" in audit_events(account.pk)


def test_a_success_starts_the_count_again(client, make_account, clock):
    account = make_account(devices=("totp",))
    for _ in range(2):
        assert _password(client, account, "wrong password").status_code == 401
    token = _password(client, account).json()["sign_in_token"]
    code = mfa.totp_code(account.totp_secret, clock.now())
    verified = client.post(
        "/api/v1/auth/mfa/verify", json={"device_id": account.totp_device_id, "code": code}, headers=bearer(token)
    )
    assert verified.status_code == 200
    assert throttle.account_failures(db=fresh_db(), user=_user(account)) == 0
    for _ in range(3):
        assert _password(client, account, "wrong password").status_code == 401


def test_failures_from_one_address_are_throttled_across_user_ids(client):
    from api.auth.models import AuditEvent

    for n in range(10):
        response = client.post("/api/v1/auth/sign-in", json={"user_id": f"nobody.{n}", "password": "guess guess"})
        assert response.status_code == 401
    throttled = client.post("/api/v1/auth/sign-in", json={"user_id": "nobody.10", "password": "guess guess"})
    assert throttled.status_code == 429
    assert throttled.json()["rule"] == "too_many_attempts"
    with fresh_db() as db:
        count = db.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.event == "password_failed", AuditEvent.attempted_user_id.like("nobody.%")
            )
        )
    assert count >= 10


def test_a_lock_during_a_device_set_up_is_what_the_bot_reads(client, make_account, clock, sign_in):
    import uuid

    from api.auth.models import FailureCounter
    from tests.api.auth.helpers import service_headers

    account = make_account()
    chat = uuid.uuid4().hex
    token = client.post(
        "/api/v1/auth/sign-in",
        json={"user_id": account.user_id, "password": account.password, "conversation_id": chat},
    ).json()["sign_in_token"]
    enrollment = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "email"}, headers=bearer(token)).json()
    real = code_in(latest_message(account.email, purpose="enrollment_code").body)
    with fresh_db() as db:  # 99 consecutive failures so far (the 100-step walk is tested above)
        long_ago = clock.now() - dt.timedelta(minutes=16)  # past any delay
        db.add(FailureCounter(scope="account", key=f"user:{account.pk}", failures=99, last_failure_at=long_ago))
        db.commit()
    locked = client.post(
        f"/api/v1/auth/mfa/enrollments/{enrollment['enrollment_id']}/verify",
        json={"code": _wrong_code(real)},
        headers=bearer(token),
    )
    assert locked.status_code == 423
    state = client.get("/api/v1/me/mfa-setup", headers=service_headers(chat)).json()
    assert state["status"] == "locked"
    assert "877-577-5331" in state["message"]
    assert client.get("/api/v1/me/mfa-setup", headers=bearer(token)).status_code == 423

    assert (
        client.post(f"/api/v1/agent/users/{account.user_id}/unlock", headers=sign_in("demo.agent")).status_code == 200
    )
    after = client.get("/api/v1/me/mfa-setup", headers=service_headers(chat)).json()
    assert after["status"] == "expired"
    assert "Start the set-up again" in after["message"]
