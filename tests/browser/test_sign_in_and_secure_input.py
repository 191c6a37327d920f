"""Signing in from the chat (user ID and password, then the TOTP second factor) straight to the identity
API, and a one-time code typed in secure input mode: neither ever reaches the transcript or the bot."""

from __future__ import annotations

import time

import httpx
import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from api.chat.models import ChatMessage, MessageKind, Sender
from api.seed import DEMO_TOTP_SECRETS
from tests.browser.conftest import Widget, axe_check, hold_session

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def _fresh_totp(secret: str) -> str:
    """A code from a time step no test has used yet (a code is accepted once only)."""
    totp = pyotp.TOTP(secret)
    if totp.interval - time.time() % totp.interval < 3:  # about to change: take the next one
        time.sleep(totp.interval - time.time() % totp.interval + 0.5)
    return totp.now()


def _transcript(db, conversation_id: str) -> str:  # type: ignore[no-untyped-def]
    db.expire_all()
    rows = db.scalars(select(ChatMessage).where(ChatMessage.conversation_id == conversation_id)).all()
    return " ".join(f"{m.text} {m.relay_text or ''} {m.data or ''}" for m in rows)


def test_signing_in_from_the_chat_binds_it_and_tells_the_bot(widget: Widget, page, live_stack, db):  # type: ignore[no-untyped-def]
    widget.open()
    widget.start_chat()
    widget.bot_says("How can I help")
    # The bot answers "Upload a document" with a sign_in_required payload: the sign-in panel opens.
    widget.log.get_by_role("button", name="Upload a document").first.click()
    expect(widget.panel.get_by_role("heading", name="Sign in to Connexion")).to_be_visible(timeout=30_000)

    user_id = widget.panel.get_by_label("User ID")
    password = widget.panel.get_by_label("Password")
    expect(user_id).to_be_focused()
    expect(user_id).to_have_attribute("autocomplete", "username")
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "current-password")
    user_id.fill("demo.supplier")
    password.fill("not-the-password")
    widget.panel.get_by_role("button", name="Sign in").click()
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(widget.panel.get_by_text("user ID or password", exact=False)).to_be_visible()
    axe_check(page, "the sign-in panel with an error")

    password.fill("Connexion-demo-2021")
    widget.panel.get_by_role("button", name="Sign in").click()
    code = widget.panel.get_by_role("textbox", name="One-time code")
    expect(code).to_be_visible()
    expect(code).to_have_attribute("autocomplete", "one-time-code")
    expect(widget.panel.get_by_label("Google Authenticator")).to_be_checked()
    axe_check(page, "the second-factor step")
    secret = DEMO_TOTP_SECRETS["demo.supplier"]
    typed = _fresh_totp(secret)
    code.fill(typed)
    widget.panel.get_by_role("button", name="Verify").click()

    note = widget.log.locator(".note", has_text="You signed in.")
    expect(note).to_be_visible()
    bots_before = note.evaluate(
        "n => { let c = 0; for (const e of n.parentElement.children) { if (e === n) break;"
        " if (e.matches('.msg.bot')) c++; } return c; }"
    )
    widget.bot_answers(bots_before)  # the bot carries on with the upload
    stored = widget.stored_chat()
    conversation = httpx.get(
        f"{live_stack.api_url}/api/v1/chat/conversations/{stored['conversationId']}",
        headers={"X-Chat-Token": stored["clientToken"]},
    ).json()
    assert conversation["signed_in"] is True
    me = httpx.get(
        f"{live_stack.api_url}/api/v1/me",
        headers={"Authorization": f"Bearer {live_stack.service_token}", "X-Conversation-Id": stored["conversationId"]},
    )
    assert me.json()["user_id"] == "demo.supplier"  # the bot may now act for this supplier, and no one else
    transcript = _transcript(db, stored["conversationId"])
    assert "Connexion-demo-2021" not in transcript and "not-the-password" not in transcript
    assert typed not in transcript
    assert "/signed_in" in transcript  # what the bot was told
    widget.wait_until_settled()


def test_an_mfa_code_in_secure_input_goes_to_the_identity_api_and_only_the_outcome_to_the_bot(  # type: ignore[no-untyped-def]
    widget: Widget, page, live_stack, supplier_session, db
):
    hold_session(page, supplier_session)
    widget.open()
    expect(widget.field("First name")).to_have_value("Robin")  # the portal knows: prefilled, editable
    expect(widget.field("Organization")).to_have_value("Bayside Respiratory Care")
    expect(widget.field("Bidder number")).to_have_value("24680")
    widget.start_chat(first_name="Robin")
    widget.bot_says("How can I help")
    stored = widget.stored_chat()

    # The supplier sets up Okta Verify; the bot asks for the first code (a secure_input payload).
    enrollment = httpx.post(
        f"{live_stack.api_url}/api/v1/auth/mfa/enrollments",
        json={"kind": "okta_verify"},
        headers={"Authorization": f"Bearer {supplier_session}"},
    )
    assert enrollment.status_code == 201, enrollment.text
    setup = enrollment.json()
    from api.chat import service

    service.append_message(
        db=db,
        conversation_id=stored["conversationId"],
        sender=Sender.bot,
        kind=MessageKind.text,
        text="Enter the 6-digit code that Okta Verify shows.",
        data={
            "custom": {"type": "secure_input", "purpose": "mfa_enroll_verify", "enrollment_id": setup["enrollment_id"]}
        },
    )
    secure = widget.panel.get_by_label("Secure one-time code")
    expect(secure).to_be_visible(timeout=20_000)  # delivered by the WebSocket's database sync
    expect(secure).to_have_attribute("type", "password")
    expect(secure).to_have_attribute("autocomplete", "one-time-code")
    expect(secure).to_be_focused()
    expect(widget.composer).to_be_hidden()
    axe_check(page, "the chat in secure input mode")

    code = pyotp.TOTP(setup["authenticator"]["secret"]).now()
    secure.fill(code)
    widget.panel.get_by_role("button", name="Verify code").click()
    expect(widget.log.locator(".note", has_text="Code verified.")).to_be_visible()
    expect(widget.composer).to_be_visible()

    state = httpx.get(
        f"{live_stack.api_url}/api/v1/me/mfa-setup", headers={"Authorization": f"Bearer {supplier_session}"}
    ).json()
    assert state["status"] == "verified"
    transcript = _transcript(db, stored["conversationId"])
    assert code not in transcript
    assert '/secure_input_done{"outcome": "verified"}' in transcript
    widget.wait_until_settled()
