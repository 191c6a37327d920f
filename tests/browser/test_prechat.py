"""The host page, the Chat Now button and the pre-chat form, in Chromium: required answers, US phone
numbers in any common format, errors tied to their fields, the keyboard, 320 px, and axe-core."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Widget, axe_check

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def test_the_host_page_and_the_open_widget_pass_axe(widget: Widget, page):  # type: ignore[no-untyped-def]
    expect(page.get_by_role("heading", level=1)).to_have_text("Uploading Documents in Connexion Quick Reference")
    expect(widget.launcher).to_be_visible()
    assert widget.launcher.evaluate("el => el.tagName") == "BUTTON"
    axe_check(page, "the host page")

    widget.open()
    expect(widget.panel).to_contain_text(
        "Please answer the questions below so that we can connect you with an agent. "
        "Fields with a red asterisk (*) are required."
    )
    phone = widget.field("Phone")
    expect(phone).to_have_attribute("placeholder", "1 (   )    -    ")
    for label, autocomplete in (
        ("First name", "given-name"),
        ("Last name", "family-name"),
        ("Email", "email"),
        ("Phone", "tel"),
        ("Organization", "organization"),
    ):
        expect(widget.field(label)).to_have_attribute("aria-required", "true")
        expect(widget.field(label)).to_have_attribute("autocomplete", autocomplete)
    expect(widget.field("Bidder number")).not_to_have_attribute("aria-required", "true")
    axe_check(page, "the open widget (pre-chat form)")


def test_nothing_is_sent_until_the_required_answers_are_valid(widget: Widget, page):  # type: ignore[no-untyped-def]
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    widget.open()
    widget.panel.get_by_role("button", name="Start chat").click()

    first = widget.field("First name")
    expect(first).to_be_focused()  # focus goes to the first answer to fix
    expect(first).to_have_attribute("aria-invalid", "true")
    error_id = first.get_attribute("aria-describedby").split()[0]
    expect(widget.panel.locator(f"#{error_id}")).to_have_text("First name is required: enter your first name.")
    expect(widget.panel.get_by_text("6 answers need a fix:")).to_be_visible()
    axe_check(page, "the pre-chat form with errors")

    widget.fill_prechat(phone="555-0143")
    widget.panel.get_by_role("button", name="Start chat").click()
    phone = widget.field("Phone")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    message = "Phone: enter a 10-digit US number with its area code, for example (202) 555-0143."
    phone_error = widget.panel.locator(f"#{phone.get_attribute('aria-describedby').split()[0]}")
    expect(phone_error).to_have_text(message)
    expect(widget.field("First name")).not_to_have_attribute("aria-invalid", "true")
    axe_check(page, "the pre-chat form with a phone error")
    assert posts == []  # the browser sent nothing

    # The server checks again and never trusts the browser.
    response = httpx.post(
        f"{page.url.rstrip('/')}/api/v1/chat/conversations",
        json={"prechat": {"first_name": "Dana", "phone": "555-0143"}},
    )
    assert response.status_code == 422
    assert {"field": "phone", "message": message} in response.json()["errors"]


@pytest.mark.parametrize("typed", ["(202) 555-0143", "202.555.0143", "+1 202 555 0143"])
def test_common_phone_formats_are_accepted_and_stored_as_e164(widget: Widget, page, typed):  # type: ignore[no-untyped-def]
    widget.open()
    widget.fill_prechat(phone=typed)
    expect(widget.field("Phone")).to_have_value("1 (202) 555-0143")  # the light mask
    widget.panel.get_by_role("button", name="Start chat").click()
    expect(widget.log).to_be_visible()
    stored = widget.stored_chat()
    conversation = httpx.get(
        f"{page.url.rstrip('/')}/api/v1/chat/conversations/{stored['conversationId']}",
        headers={"X-Chat-Token": stored["clientToken"]},
    ).json()
    assert conversation["prechat"]["phone"] == "+12025550143"
    assert conversation["prechat"]["topic"] == "uploading_documents"


def test_the_widget_works_from_the_keyboard_and_escape_closes_it(widget: Widget, page):  # type: ignore[no-untyped-def]
    page.keyboard.press("Tab")  # the skip link
    for _ in range(10):
        if widget.launcher.evaluate("el => el.getRootNode().activeElement === el"):
            break
        page.keyboard.press("Tab")
    expect(widget.launcher).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.field("First name")).to_be_focused()
    page.keyboard.press("Tab")
    expect(widget.field("Last name")).to_be_focused()
    outline = widget.field("Last name").evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"  # visible focus
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")


def test_the_widget_fits_a_320_pixel_screen(widget: Widget, page):  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 320, "height": 640})
    axe_check(page, "the host page at 320 px")
    widget.open()
    box = widget.panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    widget.start_chat()
    widget.bot_says("How can I help")
    composer = widget.panel.get_by_role("button", name="Send").bounding_box()
    assert composer is not None and composer["x"] + composer["width"] <= 320
    axe_check(page, "the chat at 320 px")


def test_the_pre_chat_form_comes_from_configuration(widget: Widget, page):  # type: ignore[no-untyped-def]
    widget.open()
    labels = widget.panel.locator("form.prechat label").all_inner_texts()
    assert [re.sub(r"\s*\*$", "", label) for label in labels] == [
        "First name",
        "Last name",
        "Email",
        "Phone",
        "Organization",
        "Bidder number",
        "What do you need help with?",
    ]
    options = widget.panel.get_by_label("What do you need help with?").locator("option").all_inner_texts()
    assert options[1:] == ["Uploading documents", "My upload history", "Signing in and MFA", "Form C", "Something else"]
