"""MFA devices end to end: setting up each kind, signing in with each, adding and removing devices."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from api.auth import mfa
from tests.api.auth.helpers import audit_events, bearer, code_in, latest_message, messages_to


def _sign_in_token(client, account):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": account.password})
    assert response.status_code == 200, response.text
    return response.json()["sign_in_token"]


def _session_with_step_up(client, account, clock):  # type: ignore[no-untyped-def]
    """Sign in with the account's app, which also counts as a fresh second factor."""
    token = _sign_in_token(client, account)
    code = mfa.totp_code(account.totp_secret, clock.now())
    response = client.post(
        "/api/v1/auth/mfa/verify", json={"device_id": account.totp_device_id, "code": code}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    clock.advance(seconds=30)  # the next TOTP code is a new one
    return response.json()["session"]["session_token"]


@pytest.mark.parametrize(
    ("kind", "channel", "destination"),
    [("text_message", "text_message", "phone"), ("voice_call", "voice_call", "phone"), ("email", "email", "email")],
)
def test_a_first_code_device_is_set_up_while_signing_in_and_signs_the_user_in(
    client, make_account, kind, channel, destination
):
    account = make_account()
    token = _sign_in_token(client, account)
    started = client.post("/api/v1/auth/mfa/enrollments", json={"kind": kind}, headers=bearer(token))
    assert started.status_code == 201, started.text
    enrollment = started.json()
    assert enrollment["status"] == "pending"
    assert enrollment["authenticator"] is None
    to = account.phone if destination == "phone" else account.email
    message = latest_message(to, purpose="enrollment_code")
    assert message is not None and message.channel == channel
    assert enrollment["sent_to"] in (mfa.mask(to),)
    assert f"We sent a 6-digit code to {enrollment['sent_to']}" in enrollment["message"]

    verified = client.post(
        f"/api/v1/auth/mfa/enrollments/{enrollment['enrollment_id']}/verify",
        json={"code": code_in(message.body)},
        headers=bearer(token),
    )
    assert verified.status_code == 200, verified.text
    result = verified.json()
    assert result["enrollment"]["status"] == "verified"
    assert result["device"]["kind"] == kind
    assert "You are signed in" in result["message"]
    assert "more than one device" in result["advice"]
    session = result["session"]["session_token"]
    me = client.get("/api/v1/me", headers=bearer(session)).json()
    assert [d["kind"] for d in me["mfa"]["devices"]] == [kind]
    notice = latest_message(account.email, purpose="device_added")
    assert notice is not None
    assert "was set up as a multi-factor authentication device" in notice.body
    assert "877-577-5331" in notice.body
    assert "device_added" in audit_events(account.pk)


@pytest.mark.parametrize("kind", ["google_authenticator", "okta_verify"])
def test_a_first_app_is_set_up_with_a_qr_code_and_its_first_code(client, make_account, clock, kind):
    account = make_account()
    token = _sign_in_token(client, account)
    started = client.post("/api/v1/auth/mfa/enrollments", json={"kind": kind}, headers=bearer(token))
    assert started.status_code == 201, started.text
    setup = started.json()["authenticator"]
    uri = urllib.parse.urlparse(setup["provisioning_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    query = urllib.parse.parse_qs(uri.query)
    assert query["secret"] == [setup["secret"]]
    assert query["issuer"] == ["CBP Connexion"]
    assert account.user_id in urllib.parse.unquote(uri.path)
    assert setup["qr_code"].startswith("data:image/png;base64,")
    png = base64.b64decode(setup["qr_code"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"

    wrong = client.post(
        f"/api/v1/auth/mfa/enrollments/{started.json()['enrollment_id']}/verify",
        json={"code": "000000" if mfa.totp_code(setup["secret"], clock.now()) != "000000" else "111111"},
        headers=bearer(token),
    )
    assert wrong.status_code == 401
    assert wrong.json()["rule"] == "code_incorrect"

    code = mfa.totp_code(setup["secret"], clock.now())
    verified = client.post(
        f"/api/v1/auth/mfa/enrollments/{started.json()['enrollment_id']}/verify",
        json={"code": code},
        headers=bearer(token),
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["session"]["session_token"]
    assert verified.json()["device"]["kind_name"] in ("Google Authenticator", "Okta Verify")


@pytest.mark.parametrize(("device", "channel"), [("sms", "text_message"), ("voice", "voice_call"), ("email", "email")])
def test_a_user_signs_in_with_a_code_sent_by_text_voice_or_email(client, make_account, device, channel):
    account = make_account(devices=(device,))
    token = _sign_in_token(client, account)
    device_id = getattr(account, f"{device}_device_id")
    sent = client.post("/api/v1/auth/mfa/challenge", json={"device_id": device_id}, headers=bearer(token))
    assert sent.status_code == 200, sent.text
    assert sent.json()["codes_left"] == 4
    to = account.email if device == "email" else account.phone
    message = latest_message(to, purpose="sign_in_code")
    assert message.channel == channel
    if channel == "voice_call":
        assert "Your verification code is" in message.body  # read digit by digit
    code = code_in(message.body)
    verified = client.post(
        "/api/v1/auth/mfa/verify", json={"device_id": device_id, "code": code}, headers=bearer(token)
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["outcome"] == "signed_in"
    assert client.get("/api/v1/me", headers=bearer(verified.json()["session"]["session_token"])).status_code == 200


def test_an_app_sends_no_code(client, make_account):
    account = make_account(devices=("totp",))
    token = _sign_in_token(client, account)
    response = client.post(
        "/api/v1/auth/mfa/challenge", json={"device_id": account.totp_device_id}, headers=bearer(token)
    )
    assert response.status_code == 422
    assert response.json()["rule"] == "no_code_to_send"
    assert "open the app" in response.json()["detail"]


def test_a_device_of_another_user_cannot_be_used(client, make_account):
    mine = make_account(devices=("sms",))
    theirs = make_account(devices=("sms",))
    token = _sign_in_token(client, mine)
    response = client.post(
        "/api/v1/auth/mfa/challenge", json={"device_id": theirs.sms_device_id}, headers=bearer(token)
    )
    assert response.status_code == 404
    assert response.json()["rule"] == "device_not_found"
    assert messages_to(theirs.phone) == []


def test_a_sign_in_token_cannot_add_a_device_when_the_user_has_one(client, make_account):
    account = make_account(devices=("totp",))
    token = _sign_in_token(client, account)
    response = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "email"}, headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["rule"] == "device_already_set_up"


def test_adding_a_device_needs_a_fresh_second_factor(client, make_account, clock, sign_in):
    account = make_account(devices=("totp",))
    session = _session_with_step_up(client, account, clock)
    clock.advance(minutes=11)
    stale = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "email"}, headers=bearer(session))
    assert stale.status_code == 403
    assert stale.json()["rule"] == "fresh_verification_required"
    assert "enter a code from one of your devices" in stale.json()["detail"]

    step_up = client.post(
        "/api/v1/auth/mfa/verify",
        json={"device_id": account.totp_device_id, "code": mfa.totp_code(account.totp_secret, clock.now())},
        headers=bearer(session),
    )
    assert step_up.status_code == 200
    assert step_up.json()["outcome"] == "verified"
    added = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "email"}, headers=bearer(session))
    assert added.status_code == 201
    code = code_in(latest_message(account.email, purpose="enrollment_code").body)
    done = client.post(
        f"/api/v1/auth/mfa/enrollments/{added.json()['enrollment_id']}/verify",
        json={"code": code},
        headers=bearer(session),
    )
    assert done.status_code == 200
    assert done.json()["session"] is None  # already signed in
    assert done.json()["advice"] is None  # two devices now
    kinds = [d["kind"] for d in client.get("/api/v1/auth/mfa/devices", headers=bearer(session)).json()]
    assert kinds == ["google_authenticator", "email"]


def test_a_step_up_by_text_message_allows_adding_a_device(client, make_account, sign_in):
    account = make_account(devices=("sms",))
    token = _sign_in_token(client, account)
    client.post("/api/v1/auth/mfa/challenge", json={"device_id": account.sms_device_id}, headers=bearer(token))
    code = code_in(latest_message(account.phone).body)
    session = client.post(
        "/api/v1/auth/mfa/verify", json={"device_id": account.sms_device_id, "code": code}, headers=bearer(token)
    ).json()["session"]["session_token"]
    added = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "okta_verify"}, headers=bearer(session))
    assert added.status_code == 201
    assert added.json()["authenticator"]["qr_code"].startswith("data:image/png")


