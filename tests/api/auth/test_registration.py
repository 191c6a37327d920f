"""New User Registration and the password rules (NIST SP 800-63B)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from api.auth.passwords import common_passwords
from tests.api.auth.helpers import fresh_db


def _registration(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "user_id": f"new.{uuid.uuid4().hex[:8]}",
        "first_name": "Jordan",
        "last_name": "Rivera",
        "email": "jordan@rivera-medical.example",
        "phone": "(202) 555-0178",
        "password": "a quiet harbor at noon",
    }
    return data | overrides


def test_a_new_user_registers_then_signs_in_and_is_asked_to_set_up_mfa(client):
    from api.auth.models import User

    data = _registration()
    created = client.post("/api/v1/auth/register", json=data)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user_id"] == data["user_id"]
    assert body["phone"] == "+12025550178"
    assert "Sign in with your user ID and password to set up" in body["message"]
    assert data["password"] not in created.text
    with fresh_db() as db:
        user = db.scalar(select(User).where(User.user_id == data["user_id"]))
        assert user.password_hash.startswith("$argon2id$")
        assert user.bidder_numbers == []  # agents link bidder numbers

    step = client.post("/api/v1/auth/sign-in", json={"user_id": data["user_id"], "password": data["password"]})
    assert step.status_code == 200
    assert step.json()["next_step"] == "set_up_device"


@pytest.mark.parametrize(
    ("password", "rule", "words"),
    [
        ("seven77", "password_too_short", "at least 8 characters"),
        ("x" * 129, "password_too_long", "at most 128 characters"),
        ("FootBall", "password_too_common", "most common"),
        ("Password1", "password_too_common", "most common"),
        ("qwerty123", "password_too_common", "most common"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(client, password, rule, words):
    response = client.post("/api/v1/auth/register", json=_registration(password=password))
    assert response.status_code == 422
    assert response.json()["rule"] == rule
    assert words in response.json()["detail"]


def test_the_user_id_is_not_a_password(client):
    data = _registration()
    response = client.post("/api/v1/auth/register", json=data | {"password": data["user_id"].upper()})
    assert response.status_code == 422
    assert response.json()["rule"] == "password_is_user_id"


@pytest.mark.parametrize("password", ["eight888", "x" * 128, "ünïcödé pässwörd", "no composition rules at all"])
def test_any_password_of_8_to_128_characters_not_on_the_list_is_taken(client, password):
    assert client.post("/api/v1/auth/register", json=_registration(password=password)).status_code == 201


def test_the_common_password_list_is_a_few_thousand_long():
    listed = common_passwords()
    assert len(listed) >= 2000
    assert {"password", "12345678", "iloveyou", "trustno1", "baseball"} <= listed


def test_a_user_id_is_taken_once_whatever_its_case(client):
    data = _registration()
    assert client.post("/api/v1/auth/register", json=data).status_code == 201
    again = client.post("/api/v1/auth/register", json=data | {"user_id": data["user_id"].upper()})
    assert again.status_code == 409
    assert again.json()["rule"] == "user_id_taken"


def test_emails_and_phone_numbers_are_checked(client):
    email = client.post("/api/v1/auth/register", json=_registration(email="not-an-email"))
    assert email.status_code == 422
    assert email.json()["rule"] == "invalid_email"
    phone = client.post("/api/v1/auth/register", json=_registration(phone="12"))
    assert phone.status_code == 422
    assert phone.json()["rule"] == "invalid_phone"
