"""No password, code, key or token ever reaches the logs, even at DEBUG, over a full set-up."""

from __future__ import annotations

import logging
import uuid

from api.auth import mfa
from tests.api.auth.helpers import SERVICE_TOKEN, bearer, code_in, latest_message, service_headers


def test_a_full_set_up_leaves_no_secret_in_the_logs(client, clock, caplog):
    caplog.set_level(logging.DEBUG)  # every logger at DEBUG...
    # ...and SQL statements (SQLAlchemy quiets its loggers to WARNING unless told). Its DEBUG level would
    # add result rows (echo="debug"): a debugging aid that shows stored data, never to be used in production.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    secrets: list[str] = []
    user_id = f"logs.{uuid.uuid4().hex[:8]}"
    password = "lantern orchard velvet 42"
    chat = uuid.uuid4().hex
    secrets.append(password)

    # Registration, including a mistyped (common) password that is refused.
    assert (
        client.post(
            "/api/v1/auth/register",
            json={
                "user_id": user_id,
                "first_name": "Lee",
                "last_name": "Logs",
                "email": f"{user_id}@example.com",
                "password": "baseball1",
            },
        ).status_code
        == 422
    )
    registered = client.post(
        "/api/v1/auth/register",
        json={
            "user_id": user_id,
            "first_name": "Lee",
            "last_name": "Logs",
            "email": f"{user_id}@example.com",
            "phone": "202-555-0166",
            "password": password,
        },
    )
    assert registered.status_code == 201

    # A wrong password, then the right one: MFA set-up is required.
    wrong_password = "lantern orchard velvet 43"
    secrets.append(wrong_password)
    assert client.post("/api/v1/auth/sign-in", json={"user_id": user_id, "password": wrong_password}).status_code == 401
    step = client.post("/api/v1/auth/sign-in", json={"user_id": user_id, "password": password, "conversation_id": chat})
    sign_in_token = step.json()["sign_in_token"]
    secrets.append(sign_in_token)

    # Google Authenticator: key and QR code, a wrong code, then the right one.
    app = client.post(
        "/api/v1/auth/mfa/enrollments", json={"kind": "google_authenticator"}, headers=bearer(sign_in_token)
    )
    totp_secret = app.json()["authenticator"]["secret"]
    secrets.append(totp_secret)
    code = mfa.totp_code(totp_secret, clock.now())
    wrong_code = "000000" if code != "000000" else "111111"
    url = f"/api/v1/auth/mfa/enrollments/{app.json()['enrollment_id']}/verify"
    assert client.post(url, json={"code": wrong_code}, headers=bearer(sign_in_token)).status_code == 401
    done = client.post(url, json={"code": code}, headers=bearer(sign_in_token))
    assert done.status_code == 200
    session = done.json()["session"]["session_token"]
    secrets += [code, session]

    # A second device by text message, after a step-up; the bot reads the outcome.
    clock.advance(seconds=30)
    step_up_code = mfa.totp_code(totp_secret, clock.now())
    secrets.append(step_up_code)
    device_id = client.get("/api/v1/me", headers=bearer(session)).json()["mfa"]["devices"][0]["id"]
    assert (
        client.post(
            "/api/v1/auth/mfa/verify", json={"device_id": device_id, "code": step_up_code}, headers=bearer(session)
        ).status_code
        == 200
    )
    sms = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "text_message"}, headers=bearer(session))
    sms_code = code_in(latest_message("+12025550166", purpose="enrollment_code").body)
    secrets.append(sms_code)
    assert (
        client.post(
            f"/api/v1/auth/mfa/enrollments/{sms.json()['enrollment_id']}/verify",
            json={"code": sms_code},
            headers=bearer(session),
        ).status_code
        == 200
    )
    assert client.get("/api/v1/me/mfa-setup", headers=service_headers(chat)).json()["status"] == "verified"
    assert client.get("/api/v1/me", headers=service_headers(chat)).status_code == 200
    secrets.append(SERVICE_TOKEN)

    # Sign out, then sign in again with a text message code.
    assert client.post("/api/v1/auth/sign-out", headers=bearer(session)).status_code == 200
    second = client.post("/api/v1/auth/sign-in", json={"user_id": user_id, "password": password}).json()
    second_token = second["sign_in_token"]
    sms_device = next(d for d in second["devices"] if d["kind"] == "text_message")
    client.post("/api/v1/auth/mfa/challenge", json={"device_id": sms_device["id"]}, headers=bearer(second_token))
    sign_in_code = code_in(latest_message("+12025550166", purpose="sign_in_code").body)
    final = client.post(
        "/api/v1/auth/mfa/verify",
        json={"device_id": sms_device["id"], "code": sign_in_code},
        headers=bearer(second_token),
    )
    assert final.status_code == 200
    secrets += [second_token, sign_in_code, final.json()["session"]["session_token"]]

    logged = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert "auth event signed_in" in logged  # the flow was logged, so the check below means something
    assert "INSERT INTO outbox_messages" in logged  # SQL too (its values hidden)
    assert "password_failed" in logged and "code_failed" in logged
    for secret in secrets:
        assert secret not in logged, f"a secret of {len(secret)} characters is in the logs"
    assert "baseball1" not in logged