def test_phone_numbers_are_validated_and_normalized(client, make_account):
    account = make_account()
    token = _sign_in_token(client, account)
    bad = client.post(
        "/api/v1/auth/mfa/enrollments", json={"kind": "text_message", "phone": "555-12"}, headers=bearer(token)
    )
    assert bad.status_code == 422
    assert bad.json()["rule"] == "invalid_phone"
    assert "not a valid US number" in bad.json()["detail"]
    foreign = client.post(
        "/api/v1/auth/mfa/enrollments", json={"kind": "voice_call", "phone": "+44 20 7946 0958"}, headers=bearer(token)
    )
    assert foreign.status_code == 422
    good = client.post(
        "/api/v1/auth/mfa/enrollments",
        json={"kind": "text_message", "phone": "1 (305) 555-0199"},
        headers=bearer(token),
    )
    assert good.status_code == 201
    assert good.json()["sent_to"] == "(***) ***-0199"
    assert latest_message("+13055550199", purpose="enrollment_code") is not None


def test_emails_are_validated(client, make_account):
    account = make_account()
    token = _sign_in_token(client, account)
    bad = client.post(
        "/api/v1/auth/mfa/enrollments", json={"kind": "email", "email": "dana@@example"}, headers=bearer(token)
    )
    assert bad.status_code == 422
    assert bad.json()["rule"] == "invalid_email"


