"""Browser tests of the Chat Now widget: Playwright (sync API) driving Debian's Chromium against the live
stack (API, action server and Rasa started by the real runner, see tests/live_stack.py).

Each test saves a screenshot under tests/artifacts/screenshots/ (git-ignored). `axe_check` runs axe-core
(bundled by axe-playwright-python, no npm) with the WCAG 2.0/2.1 A and AA rules, shadow DOM included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"

PRECHAT = {
    "First name": "Dana",
    "Last name": "Supplier",
    "Email": "dana@acme-home-medical.example",
    "Phone": "(202) 555-0143",
    "Organization": "Acme Home Medical LLC",
}
TOPIC = "Uploading documents"


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Chromium is missing: run `make test` (it installs Debian's chromium) or `apt-get install chromium`."
        )
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, live_stack: Any, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page (own sessionStorage) on the live stack's host page; a screenshot is kept afterwards."""
    context = browser.new_context(base_url=live_stack.api_url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=False)
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def axe_check(page: Page, what: str) -> None:
    """No WCAG 2.1 A/AA violation on the page as it is now (open shadow roots included)."""
    from axe_playwright_python.base import AXE_SCRIPT

    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    results = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    violations = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [{"target": n["target"], "summary": n.get("failureSummary", "")} for n in v["nodes"]][:5],
        }
        for v in results["violations"]
    ]
    assert not violations, f"axe-core found WCAG violations on {what}:\n{json.dumps(violations, indent=2)}"


class Widget:
    """The Chat Now widget on a page, as a supplier would use it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.get_by_role("button", name="Chat Now")
        self.panel = page.get_by_role("dialog")
        self.log = page.get_by_role("log", name="Chat messages")
        self.composer = page.get_by_role("textbox", name="Message")

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()

    def field(self, label: str):  # type: ignore[no-untyped-def]
        return self.panel.get_by_label(label)  # the label text ends with the red asterisk

    def fill_prechat(self, **overrides: str) -> None:
        values = {**PRECHAT, **{k.replace("_", " ").capitalize(): v for k, v in overrides.items()}}
        for label, value in values.items():
            self.field(label).fill(value)
        self.panel.get_by_label("What do you need help with?").select_option(label=TOPIC)

    def start_chat(self, **overrides: str) -> None:
        self.fill_prechat(**overrides)
        self.panel.get_by_role("button", name="Start chat").click()
        expect(self.log).to_be_visible()

    def bot_says(self, text: str, timeout: float = 30_000) -> None:
        expect(self.log.locator(".msg.bot", has_text=text).first).to_be_visible(timeout=timeout)

    def bot_message_count(self) -> int:
        return self.log.locator(".msg.bot").count()

    def bot_answers(self, after: int, timeout: float = 30_000) -> None:
        """Wait for a bot message beyond the first `after` ones (whatever the bot's wording)."""
        expect(self.log.locator(".msg.bot").nth(after)).to_be_attached(timeout=timeout)

    def send(self, text: str) -> None:
        self.composer.fill(text)
        self.composer.press("Enter")

    def stored_chat(self) -> dict[str, Any]:
        return self.page.evaluate("() => JSON.parse(sessionStorage.getItem('cbp.chat.v1'))")

    def message_seqs(self) -> list[int]:
        return [int(s) for s in self.log.locator("[data-seq]").evaluate_all("els => els.map(e => e.dataset.seq)")]

    def wait_until_settled(self, seconds: float = 1.0) -> None:
        """Wait until the log has not changed for `seconds` (the bot has finished answering)."""
        log = self.page.locator("chat-now-widget .log")  # also while a panel hides it
        last, since = None, time.monotonic()
        while time.monotonic() - since < seconds:
            now = log.text_content()
            if now != last:
                last, since = now, time.monotonic()
            time.sleep(0.1)


@pytest.fixture
def widget(page: Page) -> Widget:
    page.goto("/")
    return Widget(page)


@pytest.fixture
def supplier_session(db, demo_data) -> str:  # type: ignore[no-untyped-def]
    """The session token of a new supplier who signed in (password and a second factor) a moment ago,
    as the portal's page would hold it; the widget finds it in sessionStorage."""
    import datetime as dt
    import uuid

    from sqlalchemy import select

    from api.auth.models import Bidder, User
    from api.auth.sessions import create_session

    tag = uuid.uuid4().hex[:8]
    user = User(
        user_id=f"browser.{tag}",
        first_name="Robin",
        last_name="Browser",
        email=f"{tag}@supplier.example",
        password_hash="not-used",
    )
    user.bidders = [db.scalar(select(Bidder).where(Bidder.bidder_number == "24680"))]
    db.add(user)
    db.commit()
    token, row = create_session(db=db, user=user)
    row.second_factor_at = dt.datetime.now(dt.UTC)  # a second factor just now: devices may be added
    db.commit()
    return token


def hold_session(page: Page, token: str) -> None:
    """Put the portal's session where the widget looks for it."""
    page.evaluate("token => sessionStorage.setItem('cbp.sessionToken', JSON.stringify(token))", token)
