"""No password, one-time code, authenticator key or token reaches what an agent sees: a supplier signs in and
sets up MFA inside the chat, then the chat is handed over; the queue, the handoff, the transcript and the
agent WebSocket are searched for every secret of that sign-in."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select

from api.auth import clock as auth_clock
from api.auth import mfa

PASSWORD = "Plenty-of-Words-2021!"


def _new_supplier_without_a_device(db) -> str:  # type: ignore[no-untyped-def]
    from api.auth.models import Bidder, Role, User
    from api.auth.passwords import hash_password

    user_id = f"secret.{uuid.uuid4().hex[:8]}"
    user = User(
        user_id=user_id,
        first_name="Robin",
        last_name="Secret",
        email=f"{user_id}@supplier.example",
        phone="+12025550187",
        role=Role.supplier,
        password_hash=hash_password(PASSWORD),
    )
    user.bidders = [db.scalar(select(Bidder).where(Bidder.bidder_number == "24680"))]
    db.add(user)
    db.commit()
    return user_id


def test_an_agent_never_sees_the_password_codes_keys_or_tokens_of_a_sign_in_in_the_chat(
    start_chat, client, agent, db, fake_rasa, monkeypatch
):
    moving = [dt.datetime.now(dt.UTC).replace(microsecond=0)]
    monkeypatch.setattr(auth_clock, "now", lambda: moving[0])
    user_id = _new_supplier_without_a_device(db)
    chat = start_chat(first_name="Robin", last_name="Secret")
    secrets: dict[str, str] = {"password": PASSWORD, "client token": chat.token}

    # The widget's sign-in panel talks to the identity API directly, naming the chat.
    step = client.post(
        "/api/v1/auth/sign-in", json={"user_id": user_id, "password": PASSWORD, "conversation_id": chat.id}
    )
    assert step.status_code == 200, step.text
    assert step.json()["next_step"] == "set_up_device"
    secrets["sign-in token"] = step.json()["sign_in_token"]
    sign_in = {"Authorization": f"Bearer {secrets['sign-in token']}"}
    client.post(
        chat.url("/messages"),
        json={"client_message_id": uuid.uuid4().hex, "payload": "/sign_in_cancelled"},
        headers=chat.headers,
    )

    # First device: an authenticator app, its key shown to the supplier's own client only.
    enrollment = client.post("/api/v1/auth/mfa/enrollments", json={"kind": "google_authenticator"}, headers=sign_in)
    assert enrollment.status_code == 201, enrollment.text
    secrets["authenticator key"] = enrollment.json()["authenticator"]["secret"]
    secrets["provisioning URI"] = enrollment.json()["authenticator"]["provisioning_uri"]
    wrong = f"{(int(mfa.totp_code(secrets['authenticator key'], moving[0])) + 1) % 1_000_000:06d}"
    refused = client.post(
        f"/api/v1/auth/mfa/enrollments/{enrollment.json()['enrollment_id']}/verify",
        json={"code": wrong, "conversation_id": chat.id},
        headers=sign_in,
    )
    assert refused.status_code == 401
    client.post(
        chat.url("/messages"),
        json={"client_message_id": uuid.uuid4().hex, "payload": '/secure_input_done{"outcome": "failed"}'},
        headers=chat.headers,
    )
    code = mfa.totp_code(secrets["authenticator key"], moving[0])
    secrets["wrong code"], secrets["code"] = wrong, code
    verified = client.post(
        f"/api/v1/auth/mfa/enrollments/{enrollment.json()['enrollment_id']}/verify",
        json={"code": code, "conversation_id": chat.id},
        headers=sign_in,
    )
    assert verified.status_code == 200, verified.text
    secrets["session token"] = verified.json()["session"]["session_token"]
    client.post(
        chat.url("/messages"),
        json={"client_message_id": uuid.uuid4().hex, "payload": '/secure_input_done{"outcome": "verified"}'},
        headers=chat.headers,
    )
    assert (
        client.post(
            chat.url("/messages"),
            json={"client_message_id": uuid.uuid4().hex, "payload": "/signed_in"},
            headers=chat.headers,
        ).status_code
        == 202
    )
    # By mistake the supplier also types the code and the session token into the message box: both are
    # refused with the reason, so neither is stored nor relayed.
    pasted_code = chat.say(code)
    assert pasted_code.status_code == 422 and pasted_code.json()["rule"] == "code_in_message"
    assert "secure code box" in pasted_code.json()["detail"]
    pasted_token = chat.say(f"is this my token? {secrets['session token']}")
    assert pasted_token.status_code == 422 and pasted_token.json()["rule"] == "secret_in_message"
    assert chat.say("Sorry, I typed my code in the chat by mistake").status_code == 202
    chat.wait_for(lambda ms: any("by mistake" in m["text"] for m in ms if m["sender"] == "user"))

    assert chat.handoff(reason="task_failed", topic="sign_in_mfa", detail=f"User pasted {code}").status_code == 200
    queue = client.get("/api/v1/agent/queue", headers=agent)
    (item,) = [i for i in queue.json()["items"] if i["conversation_id"] == chat.id]
    assert item["supplier"]["user_id"] == user_id and item["supplier"]["bidder_numbers"] == ["24680"]
    claimed = client.post(f"/api/v1/agent/handoffs/{item['handoff_id']}/claim", headers=agent)
    detail = client.get(f"/api/v1/agent/handoffs/{item['handoff_id']}", headers=agent)
    transcript = detail.json()["transcript"]
    assert any(m["text"] == "You signed in." for m in transcript)  # the agent sees that it happened...
    assert any(m["text"] == "Code verified." for m in transcript)
    typed = [m["text"] for m in transcript if m["sender"] == "user" and m["kind"] == "text"]
    assert typed == ["Sorry, I typed my code in the chat by mistake"]  # ...never the secrets

    ticket = client.post("/api/v1/agent/ws-ticket", headers=agent).json()["ticket"]
    frames = []
    with client.websocket_connect("/api/v1/agent/ws") as ws:
        ws.send_json({"type": "hello", "ticket": ticket})
        frames.append(ws.receive_json())
        ws.send_json({"type": "watch", "conversation_id": chat.id, "after": 0})
        last_seq = transcript[-1]["seq"]
        while True:
            frame = ws.receive_json()
            frames.append(frame)
            if frame["type"] == "message" and frame["message"]["seq"] == last_seq:
                break

    seen_by_agent = {
        "queue": queue.text,
        "claim": claimed.text,
        "handoff": detail.text,
        "websocket": json.dumps(frames),
        "supervisor": client.get("/api/v1/agent/supervisor", headers=agent).text,
    }
    for where, text in seen_by_agent.items():
        for name, secret in secrets.items():
            assert secret not in text, f"the {name} appears in the agent's {where}"
    assert "otpauth://" not in detail.text
    # Nor did any of them pass through the bot, not even what the supplier pasted into the message box.
    relayed = json.dumps(fake_rasa.turns)
    assert "by mistake" in relayed
    for name, secret in secrets.items():
        assert secret not in relayed, f"the {name} reached the bot"


def test_redaction_hides_codes_and_tokens_but_keeps_bidder_numbers_and_phone_numbers():
    from api.handoff.service import redact

    assert redact("123456") == "[hidden: a 6-digit number, which may be a one-time code]"
    assert redact(" 123 456 ") == "[hidden: a 6-digit number, which may be a one-time code]"
    assert redact("my code is 654321, ok?") == "my code is [hidden code], ok?"
    assert redact("key JBSWY3DPEHPK3PXPJBSWY3DP") == "key [hidden: looks like a key or token]"
    token = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"
    assert redact(f"token {token}") == "token [hidden: looks like a key or token]"
    for kept in (
        "My bidder number is 12345",
        "Call me at (202) 555-0143 or 202-555-0143 or 202 555 0143",
        "Confirmation CBP-7KQ2-M9XA",
        "bidder 1234567",
    ):
        assert redact(kept) == kept
    assert redact("bot said 123456", typed=False) == "bot said 123456"
