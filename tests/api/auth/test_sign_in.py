"""Signing in: the password step, the second factor, and MFA before and after the enforcement date."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from api.auth import mfa
from tests.api.auth.helpers import audit_events, bearer

EASTERN = ZoneInfo("America/New_York")


def _password_step(client, account, **extra):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": account.password, **extra})


def test_before_the_enforcement_date_a_user_without_a_device_signs_in_with_the_password(
    client, make_account, mfa_optional
):
    account = make_account()
    response = _password_step(client, account)
    assert response.status_code == 200
    body = response.json()
    assert body["next_step"] == "signed_in"
    assert "set one up now" in body["message"]
    assert {o["kind"] for o in body["device_options"]} == {
        "google_authenticator",
        "okta_verify",
        "text_message",
        "voice_call",
        "email",
    }
    me = client.get("/api/v1/me", headers=bearer(body["session"]["session_token"]))
    assert me.status_code == 200
    assert me.json()["user_id"] == account.user_id
    assert me.json()["mfa"]["status"] == "not_set_up"
    assert me.json()["mfa"]["required"] is False


def test_after_the_enforcement_date_a_user_without_a_device_is_led_to_set_one_up(client, make_account):
    account = make_account()
    response = _password_step(client, account)
    assert response.status_code == 200
    body = response.json()
    assert body["next_step"] == "set_up_device"
    assert body["session"] is None
    assert "Set up a device now to finish signing in" in body["message"]
    assert "more than one device" in body["advice"]
    assert body["sign_in_token"].startswith("si_")
    # The sign-in token is not a session: it opens nothing but the second step.
    me = client.get("/api/v1/me", headers=bearer(body["sign_in_token"]))
    assert me.status_code == 401
    assert me.json()["rule"] == "not_signed_in"


def test_the_enforcement_date_is_judged_in_eastern_time(client, make_account, clock):
    account = make_account()
    clock.set(dt.datetime(2022, 6, 2, 23, 30, tzinfo=EASTERN).astimezone(dt.UTC))
    assert _password_step(client, account).json()["next_step"] == "signed_in"
    clock.set(dt.datetime(2022, 6, 3, 0, 30, tzinfo=EASTERN).astimezone(dt.UTC))
    assert _password_step(client, account).json()["next_step"] == "set_up_device"


def test_a_user_with_an_app_signs_in_with_its_code(client, make_account, clock):
    account = make_account(devices=("totp",))
    step = _password_step(client, account)
    assert step.status_code == 200
    body = step.json()
    assert body["next_step"] == "verify_code"
    assert body["session"] is None
    assert [d["kind"] for d in body["devices"]] == ["google_authenticator"]
    assert "totp_secret" not in str(body) and account.totp_secret not in str(body)

    code = mfa.totp_code(account.totp_secret, clock.now())
    verified = client.post(
        "/api/v1/auth/mfa/verify",
        json={"device_id": account.totp_device_id, "code": code},
        headers=bearer(body["sign_in_token"]),
    )
    assert verified.status_code == 200, verified.text
    result = verified.json()
    assert result["outcome"] == "signed_in"
    assert "more than one device" in result["advice"]
    me = client.get("/api/v1/me", headers=bearer(result["session"]["session_token"]))
    assert me.status_code == 200
    assert me.json()["mfa"]["status"] == "enabled"
    assert me.json()["mfa"]["devices"][0]["kind_name"] == "Google Authenticator"
    assert "signed_in" in audit_events(account.pk)


def test_a_user_with_a_device_needs_it_even_before_the_enforcement_date(client, make_account, mfa_optional):
    account = make_account(devices=("totp",))
    body = _password_step(client, account).json()
    assert body["next_step"] == "verify_code"
    assert body["session"] is None


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client, make_account):
    account = make_account()
    wrong = client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": "not my password"})
    unknown = client.post("/api/v1/auth/sign-in", json={"user_id": "nobody.here", "password": "not my password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["rule"] == "invalid_credentials"
    assert "user ID or password is not right" in wrong.json()["detail"]
    assert "password_failed" in audit_events(account.pk)


def test_user_ids_are_not_case_sensitive(client, make_account, mfa_optional):
    account = make_account()
    response = client.post(
        "/api/v1/auth/sign-in", json={"user_id": account.user_id.upper(), "password": account.password}
    )
    assert response.status_code == 200
    assert response.json()["next_step"] == "signed_in"


def test_the_sign_in_token_works_once_and_expires(client, make_account, clock):
    account = make_account(devices=("totp",))
    token = _password_step(client, account).json()["sign_in_token"]
    code = mfa.totp_code(account.totp_secret, clock.now())
    first = client.post(
        "/api/v1/auth/mfa/verify", json={"device_id": account.totp_device_id, "code": code}, headers=bearer(token)
    )
    assert first.status_code == 200
    clock.advance(seconds=30)
    again = client.post(
        "/api/v1/auth/mfa/verify",
        json={"device_id": account.totp_device_id, "code": mfa.totp_code(account.totp_secret, clock.now())},
        headers=bearer(token),
    )
    assert again.status_code == 401
    assert again.json()["rule"] == "sign_in_expired"

    late = _password_step(client, account).json()["sign_in_token"]
    clock.advance(minutes=16)
    expired = client.post(
        "/api/v1/auth/mfa/verify",
        json={"device_id": account.totp_device_id, "code": mfa.totp_code(account.totp_secret, clock.now())},
        headers=bearer(late),
    )
    assert expired.status_code == 401
    assert expired.json()["rule"] == "sign_in_expired"
    assert "Enter your user ID and password again" in expired.json()["detail"]


def test_sessions_end_at_sign_out_and_after_eight_hours(client, make_account, mfa_optional, clock):
    account = make_account()
    token = _password_step(client, account).json()["session"]["session_token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    out = client.post("/api/v1/auth/sign-out", headers=bearer(token))
    assert out.status_code == 200
    assert "signed out" in out.json()["message"]
    after = client.get("/api/v1/me", headers=bearer(token))
    assert after.status_code == 401
    assert after.json()["detail"] == "Your session has ended. Sign in again to continue."

    token = _password_step(client, account).json()["session"]["session_token"]
    clock.advance(hours=7, minutes=59)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    clock.advance(minutes=2)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_sessions_are_listed_and_can_be_revoked_one_by_one(client, make_account, mfa_optional):
    account = make_account()
    first = _password_step(client, account).json()["session"]["session_token"]
    second = _password_step(client, account).json()["session"]["session_token"]
    listed = client.get("/api/v1/auth/sessions", headers=bearer(second))
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    other = next(s for s in sessions if not s["current"])
    revoked = client.delete(f"/api/v1/auth/sessions/{other['id']}", headers=bearer(second))
    assert revoked.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    gone = client.delete(f"/api/v1/auth/sessions/{other['id']}", headers=bearer(second))
    assert gone.status_code == 404
    assert gone.json()["rule"] == "session_not_found"


def test_me_tells_the_user_id_names_bidder_numbers_and_devices_without_secrets(client, sign_in, demo_data):
    headers = sign_in("demo.supplier")
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    me = response.json()
    assert me["user_id"] == "demo.supplier"
    assert (me["first_name"], me["last_name"]) == ("Dana", "Supplier")
    assert me["bidder_numbers"] == ["12345", "67890"]
    assert me["mfa"]["status"] == "enabled"
    kinds = {d["kind"] for d in me["mfa"]["devices"]}
    assert {"google_authenticator", "text_message"} <= kinds
    text = response.text
    assert "DEMOSUPPLIERGOOGLEAUTHENTICATOR2" not in text
    assert "+12025550143" not in text  # phone numbers are masked
    assert "(***) ***-0143" in text
