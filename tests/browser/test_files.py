"""Attaching a PDF in the widget: checked in the browser (PDF, under 50 MB), uploaded with a progress bar,
retried after a dropped connection without a duplicate, and only its reference passed to the bot."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Route, expect
from sqlalchemy import func, select

from api.chat.models import ChatFile, ChatMessage
from tests.api.documents.pdfs import write_pdf_of_size
from tests.browser.conftest import SCREENSHOTS, Widget, axe_check, hold_session

pytestmark = [pytest.mark.browser, pytest.mark.stack]

WATCH_PROGRESS = """() => {
  const root = document.querySelector('chat-now-widget').shadowRoot;
  window.__progress = [];
  new MutationObserver(() => {
    const label = root.querySelector('.progress-label');
    if (label && !label.hidden) window.__progress.push(label.textContent);
  }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def _throttle_uploads(page, bytes_per_second: int | None) -> None:  # type: ignore[no-untyped-def]
    """Slow uploads down (Chromium's network emulation), so that progress and Cancel can be seen; None: full speed."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second or -1},
    )


def _signed_in_chat(widget: Widget, page, session: str) -> dict:  # type: ignore[no-untyped-def]
    hold_session(page, session)
    widget.open()
    expect(widget.field("First name")).to_have_value("Robin")  # the portal knows: prefilled, editable
    expect(widget.field("Organization")).to_have_value("Bayside Respiratory Care")
    expect(widget.field("Bidder number")).to_have_value("24680")
    widget.start_chat()
    widget.bot_says("How can I help")
    return widget.stored_chat()


def _files(db, conversation_id: str) -> int:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(func.count()).select_from(ChatFile).where(ChatFile.conversation_id == conversation_id))


def test_a_pdf_is_uploaded_with_progress_and_only_its_reference_reaches_the_bot(  # type: ignore[no-untyped-def]
    widget: Widget, page, supplier_session, db, tmp_path: Path
):
    stored = _signed_in_chat(widget, page, supplier_session)
    pdf = write_pdf_of_size(tmp_path / "balance-sheet.pdf", 3 * 1024 * 1024)
    widget.panel.get_by_role("button", name="Attach a PDF").click()
    expect(widget.panel.get_by_role("heading", name="Attach a PDF")).to_be_focused()
    axe_check(page, "the attach panel")

    page.evaluate(WATCH_PROGRESS)
    _throttle_uploads(page, 1024 * 1024)  # about 3 seconds, so the progress shows
    widget.panel.get_by_label("Choose a file or drop it here").set_input_files(pdf)
    progress = widget.panel.locator("progress")
    expect(progress).to_be_visible()
    expect(widget.panel.get_by_text("Uploading balance-sheet.pdf:")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "upload-in-progress.png"))
    expect(widget.log.locator(".note", has_text="File attached: balance-sheet.pdf.")).to_be_visible(timeout=30_000)

    seen = page.evaluate("() => window.__progress")
    percents = sorted({int(text.rsplit(" ", 1)[1].rstrip("%")) for text in seen})
    assert percents[-1] == 100
    assert any(0 < p < 100 for p in percents), percents  # it moved, with a percentage
    assert _files(db, stored["conversationId"]) == 1
    note = db.scalar(
        select(ChatMessage).where(
            ChatMessage.conversation_id == stored["conversationId"],
            ChatMessage.text == "File attached: balance-sheet.pdf.",
        )
    )
    staged_id = db.scalar(select(ChatFile.staged_file_id).where(ChatFile.conversation_id == stored["conversationId"]))
    assert note.relay_text == '/file_staged{"staged_file_id": "%s"}' % staged_id  # noqa: UP031
    widget.wait_until_settled()


def test_a_60_mb_file_is_refused_in_the_browser_naming_the_50_mb_limit(  # type: ignore[no-untyped-def]
    widget: Widget, page, supplier_session, db, tmp_path: Path
):
    stored = _signed_in_chat(widget, page, supplier_session)
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/files") else None)
    big = tmp_path / "scanned-bond.pdf"
    with big.open("wb") as handle:
        handle.write(b"%PDF-1.7\n")
        handle.truncate(60 * 1024 * 1024)
    widget.panel.get_by_role("button", name="Attach a PDF").click()
    widget.panel.get_by_label("Choose a file or drop it here").set_input_files(big)
    error = widget.panel.get_by_role("alert")
    expect(error).to_contain_text("scanned-bond.pdf is 60.0 MB: files must be under 50 MB (52,428,800 bytes).")
    axe_check(page, "the attach panel with a file too large")

    not_pdf = tmp_path / "bond.pdf"
    not_pdf.write_bytes(b"PK\x03\x04 a zip file named .pdf")
    widget.panel.get_by_label("Choose a file or drop it here").set_input_files(not_pdf)
    expect(error).to_contain_text("bond.pdf is not a PDF")
    assert uploads == []  # refused before any upload
    assert _files(db, stored["conversationId"]) == 0


def test_a_dropped_upload_is_retried_without_a_duplicate_and_can_be_cancelled(  # type: ignore[no-untyped-def]
    widget: Widget, page, supplier_session, db, tmp_path: Path
):
    stored = _signed_in_chat(widget, page, supplier_session)
    pdf = write_pdf_of_size(tmp_path / "income-statement.pdf", 2 * 1024 * 1024)
    keys: list[str] = []
    answers: list[tuple[int, str | None]] = []

    def lose_the_first_answer(route: Route) -> None:
        key = route.request.headers["idempotency-key"]
        keys.append(key)
        if len(keys) > 1:
            route.continue_()
            return
        # The first attempt reaches the server whole (sent here with the same key and file), but the
        # connection drops before the answer gets back to the browser.
        reached = httpx.post(
            route.request.url,
            files={"file": (pdf.name, pdf.read_bytes(), "application/pdf")},
            headers={"X-Chat-Token": stored["clientToken"], "Idempotency-Key": key},
            timeout=30,
        )
        answers.append((reached.status_code, None))
        route.abort("connectionreset")

    page.route("**/api/v1/chat/conversations/*/files", lose_the_first_answer)
    page.on(
        "response",
        lambda r: (
            answers.append((r.status, r.headers.get("idempotent-replayed"))) if r.url.endswith("/files") else None
        ),
    )
    widget.panel.get_by_role("button", name="Attach a PDF").click()
    widget.panel.get_by_label("Choose a file or drop it here").set_input_files(pdf)
    expect(widget.panel.get_by_role("alert")).to_contain_text("The connection dropped while uploading.")
    widget.panel.get_by_role("button", name="Retry").click()
    expect(widget.log.locator(".note", has_text="File attached: income-statement.pdf.")).to_be_visible(timeout=30_000)
    assert len(keys) == 2 and keys[0] == keys[1]  # the same Idempotency-Key
    assert answers == [(201, None), (200, "true")]  # the retry got the first result back
    assert _files(db, stored["conversationId"]) == 1
    page.unroute("**/api/v1/chat/conversations/*/files")

    widget.panel.get_by_role("button", name="Attach a PDF").click()
    _throttle_uploads(page, 64 * 1024)
    widget.panel.get_by_label("Choose a file or drop it here").set_input_files(pdf)
    expect(widget.panel.get_by_text("Uploading income-statement.pdf:")).to_be_visible()
    widget.panel.get_by_role("button", name="Cancel").click()
    expect(widget.panel.get_by_role("heading", name="Attach a PDF")).to_be_hidden()
    _throttle_uploads(page, None)
    widget.wait_until_settled()
    assert _files(db, stored["conversationId"]) == 1
