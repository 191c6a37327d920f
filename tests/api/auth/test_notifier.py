"""Delivery: emails by SMTP to a local aiosmtpd server, and the developer outbox page."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from stack.localhost import free_port
from tests.api.auth.helpers import bearer, code_in, fresh_db, latest_message


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings, monkeypatch) -> Iterator[Inbox]:  # type: ignore[no-untyped-def]
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setattr(settings, "notifier", "smtp")
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    try:
        yield inbox
    finally:
        controller.stop()


def test_email_codes_and_notices_are_sent_by_smtp(client, make_account, smtp_server):
    account = make_account()
    token = client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": account.password}).json()[
        "sign_in_token"
    ]
    started = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "email"}, headers=bearer(token))
    assert started.status_code == 201, started.text
    assert len(smtp_server.messages) == 1
    email = smtp_server.messages[0]
    assert email["To"] == account.email
    assert email["Subject"] == "Your CBP Connexion verification code"
    assert "CBP Connexion" in email["From"]
    assert latest_message(account.email) is None  # emails went by SMTP, not to the outbox

    code = code_in(email.get_payload(decode=True).decode())
    verified = client.post(
        f"/api/v1/auth/mfa/enrollments/{started.json()['enrollment_id']}/verify",
        json={"code": code},
        headers=bearer(token),
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["session"] is not None
    notice = smtp_server.messages[-1]
    assert notice["Subject"] == "A sign-in device was added to your CBP Connexion account"


def test_text_messages_still_go_to_the_outbox_with_smtp(client, make_account, smtp_server):
    account = make_account(devices=("sms",))
    token = client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": account.password}).json()[
        "sign_in_token"
    ]
    sent = client.post("/api/v1/auth/mfa/challenge", json={"device_id": account.sms_device_id}, headers=bearer(token))
    assert sent.status_code == 200
    assert latest_message(account.phone, purpose="sign_in_code") is not None
    assert smtp_server.messages == []


def test_an_smtp_failure_answers_503_and_keeps_no_code(client, make_account, settings, monkeypatch):
    from api.auth.models import OneTimeCode

    monkeypatch.setattr(settings, "notifier", "smtp")
    monkeypatch.setattr(settings, "smtp_port", free_port())  # nobody listens there
    account = make_account(devices=("email",))
    token = client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": account.password}).json()[
        "sign_in_token"
    ]
    response = client.post(
        "/api/v1/auth/mfa/challenge", json={"device_id": account.email_device_id}, headers=bearer(token)
    )
    assert response.status_code == 503
    assert response.json()["rule"] == "delivery_failed"
    assert "could not send the code" in response.json()["detail"]
    with fresh_db() as db:
        kept = db.scalar(select(func.count(OneTimeCode.id)).where(OneTimeCode.device_pk == account.email_device_id))
    assert kept == 0


def test_the_developer_outbox_page_shows_text_voice_and_email(client, make_account):
    account = make_account(devices=("voice",))
    token = client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": account.password}).json()[
        "sign_in_token"
    ]
    client.post("/api/v1/auth/mfa/challenge", json={"device_id": account.voice_device_id}, headers=bearer(token))
    page = client.get("/dev/outbox", params={"to": account.phone})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Developer outbox" in page.text
    assert "voice_call" in page.text
    assert code_in(latest_message(account.phone).body) in page.text.replace(", ", "")


def test_the_outbox_page_does_not_exist_in_production(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "environment", "production")
    response = client.get("/dev/outbox")
    assert response.status_code == 404
    assert "<table" not in response.text
