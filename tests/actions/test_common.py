"""The API client, the Form C due date, the contact center check, and matching typed answers."""

from __future__ import annotations

import pytest
import requests

from actions.api_client import ApiAnswer, ApiClient, ApiUnavailable
from actions.choices import idm_user_id, match_bidder, match_choice, match_device, us_phone
from actions.contact_center import ActionCheckContactCenter
from actions.form_c import ActionFormCDueDate, ActionMfaDate
from tests.actions.helpers import run, slots_of, tracker


class Recorder:
    def __init__(self, status: int = 200, body=None, error: Exception | None = None) -> None:
        self.status, self.body, self.error, self.calls = status, body, error, []

    def request(self, method, url, **kwargs):
        self.calls.append((method, url, kwargs))
        if self.error:
            raise self.error
        response = requests.Response()
        response.status_code = self.status
        response._content = b"" if self.body is None else __import__("json").dumps(self.body).encode()
        return response


def test_the_client_sends_the_service_token_and_the_conversation():
    client = ApiClient(base_url="http://api.test/", token="svc-token")
    client._session = Recorder(201, {"confirmation_number": "CBP-1"})
    answer = client.upload_staged_file("conv-9", {"bidder_number": "12345"}, idempotency_key="k-1")
    method, url, kwargs = client._session.calls[0]
    assert (method, url) == ("POST", "http://api.test/api/v1/documents")
    assert kwargs["headers"] == {
        "Authorization": "Bearer svc-token",
        "X-Conversation-Id": "conv-9",
        "Idempotency-Key": "k-1",
    }
    assert kwargs["json"] == {"bidder_number": "12345"}
    assert answer == ApiAnswer(201, {"confirmation_number": "CBP-1"})


def test_a_typed_id_cannot_leave_its_path_segment():
    client = ApiClient(base_url="http://api.test", token="t")
    client._session = Recorder(404, {"detail": "Not Found"})
    client.staged_file("c", "../../me")
    assert client._session.calls[0][1] == "http://api.test/api/v1/documents/staged/..%2F..%2Fme"


def test_server_errors_and_no_answer_are_unavailable():
    client = ApiClient(base_url="http://api.test", token="t")
    client._session = Recorder(503, {"detail": "down"})
    with pytest.raises(ApiUnavailable):
        client.me("c")
    client._session = Recorder(error=requests.ConnectionError("refused"))
    with pytest.raises(ApiUnavailable):
        client.me("c")


def test_a_refusal_reads_its_rule_detail_and_field():
    answer = ApiAnswer(422, {"detail": "The nickname is too long.", "rule": "field_too_long", "field": "nickname"})
    assert (answer.ok, answer.rule, answer.detail, answer.field) == (
        False,
        "field_too_long",
        answer.body["detail"],
        "nickname",
    )
    assert ApiAnswer(404, {"detail": {"odd": 1}}).detail == ""


def test_the_form_c_due_date_comes_from_the_business_day_calendar(api):
    path = ("GET", "/api/v1/contact-center/business-days")
    api.on(*path, (200, {"start": "2022-07-01", "days": 10, "date": "2022-07-18"}))
    assert slots_of(run(ActionFormCDueDate(), tracker(intent="faq_form_c_due_date"))[0]) == {
        "form_c_due_date": "Monday, July 18, 2022"
    }
    assert api.called(*path)[0].kwargs["params"] == {"start": "2022-07-01", "days": 10}


def test_without_the_calendar_the_date_is_not_guessed(api):
    assert slots_of(run(ActionFormCDueDate(), tracker(intent="faq_form_c_due_date"))[0]) == {"form_c_due_date": None}


def test_the_mfa_date_comes_from_the_configuration(api):
    path = ("GET", "/api/v1/program/dates")
    api.on(*path, (200, {"today": "2026-11-23", "mfa_enforcement_date": "2027-01-04", "mfa_in_effect": False}))
    assert slots_of(run(ActionMfaDate(), tracker(intent="faq_mfa_deadline"))[0]) == {
        "mfa_date": "January 4, 2027",
        "mfa_in_effect": False,
    }


def test_without_the_api_the_mfa_date_is_not_guessed(api):
    assert slots_of(run(ActionMfaDate(), tracker(intent="faq_mfa_deadline"))[0]) == {
        "mfa_date": None,
        "mfa_in_effect": None,
    }
    api.on("GET", "/api/v1/program/dates", (200, {"mfa_enforcement_date": "soon", "mfa_in_effect": True}))
    assert slots_of(run(ActionMfaDate(), tracker(intent="faq_mfa_deadline"))[0])["mfa_date"] is None


def test_contact_center_open_closed_and_unknown(api):
    path = ("GET", "/api/v1/contact-center")
    api.on(
        *path,
        (
            200,
            {"open_now": False, "closed_reason": "the weekend", "next_opening_text": "Monday at 9 a.m. Eastern Time"},
        ),
    )
    assert slots_of(run(ActionCheckContactCenter(), tracker())[0]) == {
        "contact_center_open": False,
        "contact_center_closed_reason": "the weekend",
        "contact_center_next_opening": "Monday at 9 a.m. Eastern Time",
    }
    api.down(*path)
    assert slots_of(run(ActionCheckContactCenter(), tracker())[0]) == {"contact_center_open": None}


def test_typed_answers_match_the_choices():
    types = [
        {"code": "financial", "name": "Financial documents"},
        {"code": "bid_surety_bond", "name": "Bid surety bond"},
        {"code": "covered_document_review", "name": "Covered document review response"},
    ]
    assert match_choice("financials", types)["code"] == "financial"
    assert match_choice("it's a bond", types)["code"] == "bid_surety_bond"
    assert match_choice("CDR", types)["code"] == "covered_document_review"
    assert match_choice("bid_surety_bond", types)["code"] == "bid_surety_bond"
    assert match_choice("hello", types) is None
    bidders = [{"bidder_number": "12345", "organization": "Acme Home Medical LLC"}]
    assert match_bidder("it's 12345", bidders) == "12345"
    assert match_bidder("123456", bidders) is None
    assert match_device("text me") == "text_message"
    assert match_device("call") == "voice_call"
    assert match_device("text or email") is None
    assert us_phone("1 (202) 555-0143") == "(202) 555-0143"
    assert us_phone("012 555 0143") is None
    assert idm_user_id("demo.supplier") == "demo.supplier"
    assert idm_user_id("my IDM user ID: jsmith22.") == "jsmith22"
    assert idm_user_id("two words") is None
