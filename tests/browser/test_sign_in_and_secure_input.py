"""Signing in from the chat (user ID and password, then the TOTP second factor) straight to the identity
API, and a one-time code typed in secure input mode: neither ever reaches the transcript or the bot."""

from __future__ import annotations

import time

import httpx
import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from api.chat.models import ChatMessage
from api.seed import DEMO_TOTP_SECRETS
from tests.browser.conftest import Widget, axe_check

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def _fresh_totp(secret: str) -> str:
    """A code from a time step no test has used yet (a code is accepted once only)."""
    totp = pyotp.TOTP(secret)
    if totp.interval - time.time() % totp.interval < 3:  # about to change: take the next one
        time.sleep(totp.interval - time.time() % totp.interval + 0.5)
    return totp.now()


def _unused_totp(secret: str, used: set[str]) -> str:
    """A code from a time step no earlier sign-in of this session used (a code is accepted once only)."""
    totp = pyotp.TOTP(secret)
    while True:
        code = _fresh_totp(secret)
        if code not in used:
            used.add(code)
            return code
        time.sleep(totp.interval - time.time() % totp.interval + 0.5)


USED_SUPPLIER_CODES: set[str] = set()


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
    typed = _unused_totp(DEMO_TOTP_SECRETS["demo.supplier"], USED_SUPPLIER_CODES)
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
    widget: Widget, page, live_stack, db
):
    """The whole way a supplier goes: "Set up MFA", sign in as demo.supplier in the widget, choose an
    authenticator app, scan its QR code (here: read the key shown with it), type the app's code into the
    secure field. The code and the key reach neither the transcript nor Rasa's tracker."""
    widget.open()
    widget.start_chat()
    widget.bot_says("How can I help")
    widget.log.get_by_role("button", name="Set up MFA").first.click()

    # Not signed in: the bot's sign_in_required (reason mfa) opens the sign-in panel.
    expect(widget.panel.get_by_role("heading", name="Sign in to Connexion")).to_be_visible(timeout=30_000)
    expect(widget.panel.get_by_text("Sign in to set up or use your MFA device.")).to_be_visible()
    widget.panel.get_by_label("User ID").fill("demo.supplier")
    widget.panel.get_by_label("Password").fill("Connexion-demo-2021")
    widget.panel.get_by_role("button", name="Sign in").click()
    sign_in_code = widget.panel.get_by_role("textbox", name="One-time code")
    expect(sign_in_code).to_be_visible()
    sign_in_typed = _unused_totp(DEMO_TOTP_SECRETS["demo.supplier"], USED_SUPPLIER_CODES)
    sign_in_code.fill(sign_in_typed)
    widget.panel.get_by_role("button", name="Verify").click()
    expect(widget.log.locator(".note", has_text="You signed in.")).to_be_visible()
    session = page.evaluate("() => JSON.parse(sessionStorage.getItem('cbp.sessionToken'))")
    devices_before = _device_ids(live_stack, session)

    # The task resumes: which device? An authenticator app.
    widget.bot_says("Which kind of MFA device do you want to set up?")
    widget.log.get_by_role("button", name="Authenticator app").click()
    qr = widget.log.get_by_role("img", name="QR code to scan with your authenticator app")
    expect(qr).to_be_visible(timeout=30_000)  # fetched by the widget from the API with the user's session
    key = widget.log.locator(".key").last.text_content() or ""
    assert len(key.replace(" ", "")) >= 16, key

    # The bot's secure_input payload switches the message box to a masked code field.
    secure = widget.panel.get_by_label("Secure one-time code")
    expect(secure).to_be_visible(timeout=30_000)
    expect(secure).to_have_attribute("type", "password")
    expect(secure).to_have_attribute("autocomplete", "one-time-code")
    expect(secure).to_be_focused()
    expect(widget.composer).to_be_hidden()
    axe_check(page, "the chat in secure input mode")
    stored = widget.stored_chat()

    code = pyotp.TOTP(key.replace(" ", "")).now()
    secure.fill(code)
    widget.panel.get_by_role("button", name="Verify code").click()
    expect(widget.log.locator(".note", has_text="Code verified.")).to_be_visible()
    expect(widget.composer).to_be_visible()
    widget.bot_says("Set up another device", timeout=30_000)  # utter_mfa_verified's quick reply
    widget.wait_until_settled()

    try:
        state = httpx.get(f"{live_stack.api_url}/api/v1/me/mfa-setup", headers={"Authorization": f"Bearer {session}"})
        assert state.json()["status"] == "verified", state.text
        assert len(_device_ids(live_stack, session) - devices_before) == 1  # the new app is set up
        # Neither the code nor the app's key is in the transcript or in what Rasa holds; the bot got the outcome.
        transcript = _transcript(db, stored["conversationId"])
        tracker = httpx.get(
            f"{live_stack.rasa_url}/conversations/{stored['conversationId']}/tracker",
            params={"token": live_stack.rasa_token},
            timeout=30,
        )
        assert tracker.status_code == 200, tracker.text
        for where, text in (("the transcript", transcript), ("Rasa's tracker", tracker.text)):
            for secret, what in ((code, "the MFA code"), (sign_in_typed, "the sign-in code"), (key, "the app's key")):
                assert secret not in text, f"{what} is in {where}"
            assert "Connexion-demo-2021" not in text
        assert '/secure_input_done{"outcome": "verified"}' in transcript
        intents = [e["parse_data"]["intent"]["name"] for e in tracker.json()["events"] if e["event"] == "user"]
        assert "setup_mfa" in intents and "signed_in" in intents and intents[-1] == "secure_input_done"
    finally:  # leave demo.supplier's devices as they were (other tests sign in with them)
        for device_id in _device_ids(live_stack, session) - devices_before:
            removed = httpx.delete(
                f"{live_stack.api_url}/api/v1/auth/mfa/devices/{device_id}",
                headers={"Authorization": f"Bearer {session}"},
            )
            assert removed.status_code == 200, removed.text


def _device_ids(live_stack, session: str) -> set[int]:  # type: ignore[no-untyped-def]
    devices = httpx.get(f"{live_stack.api_url}/api/v1/auth/mfa/devices", headers={"Authorization": f"Bearer {session}"})
    assert devices.status_code == 200, devices.text
    return {device["id"] for device in devices.json()}
