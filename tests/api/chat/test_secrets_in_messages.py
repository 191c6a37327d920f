"""A one-time code, key, token or the user's password typed into the chat box by mistake is refused with the
reason and where it goes instead: it is neither stored in the transcript nor relayed to the bot."""

from __future__ import annotations

import json
import secrets
import uuid

import pytest
from sqlalchemy import select

PASSWORD = "Tidewater-Oxygen-2021"


@pytest.fixture
def bound_chat(chat, db, demo_data):  # type: ignore[no-untyped-def]
    """A chat bound to the session of a new supplier whose password is PASSWORD."""
    from api.auth.models import Bidder, User
    from api.auth.passwords import hash_password
    from api.auth.sessions import create_session

    tag = uuid.uuid4().hex[:10]
    user = User(
        user_id=f"paste.{tag}",
        first_name="Pat",
        last_name="Paste",
        email=f"{tag}@supplier.example",
        password_hash=hash_password(PASSWORD),
    )
    user.bidders = [db.scalar(select(Bidder).where(Bidder.bidder_number == "12345"))]
    db.add(user)
    db.commit()
    token, _ = create_session(db=db, user=user)
    bound = chat.server.http.post(
        "/api/v1/chat-bindings",
        json={"conversation_id": chat.conversation_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert bound.status_code == 201, bound.text
    return chat


def _user_texts(chat) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["text"] for m in chat.messages()["messages"] if m["sender"] == "user"]


@pytest.mark.parametrize("text", ["123456", " 123 456 ", "my code is 654321", "654321 is the code", "code: 654321."])
def test_a_pasted_code_is_refused_and_neither_stored_nor_relayed(chat, fake_rasa, text):
    answer = chat.post(text)
    assert answer.status_code == 422
    assert answer.json()["rule"] == "code_in_message"
    assert answer.json()["detail"].startswith("This looks like a one-time code, so it was not sent.")
    assert "secure code box" in answer.json()["detail"]
    assert _user_texts(chat) == []
    assert not [t for t in fake_rasa.turns(chat.conversation_id) if t["message"] != "/greet"]


@pytest.mark.parametrize(
    "text",
    [
        "My bidder number is 12345",
        "Call me at (202) 555-0143 or 202 555 0143",
        "My NPI is 1234567890",
        "Upload Bond123456 please",
        "Form C is due 2022-07-15",
        "my_document_for_the_bid_2021_final.pdf",
        "I CANNOT SIGN IN AT ALL TODAY",
    ],
)
def test_numbers_and_words_that_are_not_secrets_go_through(chat, fake_rasa, text):
    answer = chat.post(text)
    assert answer.status_code == 202, answer.text
    chat.wait_for(lambda m: m["sender"] == "bot" and text in m["text"])  # the fake bot echoes it


def test_the_chats_own_six_digit_bidder_number_goes_through(chat_server):
    chat = chat_server.start(bidder_number="246802")
    assert chat.post("246802").status_code == 202
    assert chat.post("246803").json()["rule"] == "code_in_message"


@pytest.mark.parametrize(
    "secret",
    [secrets.token_urlsafe(32), "JBSWY3DPEHPK3PXPJBSWY3DP", "DEMOSUPPLIERGOOGLEAUTHENTICATOR2"],
    ids=["session token", "authenticator key", "demo authenticator key"],
)
def test_a_pasted_key_or_token_is_refused(chat, fake_rasa, secret):
    answer = chat.post(f"is this right? {secret}")
    assert answer.status_code == 422 and answer.json()["rule"] == "secret_in_message"
    assert "keys or tokens" in answer.json()["detail"]
    assert _user_texts(chat) == []
    assert secret not in json.dumps(fake_rasa.received)


def test_the_password_of_the_signed_in_user_is_refused(bound_chat, fake_rasa):
    for text in (PASSWORD, f"my password is {PASSWORD} but it fails", f"My password is {PASSWORD}."):
        answer = bound_chat.post(text)
        assert answer.status_code == 422 and answer.json()["rule"] == "password_in_message"
        assert "sign-in panel" in answer.json()["detail"]
    assert bound_chat.post("Tidewater-Oxygen-2020 is my old password").status_code == 202
    assert bound_chat.post("thanks!!").status_code == 202
    bound_chat.wait_for(lambda m: m["sender"] == "bot" and "thanks!!" in m["text"])
    assert PASSWORD not in json.dumps(fake_rasa.received)
    assert all(PASSWORD not in t for t in _user_texts(bound_chat))


def test_over_the_websocket_the_refusal_names_the_message(chat, fake_rasa):
    socket = chat.socket(after=chat.messages()["last_seq"])
    try:
        refused = socket.say("123456")
        frame = socket.until(lambda f: f["type"] in ("error", "ack"))[-1]
        assert frame["type"] == "error" and frame["rule"] == "code_in_message"
        assert frame["client_message_id"] == refused
        assert "secure code box" in frame["detail"]
    finally:
        socket.close()
    assert _user_texts(chat) == []


@pytest.mark.parametrize(
    ("text", "checked"),
    [
        # A password pasted on its own is checked whatever its shape.
        ("Tidewater-Oxygen-2021", ["Tidewater-Oxygen-2021"]),
        ("correcthorsebattery", ["correcthorsebattery"]),
        # Inside a sentence: the password-shaped words, with and without the punctuation after them.
        ("My password is Harbor-lantern-42.", ["Harbor-lantern-42.", "Harbor-lantern-42"]),
        ("it is Plenty-2021! I think", ["Plenty-2021!", "Plenty-2021"]),
        # Ordinary sentences cost no Argon2 check at all (each one is about a fifth of a second of CPU).
        ("Did my upload go through?", []),
        ("What is multi-factor authentication?", []),
        ("The supplier's documents, uploaded yesterday.", []),
        ("hi", []),
    ],
)
def test_only_password_shaped_words_are_checked_against_the_hash(text, checked):
    from api.chat.guard import PASSWORD_CHECKS, password_candidates

    assert password_candidates(text) == checked
    assert len(password_candidates("a1b2c3d4e5 " * 10)) <= PASSWORD_CHECKS


def test_a_six_digit_bidder_number_of_the_signed_in_supplier_goes_through(bound_chat, db, fake_rasa):
    from api.auth.models import Bidder, User

    number = str(100000 + uuid.uuid4().int % 900000)
    user = db.scalar(select(User).where(User.user_id.like("paste.%")).order_by(User.id.desc()))
    user.bidders.append(Bidder(bidder_number=number, organization="Six Digit Medical"))
    db.commit()
    assert bound_chat.post(f"my bidder number is {number}").status_code == 202
    answer = bound_chat.post("my code is 654321")  # any other 6-digit number is still refused
    assert answer.status_code == 422 and answer.json()["rule"] == "code_in_message"
    bound_chat.wait_for(lambda m: m["sender"] == "user" and number in m["text"])


def test_a_signed_in_chats_turn_over_the_websocket_tells_rasa_it_is_signed_in(bound_chat, fake_rasa):
    # On PostgreSQL a typed turn is stored with its signed-in state in one statement (accept_typed_turn).
    socket = bound_chat.socket(after=bound_chat.messages()["last_seq"])
    try:
        socket.say("show my upload history")
        socket.messages_until(lambda m: m["sender"] == "bot")
    finally:
        socket.close()
    turn = fake_rasa.turns(bound_chat.conversation_id)[-1]
    assert turn["message"] == "show my upload history"
    assert turn["metadata"]["signed_in"] is True
