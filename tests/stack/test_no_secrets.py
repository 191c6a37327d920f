"""No password, one-time code, authenticator key or token is left anywhere after a full MFA set-up through
the live stack (issue 4): not in Rasa's tracker store, not in the services' logs, not in any transcript.

A new supplier does what the Chat Now widget lets them do, over the widget's own transport (the chat
WebSocket) and the identity API the widget posts secrets to:
- chat 1: asks the bot in words to set up MFA; signs in with the sign-in panel (a wrong password first);
  sets up a first device there (an authenticator app, a wrong code first), which binds the chat; then,
  with the bot, a text-message device: the code comes from the developer outbox and goes through the
  secure code box (a wrong one first). By mistake the supplier also pastes the code and the password into
  the chat box: the chat refuses both and says where they go.
- chat 2: a new chat linked to the session (`/chat-bindings`, as the widget does when already signed in);
  the bot sets up an authenticator app, whose key the widget reads from the API; the supplier pastes the
  key into the chat box by mistake (refused), enters the code in the secure box, then asks for a person;
  an agent opens the chat in the console.
Then every place that keeps a trace of the chats is searched for every secret, and each place is first
checked to hold the conversation, so that the search cannot pass on an empty or wrong place.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import make_url
from websockets.sync.client import connect

from stack import paths

pytestmark = pytest.mark.stack

BOT_TURN_SECONDS = 120  # a bot turn on a loaded 2-core machine (Rasa, then the action server, then the API)
ASK_FOR_MFA = "Please set up my MFA device"
TRANSCRIPT_TABLES = ("chat_conversations", "chat_messages", "chat_files", "handoffs", "handoff_callback_requests")


class WidgetChat:
    """One chat as the Chat Now widget holds it: messages over the chat WebSocket; passwords and codes only
    ever posted to the identity API, then the outcome sent to the bot as a widget command."""

    def __init__(self, api: httpx.Client, prechat: dict[str, str]) -> None:
        started = api.post("/api/v1/chat/conversations", json={"prechat": prechat})
        assert started.status_code == 201, started.text
        self.api = api
        self.id: str = started.json()["conversation_id"]
        self.client_token: str = started.json()["client_token"]
        ws_url = str(api.base_url).replace("http://", "ws://").rstrip("/")
        self.ws = connect(f"{ws_url}/api/v1/chat/conversations/{self.id}/ws", open_timeout=30)
        self.ws.send(json.dumps({"type": "hello", "token": self.client_token, "after": 0}))
        ready = self._recv(30)
        assert ready["type"] == "ready", ready
        self.messages: list[dict[str, Any]] = []
        self.errors: dict[str, dict[str, Any]] = {}
        self.acks: dict[str, int] = {}  # client_message_id -> sequence number of the stored turn

    def _recv(self, timeout: float) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=timeout))

    def _pump(self, until: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                shown = "\n".join(f"  {m['sender']}: {m['text']!r} {m.get('data') or ''}" for m in self.messages)
                raise AssertionError(f"{what}: not within {timeout:.0f} s. The chat so far:\n{shown}")
            try:
                frame = self._recv(min(left, 5))
            except TimeoutError:
                continue
            if frame["type"] == "message":
                self.messages.append(frame["message"])
            elif frame["type"] == "ack":
                self.acks[frame["client_message_id"]] = frame["seq"]
            elif frame["type"] == "error" and frame.get("client_message_id"):
                self.errors[frame["client_message_id"]] = frame

    def _send(self, **frame: Any) -> str:
        client_message_id = uuid.uuid4().hex
        self.ws.send(json.dumps({"type": "message", "client_message_id": client_message_id, **frame}))
        return client_message_id

    def bot_says(self, predicate: Callable[[dict[str, Any]], bool], what: str, after: int = 0) -> dict[str, Any]:
        """The first bot message after sequence number `after` that matches, waiting for the bot's turn."""

        def found() -> dict[str, Any] | None:
            return next((m for m in self.messages if m["seq"] > after and m["sender"] == "bot" and predicate(m)), None)

        self._pump(lambda: found() is not None, BOT_TURN_SECONDS, f"the bot should have {what}")
        message = found()
        assert message is not None
        return message

    def _turn(self, **frame: Any) -> int:
        """Send a user turn and wait until it is stored; its sequence number."""
        client_message_id = self._send(**frame)
        self._pump(lambda: client_message_id in self.acks or client_message_id in self.errors, 30, "no ack")
        assert client_message_id not in self.errors, self.errors[client_message_id]
        return self.acks[client_message_id]

    def say(self, text: str) -> int:
        return self._turn(text=text)

    def press(self, title: str) -> int:
        """Select the quick reply `title` of the bot's newest message that offers it."""
        offered = [b for m in self.messages if m["sender"] == "bot" for b in (m.get("data") or {}).get("buttons", [])]
        button = next((b for b in reversed(offered) if b["title"] == title), None)
        assert button is not None, f"no button {title!r} among {[b['title'] for b in offered]}"
        return self._turn(payload=button["payload"])

    def command(self, payload: str) -> int:
        return self._turn(payload=payload)

    def refused(self, text: str) -> dict[str, Any]:
        """Type `text` into the chat box and return the error frame that refuses it."""
        client_message_id = self._send(text=text)
        self._pump(lambda: client_message_id in self.acks or client_message_id in self.errors, 30, "no answer")
        assert client_message_id not in self.acks, f"the chat accepted {text!r}"
        return self.errors[client_message_id]

    def custom(self, message: dict[str, Any]) -> dict[str, Any]:
        return (message.get("data") or {}).get("custom") or {}

    def close(self) -> None:
        self.ws.close()


