"""The chat transport against the real API (uvicorn, WebSockets) and a fake Rasa: every message stored
once, in order, and delivered exactly once across dropped connections; the relay to Rasa and its
metadata; the HTTP fallback; Rasa unreachable; the handoff hooks."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select

from api.chat.models import ChatMessage, ConversationStatus, RelayState


def _seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages]


def test_a_chat_starts_with_the_assistants_greeting_and_its_buttons(chat_server, fake_rasa):
    chat = chat_server.start()
    socket = chat.socket()
    messages = socket.messages_until(lambda m: m["sender"] == "bot")
    assert messages[0]["text"] == "Chat started." and messages[0]["sender"] == "system"
    greeting = messages[-1]
    assert greeting["data"]["buttons"] == [
        {"title": "Upload a document", "payload": "/ask_capabilities"},
        {"title": "Talk to a person", "payload": "/request_human"},
    ]
    first_turn = fake_rasa.turns(chat.conversation_id)[0]
    assert first_turn["message"] == "/greet"
    assert first_turn["metadata"]["prechat"]["phone"] == "+12025550143"
    assert first_turn["metadata"]["signed_in"] is False
    socket.close()


def test_a_turn_is_stored_acknowledged_relayed_and_answered_in_order(chat, fake_rasa):
    socket = chat.socket(after=chat.messages()["last_seq"])
    client_id = socket.say("Where do I upload my bid surety bond?")
    frames = socket.until(lambda f: f["type"] == "message" and f["message"]["sender"] == "bot")
    ack = next(f for f in frames if f["type"] == "ack")
    mine = next(f["message"] for f in frames if f["type"] == "message" and f["message"]["sender"] == "user")
    assert ack == {"type": "ack", "client_message_id": client_id, "seq": mine["seq"], "duplicate": False}
    assert mine["client_message_id"] == client_id
    reply = frames[-1]["message"]
    assert reply["text"] == "You said: Where do I upload my bid surety bond?"
    assert reply["seq"] == mine["seq"] + 1
    assert {"type": "typing", "on": True} in frames
    turn = fake_rasa.turns(chat.conversation_id)[-1]
    assert turn == {
        "sender": chat.conversation_id,
        "message": "Where do I upload my bid surety bond?",
        "metadata": {"prechat": chat.created["prechat"], "signed_in": False},
    }
    socket.close()


def test_closing_the_socket_right_after_sending_loses_and_duplicates_nothing(chat, fake_rasa):
    """The connection drops in the middle of a (slow) bot reply; the client reconnects with the last
    sequence number it saw and resends what it never saw acknowledged, as the widget does."""
    seen = chat.messages()["messages"]
    socket = chat.socket(after=seen[-1]["seq"])
    client_id = socket.say("slow: what documents do I need?")
    socket.close()  # before the ack and long before the reply (the fake Rasa takes 1.5 s)

    time.sleep(0.3)
    again = chat.socket(after=seen[-1]["seq"])
    again.say("slow: what documents do I need?", client_message_id=client_id)  # unacknowledged: resent
    frames = again.until(lambda f: f["type"] == "message" and f["message"]["text"] == "Anything else?", timeout=15)
    ack = next(f for f in frames if f["type"] == "ack")
    assert ack["duplicate"] is True

    delivered = seen + [f["message"] for f in frames if f["type"] == "message"]
    stored = chat.messages()["messages"]
    assert _seqs(delivered) == list(range(1, stored[-1]["seq"] + 1))  # every message, each once, in order
    assert delivered == stored
    texts = [m["text"] for m in stored]
    assert texts.count("slow: what documents do I need?") == 1
    assert texts[-2:] == ["After a while: slow: what documents do I need?", "Anything else?"]
    assert [t["message"] for t in fake_rasa.turns(chat.conversation_id)].count("slow: what documents do I need?") == 1
    again.close()


def test_a_drop_while_the_reply_is_on_its_way_is_made_up_on_reconnect(chat):
    seen = chat.messages()["messages"]
    socket = chat.socket(after=seen[-1]["seq"])
    socket.say("slow again")
    ack = socket.until(lambda f: f["type"] == "ack")[-1]
    last_seen = ack["seq"]  # the client knows its own message is stored as this number
    socket.close()  # the reply is not stored yet

    time.sleep(2)  # the reply is stored while nobody is connected
    again = chat.socket(after=last_seen)
    made_up = again.messages_until(lambda m: m["text"] == "Anything else?")
    assert _seqs(made_up) == list(range(last_seen + 1, last_seen + 1 + len(made_up)))
    assert [m["text"] for m in made_up] == ["After a while: slow again", "Anything else?"]
    again.close()


def test_two_tabs_of_the_same_chat_see_the_same_messages(chat):
    after = chat.messages()["last_seq"]
    first, second = chat.socket(after=after), chat.socket(after=after)
    first.say("hello from tab one")
    one = first.messages_until(lambda m: m["text"] == "You said: hello from tab one")
    two = second.messages_until(lambda m: m["text"] == "You said: hello from tab one")
    assert one == two
    first.close()
    second.close()


def test_a_quick_reply_sends_the_button_payload_and_shows_its_title(chat, fake_rasa):
    socket = chat.socket(after=chat.messages()["last_seq"])
    socket.send(type="message", client_message_id=uuid.uuid4().hex, text="ignored", payload="/ask_capabilities")
    messages = socket.messages_until(lambda m: m["sender"] == "bot")
    assert messages[0]["text"] == "Upload a document"  # the button's title, not what the client claimed
    assert messages[-1]["text"] == "I can help you upload bid documents in Connexion."
    assert fake_rasa.turns(chat.conversation_id)[-1]["message"] == "/ask_capabilities"
    socket.close()


def test_payloads_the_bot_did_not_offer_and_typed_intents_never_reach_rasa_as_intents(chat, fake_rasa):
    refused = chat.post(payload="/request_human_now")
    assert refused.status_code == 422
    assert refused.json()["rule"] == "command_not_allowed"
    not_signed_in = chat.post(payload="/signed_in")
    assert not_signed_in.status_code == 409
    assert not_signed_in.json() == {
        "detail": "This chat is not signed in yet; finish signing in with the chat's sign-in panel first.",
        "rule": "chat_not_signed_in",
    }
    unknown_file = chat.post(payload='/file_staged{"staged_file_id": "not-attached-here"}')
    assert unknown_file.json()["rule"] == "staged_file_unknown"
    bad_outcome = chat.post(payload='/secure_input_done{"outcome": "verified", "code": "123456"}')
    assert bad_outcome.json()["rule"] == "command_not_allowed"

    typed = chat.post("/signed_in")
    assert typed.status_code == 202
    chat.wait_for(lambda m: m["text"] == "You said: signed_in")
    assert fake_rasa.turns(chat.conversation_id)[-1]["message"] == "signed_in"  # text, not the intent

    done = chat.post(payload='/secure_input_done{"outcome":"failed"}')
    assert done.status_code == 202
    assert done.json()["message"]["kind"] == "note"
    assert done.json()["message"]["text"] == "The code was not accepted."
    chat.wait_for(lambda m: m["text"] == 'You said: /secure_input_done{"outcome": "failed"}')


def test_the_http_fallback_posts_and_long_polls(chat):
    after = chat.messages()["last_seq"]
    client_id = uuid.uuid4().hex
    posted = chat.post("hello over plain HTTP", client_message_id=client_id)
    assert posted.status_code == 202
    assert posted.json()["duplicate"] is False
    mine = posted.json()["message"]
    assert mine["seq"] == after + 1 and mine["sender"] == "user"

    page = chat.messages(after=mine["seq"], wait=10)  # holds until the reply is stored
    assert [m["text"] for m in page["messages"]] == ["You said: hello over plain HTTP"]
    assert page["last_seq"] == mine["seq"] + 1

    again = chat.post("hello over plain HTTP", client_message_id=client_id)
    assert again.status_code == 202
    assert again.json() == {"message": mine, "duplicate": True}
    started = time.monotonic()
    assert chat.messages(after=page["last_seq"], wait=1)["messages"] == []
    assert time.monotonic() - started >= 0.9


def test_custom_payloads_are_passed_on_cleaned_and_unsafe_parts_are_dropped(chat):
    chat.post("custom please")
    messages = chat.wait_for(lambda m: m["text"] == "A picture:")
    bot = [m for m in messages if m["sender"] == "bot"][-3:]
    assert bot[0]["text"] == "Please sign in first."
    assert bot[1]["data"] == {"custom": {"type": "sign_in_required", "reason": "upload"}}
    assert bot[2]["data"] == {"image": "https://www.cms.gov/logo.png"}
    assert not any("javascript:" in str(m["data"]) for m in messages)
    assert not any((m["data"] or {}).get("custom", {}).get("type") == "not_in_the_protocol" for m in messages)


def test_when_rasa_is_unreachable_the_message_stays_stored_and_the_client_is_told_to_retry(chat, fake_rasa, db):
    from api.config import get_settings

    settings = get_settings()
    working = settings.rasa_port
    settings.rasa_port = 1  # nothing listens there
    try:
        socket = chat.socket(after=chat.messages()["last_seq"])
        client_id = socket.say("is anyone there?")
        messages = socket.messages_until(lambda m: m["sender"] == "system")
    finally:
        settings.rasa_port = working
    mine, notice = messages[0], messages[-1]
    assert mine["text"] == "is anyone there?"
    assert notice["data"] == {"event": "relay_failed", "code": "retry", "retry_client_message_id": client_id}
    assert notice["text"].startswith("The assistant could not be reached, so your message was saved")
    stored = db.scalar(select(ChatMessage).where(ChatMessage.client_message_id == client_id))
    assert stored is not None and stored.relay_state is RelayState.failed

    # "Try again": the same message id is relayed this time, and still stored once.
    socket.say("", client_message_id=client_id)
    answered = socket.messages_until(lambda m: m["sender"] == "bot")
    assert answered[-1]["text"] == "You said: is anyone there?"
    texts = [m["text"] for m in chat.messages()["messages"]]
    assert texts.count("is anyone there?") == 1
    db.expire_all()
    assert db.get(ChatMessage, stored.id).relay_state is RelayState.done
    socket.close()


def test_a_broken_rasa_answer_is_a_retry_notice_not_an_error(chat):
    response = chat.post("broken")
    assert response.status_code == 202
    messages = chat.wait_for(lambda m: (m["data"] or {}).get("code") == "retry")
    assert messages[-1]["sender"] == "system"


def test_while_an_agent_has_the_chat_user_turns_are_stored_but_not_relayed(chat, fake_rasa):
    from api.chat import service
    from api.database import get_sessionmaker

    socket = chat.socket(after=chat.messages()["last_seq"])
    with get_sessionmaker()() as db:
        service.set_status(
            db=db,
            conversation_id=chat.conversation_id,
            status=ConversationStatus.with_agent,
            note="Alex, a customer service agent, joined the chat.",
            data={"agent_name": "Alex"},
        )
    joined = socket.messages_until(lambda m: m["sender"] == "system")[-1]
    assert joined["data"] == {"event": "status", "status": "with_agent", "agent_name": "Alex"}
    assert socket.until(lambda f: f["type"] == "status")[-1] == {"type": "status", "status": "with_agent"}

    turns_before = len(fake_rasa.turns(chat.conversation_id))
    socket.say("I need a person to check my bond")
    mine = socket.messages_until(lambda m: m["sender"] == "user")[-1]
    with get_sessionmaker()() as db:
        service.post_agent_message(
            db=db, conversation_id=chat.conversation_id, agent_name="Alex", text="Hi Dana, I can help with that."
        )
        row = db.scalar(select(ChatMessage).where(ChatMessage.client_message_id == mine["client_message_id"]))
        assert row is not None and row.relay_state is RelayState.held
    agent = socket.messages_until(lambda m: m["sender"] == "agent")[-1]
    assert agent["text"] == "Hi Dana, I can help with that." and agent["data"] == {"agent_name": "Alex"}
    time.sleep(0.3)
    assert len(fake_rasa.turns(chat.conversation_id)) == turns_before  # nothing went to the bot
    socket.close()


def test_an_ended_chat_takes_no_more_messages(chat):
    closed = chat.server.http.post(f"{chat.path}/close", headers=chat.headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    refused = chat.post("one more thing")
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "This chat has ended; start a new chat to continue.",
        "rule": "conversation_closed",
    }
    messages = chat.messages()["messages"]
    assert messages[-1]["text"] == "You ended the chat."


def test_over_the_websocket_a_typed_turn_that_breaks_a_rule_is_refused_and_not_stored(chat, fake_rasa):
    # The rules of accept_user_turn, which a typed turn meets in one statement on PostgreSQL (accept_typed_turn).
    socket = chat.socket(after=chat.messages()["last_seq"])
    sent = {
        "message_too_long": "y" * 2001,
        "message_empty": "  /  ",
        "secret_in_message": "my key is JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    }
    for rule, text in sent.items():
        client_id = socket.say(text)
        frame = socket.until(lambda f: f["type"] in ("error", "ack"))[-1]
        assert (frame["type"], frame["rule"], frame["client_message_id"]) == ("error", rule, client_id)
    closed = chat.server.http.post(f"{chat.path}/close", headers=chat.headers)
    assert closed.status_code == 200
    client_id = socket.say("one more thing")
    frame = socket.until(lambda f: f["type"] == "error")[-1]
    assert (frame["rule"], frame["client_message_id"]) == ("conversation_closed", client_id)
    socket.close()
    user_texts = [m["text"] for m in chat.messages()["messages"] if m["sender"] == "user"]
    assert user_texts == []
    assert not any(t["message"] in (*sent.values(), "one more thing") for t in fake_rasa.turns(chat.conversation_id))


def test_a_relayed_turn_and_its_three_message_answer_take_few_round_trips(chat, db):
    """Each round trip to PostgreSQL waits for its server process to be scheduled, and storing the turn and
    the answer are the relay's whole overhead over Rasa alone (bench/results/chat-profile.md). On
    PostgreSQL, in the autocommit sessions the relay uses: a read and an atomic write for the turn, one
    atomic write for the answer (no BEGIN or COMMIT of their own), counted from libpq's trace of the
    protocol. On SQLite, one transaction each, with one sequence reservation and one INSERT for all three
    replies, so a longer answer costs no more statements."""
    import re
    import tempfile

    from sqlalchemy import event

    from api.chat import service
    from api.chat.relay import BotReply
    from api.chat.schemas import MessageCreate
    from api.chat.ws import _accept
    from api.database import get_autocommit_sessionmaker

    sessions = get_autocommit_sessionmaker()
    postgres = db.get_bind().dialect.name == "postgresql"
    frame = MessageCreate(client_message_id=uuid.uuid4().hex, text="How big can my PDF be?")
    replies = [BotReply("One file can be up to 50 MB."), BotReply("It must be a PDF."), BotReply("Anything else?")]

    def traced(work):  # (result, statements run, round trips to PostgreSQL or None on SQLite)
        statements: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement.split(None, 1)[0].upper())

        def count_begin(conn):
            if not postgres:  # on PostgreSQL, the trace shows whether psycopg sent one
                statements.append("BEGIN")

        with sessions() as session:
            engine = session.get_bind()
            event.listen(engine, "before_cursor_execute", count)
            event.listen(engine, "begin", count_begin)
            try:
                if not postgres:
                    return work(session), statements, None
                pgconn = session.connection().connection.driver_connection.pgconn
                with tempfile.TemporaryFile("w+") as trace:
                    pgconn.trace(trace.fileno())
                    pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
                    try:
                        result = work(session)
                    finally:
                        pgconn.untrace()
                    trace.seek(0)
                    protocol = trace.read()
            finally:
                event.remove(engine, "before_cursor_execute", count)
                event.remove(engine, "begin", count_begin)
        # Every request the client waits for ends with the server's ReadyForQuery.
        trips = len(re.findall(r"^B\t\d+\tReadyForQuery", protocol, re.MULTILINE))
        sent_alone = re.findall(r'^F\t\d+\tQuery\t "(\w+)', protocol, re.MULTILINE)  # BEGIN, COMMIT
        return result, sent_alone + statements, trips

    if postgres:
        from psycopg.pq import Trace

    (accepted, job), accepting, accepting_trips = traced(
        lambda session: _accept(db=session, conversation_id=chat.conversation_id, frame=frame)
    )
    stored, answering, answering_trips = traced(
        lambda session: service.complete_relay(db=session, job=job, replies=replies)
    )

    assert accepted.relay and job.text == "How big can my PDF be?"
    assert job.metadata["signed_in"] is False
    if postgres:
        # A typed turn: the rules, the sequence number, the turn, the pre-chat fields and the signed-in state
        # in one statement; no BEGIN or COMMIT.
        assert (accepting, accepting_trips) == (["WITH"], 1)
        # The sequence numbers, the three replies and the turn's mark in one write.
        assert (answering, answering_trips) == (["WITH"], 1)
    else:
        assert accepting == ["BEGIN", "SELECT", "UPDATE", "INSERT"], accepting
        assert answering == ["BEGIN", "UPDATE", "INSERT", "UPDATE"], answering
    first = accepted.message.seq + 1
    assert [m.seq for m in stored] == [first, first + 1, first + 2]
    # What the relay publishes, built after the session closed (as in transport.process_turn).
    published = [service.message_public(m) for m in stored]
    assert [(p.sender, p.text, p.client_message_id) for p in published] == [("bot", r.text, None) for r in replies]
    shown = chat.messages(after=accepted.message.seq)["messages"]
    assert [(m["seq"], m["text"]) for m in shown] == [(m.seq, m.text) for m in stored]
    turn = db.get(ChatMessage, accepted.message.id)
    assert turn is not None and turn.relay_state is RelayState.done

    # Any other turn (here a typed one, the way a button's turn goes): the chat with its signed-in state and
    # its recent turns (resend and rate check) in one read, then the sequence number and the turn in one write.
    def general_way(session):
        other = MessageCreate(client_message_id=uuid.uuid4().hex, text="And the file name?")
        conversation, _, recent = service.turn_context(
            db=session, conversation_id=chat.conversation_id, client_message_id=other.client_message_id
        )
        return service.accept_user_turn(db=session, conversation=conversation, data=other, recent=recent)

    general, generally, general_trips = traced(general_way)
    assert general.relay
    if postgres:
        assert (generally, general_trips) == (["SELECT", "WITH"], 2)
    else:
        assert generally == ["BEGIN", "SELECT", "UPDATE", "INSERT"], generally
