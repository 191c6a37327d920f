"""Who can read and write a chat (only the holder of its client token), the limits with their messages,
and malformed input of every kind answered with a 4xx sentence, never a 500."""

from __future__ import annotations

import hashlib
import json
import re
import uuid

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from api.chat.models import ChatFile, Conversation


def test_conversation_ids_and_client_tokens_are_unguessable_and_tokens_are_stored_hashed(chat_server, db):
    chats = [chat_server.start() for _ in range(20)]
    ids = {c.conversation_id for c in chats}
    tokens = {c.token for c in chats}
    assert len(ids) == 20 and len(tokens) == 20
    for c in chats:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", c.conversation_id)  # 24 random bytes
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", c.token)  # 32 random bytes
        row = db.get(Conversation, c.conversation_id)
        assert row.client_token_hash == hashlib.sha256(c.token.encode()).hexdigest()
        assert c.token not in json.dumps(row.prechat)


def test_a_chat_is_read_and_written_only_with_its_own_token(chat_server):
    mine, theirs = chat_server.start(), chat_server.start()
    http = chat_server.http
    for method, suffix, body in (
        ("GET", "", None),
        ("GET", "/messages", None),
        ("POST", "/messages", {"client_message_id": uuid.uuid4().hex, "text": "peek"}),
        ("POST", "/close", None),
    ):
        path = f"/api/v1/chat/conversations/{mine.conversation_id}{suffix}"
        wrong = http.request(method, path, json=body, headers=theirs.headers)
        unknown = http.request(
            method, f"/api/v1/chat/conversations/{uuid.uuid4().hex}{suffix}", json=body, headers=mine.headers
        )
        missing = http.request(method, path, json=body)
        assert wrong.status_code == unknown.status_code == 404
        assert wrong.json() == unknown.json()  # a wrong token tells nothing about whether the chat exists
        assert wrong.json()["rule"] == "conversation_not_found"
        assert missing.status_code == 401 and missing.json()["rule"] == "chat_token_required"
    assert [m["text"] for m in mine.messages()["messages"]].count("peek") == 0


def test_the_websocket_wants_the_token_in_a_hello_frame_not_the_url(chat_server):
    mine, theirs = chat_server.start(), chat_server.start()
    url = f"{chat_server.ws_url}{mine.path}/ws"
    with connect(url) as ws:
        ws.send(json.dumps({"type": "hello", "token": theirs.token}))
        error = json.loads(ws.recv(timeout=5))
        assert error["rule"] == "conversation_not_found"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    with connect(url) as ws:
        ws.send(json.dumps({"type": "message", "text": "no hello"}))
        assert json.loads(ws.recv(timeout=5))["rule"] == "hello_required"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400


def test_a_message_over_2000_characters_is_refused_with_its_length(chat):
    longest = chat.post("x" * 2000)
    assert longest.status_code == 202
    too_long = chat.post("y" * 2001)
    assert too_long.status_code == 422
    assert too_long.json() == {
        "detail": "Messages can be at most 2,000 characters and this one has 2,001; "
        "shorten it or send it in two parts.",
        "rule": "message_too_long",
    }
    empty = chat.post("   ")
    assert empty.json()["rule"] == "message_empty"


def test_more_than_20_messages_a_minute_are_refused_until_the_minute_is_over(chat):
    socket = chat.socket(after=chat.messages()["last_seq"])
    for n in range(20):
        assert chat.post(f"message {n}").status_code == 202
    refused = chat.post("message 21")
    assert refused.status_code == 429
    assert refused.json()["rule"] == "too_many_messages"
    assert refused.json()["detail"].startswith("You can send at most 20 messages a minute; wait ")
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    client_id = socket.say("and one over the socket")
    error = socket.until(lambda f: f["type"] == "error")[-1]
    assert error["rule"] == "too_many_messages" and error["client_message_id"] == client_id
    texts = [m["text"] for m in chat.messages()["messages"]]
    assert "message 21" not in texts and "and one over the socket" not in texts
    socket.close()


