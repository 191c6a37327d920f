"""Deadlines and program dates the assistant says are computed by the API, never written by hand."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2022-07-01", 10, "2022-07-18"),  # Form C: July 4 (Monday) is skipped with the weekends
        ("2021-12-23", 1, "2021-12-27"),  # Christmas 2021 fell on a Saturday: observed Friday the 24th
        ("2026-07-02", 1, "2026-07-06"),  # July 4, 2026 is a Saturday: observed Friday the 3rd
        ("2026-11-25", 1, "2026-11-27"),  # Thanksgiving Thursday skipped
        ("2026-11-23", 0, "2026-11-23"),
    ],
)
def test_business_days_skip_weekends_and_observed_holidays(client, start, days, expected):
    response = client.get("/api/v1/contact-center/business-days", params={"start": start, "days": days})
    assert response.status_code == 200
    body = response.json()
    assert body["date"] == expected
    assert body["weekday"] == f"{dt.date.fromisoformat(expected):%A}"
    assert (body["start"], body["days"]) == (start, days)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "July 1", "days": 10}, "start"),
        ({"start": "2022-02-30", "days": 10}, "start"),
        ({"start": "2022-07-01", "days": -1}, "days"),
        ({"start": "2022-07-01", "days": 261}, "days"),
        ({"start": "2022-07-01", "days": "ten"}, "days"),
        ({"days": 10}, "start"),
        ({"start": "9999-12-31", "days": 260}, None),
    ],
)
def test_business_days_bad_input_is_named(client, params, field):
    response = client.get("/api/v1/contact-center/business-days", params=params)
    if field is None:  # past the end of the calendar: a clear refusal, not a crash
        assert response.status_code == 422
        assert "date" in response.json()["detail"]
        return
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}:")


def test_program_dates_follow_the_configuration(app_env, monkeypatch):
    from fastapi.testclient import TestClient

    from api.config import get_settings
    from api.main import create_app

    tomorrow = dt.datetime.now(dt.UTC).astimezone(get_settings().tz).date() + dt.timedelta(days=1)
    for configured, in_effect in (("2022-06-03", True), (tomorrow.isoformat(), False)):
        monkeypatch.setenv("MFA_ENFORCEMENT_DATE", configured)
        get_settings.cache_clear()
        try:
            with TestClient(create_app()) as c:
                body = c.get("/api/v1/program/dates").json()
        finally:
            get_settings.cache_clear()
        assert body["mfa_enforcement_date"] == configured
        assert body["mfa_in_effect"] is in_effect
        assert body["time_zone"] == "America/New_York"


def test_today_is_the_eastern_date():
    from api.program import dates_at

    # 03:30 UTC on November 24 is still the evening of November 23 in New York.
    assert dates_at(dt.datetime(2026, 11, 24, 3, 30, tzinfo=dt.UTC)).today == dt.date(2026, 11, 23)
    assert dates_at(dt.datetime(2026, 11, 24, 5, 30, tzinfo=dt.UTC)).today == dt.date(2026, 11, 24)
