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
    # The widget's status line gives the place in the queue and an estimate (also said in the polite status
    # region: read out without moving focus), with a button to leave the queue.
    status = handoff_status(supplier_page)
    expect(status).to_contain_text("in the queue for a person")
    expect(status).to_contain_text("Estimated wait: about")
    expect(widget.panel.get_by_role("button", name="Leave the queue")).to_be_visible()
    axe_check(supplier_page, "the widget waiting in the queue")
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
    expect(status).to_have_text("Connected to Alex from the customer service center.")
    expect(announced(supplier_page)).to_have_text("Connected to Alex from the customer service center.")
    expect(widget.panel.get_by_role("button", name="Leave the queue")).to_have_count(0)
    axe_check(agent_page, "the agent console with a claimed chat")
    axe_check(supplier_page, "the widget connected to an agent")
    expect(item).to_have_count(0)

    # While the chat is with a person the bot stays silent; the supplier's words reach the agent.
    widget.send("My bid surety bond upload keeps failing")
    expect(transcript).to_contain_text("My bid surety bond upload keeps failing")

    # Each sees the other typing; the widget names the agent.
    widget.composer.press_sequentially("Also")
    expect(agent_page.locator("#typing")).to_have_text("The supplier is typing…")
    widget.composer.fill("")
    agent_page.get_by_label("Reply to the supplier").press_sequentially("Hello")
    expect(supplier_page.locator("chat-now-widget .typing")).to_have_text("Alex is typing")

    # The agent's reply is pushed to the widget (no reload, no polling by the test). How fast is a benchmark
    # figure, not a test: this machine is shared, so the wait here only bounds a hang.
    agent_page.get_by_label("Reply to the supplier").fill(AGENT_REPLY)
    agent_page.get_by_role("button", name="Send reply").click()
    widget.log.locator(".msg.agent", has_text=AGENT_REPLY).wait_for(timeout=15_000)
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

    # The widget asks for a rating: a group of 1-5 radio buttons with a visible legend, a comment, a button.
    rating_form = widget.panel.get_by_role("group", name="Rate this chat")
    expect(rating_form).to_be_visible()
    expect(status).to_have_text("The chat with Alex has ended. Please rate it.")
    expect(widget.composer).to_be_disabled()
    axe_check(supplier_page, "the widget's rating form")
    widget.panel.get_by_role("button", name="Send rating").click()  # no rating chosen yet
    expect(widget.panel.get_by_text("Rating: choose a number from 1 (poor) to 5 (excellent).")).to_be_visible()
    expect(rating_form.get_by_role("radio", name="1", exact=True)).to_be_focused()
    axe_check(supplier_page, "the rating form with an error")
    shot(supplier_page, "5a-supplier-rating-form")
    rating_form.get_by_role("radio", name="5", exact=True).check()
    widget.panel.get_by_label("Comment (optional)").fill("Quick and clear, thank you.")
    widget.panel.get_by_role("button", name="Send rating").click()
    expect(widget.log.get_by_text("Thank you for rating this chat 5 out of 5.")).to_be_visible()
    expect(status).to_have_text("The chat has ended. Thank you for your rating.")
    expect(rating_form).to_have_count(0)
    expect(widget.panel.get_by_role("button", name="Start over with the assistant")).to_be_focused()
    axe_check(supplier_page, "the widget after the rating")
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


def test_a_supplier_leaves_the_queue_asks_again_ends_the_chat_with_the_agent_and_rates_it(
    contexts, live_stack, app_env
):
    supplier_page = contexts["supplier"].new_page()
    agent_page = contexts["agent"].new_page()
    errors: list[str] = []
    for page in (supplier_page, agent_page):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_agent(agent_page)

    supplier_page.goto("/")
    widget = Widget(supplier_page)
    widget.open()
    widget.start_chat()
    widget.bot_says("Hello")
    conversation_id = widget.stored_chat()["conversationId"]
    item = agent_page.locator(f"#queue-list li[data-conversation-id='{conversation_id}']")
    status = handoff_status(supplier_page)

    # In the queue, then out of it: the handoff is cancelled and the assistant is back.
    widget.log.get_by_role("button", name="Talk to a person").click()
    expect(status).to_contain_text("in the queue for a person", timeout=30_000)
    expect(item).to_be_visible()
    widget.panel.get_by_role("button", name="Leave the queue").click()
    expect(widget.log.get_by_text("You left the queue. The assistant is back")).to_be_visible()
    expect(status).to_have_text("")
    expect(widget.panel.get_by_role("button", name="Leave the queue")).to_have_count(0)
    expect(widget.composer).to_be_focused()
    expect(item).to_have_count(0)  # gone from the agent's queue without a reload
    assert _handoff_states(conversation_id) == ["left"]
    shot(supplier_page, "7-supplier-left-the-queue")

    # The supplier asks the assistant again, in words.
    bots = widget.bot_message_count()
    widget.send("I need a person")
    widget.bot_answers(bots)
    expect(status).to_contain_text("in the queue for a person", timeout=30_000)
    item.get_by_role("button", name="Claim chat with Dana Supplier").click()
    expect(status).to_have_text("Connected to Alex from the customer service center.")

    # The supplier ends the chat: the rating form appears at once (no "start over": they ended it).
    widget.panel.get_by_role("button", name="End chat").click()
    expect(widget.log.get_by_text("You ended the chat.")).to_be_visible()
    rating_form = widget.panel.get_by_role("group", name="Rate this chat")
    expect(rating_form).to_be_visible()
    expect(widget.panel.get_by_role("button", name="Start over with the assistant")).to_have_count(0)
    supplier_page.set_viewport_size({"width": 320, "height": 568})  # a small phone: the form still fits
    axe_check(supplier_page, "the rating form after the supplier ended the chat, 320 px wide")
    shot(supplier_page, "8a-supplier-rating-form-320px")
    rating_form.get_by_role("radio", name="2", exact=True).check()
    widget.panel.get_by_label("Comment (optional)").fill("I had to wait.")
    widget.panel.get_by_role("button", name="Send rating").click()
    expect(widget.log.get_by_text("Thank you for rating this chat 2 out of 5.")).to_be_visible()
    assert _rating_of(conversation_id) == (2, "I had to wait.")
    shot(supplier_page, "8-supplier-ended-and-rated")

    # The agent still files a disposition note; the supplier is not asked to rate again.
    agent_page.get_by_label("Disposition note (required)").fill("Supplier ended the chat.")
    agent_page.get_by_role("button", name="Close chat").click()
    closed_note = widget.log.locator(".event", has_text="Alex closed the chat.")
    expect(closed_note).to_be_visible()
    expect(closed_note).not_to_contain_text("How did we do")
    expect(rating_form).to_have_count(0)
    assert _handoff_states(conversation_id) == ["left", "closed"]
    assert not errors, f"JavaScript errors: {errors}"


def _handoff_states(conversation_id: str) -> list[str]:
    from sqlalchemy import select

    from api.database import get_sessionmaker
    from api.handoff.models import Handoff

    with get_sessionmaker()() as db:
        rows = db.scalars(select(Handoff.state).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id))
        return [state.value for state in rows]


def handoff_status(page: Page):  # type: ignore[no-untyped-def]
    """The widget's handoff status line, under the messages."""
    return page.locator("chat-now-widget .handoff-status")


def announced(page: Page):  # type: ignore[no-untyped-def]
    """What the widget last said in its polite status region (screen readers read it; focus stays put)."""
    return page.get_by_role("status").and_(page.locator("[aria-live=polite]"))


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
