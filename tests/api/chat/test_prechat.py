"""The pre-chat form, checked again by the server: required answers, US phone numbers in any common
format (stored as E.164), one message per broken field naming the field and the fix."""

from __future__ import annotations

import json

import pytest

from api.chat.prechat import PRECHAT_FILE, validate_answers
from tests.api.chat.conftest import PRECHAT

START = "/api/v1/chat/conversations"


@pytest.mark.parametrize(
    "typed",
    [
        "(202) 555-0143",
        "202.555.0143",
        "+1 202 555 0143",
        "202-555-0143",
        "2025550143",
        "1 (202) 555-0143",
        "12025550143",
    ],
)
def test_a_us_phone_number_in_any_common_format_is_stored_as_e164(client, typed):
    response = client.post(START, json={"prechat": {**PRECHAT, "phone": typed}})
    assert response.status_code == 201, response.text
    assert response.json()["prechat"]["phone"] == "+12025550143"


@pytest.mark.parametrize("typed", ["555-0143", "(123) 456-7890", "+44 20 7946 0958", "call me", "202555014399"])
def test_a_phone_number_that_is_not_a_full_us_number_is_refused_naming_the_phone_field(client, typed):
    response = client.post(START, json={"prechat": {**PRECHAT, "phone": typed}})
    assert response.status_code == 422
    body = response.json()
    assert body["rule"] == "prechat_invalid"
    assert body["errors"] == [
        {
            "field": "phone",
            "message": "Phone: enter a 10-digit US number with its area code, for example (202) 555-0143.",
        }
    ]
    assert body["detail"].startswith("Phone:")


def test_every_missing_required_answer_gets_its_own_message_and_nothing_is_started(client, db):
    from sqlalchemy import func, select

    from api.chat.models import Conversation

    before = db.scalar(select(func.count()).select_from(Conversation))
    response = client.post(START, json={"prechat": {"bidder_number": ""}})
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"first_name", "last_name", "email", "phone", "organization", "topic"}
    assert errors["phone"] == "Phone is required: enter a US phone number with its area code."
    assert errors["topic"] == "Topic is required: choose what you need help with."
    assert response.json()["detail"].startswith("6 pre-chat answers need a fix")
    assert db.scalar(select(func.count()).select_from(Conversation)) == before


def test_answers_are_cleaned_and_checked(client):
    response = client.post(
        START,
        json={
            "prechat": {
                **PRECHAT,
                "first_name": "  Dana   Marie ",
                "email": "Dana@Acme-Home-Medical.example",
                "bidder_number": "",
            }
        },
    )
    assert response.status_code == 201, response.text
    prechat = response.json()["prechat"]
    assert prechat["first_name"] == "Dana Marie"
    assert prechat["email"] == "Dana@acme-home-medical.example"  # the domain is case-insensitive
    assert prechat["bidder_number"] is None  # optional


@pytest.mark.parametrize(
    ("field", "value", "start"),
    [
        ("email", "dana@", "Email:"),
        ("bidder_number", "12-345", "Bidder number:"),
        ("topic", "ordering pizza", "Topic:"),
        ("first_name", "1234", "First name:"),
        ("organization", "x" * 201, "Organization:"),
        ("last_name", "Sup\x00plier", "Last name:"),
    ],
)
def test_a_broken_answer_is_named_with_its_fix(client, field, value, start):
    response = client.post(START, json={"prechat": {**PRECHAT, field: value}})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["message"].startswith(start)


def test_unknown_questions_and_wrong_types_are_refused_without_a_500(client):
    unknown = client.post(START, json={"prechat": {**PRECHAT, "favourite_colour": "blue"}})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "favourite_colour"
    for body in (
        {"prechat": {**PRECHAT, "phone": 2025550143}},
        {"prechat": "no"},
        {},
        [],
        {"prechat": {"x" * 500: "y"}},
    ):
        response = client.post(START, json=body)
        assert response.status_code == 422, (body, response.text)
        assert "detail" in response.json() and "rule" in response.json()
    not_json = client.post(START, content=b"{not json", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422


def test_the_form_is_configuration_served_to_the_widget(client):
    served = client.get("/api/v1/chat/prechat").json()
    on_disk = json.loads(PRECHAT_FILE.read_text())
    assert [f["name"] for f in served["fields"]] == [f["name"] for f in on_disk["fields"]]
    assert served["intro"] == (
        "Please answer the questions below so that we can connect you with an agent. "
        "Fields with a red asterisk (*) are required."
    )
    required = {f["name"] for f in served["fields"] if f["required"]}
    assert required == {"first_name", "last_name", "email", "phone", "organization", "topic"}
    phone = next(f for f in served["fields"] if f["name"] == "phone")
    assert phone["placeholder"] == "1 (   )    -    "
    topics = next(f for f in served["fields"] if f["name"] == "topic")["options"]
    assert [o["label"] for o in topics] == [
        "Uploading documents",
        "My upload history",
        "Signing in and MFA",
        "Form C",
        "Something else",
    ]


def test_a_new_field_in_the_configuration_is_checked_by_the_server_without_code(tmp_path):
    from api.chat.prechat import PrechatConfig

    config = json.loads(PRECHAT_FILE.read_text())
    config["fields"].append(
        {
            "name": "fax",
            "label": "Fax",
            "type": "tel",
            "required": True,
            "rule": "us_phone",
            "messages": {"required": "Fax is required: enter a fax number.", "invalid": "Fax: enter a US number."},
        }
    )
    parsed = PrechatConfig.model_validate(config)
    normalized, errors = validate_answers({**PRECHAT, "fax": "202.555.0199"}, parsed)
    assert errors == [] and normalized["fax"] == "+12025550199"
    _, errors = validate_answers({**PRECHAT}, parsed)
    assert [e.message for e in errors] == ["Fax is required: enter a fax number."]
