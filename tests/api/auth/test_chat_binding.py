"""Linking a chat to a user: the bot acts for that user only, only while the session lasts, and learns
only the outcome of a device set-up."""

from __future__ import annotations

import uuid

from api.auth import mfa
from tests.api.auth.helpers import bearer, code_in, latest_message, service_headers


def _conversation() -> str:
    return uuid.uuid4().hex


def _sign_in_through_chat(client, account, clock, conversation_id):  # type: ignore[no-untyped-def]
    step = client.post(
        "/api/v1/auth/sign-in",
        json={"user_id": account.user_id, "password": account.password, "conversation_id": conversation_id},
    )
    assert step.status_code == 200, step.text
    code = mfa.totp_code(account.totp_secret, clock.now())
    verified = client.post(
        "/api/v1/auth/mfa/verify",
        json={"device_id": account.totp_device_id, "code": code},
        headers=bearer(step.json()["sign_in_token"]),
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["session"]["conversation_id"] == conversation_id
    return verified.json()["session"]["session_token"]


def test_a_linked_chat_acts_for_its_user_only_and_not_after_sign_out(client, make_account, clock):
    dana, sam = make_account(devices=("totp",)), make_account(devices=("totp",))
    dana_chat, sam_chat = _conversation(), _conversation()
    dana_session = _sign_in_through_chat(client, dana, clock, dana_chat)
    clock.advance(seconds=30)
    _sign_in_through_chat(client, sam, clock, sam_chat)

    assert client.get("/api/v1/me", headers=service_headers(dana_chat)).json()["user_id"] == dana.user_id
    assert client.get("/api/v1/me", headers=service_headers(sam_chat)).json()["user_id"] == sam.user_id
    stranger = client.get("/api/v1/me", headers=service_headers(_conversation()))
    assert stranger.status_code == 401
    assert stranger.json()["rule"] == "chat_not_signed_in"
    missing = client.get("/api/v1/me", headers={"Authorization": "Bearer test-service-token"})
    assert missing.status_code == 400
    assert missing.json()["rule"] == "conversation_id_required"
    forged = client.get(
        "/api/v1/me", headers={"Authorization": "Bearer not-the-service-token", "X-Conversation-Id": dana_chat}
    )
    assert forged.status_code == 401

    assert client.post("/api/v1/auth/sign-out", headers=bearer(dana_session)).status_code == 200
    after = client.get("/api/v1/me", headers=service_headers(dana_chat))
    assert after.status_code == 401
    assert after.json()["detail"] == "This chat is not signed in. Ask the supplier to sign in through the chat first."
    assert client.get("/api/v1/me", headers=service_headers(sam_chat)).status_code == 200


def test_the_bot_may_sign_out_a_linked_chat(client, make_account, clock):
    account = make_account(devices=("totp",))
    chat = _conversation()
    session = _sign_in_through_chat(client, account, clock, chat)
    assert client.post("/api/v1/auth/sign-out", headers=service_headers(chat)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(session)).status_code == 401


def test_a_signed_in_user_links_a_chat_with_their_own_token(client, make_account, clock):
    account = make_account(devices=("totp",))
    session = _sign_in_through_chat(client, account, clock, _conversation())
    chat = _conversation()
    linked = client.post("/api/v1/chat-bindings", json={"conversation_id": chat}, headers=bearer(session))
    assert linked.status_code == 201
    assert linked.json()["user_id"] == account.user_id
    assert client.get("/api/v1/me", headers=service_headers(chat)).json()["user_id"] == account.user_id
    by_service = client.post("/api/v1/chat-bindings", json={"conversation_id": chat}, headers=service_headers(chat))
    assert by_service.status_code == 403
    assert by_service.json()["rule"] == "user_credential_required"


def test_a_chat_of_one_user_cannot_be_taken_over_by_another(client, make_account, clock):
    dana, sam = make_account(devices=("totp",)), make_account(devices=("totp",))
    chat = _conversation()
    _sign_in_through_chat(client, dana, clock, chat)
    clock.advance(seconds=30)
    sam_session = _sign_in_through_chat(client, sam, clock, _conversation())
    taken = client.post("/api/v1/chat-bindings", json={"conversation_id": chat}, headers=bearer(sam_session))
    assert taken.status_code == 409
    assert taken.json()["rule"] == "conversation_in_use"
    at_sign_in = client.post(
        "/api/v1/auth/sign-in", json={"user_id": sam.user_id, "password": sam.password, "conversation_id": chat}
    )
    assert at_sign_in.status_code == 409
    assert "signed in as another user" in at_sign_in.json()["detail"]
    assert client.get("/api/v1/me", headers=service_headers(chat)).json()["user_id"] == dana.user_id


def test_the_bot_follows_a_first_device_set_up_but_never_sees_its_key_or_code(client, make_account):
    account = make_account()
    chat = _conversation()
    step = client.post(
        "/api/v1/auth/sign-in",
        json={"user_id": account.user_id, "password": account.password, "conversation_id": chat},
    ).json()
    token = step["sign_in_token"]
    assert step["next_step"] == "set_up_device"

    none = client.get("/api/v1/me/mfa-setup", headers=service_headers(chat))
    assert none.status_code == 200
    assert none.json()["status"] == "none"

    app = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "google_authenticator"}, headers=bearer(token))
    secret = app.json()["authenticator"]["secret"]
    seen_by_bot = client.get("/api/v1/me/mfa-setup", headers=service_headers(chat))
    assert seen_by_bot.json()["status"] == "pending"
    assert seen_by_bot.json()["enrollment"]["qr_code_available"] is True
    assert seen_by_bot.json()["enrollment"]["authenticator"] is None
    assert secret not in seen_by_bot.text
    seen_by_user = client.get("/api/v1/me/mfa-setup", headers=bearer(token))
    assert seen_by_user.json()["enrollment"]["authenticator"]["secret"] == secret
    assert seen_by_user.json()["enrollment"]["authenticator"]["qr_code"].startswith("data:image/png;base64,")

    # The user switches to a text message; the chat client posts the code straight to the API.
    sms = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "text_message"}, headers=bearer(token)).json()
    code = code_in(latest_message(account.phone, purpose="enrollment_code").body)
    wrong = "000000" if code != "000000" else "111111"
    url = f"/api/v1/auth/mfa/enrollments/{sms['enrollment_id']}/verify"
    assert client.post(url, json={"code": wrong}, headers=bearer(token)).status_code == 401
    after_wrong = client.get("/api/v1/me/mfa-setup", headers=service_headers(chat)).json()
    assert after_wrong["status"] == "pending"
    assert after_wrong["enrollment"]["last_error"] == "code_incorrect"
    assert "not right" in after_wrong["message"]
    assert code not in str(after_wrong)

    done = client.post(url, json={"code": code}, headers=bearer(token))
    assert done.status_code == 200
    verified = client.get("/api/v1/me/mfa-setup", headers=service_headers(chat)).json()
    assert verified["status"] == "verified"
    assert verified["active_devices"] == 1
    # The chat is now linked to the new session.
    assert client.get("/api/v1/me", headers=service_headers(chat)).json()["user_id"] == account.user_id