def test_a_chat_takes_at_most_20_files(chat, db):
    import datetime as dt

    for n in range(20):
        db.add(
            ChatFile(
                conversation_id=chat.conversation_id,
                idempotency_key=f"key-{n}",
                staged_file_id=f"staged-{n}",
                file_name=f"bond-{n}.pdf",
                size_bytes=1000,
                pages=1,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    db.commit()
    response = chat.server.http.post(
        f"{chat.path}/files",
        files={"file": ("one-more.pdf", b"%PDF-1.4\n", "application/pdf")},
        headers={**chat.headers, "Idempotency-Key": "key-21"},
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A chat can take at most 20 files and this one has; upload more in Connexion or start a new chat.",
        "rule": "too_many_files",
    }


def test_too_many_chats_from_one_address_are_refused(chat_server, monkeypatch):
    from api.chat import service

    monkeypatch.setattr(service, "CONVERSATIONS_PER_ADDRESS_PER_MINUTE", 0)
    response = chat_server.http.post("/api/v1/chat/conversations", json={"prechat": {}})
    assert response.status_code == 422  # the answers are checked first
    from tests.api.chat.conftest import PRECHAT

    response = chat_server.http.post("/api/v1/chat/conversations", json={"prechat": PRECHAT})
    assert response.status_code == 429
    assert response.json()["rule"] == "too_many_conversations"
    assert response.headers["Retry-After"] == "60"


MALFORMED = [
    ("POST", "/api/v1/chat/conversations", b"", "application/json"),
    ("POST", "/api/v1/chat/conversations", b"[1, 2]", "application/json"),
    ("POST", "/api/v1/chat/conversations", b'{"prechat": {"first_name": {"$ne": 1}}}', "application/json"),
    ("POST", "/api/v1/chat/conversations", b'{"prechat": null}', "application/json"),
    ("POST", "/api/v1/chat/conversations", b"\xff\xfe\x00", "application/json"),
    ("POST", "/api/v1/chat/conversations", b"first_name=Dana", "application/x-www-form-urlencoded"),
    ("POST", "/api/v1/chat/conversations", b'{"prechat": {"phone": "' + b"9" * 900 + b'"}}', "application/json"),
    ("POST", "{path}/messages", b"{}", "application/json"),
    ("POST", "{path}/messages", b'{"client_message_id": "short", "text": "hi"}', "application/json"),
    ("POST", "{path}/messages", b'{"client_message_id": "../../etc/passwd", "text": "hi"}', "application/json"),
    ("POST", "{path}/messages", b'{"client_message_id": "abcdefgh12", "text": 42}', "application/json"),
    (
        "POST",
        "{path}/messages",
        b'{"client_message_id": "abcdefgh13", "text": "' + b"z" * 30000 + b'"}',
        "application/json",
    ),
    (
        "POST",
        "{path}/messages",
        b'{"client_message_id": "abcdefgh14", "payload": "/file_staged{not json}"}',
        "application/json",
    ),
    (
        "POST",
        "{path}/messages",
        b'{"client_message_id": "abcdefgh15", "payload": "/secure_input_done[1]"}',
        "application/json",
    ),
    (
        "POST",
        "{path}/messages",
        b'{"client_message_id": "abcdefgh16", "payload": "/file_staged{\\"staged_file_id\\": 7}"}',
        "application/json",
    ),
    ("POST", "{path}/messages", b'{"client_message_id": "abcdefgh17", "text": "\\u0000\\u0007"}', "application/json"),
    ("POST", "{path}/messages", b"not json at all", "text/plain"),
    ("GET", "{path}/messages?after=-1", b"", None),
    ("GET", "{path}/messages?after=abc", b"", None),
    ("GET", "{path}/messages?wait=9999", b"", None),
    ("GET", "{path}/messages?after=99999999999999999999", b"", None),
    ("POST", "{path}/files", b"not multipart", "text/plain"),
    ("POST", "{path}/files", b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    ("GET", "/api/v1/chat/conversations/%00%01", b"", None),
    ("GET", "/api/v1/chat/conversations/" + "a" * 300, b"", None),
    ("GET", "/api/v1/chat/conversations/..%2F..%2Fetc%2Fpasswd", b"", None),
    ("GET", "/widget/..%2Fprechat.py", b"", None),
    ("GET", "/widget/%2e%2e/%2e%2e/api/config.py", b"", None),
]


@pytest.mark.parametrize(("method", "path", "body", "content_type"), MALFORMED)
def test_malformed_input_gets_a_4xx_sentence_never_a_500(chat_server, method, path, body, content_type):
    chat = chat_server.start()
    headers = {**chat.headers, "Idempotency-Key": uuid.uuid4().hex}
    if content_type:
        headers["Content-Type"] = content_type
    response = chat_server.http.request(method, path.format(path=chat.path), content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    data = response.json()
    if data == {"detail": "Not Found"}:
        return  # the path (decoded) is no route at all: the framework's own 404
    assert data["detail"] and data.get("rule"), data


def test_malformed_websocket_frames_are_answered_and_the_socket_keeps_working(chat):
    socket = chat.socket(after=chat.messages()["last_seq"])
    for raw in ("not json", "[]", '{"type": "dance"}', '{"type": "message", "client_message_id": "x"}', "{" * 40000):
        socket.ws.send(raw)
        error = socket.until(lambda f: f["type"] == "error")[-1]
        assert error["rule"] in ("invalid_frame", "frame_too_large") and error["detail"]
    socket.send(type="ping")
    assert socket.until(lambda f: f["type"] in ("pong", "error"))[-1] == {"type": "pong"}
    socket.say("still here?")
    assert socket.messages_until(lambda m: m["sender"] == "bot")[-1]["text"] == "You said: still here?"
    socket.close()


def test_every_route_declares_its_errors_in_openapi(chat_server):
    spec = chat_server.http.get("/openapi.json").json()
    chat_paths = {p: v for p, v in spec["paths"].items() if p.startswith("/api/v1/chat/")}
    assert len(chat_paths) >= 6
    for path, operations in chat_paths.items():
        for method, operation in operations.items():
            assert operation.get("description"), (method, path)
            if path != "/api/v1/chat/prechat":  # the one route without input
                assert "422" in operation["responses"], (method, path)
            if "{conversation_id}" in path:
                assert "404" in operation["responses"], (method, path)
