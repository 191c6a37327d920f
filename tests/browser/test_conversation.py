"""A conversation in the widget against the real bot: quick replies, the log, a reload and a dropped
connection (nothing lost, nothing shown twice), and the HTTP fallback when WebSockets are unavailable."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.browser.conftest import Widget, axe_check

pytestmark = [pytest.mark.browser, pytest.mark.stack]

GREETING = "How can I help you today?"


def _assert_each_once_in_order(widget: Widget) -> list[int]:
    seqs = widget.message_seqs()
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), seqs
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # no gap
    return seqs


def test_a_conversation_with_quick_replies_passes_axe(widget: Widget, page):  # type: ignore[no-untyped-def]
    widget.open()
    widget.start_chat()
    expect(widget.log).to_have_attribute("aria-live", "polite")
    widget.bot_says(GREETING)
    replies = widget.log.get_by_role("group", name="Suggested replies").first
    expect(replies.get_by_role("button", name="Upload a document")).to_be_visible()
    expect(replies.get_by_role("button", name="Talk to a person")).to_be_visible()
    expect(widget.log.locator(".msg.bot time").first).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    axe_check(page, "a chat with quick replies")

    # The button's payload asks for an upload; the bot answers with a sign_in_required payload.
    replies.get_by_role("button", name="Upload a document").click()
    expect(widget.panel.get_by_role("heading", name="Sign in to Connexion")).to_be_visible(timeout=30_000)
    expect(widget.panel.get_by_text("Sign in to upload a document from the chat.")).to_be_visible()
    widget.panel.get_by_role("button", name="Cancel").click()
    expect(widget.log.locator(".msg.user", has_text="Upload a document")).to_be_visible()
    expect(widget.log.locator(".note", has_text="Sign-in cancelled.")).to_be_visible()
    expect(replies.get_by_role("button", name="Talk to a person")).to_be_disabled()  # answered already
    expect(widget.composer).to_be_focused()

    bots = widget.bot_message_count()
    widget.send("thanks a lot")
    widget.bot_answers(bots)
    widget.wait_until_settled()
    _assert_each_once_in_order(widget)
    axe_check(page, "a chat after a quick reply")


def test_the_conversation_survives_a_reload_without_duplicates(widget: Widget, page):  # type: ignore[no-untyped-def]
    widget.open()
    widget.start_chat()
    widget.bot_says(GREETING)

    # A request the supplier has not answered yet (sign in) is still waiting after a reload.
    widget.log.get_by_role("button", name="Upload a document").first.click()
    sign_in = widget.panel.get_by_role("heading", name="Sign in to Connexion")
    expect(sign_in).to_be_visible(timeout=30_000)
    widget.wait_until_settled()
    page.reload()
    expect(sign_in).to_be_visible()
    widget.panel.get_by_role("button", name="Cancel").click()
    expect(widget.log.locator(".note", has_text="Sign-in cancelled.")).to_be_visible()

    bots = widget.bot_message_count()
    widget.send("thanks a lot")
    widget.bot_answers(bots)
    widget.wait_until_settled()
    before = widget.log.inner_text()
    seqs = _assert_each_once_in_order(widget)

    page.reload()
    expect(widget.panel).to_be_visible()  # it was open: it opens again, on the same chat
    expect(widget.log.locator(f'[data-seq="{seqs[-1]}"]')).to_be_attached()
    widget.wait_until_settled(1.5)
    assert widget.log.inner_text() == before
    assert _assert_each_once_in_order(widget) == seqs
    expect(sign_in).to_be_hidden()  # answered before the reload: not asked again
    assert widget.log.locator(".msg.user", has_text="thanks a lot").count() == 1
    assert widget.log.locator(".msg.user", has_text="Upload a document").count() == 1


def test_a_dropped_connection_reconnects_and_fetches_what_it_missed(widget: Widget, page, live_stack):  # type: ignore[no-untyped-def]
    sockets: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/api/v1/chat/conversations/.*/ws$"), through)
    widget.open()
    widget.start_chat()
    widget.bot_says(GREETING)
    widget.wait_until_settled()
    stored = widget.stored_chat()
    bots = widget.bot_message_count()

    sockets[-1].close(code=1006, reason="network dropped")
    expect(widget.panel.get_by_text("Connection lost. Reconnecting")).to_be_visible()
    # While the widget is away, the supplier's other tab (plain HTTP) asks something.
    http = httpx.post(
        f"{live_stack.api_url}/api/v1/chat/conversations/{stored['conversationId']}/messages",
        json={"client_message_id": "othertab0001", "text": "thanks a lot"},
        headers={"X-Chat-Token": stored["clientToken"]},
    )
    assert http.status_code == 202
    expect(widget.log.locator(".msg.user", has_text="thanks a lot")).to_be_visible(timeout=40_000)
    widget.bot_answers(bots, timeout=40_000)  # fetched after reconnecting, by sequence number
    expect(widget.panel.get_by_text("Connection lost. Reconnecting")).to_be_hidden()
    assert len(sockets) >= 2
    widget.wait_until_settled()
    _assert_each_once_in_order(widget)
    assert widget.log.locator(".msg.user", has_text="thanks a lot").count() == 1


def test_without_websockets_the_widget_falls_back_to_http(widget: Widget, page):  # type: ignore[no-untyped-def]
    page.add_init_script("delete window.WebSocket; window.WebSocket = undefined;")
    page.reload()
    widget.open()
    widget.start_chat()
    widget.bot_says(GREETING)
    bots = widget.bot_message_count()
    widget.send("thanks a lot")
    widget.bot_answers(bots)
    widget.wait_until_settled()
    _assert_each_once_in_order(widget)


def test_links_images_and_an_agent_joining_and_leaving_are_shown_clearly(widget: Widget, page, db):  # type: ignore[no-untyped-def]
    from api.chat import service
    from api.chat.models import ConversationStatus, MessageKind, Sender

    widget.open()
    widget.start_chat()
    widget.bot_says(GREETING)
    widget.wait_until_settled()
    conversation_id = widget.stored_chat()["conversationId"]
    service.append_message(
        db=db,
        conversation_id=conversation_id,
        sender=Sender.bot,
        kind=MessageKind.text,
        text="See the [upload quick reference](https://www.dmecompetitivebid.com/) or https://www.cms.gov/ for more.",
        data={"image": "/widget/nothing-here.png"},
    )
    service.set_status(
        db=db,
        conversation_id=conversation_id,
        status=ConversationStatus.with_agent,
        note="Alex, a customer service agent, joined the chat.",
        data={"agent_name": "Alex"},
    )
    service.post_agent_message(db=db, conversation_id=conversation_id, agent_name="Alex", text="Hi Dana, I'm Alex.")

    link = widget.log.get_by_role("link", name="upload quick reference")
    expect(link).to_have_attribute("href", "https://www.dmecompetitivebid.com/", timeout=20_000)
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(widget.log.get_by_role("link", name="https://www.cms.gov/")).to_be_visible()
    expect(
        widget.log.locator(".event.agent", has_text="Alex, a customer service agent, joined the chat.")
    ).to_be_visible()
    agent = widget.log.locator(".msg.agent", has_text="Hi Dana, I'm Alex.")
    expect(agent).to_be_visible()
    expect(agent.locator(".who")).to_have_text("Alex (agent)")
    expect(widget.log.locator(".msg.bot img")).to_have_attribute("src", "/widget/nothing-here.png")
    expect(page.get_by_role("status")).to_contain_text("joined the chat")  # announced; focus stays put
    expect(widget.composer).to_be_focused()
    axe_check(page, "a chat with an agent, a link and an image")

    service.set_status(
        db=db,
        conversation_id=conversation_id,
        status=ConversationStatus.bot,
        note="Alex left the chat. The assistant is back.",
    )
    expect(widget.log.locator(".event.agent", has_text="Alex left the chat.")).to_be_visible(timeout=20_000)
    widget.wait_until_settled()
    _assert_each_once_in_order(widget)