def custom_of(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: ((m.get("data") or {}).get("custom") or {}).get("type") == kind


def text_has(*words: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: all(w.lower() in m["text"].lower() for w in words)


def code_from_outbox(api: httpx.Client, phone: str) -> str:
    """The newest code texted to `phone`, read from the developer outbox page like a developer would."""
    page = api.get("/dev/outbox", params={"to": phone})
    assert page.status_code == 200
    codes = re.findall(r"verification code is (\d{6})", html.unescape(page.text))
    assert codes, f"no code texted to {phone}"
    return codes[0]  # newest first


def other_code(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"  # far from the code, and from its neighbours in time


def table_dump(url: str, tables: tuple[str, ...] | None = None) -> dict[str, str]:
    """Every row of `tables` (all tables when None) as text, by table."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed)
    try:
        metadata = MetaData()
        metadata.reflect(engine, only=list(tables) if tables else None)
        with engine.connect() as conn:
            return {
                name: "\n".join(repr(tuple(row)) for row in conn.execute(select(table)))
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def test_a_full_mfa_set_up_leaves_no_secret_in_the_tracker_logs_or_transcripts(live_stack, sign_in):
    from api.config import Settings

    api = httpx.Client(base_url=live_stack.api_url, timeout=60)
    suffix = uuid.uuid4().hex[:8]
    user_id = f"secrets.{suffix}"
    phone = f"+130555501{int(suffix, 16) % 100:02d}"
    password = f"Harbor-lantern-{suffix}"
    secrets: dict[str, str] = {
        "password": password,
        "service credential": live_stack.service_token,
        "Rasa token": live_stack.rasa_token,
    }
    registered = api.post(
        "/api/v1/auth/register",
        json={
            "user_id": user_id,
            "first_name": "Robin",
            "last_name": "Harbor",
            "email": f"{user_id}@harbor-medical.example",
            "phone": phone,
            "password": password,
        },
    )
    assert registered.status_code == 201, registered.text
    prechat = {
        "first_name": "Robin",
        "last_name": "Harbor",
        "email": f"{user_id}@harbor-medical.example",
        "phone": phone,
        "organization": "Harbor Medical Supply",
        "bidder_number": "24680",
        "topic": "sign_in_mfa",
    }

    # --- chat 1: sign in through the panel, first device there, then a text-message device with the bot ---
    first = WidgetChat(api, prechat)
    secrets["client token of chat 1"] = first.client_token
    first.bot_says(text_has("Chat Now assistant"), "greeted")
    asked = first.say(ASK_FOR_MFA)
    first.bot_says(custom_of("sign_in_required"), "asked the supplier to sign in", after=asked)

    # The sign-in panel posts to the identity API, naming the chat: a mistyped password first.
    wrong_password = f"Harbor-lantern-{suffix[::-1]}"
    secrets["wrong password"] = wrong_password
    refused = api.post(
        "/api/v1/auth/sign-in", json={"user_id": user_id, "password": wrong_password, "conversation_id": first.id}
    )
    assert refused.status_code == 401, refused.text
    step = api.post(
        "/api/v1/auth/sign-in", json={"user_id": user_id, "password": password, "conversation_id": first.id}
    )
    assert step.status_code == 200 and step.json()["next_step"] == "set_up_device", step.text
    secrets["sign-in token"] = step.json()["sign_in_token"]
    with_sign_in = {"Authorization": f"Bearer {secrets['sign-in token']}"}
    app = api.post("/api/v1/auth/mfa/enrollments", json={"kind": "google_authenticator"}, headers=with_sign_in)
    assert app.status_code == 201, app.text
    secrets["authenticator key"] = app.json()["authenticator"]["secret"]
    secrets["provisioning URI"] = app.json()["authenticator"]["provisioning_uri"]
    secrets["QR code"] = app.json()["authenticator"]["qr_code"]
    app_code = pyotp.TOTP(secrets["authenticator key"]).now()
    secrets["wrong app code"] = other_code(app_code)
    verify_app = f"/api/v1/auth/mfa/enrollments/{app.json()['enrollment_id']}/verify"
    wrong = api.post(
        verify_app, json={"code": secrets["wrong app code"], "conversation_id": first.id}, headers=with_sign_in
    )
    assert wrong.status_code == 401 and wrong.json()["rule"] == "code_incorrect", wrong.text
    done = api.post(verify_app, json={"code": app_code, "conversation_id": first.id}, headers=with_sign_in)
    assert done.status_code == 200, done.text
    secrets["first app code"] = app_code
    secrets["session token"] = done.json()["session"]["session_token"]
    with_session = {"Authorization": f"Bearer {secrets['session token']}"}
    signed_in = first.command("/signed_in")  # the panel closes: the chat is now bound to the session

    # The bot carries on with the set-up it was asked for: a text-message device, on the account's number.
    first.bot_says(text_has("which kind of MFA device"), "asked which device", after=signed_in)
    chose = first.press("Text message")
    first.bot_says(text_has("number on your account"), "asked where the codes go", after=chose)
    confirmed = first.press("The number on my account")
    first.bot_says(text_has("I sent a 6-digit code"), "said where the code went", after=confirmed)
    box = first.bot_says(custom_of("secure_input"), "opened the secure code box", after=confirmed)
    enrollment_id = first.custom(box)["enrollment_id"]
    sms_code = code_from_outbox(api, phone)
    secrets["texted code"] = sms_code
    secrets["wrong texted code"] = other_code(sms_code)

    # By mistake the supplier pastes the code into the chat box: refused, with where it goes instead.
    pasted = first.refused(sms_code)
    assert pasted["rule"] == "code_in_message" and "secure code box" in pasted["detail"], pasted
    assert first.refused(f"my code is {sms_code}")["rule"] == "code_in_message"

    # The secure box posts the code to the identity API; the bot hears only the outcome. A wrong code first.
    verify_sms = f"/api/v1/auth/mfa/enrollments/{enrollment_id}/verify"
    wrong = api.post(
        verify_sms, json={"code": secrets["wrong texted code"], "conversation_id": first.id}, headers=with_session
    )
    assert wrong.status_code == 401, wrong.text
    failed = first.command('/secure_input_done{"outcome": "failed"}')
    first.bot_says(text_has("didn't work"), "said the code did not work", after=failed)
    first.bot_says(custom_of("secure_input"), "opened the secure box again", after=failed)

    # ... and, flustered, types the password into the chat box: refused too (the chat knows whose it is).
    typed_password = first.refused(password)
    assert typed_password["rule"] == "password_in_message" and "sign-in panel" in typed_password["detail"]
    assert first.refused(f"my password is {password}")["rule"] == "password_in_message"

    right = api.post(verify_sms, json={"code": sms_code, "conversation_id": first.id}, headers=with_session)
    assert right.status_code == 200, right.text
    verified = first.command('/secure_input_done{"outcome": "verified"}')
    first.bot_says(text_has("Text message", "is set up"), "confirmed the text-message device", after=verified)
    first.close()

    # --- chat 2: already signed in, the widget links the new chat; the bot sets up an authenticator app ---
    second = WidgetChat(api, prechat)
    secrets["client token of chat 2"] = second.client_token
    bound = api.post("/api/v1/chat-bindings", json={"conversation_id": second.id}, headers=with_session)
    assert bound.status_code == 201, bound.text
    second.bot_says(text_has("Chat Now assistant"), "greeted")
    asked = second.say(ASK_FOR_MFA)
    second.bot_says(text_has("which kind of MFA device"), "asked which device", after=asked)
    chose = second.press("Authenticator app")
    second.bot_says(custom_of("mfa_qr"), "asked the widget to show the QR code", after=chose)
    second.bot_says(custom_of("secure_input"), "opened the secure code box", after=chose)
    setup = api.get("/api/v1/me/mfa-setup", headers=with_session)  # what the widget shows beside the QR code
    assert setup.status_code == 200 and setup.json()["status"] == "pending", setup.text
    secrets["second authenticator key"] = setup.json()["enrollment"]["authenticator"]["secret"]
    secrets["second provisioning URI"] = setup.json()["enrollment"]["authenticator"]["provisioning_uri"]
    pasted_key = second.refused(f"Is this the key? {secrets['second authenticator key']}")
    assert pasted_key["rule"] == "secret_in_message", pasted_key
    assert second.refused(f"my token {secrets['session token']}")["rule"] == "secret_in_message"
    second_code = pyotp.TOTP(secrets["second authenticator key"]).now()
    secrets["second app code"] = second_code
    enrollment_id = setup.json()["enrollment"]["enrollment_id"]
    right = api.post(
        f"/api/v1/auth/mfa/enrollments/{enrollment_id}/verify",
        json={"code": second_code, "conversation_id": second.id},
        headers=with_session,
    )
    assert right.status_code == 200, right.text
    verified = second.command('/secure_input_done{"outcome": "verified"}')
    second.bot_says(text_has("Google Authenticator is set up"), "confirmed the app", after=verified)
    # Then asks for a person, so that the chat reaches the agents' console.
    handed = second.say("I want to talk to a person")
    second.bot_says(text_has("person"), "handed over to a person", after=handed)
    agent = sign_in("demo.agent")
    secrets["agent session token"] = agent["Authorization"].removeprefix("Bearer ")
    deadline = time.monotonic() + 60
    while True:
        queue = api.get("/api/v1/agent/queue", headers=agent)
        assert queue.status_code == 200, queue.text
        items = [i for i in queue.json()["items"] if i["conversation_id"] == second.id]
        if items or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert items, "the chat did not reach the agents' queue"
    console = api.get(f"/api/v1/agent/handoffs/{items[0]['handoff_id']}", headers=agent)
    assert console.status_code == 200, console.text
    second.close()
    supplier_views = [
        api.get(f"/api/v1/chat/conversations/{chat.id}/messages", headers={"X-Chat-Token": chat.client_token}).text
        for chat in (first, second)
    ]

    # --- the search ----------------------------------------------------------------------------------------
    settings = Settings(database_url=live_stack.env["DATABASE_URL"])
    tracker = table_dump(settings.effective_tracker_store_url(), ("events",))["events"]
    api_db = table_dump(settings.database_url, (*TRANSCRIPT_TABLES, "auth_audit_events"))
    logs = {
        name: (paths.LOGS / f"{name}-{live_stack.env[variable]}.log")
        for name, variable in (("api", "API_PORT"), ("actions", "ACTION_PORT"), ("rasa", "RASA_PORT"))
    }
    places: dict[str, str] = {
        "Rasa's tracker store (events)": tracker,
        **{f"the {name} log ({path.name})": _read(path) for name, path in logs.items()},
        **{f"the transcript table {table}": api_db[table] for table in TRANSCRIPT_TABLES},
        "the audit log (auth_audit_events)": api_db["auth_audit_events"],
        "the agent console's transcript": console.text,
        "the supplier's transcript of chat 1": supplier_views[0],
        "the supplier's transcript of chat 2": supplier_views[1],
        "the stack runner's output": "\n".join(live_stack.output),
    }

    # Each place holds the conversation, so that finding nothing there means something.
    for chat in (first, second):
        assert chat.id in tracker, "the tracker store does not hold the chat: wrong database?"
        assert chat.id in api_db["chat_messages"] and chat.id in places[f"the api log ({logs['api'].name})"]
    assert ASK_FOR_MFA in tracker and "secure_input_done" in tracker
    assert "action_start_mfa_enrollment" in tracker and "action_check_mfa_setup" in tracker
    assert "POST /api/v1/auth/mfa/enrollments" in places[f"the api log ({logs['api'].name})"]
    assert "action_start_mfa_enrollment" in places[f"the actions log ({logs['actions'].name})"]
    assert "Rasa server is up and running" in places[f"the rasa log ({logs['rasa'].name})"]
    assert "Code verified." in api_db["chat_messages"] and "The code was not accepted." in api_db["chat_messages"]
    assert second.id in api_db["handoffs"] and ASK_FOR_MFA in console.text
    audit = api_db["auth_audit_events"]
    assert second.id in audit and "password_failed" in audit and "enrollment_code_failed" in audit
    for name in TRANSCRIPT_TABLES[:2]:
        assert places[f"the transcript table {name}"], f"{name} is empty"

    leaks = [
        f"the {secret_name} is in {place}"
        for secret_name, secret in secrets.items()
        for place, text in places.items()
        if found(secret, text)
    ]
    assert not leaks, "\n".join(leaks)
    # No one-time code at all was stored as a user's chat message, whatever its shape.
    for chat in (first, second):
        typed = [m["text"] for m in chat.messages if m["sender"] == "user"]
        assert not [t for t in typed if re.search(r"\b\d{6}\b", t)], typed


def _read(path: Path) -> str:
    assert path.exists(), f"{path} is missing: the live stack writes its services' logs there"
    text = path.read_text(encoding="utf-8", errors="replace")
    assert text.strip(), f"{path} is empty"
    return text


def found(secret: str, text: str) -> bool:
    """Whether `secret` is in `text`; a 6-digit code only as a number of its own (not inside a longer number
    such as a timestamp, where any 6 digits turn up by chance)."""
    if secret.isdigit():
        return re.search(rf"(?<![\d.]){secret}(?!\d)", text) is not None
    return secret in text