def test_the_bot_learns_nothing_about_a_chat_nobody_signed_in_from(client):
    response = client.get("/api/v1/me/mfa-setup", headers=service_headers(_conversation()))
    assert response.status_code == 401
    assert response.json()["rule"] == "chat_not_signed_in"


def test_the_bot_starts_a_first_device_set_up_and_the_widget_shows_its_qr_code(client, make_account, clock):
    account = make_account()
    chat = _conversation()
    token = client.post(
        "/api/v1/auth/sign-in",
        json={"user_id": account.user_id, "password": account.password, "conversation_id": chat},
    ).json()["sign_in_token"]

    started = client.post(
        "/api/v1/auth/mfa/enrollments", json={"kind": "google_authenticator"}, headers=service_headers(chat)
    )
    assert started.status_code == 201, started.text
    by_bot = started.json()
    assert by_bot["qr_code_available"] is True
    assert by_bot["authenticator"] is None  # the key never passes through the bot

    shown = client.get(f"/api/v1/auth/mfa/enrollments/{by_bot['enrollment_id']}", headers=bearer(token))
    assert shown.status_code == 200
    secret = shown.json()["authenticator"]["secret"]
    assert shown.json()["authenticator"]["qr_code"].startswith("data:image/png;base64,")
    assert (
        client.get(f"/api/v1/auth/mfa/enrollments/{by_bot['enrollment_id']}", headers=service_headers(chat)).json()[
            "rule"
        ]
        == "user_credential_required"
    )

    code = mfa.totp_code(secret, clock.now())
    refused = client.post(
        f"/api/v1/auth/mfa/enrollments/{by_bot['enrollment_id']}/verify",
        json={"code": code},
        headers=service_headers(chat),
    )
    assert refused.status_code == 403
    assert refused.json()["rule"] == "user_credential_required"
    verified = client.post(
        f"/api/v1/auth/mfa/enrollments/{by_bot['enrollment_id']}/verify", json={"code": code}, headers=bearer(token)
    )
    assert verified.status_code == 200, verified.text
    assert client.get("/api/v1/me/mfa-setup", headers=service_headers(chat)).json()["status"] == "verified"
    assert client.get("/api/v1/me", headers=service_headers(chat)).json()["user_id"] == account.user_id


def test_the_bot_adds_a_device_for_a_signed_in_chat_only_while_the_second_factor_is_fresh(client, make_account, clock):
    account = make_account(devices=("totp",))
    chat = _conversation()
    session = _sign_in_through_chat(client, account, clock, chat)
    started = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "text_message"}, headers=service_headers(chat))
    assert started.status_code == 201, started.text
    assert started.json()["sent_to"] == mfa.mask(account.phone)
    again = client.post(
        f"/api/v1/auth/mfa/enrollments/{started.json()['enrollment_id']}/resend", headers=service_headers(chat)
    )
    assert again.status_code == 200
    code = code_in(latest_message(account.phone, purpose="enrollment_code").body)
    verified = client.post(
        f"/api/v1/auth/mfa/enrollments/{started.json()['enrollment_id']}/verify",
        json={"code": code},
        headers=bearer(session),
    )
    assert verified.status_code == 200

    clock.advance(minutes=11)
    stale = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "email"}, headers=service_headers(chat))
    assert stale.status_code == 403
    assert stale.json()["rule"] == "fresh_verification_required"
    nobody = client.post(
        "/api/v1/auth/mfa/enrollments", json={"kind": "email"}, headers=service_headers(_conversation())
    )
    assert nobody.status_code == 401
    assert nobody.json()["rule"] == "chat_not_signed_in"
