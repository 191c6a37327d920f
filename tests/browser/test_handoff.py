"""From the supplier's "I need a person" to an agent's reply in the widget and a saved rating: two browser
contexts on the live stack (API, action server, Rasa), a supplier in the Chat Now widget and an agent in the
agent console (/agent), with axe-core checks of the console and the supervisor view.

The live stack runs with CONTACT_CENTER_ALWAYS_OPEN=true (tests/live_stack.py), so the chat reaches the
queue at any hour. The hand-over itself is the real path: the bot's action_handoff calls the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from api.seed import DEMO_TOTP_SECRETS
from tests.browser.conftest import SCREENSHOTS, Widget, axe_check

pytestmark = pytest.mark.browser

AGENT_REPLY = "Hello Dana, this is Alex at the customer service center. I can help with your upload."


@pytest.fixture
def contexts(browser: Browser, live_stack: Any) -> Iterator[dict[str, BrowserContext]]:
    """Two separate browser contexts (own cookies and sessionStorage): the supplier's and the agent's."""
    made = {
        who: browser.new_context(base_url=live_stack.api_url, viewport={"width": 1280, "height": 900})
        for who in ("supplier", "agent")
    }
    for context in made.values():
        context.set_default_timeout(20_000)
    yield made
    for context in made.values():
        context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"handoff-{name}.png"), full_page=True)


def sign_in_agent(page: Page) -> None:
    """Sign in to the console as the demo agent: password, then a code from the authenticator app."""
    page.goto("/agent")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    axe_check(page, "the agent console's sign-in")
    page.get_by_label("User ID").fill("demo.agent")
    page.get_by_label("Password").fill("Agent-demo-2021")
    page.get_by_role("button", name="Continue").click()
    code = page.get_by_label("6-digit code")
    expect(code).to_be_visible()
    totp = pyotp.TOTP(DEMO_TOTP_SECRETS["demo.agent"])
    for _attempt in range(2):  # a code is accepted once: if this step's code was used, take the next one
        code.fill(totp.now())
        page.get_by_role("button", name="Verify and sign in").click()
        try:
            expect(page.locator("#whoami")).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            time.sleep(30 - time.time() % 30 + 1)
    expect(page.locator("#agent-name")).to_have_text("Alex Agent")
    expect(page.locator("#connection")).to_have_text("Live")
    assert page.evaluate("() => sessionStorage.getItem('cbp.agent.session') !== null")


def test_a_supplier_reaches_an_agent_who_replies_and_the_rating_is_saved(contexts, live_stack, app_env):
    supplier_page = contexts["supplier"].new_page()
    agent_page = contexts["agent"].new_page()
    errors: list[str] = []
    for page in (supplier_page, agent_page):
        page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_in_agent(agent_page)
    axe_check(agent_page, "the agent console with its queue")

    supplier_page.goto("/")
    widget = Widget(supplier_page)
    widget.open()
    widget.start_chat()
    widget.bot_says("Hello")
    conversation_id = widget.stored_chat()["conversationId"]

    # The supplier asks for a person (the greeting's quick reply); the bot says why it hands over and its
    # action_handoff puts the chat in the queue.
    widget.log.get_by_role("button", name="Talk to a person").click()
    expect(widget.log.get_by_text("in the queue for a person").first).to_be_visible(timeout=30_000)
    shot(supplier_page, "1-supplier-queued")

    # It appears in the agent's queue without a reload.
    item = agent_page.locator(f"#queue-list li[data-conversation-id='{conversation_id}']")
    expect(item).to_be_visible()
    expect(item).to_contain_text("Asked for a person")
    expect(item).to_contain_text("Acme Home Medical LLC")
    shot(agent_page, "2-agent-queue")
    item.get_by_role("button", name="Claim chat with Dana Supplier").click()
    transcript = agent_page.get_by_role("log", name="Transcript")
    expect(transcript).to_contain_text("Talk to a person")
    expect(widget.log.get_by_text("Alex from the customer service center joined the chat.")).to_be_visible()
    axe_check(agent_page, "the agent console with a claimed chat")
    expect(item).to_have_count(0)

    # While the chat is with a person the bot stays silent; the supplier's words reach the agent.
    widget.send("My bid surety bond upload keeps failing")
    expect(transcript).to_contain_text("My bid surety bond upload keeps failing")

    # The agent's reply shows in the widget within a second.
    agent_page.get_by_label("Reply to the supplier").fill(AGENT_REPLY)
    started = time.monotonic()
    agent_page.get_by_role("button", name="Send reply").click()
    widget.log.locator(".msg.agent", has_text=AGENT_REPLY).wait_for(timeout=1_000)
    delivered_in = time.monotonic() - started
    assert delivered_in < 1.0, f"the agent's reply took {delivered_in:.2f} s to reach the widget"
    widget.wait_until_settled(1.5)
    assert not widget.log.locator(".msg.bot", has_text="surety bond").count()
    shot(supplier_page, "3-supplier-sees-agent-reply")

    # A canned reply, then the agent closes the chat with a disposition note.
    agent_page.get_by_label("Canned reply").select_option(label="Closing")
    agent_page.get_by_role("button", name="Insert").click()
    agent_page.get_by_role("button", name="Send reply").click()
    expect(widget.log.locator(".msg.agent", has_text="anything else I can help you with")).to_be_visible()
    agent_page.get_by_label("Disposition note (required)").fill("Explained surety bond uploads; no further action.")
    agent_page.get_by_role("button", name="Close chat").click()
    expect(widget.log.get_by_text("Alex closed the chat.")).to_be_visible()
    expect(agent_page.locator("#mine-empty")).to_be_visible()  # the closed chat left "My chats"
    expect(agent_page.locator("#facts")).to_contain_text("Closed")
    shot(agent_page, "4-agent-closed")

    # The supplier rates the chat: through the widget's rating form when it has one, else with the same
    # call the form makes (POST .../rating with the chat's client token), from the supplier's page.
    rating_form = supplier_page.get_by_role("group", name="Rate this chat")
    if rating_form.count():
        rating_form.get_by_label("5").check()
        supplier_page.get_by_label("Comment").fill("Quick and clear, thank you.")
        supplier_page.get_by_role("button", name="Send rating").click()
        expect(widget.log.get_by_text("Thank you for rating this chat 5 out of 5.")).to_be_visible()
    else:
        saved = supplier_page.evaluate(
            """async () => {
                const chat = JSON.parse(sessionStorage.getItem('cbp.chat.v1'));
                const response = await fetch(`/api/v1/chat/conversations/${chat.conversationId}/rating`, {
                    method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-Chat-Token': chat.clientToken},
                    body: JSON.stringify({rating: 5, comment: 'Quick and clear, thank you.'}),
                });
                return {status: response.status, body: await response.json()};
            }"""
        )
        assert saved["status"] == 201, saved
    expect(widget.log.get_by_text("Thank you for rating this chat 5 out of 5.")).to_be_visible()
    shot(supplier_page, "5-supplier-rated")

    # The rating is saved.
    stats = agent_page.evaluate(
        """async () => {
            const token = sessionStorage.getItem('cbp.agent.session');
            const r = await fetch('/api/v1/agent/supervisor', {headers: {Authorization: `Bearer ${token}`}});
            return await r.json();
        }"""
    )
    assert stats["satisfaction_by_day"][-1]["ratings"] >= 1
    assert _rating_of(conversation_id) == (5, "Quick and clear, thank you.")

    # The supervisor view, with its chart, is accessible too.
    agent_page.get_by_role("link", name="Supervisor view").click()
    expect(agent_page.get_by_role("heading", name="Chats per agent")).to_be_visible()
    expect(agent_page.get_by_role("img", name="Average satisfaction rating by day (1 to 5)")).to_be_visible()
    axe_check(agent_page, "the supervisor view")
    shot(agent_page, "6-supervisor")
    assert not errors, f"JavaScript errors: {errors}"


def _rating_of(conversation_id: str) -> tuple[int, str] | None:
    from sqlalchemy import select

    from api.database import get_sessionmaker
    from api.handoff.models import Handoff, SatisfactionRating

    with get_sessionmaker()() as db:
        row = db.execute(
            select(SatisfactionRating.rating, SatisfactionRating.comment)
            .join(Handoff, Handoff.id == SatisfactionRating.handoff_id)
            .where(Handoff.conversation_id == conversation_id)
        ).first()
    return (row[0], row[1]) if row else None
