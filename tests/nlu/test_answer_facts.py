"""The dates, numbers and limits the answers state agree with their sources of truth (no model needed).

The FAQ answers are text; these tests are what keeps the text from drifting away from the settings, the
business-day calendar and the program's reference data that the rest of the product runs on.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from api.contact_center import PHONE, add_business_days
from api.documents.reference_data import DATA_FILE
from api.documents.upload_body import MAX_FILE_BYTES
from tests.nlu.nludata import response_texts, responses

# The Form C semi-annual report is due no later than ten business days after July 1, 2022 (the MFA notice).
FORM_C_REPORTING_DATE = dt.date(2022, 7, 1)
FORM_C_BUSINESS_DAYS = 10
DATE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4}"
)


def spoken(day: dt.date, weekday: bool = False) -> str:
    """How the answers write a date: 'June 3, 2022' or 'Monday, July 18, 2022'."""
    text = f"{day:%B} {day.day}, {day.year}"
    return f"{day:%A}, {text}" if weekday else text


def round_2021() -> dict:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return next(cycle for cycle in data["bid_cycles"] if cycle["name"] == "Round 2021")


def form_c_due_date() -> dt.date:
    return add_business_days(FORM_C_REPORTING_DATE, FORM_C_BUSINESS_DAYS)


def test_the_mfa_date_is_never_written_by_hand():
    """The MFA date comes from MFA_ENFORCEMENT_DATE through the API (action_mfa_date), never from the text."""
    for name in ("utter_faq_mfa_deadline", "utter_faq_mfa_why_required", "utter_faq_form_c_mfa_needed"):
        variants = responses()[name]
        by_condition = {
            tuple((c["name"], c["value"]) for c in variant.get("condition", [])): variant["text"]
            for variant in variants
        }
        assert set(by_condition) == {(("mfa_in_effect", True),), (("mfa_in_effect", False),), ()}, name
        assert "{mfa_date}" in by_condition[(("mfa_in_effect", True),)], name
        assert "{mfa_date}" in by_condition[(("mfa_in_effect", False),)], name
        for text in by_condition.values():
            assert not DATE.findall(text), f"{name} writes a date by hand: {text}"


def test_the_form_c_due_date_is_computed_from_the_business_day_calendar():
    assert form_c_due_date() == dt.date(2022, 7, 18)  # Friday July 1 + 10 business days, skipping Monday July 4
    fallback, computed = responses()["utter_faq_form_c_due_date"]
    assert fallback["condition"] == [{"type": "slot", "name": "form_c_due_date", "value": None}]
    assert not DATE.findall(fallback["text"].replace(spoken(FORM_C_REPORTING_DATE), "")), "the date is not guessed"
    assert "{form_c_due_date}" in computed["text"] and "condition" not in computed
    for text in (fallback["text"], computed["text"]):
        assert f"{FORM_C_BUSINESS_DAYS} business days after {spoken(FORM_C_REPORTING_DATE)}" in text


def test_the_contract_period_and_the_number_of_cbas_come_from_the_reference_data():
    cycle = round_2021()
    start, end = (dt.date.fromisoformat(cycle[key]) for key in ("contract_start", "contract_end"))
    (text,) = response_texts("utter_faq_contract_period")
    assert f"from {spoken(start)}, to {spoken(end)}" in text
    (text,) = response_texts("utter_faq_what_is_cba")
    assert f"{len(cycle['cbas'])} CBAs" in text


def test_every_date_an_answer_states_has_a_source():
    cycle = round_2021()
    known = {
        spoken(FORM_C_REPORTING_DATE),
        spoken(dt.date.fromisoformat(cycle["contract_start"])),
        spoken(dt.date.fromisoformat(cycle["contract_end"])),
    }
    for name in responses():
        for text in response_texts(name):
            unknown = set(DATE.findall(text)) - known
            assert not unknown, f"{name} states {unknown}: add the date's source to this test, or compute it"


def test_the_size_limit_is_the_one_the_api_enforces():
    limit = f"{MAX_FILE_BYTES // (1024 * 1024)} MB"
    for name in ("utter_faq_upload_size_limit", "utter_faq_upload_failed_what_to_do"):
        (text,) = response_texts(name)
        assert f"under {limit}" in text


def test_every_phone_number_is_the_customer_service_center():
    for name in responses():
        for text in response_texts(name):
            for number in re.findall(r"\b\d{3}-\d{3}-\d{4}\b", text):
                assert number == PHONE, f"{name} gives {number}, not the customer service center {PHONE}"