def test_a_set_up_fails_after_five_wrong_codes(client, make_account, clock):
    account = make_account()
    token = _sign_in_token(client, account)
    enrollment = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "email"}, headers=bearer(token)).json()
    real = code_in(latest_message(account.email, purpose="enrollment_code").body)
    wrong = "000000" if real != "000000" else "111111"
    url = f"/api/v1/auth/mfa/enrollments/{enrollment['enrollment_id']}/verify"
    for attempt in range(1, 6):
        response = client.post(url, json={"code": wrong}, headers=bearer(token))
        while response.status_code == 429:  # the growing delay after 3 failures: wait it out
            clock.advance(seconds=int(response.headers["Retry-After"]))
            response = client.post(url, json={"code": wrong}, headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["rule"] == "code_incorrect"
        state = client.get("/api/v1/me/mfa-setup", headers=bearer(token)).json()
        assert state["enrollment"]["failed_attempts"] == attempt
    assert "failed after 5 wrong codes" in response.json()["detail"]
    assert state["status"] == "failed"
    assert "Start the set-up again" in state["message"]
    clock.advance(minutes=2)
    too_late = client.post(url, json={"code": real}, headers=bearer(token))
    assert too_late.status_code == 409
    assert too_late.json()["rule"] == "enrollment_not_pending"


def test_removing_a_device_needs_a_fresh_factor_and_keeps_the_last_one(client, make_account, clock):
    account = make_account(devices=("totp", "sms"))
    session = _session_with_step_up(client, account, clock)
    removed = client.delete(f"/api/v1/auth/mfa/devices/{account.sms_device_id}", headers=bearer(session))
    assert removed.status_code == 200, removed.text
    assert [d["kind"] for d in removed.json()["remaining_devices"]] == ["google_authenticator"]
    assert "more than one device" in removed.json()["advice"]
    notice = latest_message(account.email, purpose="device_removed")
    assert notice is not None and "was removed" in notice.body

    last = client.delete(f"/api/v1/auth/mfa/devices/{account.totp_device_id}", headers=bearer(session))
    assert last.status_code == 409
    assert last.json()["rule"] == "last_device"
    assert "Add another device first" in last.json()["detail"]

    clock.advance(minutes=11)
    other = make_account(devices=("totp", "email"))
    stale = _session_with_step_up(client, other, clock)
    clock.advance(minutes=11)
    refused = client.delete(f"/api/v1/auth/mfa/devices/{other.email_device_id}", headers=bearer(stale))
    assert refused.status_code == 403
    assert refused.json()["rule"] == "fresh_verification_required"


def test_before_the_enforcement_date_the_last_device_can_be_removed(client, make_account, clock, mfa_optional):
    account = make_account(devices=("totp",))
    session = _session_with_step_up(client, account, clock)
    removed = client.delete(f"/api/v1/auth/mfa/devices/{account.totp_device_id}", headers=bearer(session))
    assert removed.status_code == 200
    assert removed.json()["remaining_devices"] == []


def test_the_service_cannot_remove_devices_or_post_codes(client, make_account, demo_data, sign_in):
    from tests.api.auth.helpers import service_headers

    account = make_account(devices=("totp",))
    headers = service_headers("any-conversation")
    assert (
        client.post("/api/v1/auth/mfa/verify", json={"device_id": 1, "code": "123456"}, headers=headers).json()["rule"]
        == "user_credential_required"
    )
    response = client.delete(f"/api/v1/auth/mfa/devices/{account.totp_device_id}", headers=headers)
    assert response.status_code == 403
    assert response.json()["rule"] == "user_credential_required"
