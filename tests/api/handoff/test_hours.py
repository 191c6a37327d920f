"""Open and closed hours around the edges (prevailing Eastern Time, observed holidays, daylight saving),
and what a supplier gets when the center is closed: when it opens, the phone number, a callback request."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.handoff.conftest import CLOSED, OPEN, events_of

UTC = dt.UTC


def at(y: int, mo: int, d: int, h: int, mi: int) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=UTC)


# (instant in UTC, what it is in Eastern Time, open?, when it opens next)
EDGES = [
    (at(2026, 11, 18, 22, 29), "Wednesday 5:29 p.m. EST", True, None),
    (at(2026, 11, 18, 22, 31), "Wednesday 5:31 p.m. EST", False, "tomorrow at 9 a.m. Eastern Time"),
    (at(2026, 7, 15, 21, 29), "Wednesday 5:29 p.m. EDT", True, None),
    (at(2026, 7, 15, 21, 31), "Wednesday 5:31 p.m. EDT", False, "tomorrow at 9 a.m. Eastern Time"),
    (at(2026, 11, 19, 13, 59), "Thursday 8:59 a.m. EST", False, "today at 9 a.m. Eastern Time"),
    (at(2026, 11, 19, 14, 0), "Thursday 9:00 a.m. EST", True, None),
    (at(2026, 11, 21, 17, 0), "Saturday noon", False, "Monday, November 23 at 9 a.m. Eastern Time"),
    (at(2026, 11, 22, 23, 0), "Sunday 6 p.m.", False, "tomorrow at 9 a.m. Eastern Time"),
    (
        at(2021, 7, 5, 14, 0),
        "Monday 2021-07-05 10 a.m., Independence Day observed",
        False,
        "tomorrow at 9 a.m. Eastern Time",
    ),
    (at(2021, 7, 2, 20, 0), "Friday 2021-07-02 4 p.m., before the holiday weekend", True, None),
    (at(2021, 7, 2, 21, 45), "Friday 2021-07-02 5:45 p.m.", False, "Tuesday, July 6 at 9 a.m. Eastern Time"),
    (
        at(2026, 7, 3, 14, 0),
        "Friday 2026-07-03 10 a.m., Independence Day observed",
        False,
        "Monday, July 6 at 9 a.m. Eastern Time",
    ),
    (
        at(2026, 3, 8, 14, 0),
        "Sunday 2026-03-08 10 a.m. EDT, daylight saving starts",
        False,
        "tomorrow at 9 a.m. Eastern Time",
    ),
    (
        at(2026, 3, 9, 12, 59),
        "Monday 2026-03-09 8:59 a.m. EDT (9:59 a.m. if it were still EST)",
        False,
        "today at 9 a.m. Eastern Time",
    ),
    (at(2026, 3, 9, 13, 0), "Monday 2026-03-09 9:00 a.m. EDT", True, None),
    (at(2026, 3, 6, 22, 29), "Friday 2026-03-06 5:29 p.m. EST, before daylight saving starts", True, None),
    (
        at(2026, 11, 1, 15, 0),
        "Sunday 2026-11-01 10 a.m. EST, daylight saving ends",
        False,
        "tomorrow at 9 a.m. Eastern Time",
    ),
    (
        at(2026, 11, 2, 13, 59),
        "Monday 2026-11-02 8:59 a.m. EST (9:59 a.m. if it were still EDT)",
        False,
        "today at 9 a.m. Eastern Time",
    ),
    (at(2026, 11, 2, 14, 0), "Monday 2026-11-02 9:00 a.m. EST", True, None),
    (at(2026, 10, 30, 21, 29), "Friday 2026-10-30 5:29 p.m. EDT, before daylight saving ends", True, None),
    (at(2026, 10, 30, 21, 31), "Friday 2026-10-30 5:31 p.m. EDT", False, "Monday, November 2 at 9 a.m. Eastern Time"),
]


@pytest.mark.parametrize(("now", "eastern", "open_", "opens"), EDGES, ids=[e[1] for e in EDGES])
def test_open_and_closed_hours_at_the_edges(now, eastern, open_, opens, start_chat, clock):
    chat = start_chat()
    clock.set(now)
    answer = chat.handoff().json()
    if open_:
        assert answer["state"] == "queued", eastern
        assert answer["position"] == 1 and answer["opens_at_text"] is None
        assert chat.status() == "queued"
    else:
        assert answer["state"] == "closed_hours", eastern
        assert answer["opens_at_text"] == opens
        assert answer["position"] is None and answer["estimated_wait_minutes"] is None
        assert answer["phone"] == "877-577-5331"
        assert chat.status() == "bot"  # the assistant keeps helping meanwhile


def test_the_next_opening_is_9_am_prevailing_eastern_time_after_each_daylight_saving_change(start_chat, clock, db):
    from sqlalchemy import select

    from api.handoff.models import Handoff

    for now, expected in (
        (at(2026, 3, 8, 14, 0), at(2026, 3, 9, 13, 0)),  # EDT: UTC-4
        (at(2026, 11, 1, 15, 0), at(2026, 11, 2, 14, 0)),  # EST: UTC-5
    ):
        chat = start_chat()
        clock.set(now)
        chat.handoff()
        marker = events_of(chat.messages(), "closed_hours")[-1]
        assert dt.datetime.fromisoformat(marker["data"]["opens_at"]) == expected
        stored = db.scalar(select(Handoff.opens_at).where(Handoff.conversation_id == chat.id))
        assert stored is not None and stored.replace(tzinfo=stored.tzinfo or UTC) == expected


def test_after_hours_the_supplier_learns_when_it_opens_and_can_ask_for_a_callback(start_chat, clock, client, agent):
    chat = start_chat(phone="202-555-0199")
    clock.set(CLOSED)
    assert chat.handoff(reason="task_failed").json()["state"] == "closed_hours"
    marker = events_of(chat.messages(), "closed_hours")[-1]
    assert "Monday, November 23 at 9 a.m. Eastern Time" in marker["text"] and "877-577-5331" in marker["text"]
    assert marker["data"]["callback_phone_prefill"] == "(202) 555-0199"
    status = chat.queue()
    assert status["state"] == "closed_hours"
    assert status["callback_phone_prefill"] == "(202) 555-0199"
    assert status["opens_at_text"] == "Monday, November 23 at 9 a.m. Eastern Time"

    bad_phone = client.post(
        chat.url("/callback"), json={"phone": "555-0199", "best_time": "Monday"}, headers=chat.headers
    )
    assert bad_phone.status_code == 422 and bad_phone.json()["rule"] == "invalid_phone"
    no_time = client.post(chat.url("/callback"), json={"phone": "2025550199", "best_time": "  "}, headers=chat.headers)
    assert no_time.status_code == 422 and no_time.json()["rule"] == "best_time_required"
    long_time = client.post(
        chat.url("/callback"), json={"phone": "2025550199", "best_time": "x" * 201}, headers=chat.headers
    )
    assert long_time.status_code == 422 and long_time.json()["rule"] == "best_time_required"

    made = client.post(
        chat.url("/callback"), json={"phone": "(202) 555-0199", "best_time": "Monday morning"}, headers=chat.headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["phone"] == "(202) 555-0199"
    assert made.json()["available_from"].startswith("2026-11-23T14:00:00")
    changed = client.post(
        chat.url("/callback"),
        json={"phone": "(202) 555-0142", "best_time": "Monday after 2 p.m."},
        headers=chat.headers,
    )
    assert changed.status_code == 200 and changed.json()["best_time"] == "Monday after 2 p.m."
    assert chat.queue()["state"] == "callback_requested"
    assert events_of(chat.messages(), "callback_requested")

    # It waits in the agents' queue for the next open day.
    clock.set(at(2026, 11, 23, 14, 5))
    items = client.get("/api/v1/agent/queue", headers=agent).json()["items"]
    (item,) = [i for i in items if i["conversation_id"] == chat.id]
    assert item["kind"] == "callback"
    assert item["phone"] == "(202) 555-0142" and item["best_time"] == "Monday after 2 p.m."
    assert item["reason"] == "task_failed" and item["prechat"]["first_name"] == "Dana"
    assert item["waiting_seconds"] == 45 * 3600 + 5 * 60  # since Saturday noon Eastern
    claimed = client.post(f"/api/v1/agent/callbacks/{item['id']}/claim", headers=agent)
    assert claimed.status_code == 200 and claimed.json()["callback"]["state"] == "claimed"
    twice = client.post(f"/api/v1/agent/callbacks/{item['id']}/claim", headers=agent)
    assert twice.status_code == 409 and twice.json()["rule"] == "callback_not_waiting"
    done = client.post(
        f"/api/v1/agent/callbacks/{item['id']}/complete",
        json={"disposition": "Called; walked through upload."},
        headers=agent,
    )
    assert done.status_code == 200 and done.json()["callback"]["state"] == "done"
    assert not [
        i for i in client.get("/api/v1/agent/queue", headers=agent).json()["items"] if i["conversation_id"] == chat.id
    ]


def test_a_callback_is_offered_only_after_hours(start_chat, client):
    chat = start_chat()
    refused = client.post(
        chat.url("/callback"), json={"phone": "2025550199", "best_time": "Monday"}, headers=chat.headers
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "callback_not_offered"
    chat.handoff()  # open hours: queued, no callback
    refused = client.post(
        chat.url("/callback"), json={"phone": "2025550199", "best_time": "Monday"}, headers=chat.headers
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "callback_not_offered"


def test_the_always_open_setting_is_for_tests_only(monkeypatch, start_chat, clock):
    from api.config import get_settings
    from api.handoff import hours

    settings = get_settings()
    monkeypatch.setattr(settings, "contact_center_always_open", True)
    assert hours.center_hours(CLOSED).open_now
    chat = start_chat()
    clock.set(CLOSED)
    assert chat.handoff().json()["state"] == "queued"
    monkeypatch.setattr(settings, "environment", "production")
    assert not hours.center_hours(CLOSED).open_now
    monkeypatch.setattr(settings, "contact_center_always_open", False)
    monkeypatch.setattr(settings, "environment", "test")
    assert not hours.center_hours(CLOSED).open_now


def test_the_contact_center_endpoint_agrees_with_the_handoff_service(monkeypatch, client, start_chat, clock):
    """GET /api/v1/contact-center says "open" exactly when a handoff joins the queue, the setting included."""
    from api.config import get_settings
    from api.handoff import hours

    settings = get_settings()
    for always_open, environment, moment, expected in [
        (False, "test", OPEN, True),
        (False, "test", CLOSED, False),
        (True, "test", CLOSED, True),  # the live test stack: open at every hour
        (True, "production", CLOSED, False),  # the setting is ignored in production
    ]:
        monkeypatch.setattr(settings, "contact_center_always_open", always_open)
        monkeypatch.setattr(settings, "environment", environment)
        clock.set(moment)
        center = client.get("/api/v1/contact-center").json()
        assert center["open_now"] is expected, (always_open, environment, moment, center)
        assert (center["next_opening_text"] is None) is expected, center
        assert hours.center_hours(moment).open_now is expected
        if environment == "test":  # and a supplier asking for a person then joins the queue, or not
            assert (start_chat().handoff().json()["state"] == "queued") is expected
