"""One-time codes: RFC 6238 vectors, replay, drift, expiry, single use and binding to the sign-in."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlalchemy import select

from api.auth import mfa
from tests.api.auth.helpers import bearer, code_in, fresh_db, latest_message

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
]


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_totp_matches_the_rfc_6238_sha1_vectors(unix_time, expected):
    at = dt.datetime.fromtimestamp(unix_time, dt.UTC)
    assert mfa.totp_code(RFC_SECRET, at, digits=8) == expected
    # The same code path that checks the codes users type accepts it, at that step and no other.
    match = mfa.match_totp(RFC_SECRET, expected, at=at, last_step=None, digits=8)
    assert match.step == unix_time // 30
    assert mfa.match_totp(RFC_SECRET, expected, at=at + dt.timedelta(minutes=5), last_step=None, digits=8).step is None


def _sign_in_token(client, account):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": account.password}).json()[
        "sign_in_token"
    ]


def _verify(client, token, device_id, code):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/mfa/verify", json={"device_id": device_id, "code": code}, headers=bearer(token))


def test_an_app_code_is_never_accepted_twice(client, make_account, clock):
    account = make_account(devices=("totp",))
    code = mfa.totp_code(account.totp_secret, clock.now())
    assert _verify(client, _sign_in_token(client, account), account.totp_device_id, code).status_code == 200
    clock.advance(seconds=5)  # same 30-second step, a new sign-in
    replay = _verify(client, _sign_in_token(client, account), account.totp_device_id, code)
    assert replay.status_code == 401
    assert replay.json()["rule"] == "code_already_used"
    assert "each code works once" in replay.json()["detail"]


def test_an_older_app_code_is_refused_after_a_newer_one_was_used(client, make_account, clock):
    account = make_account(devices=("totp",))
    older = mfa.totp_code(account.totp_secret, clock.now())
    clock.advance(seconds=30)
    newer = mfa.totp_code(account.totp_secret, clock.now())
    assert _verify(client, _sign_in_token(client, account), account.totp_device_id, newer).status_code == 200
    if older != newer:
        stale = _verify(client, _sign_in_token(client, account), account.totp_device_id, older)
        assert stale.status_code == 401
        assert stale.json()["rule"] == "code_already_used"


def test_an_app_code_one_step_off_is_accepted_two_steps_off_is_not(client, make_account, clock):
    account = make_account(devices=("totp",))
    behind = mfa.totp_code(account.totp_secret, clock.now() - dt.timedelta(seconds=30))
    assert _verify(client, _sign_in_token(client, account), account.totp_device_id, behind).status_code == 200
    clock.advance(minutes=2)
    far = mfa.totp_code(account.totp_secret, clock.now() - dt.timedelta(seconds=90))
    if far not in {mfa.totp_code(account.totp_secret, clock.now() + dt.timedelta(seconds=s)) for s in (-30, 0, 30)}:
        refused = _verify(client, _sign_in_token(client, account), account.totp_device_id, far)
        assert refused.status_code == 401
        assert refused.json()["rule"] == "code_incorrect"


def test_a_sent_code_expires_after_ten_minutes(client, make_account, clock):
    account = make_account(devices=("sms",))
    token = _sign_in_token(client, account)
    client.post("/api/v1/auth/mfa/challenge", json={"device_id": account.sms_device_id}, headers=bearer(token))
    code = code_in(latest_message(account.phone).body)
    clock.advance(minutes=10, seconds=1)
    expired = _verify(client, token, account.sms_device_id, code)
    assert expired.status_code == 401
    assert expired.json()["rule"] == "code_expired"
    assert "Ask for a new code" in expired.json()["detail"]


def test_a_sent_code_works_once(client, make_account, clock):
    account = make_account(devices=("totp", "sms"))
    # A step-up code, used twice within one session.
    token = _sign_in_token(client, account)
    session = _verify(client, token, account.totp_device_id, mfa.totp_code(account.totp_secret, clock.now())).json()[
        "session"
    ]["session_token"]
    client.post("/api/v1/auth/mfa/challenge", json={"device_id": account.sms_device_id}, headers=bearer(session))
    code = code_in(latest_message(account.phone).body)
    assert _verify(client, session, account.sms_device_id, code).json()["outcome"] == "verified"
    reused = _verify(client, session, account.sms_device_id, code)
    assert reused.status_code == 401
    assert reused.json()["rule"] == "code_already_used"


def test_a_code_is_bound_to_its_sign_in(client, make_account):
    account = make_account(devices=("sms",))
    first = _sign_in_token(client, account)
    client.post("/api/v1/auth/mfa/challenge", json={"device_id": account.sms_device_id}, headers=bearer(first))
    code = code_in(latest_message(account.phone).body)
    second = _sign_in_token(client, account)
    elsewhere = _verify(client, second, account.sms_device_id, code)
    assert elsewhere.status_code == 401
    assert elsewhere.json()["rule"] == "code_expired"  # no code was sent for this sign-in
    assert _verify(client, first, account.sms_device_id, code).status_code == 200


def test_only_the_newest_code_counts_and_codes_are_stored_as_hashes(client, make_account):
    from api.auth.models import OneTimeCode

    account = make_account(devices=("email",))
    token = _sign_in_token(client, account)
    url = "/api/v1/auth/mfa/challenge"
    client.post(url, json={"device_id": account.email_device_id}, headers=bearer(token))
    old = code_in(latest_message(account.email).body)
    client.post(url, json={"device_id": account.email_device_id}, headers=bearer(token))
    new = code_in(latest_message(account.email).body)
    with fresh_db() as db:
        rows = list(db.scalars(select(OneTimeCode).where(OneTimeCode.device_pk == account.email_device_id)))
    assert len(rows) == 2
    for row in rows:
        assert old not in (row.code_hash, row.salt) and new not in (row.code_hash, row.salt)
        assert len(row.code_hash) == 64
    if old != new:
        assert _verify(client, token, account.email_device_id, old).json()["rule"] == "code_incorrect"
    assert _verify(client, token, account.email_device_id, new).status_code == 200


def test_codes_may_be_typed_with_spaces_but_must_be_six_digits(client, make_account, clock):
    account = make_account(devices=("totp",))
    token = _sign_in_token(client, account)
    short = _verify(client, token, account.totp_device_id, "12345")
    assert short.status_code == 422
    assert short.json()["rule"] == "code_format"
    assert "A code is 6 digits" in short.json()["detail"]
    code = mfa.totp_code(account.totp_secret, clock.now())
    spaced = _verify(client, token, account.totp_device_id, f"{code[:3]} {code[3:]}")
    assert spaced.status_code == 200


def test_at_most_five_codes_are_sent_per_sign_in(client, make_account):
    account = make_account(devices=("sms",))
    token = _sign_in_token(client, account)
    for left in (4, 3, 2, 1, 0):
        sent = client.post(
            "/api/v1/auth/mfa/challenge", json={"device_id": account.sms_device_id}, headers=bearer(token)
        )
        assert sent.json()["codes_left"] == left
    refused = client.post(
        "/api/v1/auth/mfa/challenge", json={"device_id": account.sms_device_id}, headers=bearer(token)
    )
    assert refused.status_code == 429
    assert refused.json()["rule"] == "too_many_codes"
    assert len([m for m in _messages(account.phone) if m.purpose == "sign_in_code"]) == 5


def _messages(recipient):  # type: ignore[no-untyped-def]
    from tests.api.auth.helpers import messages_to

    return messages_to(recipient)
