"""Upload history look-ups, and the date phrases they understand."""

from __future__ import annotations

import datetime as dt

import pytest

from actions import common
from actions.dates import date_range, describe_range
from actions.history import ActionShowUploadHistory
from tests.actions.helpers import SENDER, run, slots_of, tracker

HISTORY = ("GET", "/api/v1/documents")
NOTICE = "The upload history confirms that a document was received; it does not confirm that it is accurate."
ITEM = {
    "confirmation_number": "CBP-2026-000123",
    "bidder_number": "12345",
    "document_type": "bid_surety_bond",
    "document_type_name": "Bid surety bond",
    "description_name": "Bid Surety Bond",
    "cba_name": "Akron, OH",
    "nickname": None,
    "uploaded_at_text": "November 18, 2026 at 10:02 AM EST",
}
TODAY = dt.date(2026, 11, 23)  # a Monday


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "today", lambda: TODAY)


def asked(text: str, **entities: str):
    """A tracker where the supplier asked `text` with these entities."""
    found = [{"entity": k, "value": v} for k, v in entities.items()]
    return tracker(intent="check_upload_history", entities=found, text=text, slots={"task": "history"})


def test_uploads_of_last_week_for_a_bidder(api):
    api.on(*HISTORY, (200, {"items": [ITEM], "total": 1, "notice": NOTICE}))
    events, messages = run(ActionShowUploadHistory(), asked("…", bidder_number="12345", date_phrase="last week"))
    assert messages == []
    call = api.called(*HISTORY)[0]
    assert call.conversation_id == SENDER
    assert call.kwargs["params"] == {
        "bidder_number": "12345",
        "uploaded_from": "2026-11-16",
        "uploaded_to": "2026-11-22",
        "page_size": 5,
    }
    slots = slots_of(events)
    assert slots["history_outcome"] == "found"
    assert slots["upload_history_text"] == (
        "- CBP-2026-000123: Bid Surety Bond (Bid surety bond, Akron, OH), bidder 12345, "
        "uploaded November 18, 2026 at 10:02 AM EST"
    )
    assert slots["upload_history_count_text"] == "1 of 1"
    assert slots["upload_history_notice"] == NOTICE
    assert slots["upload_history_filter_text"] == (
        " for bidder 12345 from Monday, November 16, 2026 to Sunday, November 22, 2026"
    )


def test_did_my_upload_go_through_lists_the_newest(api):
    api.on(*HISTORY, (200, {"items": [ITEM] * 5, "total": 9, "notice": NOTICE}))
    slots = slots_of(run(ActionShowUploadHistory(), asked("did my upload go through?"))[0])
    assert api.called(*HISTORY)[0].kwargs["params"] == {"page_size": 5}
    assert slots["upload_history_count_text"] == "5 of 9"
    assert slots["upload_history_filter_text"] == ""


def test_the_request_is_answered_after_signing_in(api):
    api.on(*HISTORY, (200, {"items": [], "total": 0, "notice": NOTICE}))
    first = asked("what did I upload yesterday", date_phrase="yesterday")
    events = [
        *first.events,
        {"event": "bot", "text": "Please sign in", "metadata": {"utter_action": "utter_sign_in_required"}},
    ]
    resumed = tracker(intent="signed_in", events=events, slots={"task": "history"})
    slots = slots_of(run(ActionShowUploadHistory(), resumed)[0])
    assert api.called(*HISTORY)[0].kwargs["params"]["uploaded_from"] == "2026-11-22"
    assert slots["history_outcome"] == "empty"
    assert slots["upload_history_filter_text"] == " on Sunday, November 22, 2026"


def test_document_type_filter(api):
    api.on(*HISTORY, (200, {"items": [ITEM], "total": 1, "notice": NOTICE}))
    slots = slots_of(run(ActionShowUploadHistory(), asked("my bond uploads", document_type="Bid surety bond"))[0])
    assert api.called(*HISTORY)[0].kwargs["params"]["document_type"] == "Bid surety bond"
    assert slots["upload_history_filter_text"] == " of Bid surety bond"


def test_a_refused_filter_is_said_in_the_apis_words(api):
    refusal = {"detail": "You cannot see uploads for bidder 99999.", "rule": "not_allowed"}
    api.on(*HISTORY, (403, refusal))
    slots = slots_of(run(ActionShowUploadHistory(), asked("…", bidder_number="99999"))[0])
    assert slots == {"history_outcome": "refused", "api_message": refusal["detail"]}


def test_not_signed_in_and_unavailable(api):
    api.on(*HISTORY, (401, {"rule": "chat_not_signed_in"}))
    assert slots_of(run(ActionShowUploadHistory(), asked("…"))[0]) == {"history_outcome": "not_signed_in"}
    api.down(*HISTORY)
    assert slots_of(run(ActionShowUploadHistory(), asked("…"))[0]) == {"history_outcome": "unavailable"}


@pytest.mark.parametrize(
    ("phrase", "first", "last"),
    [
        ("today", "2026-11-23", "2026-11-23"),
        ("yesterday", "2026-11-22", "2026-11-22"),
        ("this week", "2026-11-23", "2026-11-23"),
        ("last week", "2026-11-16", "2026-11-22"),
        ("this month", "2026-11-01", "2026-11-23"),
        ("last month", "2026-10-01", "2026-10-31"),
        ("past 7 days", "2026-11-17", "2026-11-23"),
        ("in the last week", "2026-11-17", "2026-11-23"),
        ("two days ago", "2026-11-21", "2026-11-21"),
        ("a few days ago", "2026-11-19", "2026-11-22"),
        ("since Monday", "2026-11-16", "2026-11-23"),
        ("since Thursday", "2026-11-19", "2026-11-23"),
        ("on Monday", "2026-11-23", "2026-11-23"),
        ("since November 10", "2026-11-10", "2026-11-23"),
        ("on November 3", "2026-11-03", "2026-11-03"),
        ("last Friday", "2026-11-20", "2026-11-20"),
        ("in October", "2026-10-01", "2026-10-31"),
        ("December", "2025-12-01", "2025-12-31"),
        ("11/18/2026", "2026-11-18", "2026-11-18"),
    ],
)
def test_date_phrases_relative_to_today_in_eastern_time(phrase, first, last):
    assert date_range(phrase, TODAY) == (dt.date.fromisoformat(first), dt.date.fromisoformat(last))


def test_phrases_that_name_no_past_day():
    assert date_range("next week", TODAY) is None
    assert date_range("purple", TODAY) is None
    assert date_range("", TODAY) is None


def test_ranges_in_words():
    day = dt.date(2026, 11, 16)
    assert describe_range(day, day) == " on Monday, November 16, 2026"
    assert describe_range(day, None) == " since Monday, November 16, 2026"
    assert describe_range(None, None) == ""


def test_today_is_eastern(monkeypatch):
    monkeypatch.undo()
    assert common.business_timezone().key == "America/New_York"
