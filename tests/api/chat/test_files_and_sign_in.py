"""A chat bound to a signed-in supplier: the bot learns it only through metadata and `/signed_in`, and
files are staged for that supplier once per Idempotency-Key, with only their reference passed on."""

from __future__ import annotations

import json
import socket
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from api.chat.models import ChatFile
from tests.api.documents.pdfs import pdf


@pytest.fixture
def supplier_session(db, demo_data) -> str:  # type: ignore[no-untyped-def]
    """The session token of a new supplier (as after signing in with a password and a second factor)."""
    from api.auth.models import Bidder, User
    from api.auth.sessions import create_session

    tag = uuid.uuid4().hex[:10]
    user = User(
        user_id=f"chat.{tag}",
        first_name="Casey",
        last_name="Chat",
        email=f"{tag}@supplier.example",
        password_hash="not-used",
    )
    user.bidders = [db.scalar(select(Bidder).where(Bidder.bidder_number == "12345"))]
    db.add(user)
    db.commit()
    token, _ = create_session(db=db, user=user)
    return token


def _bind(chat, session: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return chat.server.http.post(
        "/api/v1/chat-bindings",
        json={"conversation_id": chat.conversation_id},
        headers={"Authorization": f"Bearer {session}"},
    )


def _attach(chat, content: bytes, key: str | None, name: str = "balance-sheet.pdf") -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = dict(chat.headers)
    if key:
        headers["Idempotency-Key"] = key
    return chat.server.http.post(
        f"{chat.path}/files", files={"file": (name, content, "application/pdf")}, headers=headers
    )


def test_a_signed_in_chat_tells_the_bot_through_metadata_and_signed_in(chat, supplier_session, fake_rasa):
    assert chat.server.http.get(chat.path, headers=chat.headers).json()["signed_in"] is False
    assert _bind(chat, supplier_session).status_code == 201
    assert chat.server.http.get(chat.path, headers=chat.headers).json()["signed_in"] is True

    note = chat.post(payload="/signed_in")
    assert note.status_code == 202
    assert note.json()["message"]["kind"] == "note"
    assert note.json()["message"]["text"] == "You signed in."
    chat.wait_for(lambda m: m["text"] == "You said: /signed_in")
    turn = fake_rasa.turns(chat.conversation_id)[-1]
    assert turn["message"] == "/signed_in"
    assert turn["metadata"]["signed_in"] is True
    assert supplier_session not in str(fake_rasa.received)  # the session token never goes to Rasa


def test_over_the_socket_the_bot_learns_of_signing_in_and_of_signing_out(chat, supplier_session, fake_rasa):
    """The turn's first query also reads the signed-in state: it must follow the binding and the session."""
    socket = chat.socket()
    socket.say("where do I upload my bid")
    socket.messages_until(lambda m: m["sender"] == "bot" and "where do I upload" in m["text"])
    assert fake_rasa.turns(chat.conversation_id)[-1]["metadata"]["signed_in"] is False

    assert _bind(chat, supplier_session).status_code == 201
    socket.say("show my uploads")
    socket.messages_until(lambda m: m["sender"] == "bot" and "show my uploads" in m["text"])
    assert fake_rasa.turns(chat.conversation_id)[-1]["metadata"]["signed_in"] is True

    signed_out = chat.server.http.post("/api/v1/auth/sign-out", headers={"Authorization": f"Bearer {supplier_session}"})
    assert signed_out.status_code == 200, signed_out.text
    socket.say("show my uploads again")
    socket.messages_until(lambda m: m["sender"] == "bot" and "show my uploads again" in m["text"])
    assert fake_rasa.turns(chat.conversation_id)[-1]["metadata"]["signed_in"] is False
    socket.close()


def test_a_chat_whose_session_expired_is_no_longer_signed_in(chat, supplier_session, db):
    import datetime as dt

    from api.auth.models import UserSession
    from api.auth.sessions import hash_token

    assert _bind(chat, supplier_session).status_code == 201
    assert chat.server.http.get(chat.path, headers=chat.headers).json()["signed_in"] is True
    row = db.scalar(select(UserSession).where(UserSession.token_hash == hash_token(supplier_session)))
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    db.commit()
    assert chat.server.http.get(chat.path, headers=chat.headers).json()["signed_in"] is False
    refused = chat.post(payload="/signed_in")
    assert refused.status_code == 409 and refused.json()["rule"] == "chat_not_signed_in"


def test_a_file_is_staged_once_per_idempotency_key_and_only_its_reference_reaches_the_bot(
    chat, supplier_session, fake_rasa, db
):
    _bind(chat, supplier_session)
    content = pdf(pages=2, text=uuid.uuid4().hex)
    key = uuid.uuid4().hex
    first = _attach(chat, content, key)
    assert first.status_code == 201, first.text
    staged = first.json()
    assert staged["file_name"] == "balance-sheet.pdf" and staged["pages"] == 2
    assert staged["size_bytes"] == len(content) and staged["files_left"] == 19

    retry = _attach(chat, content, key)  # e.g. the response was lost when the connection dropped
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["staged_file_id"] == staged["staged_file_id"]
    assert (
        db.scalar(select(func.count()).select_from(ChatFile).where(ChatFile.conversation_id == chat.conversation_id))
        == 1
    )

    command = '/file_staged{"staged_file_id": "%s"}' % staged["staged_file_id"]  # noqa: UP031
    note = chat.post(payload=command)
    assert note.status_code == 202, note.text
    assert note.json()["message"]["text"] == "File attached: balance-sheet.pdf."
    chat.wait_for(lambda m: m["sender"] == "bot" and "file_staged" in m["text"])
    assert fake_rasa.turns(chat.conversation_id)[-1]["message"] == command
    assert all(len(turn["message"]) < 200 for turn in fake_rasa.turns(chat.conversation_id))  # never the file


def test_attaching_needs_a_key_a_signed_in_chat_and_a_real_pdf(chat, supplier_session, db):
    unsigned = _attach(chat, pdf(), uuid.uuid4().hex)
    assert unsigned.status_code == 409
    assert unsigned.json() == {
        "detail": "Sign in through the chat before attaching a file, so that it is kept for your account.",
        "rule": "chat_not_signed_in",
    }
    _bind(chat, supplier_session)
    keyless = _attach(chat, pdf(), None)
    assert keyless.status_code == 400 and keyless.json()["rule"] == "idempotency_key_required"
    not_pdf = _attach(chat, b"PK\x03\x04 this is a zip file", uuid.uuid4().hex, name="bond.pdf")
    assert 400 <= not_pdf.status_code < 500
    assert not_pdf.json()["rule"] and not_pdf.json()["detail"]
    assert (
        db.scalar(select(func.count()).select_from(ChatFile).where(ChatFile.conversation_id == chat.conversation_id))
        == 0
    )


def test_a_file_of_50_mb_or_more_is_refused_by_the_server_too(chat, supplier_session):
    """A 60 MB upload is refused on its declared length, before the server reads (or stores) the body."""
    _bind(chat, supplier_session)
    boundary = "chatnowboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
    ).encode()
    url = httpx.URL(chat.server.base_url)
    request = (
        f"POST {chat.path}/files HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"X-Chat-Token: {chat.token}\r\nIdempotency-Key: {uuid.uuid4().hex}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + 60 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
    ).encode() + head
    with socket.create_connection((url.host, url.port), timeout=10) as conn:
        conn.sendall(request)  # the other 60 MB never need to be sent
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 413 " in status_line, answer
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["rule"] == "file_too_large"
    assert "50 MB" in body["detail"]
