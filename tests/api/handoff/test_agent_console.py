"""The agent console's API: who may use it, the live queue, claiming, replying, typing, transfers, closing,
the rating and starting over, canned replies, the supplier's upload history and the supervisor view."""

from __future__ import annotations

import pytest

from tests.api.handoff.conftest import SERVICE, events_of

QUEUE = "/api/v1/agent/queue"


def queued_item(client, agent, chat):  # type: ignore[no-untyped-def]
    items = client.get(QUEUE, headers=agent).json()["items"]
    (item,) = [i for i in items if i["conversation_id"] == chat.id]
    return item


@pytest.mark.parametrize(
    "path", [QUEUE, "/api/v1/agent/conversations", "/api/v1/agent/canned-replies", "/api/v1/agent/supervisor"]
)
def test_only_agents_with_their_own_session_use_the_console(path, client, sign_in):
    nobody = client.get(path)
    assert nobody.status_code == 401 and nobody.json()["rule"] == "not_signed_in"
    supplier = client.get(path, headers=sign_in("demo.supplier"))
    assert supplier.status_code == 403 and supplier.json()["rule"] == "agent_only"
    service = client.get(path, headers={**SERVICE, "X-Conversation-Id": "anything"})
    assert service.status_code == 403 and service.json()["rule"] == "user_credential_required"
    assert client.get(path, headers=sign_in("demo.agent")).status_code == 200


def test_the_queue_lists_waiting_chats_oldest_first_with_what_the_agent_needs(start_chat, clock, client, agent):
    first = start_chat(first_name="Ann", topic="sign_in_mfa")
    first.handoff(reason="account_locked", topic="sign_in_mfa")
    clock.advance(minutes=3)
    second = start_chat(first_name="Bo")
    second.handoff(reason="not_understood")
    clock.advance(minutes=2)
    queue = client.get(QUEUE, headers=agent).json()
    chats = [i for i in queue["items"] if i["kind"] == "chat"]
    assert [i["conversation_id"] for i in chats] == [first.id, second.id]
    assert [i["waiting_seconds"] for i in chats] == [300, 120]
    assert chats[0]["reason_text"] == "Account locked" and chats[0]["topic_label"] == "Signing in and MFA"
    assert chats[1]["prechat"]["first_name"] == "Bo" and chats[1]["position"] == 2
    assert queue["chats_waiting"] == 2 and queue["longest_wait_seconds"] == 300


def test_claim_reply_typing_and_close_then_the_supplier_rates_and_starts_over(start_chat, client, agent, fake_rasa):
    chat = start_chat()
    chat.handoff()
    item = queued_item(client, agent, chat)
    claimed = client.post(f"/api/v1/agent/handoffs/{item['handoff_id']}/claim", headers=agent)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["state"] == "with_agent" and claimed.json()["agent"]["user_id"] == "demo.agent"
    assert chat.status() == "with_agent"
    joined = events_of(chat.messages(), "with_agent")[-1]
    assert joined["text"] == "Alex from the customer service center joined the chat."
    assert chat.queue()["state"] == "with_agent" and chat.queue()["agent_name"] == "Alex"
    assert not [i for i in client.get(QUEUE, headers=agent).json()["items"] if i["conversation_id"] == chat.id]
    assert [c["handoff_id"] for c in client.get("/api/v1/agent/conversations", headers=agent).json()] == [
        item["handoff_id"]
    ]

    hid = item["handoff_id"]
    reply = client.post(f"/api/v1/agent/handoffs/{hid}/messages", json={"text": "Hi Dana, I can help."}, headers=agent)
    assert reply.status_code == 201
    agent_message = chat.messages()[-1]
    assert agent_message["sender"] == "agent" and agent_message["text"] == "Hi Dana, I can help."
    empty = client.post(f"/api/v1/agent/handoffs/{hid}/messages", json={"text": "  "}, headers=agent)
    assert empty.status_code == 422 and empty.json()["rule"] == "text_required"
    typing = client.post(chat.url("/typing"), json={"on": True}, headers=chat.headers)
    assert typing.status_code == 200 and typing.json() == {"delivered": True}
    chat.say("Thanks! The upload says the file is password protected.")
    detail = client.get(f"/api/v1/agent/handoffs/{hid}", headers=agent).json()
    assert detail["transcript"][-1]["text"] == "Thanks! The upload says the file is password protected."
    assert fake_rasa.texts(chat.id) == ["/greet"]  # the bot heard nothing since the handoff

    too_early = client.post(chat.url("/rating"), json={"rating": 5}, headers=chat.headers)
    assert too_early.status_code == 409 and too_early.json()["rule"] == "rating_not_requested"
    no_note = client.post(f"/api/v1/agent/handoffs/{hid}/close", json={"disposition": ""}, headers=agent)
    assert no_note.status_code == 422 and no_note.json()["rule"] == "text_required"
    closed = client.post(
        f"/api/v1/agent/handoffs/{hid}/close", json={"disposition": "Explained password-protected PDFs."}, headers=agent
    )
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert closed.json()["disposition"] == "Explained password-protected PDFs."
    assert chat.status() == "closed"
    ended = events_of(chat.messages(), "ended")[-1]
    assert ended["data"]["rating_requested"] is True and "Rate this chat from 1 to 5" in ended["text"]
    assert chat.queue()["rating_requested"] is True
    after = client.post(f"/api/v1/agent/handoffs/{hid}/messages", json={"text": "one more"}, headers=agent)
    assert after.status_code == 409 and after.json()["rule"] == "handoff_closed"

    for bad, rule in ((0, "rating_out_of_range"), (6, "rating_out_of_range"), (-1, "rating_out_of_range")):
        refused = client.post(chat.url("/rating"), json={"rating": bad}, headers=chat.headers)
        assert refused.status_code == 422 and refused.json()["rule"] == rule
    wordy = client.post(chat.url("/rating"), json={"rating": 4, "comment": "x" * 1001}, headers=chat.headers)
    assert wordy.status_code == 422 and wordy.json()["rule"] == "comment_too_long"
    not_a_number = client.post(chat.url("/rating"), json={"rating": "great"}, headers=chat.headers)
    assert not_a_number.status_code == 422 and not_a_number.json()["rule"] == "invalid_request"
    rated = client.post(chat.url("/rating"), json={"rating": 4, "comment": "x" * 1000}, headers=chat.headers)
    assert rated.status_code == 201 and rated.json()["rating"] == 4
    again = client.post(chat.url("/rating"), json={"rating": 5}, headers=chat.headers)
    assert again.status_code == 409 and again.json()["rule"] == "already_rated"
    assert client.get(f"/api/v1/agent/handoffs/{hid}", headers=agent).json()["rating"]["rating"] == 4

    restarted = client.post(chat.url("/start-over"), headers=chat.headers)
    assert restarted.status_code == 200 and restarted.json()["conversation_status"] == "bot"
    chat.wait_for(lambda ms: fake_rasa.texts(chat.id)[-1:] == ["/greet"] and len(fake_rasa.texts(chat.id)) == 2)
    assert fake_rasa.texts(chat.id) == ["/greet", "/greet"]  # the assistant greets again
    chat.say("back to the bot")
    chat.wait_for(lambda ms: any(m["text"] == "bot heard: back to the bot" for m in ms))


def test_a_supplier_who_ends_the_chat_with_an_agent_can_rate_it_at_once(start_chat, client, agent):
    chat = start_chat()
    chat.handoff()
    hid = queued_item(client, agent, chat)["handoff_id"]
    assert client.post(f"/api/v1/agent/handoffs/{hid}/claim", headers=agent).status_code == 200
    ended = client.post(chat.url("/close"), headers=chat.headers)
    assert ended.status_code == 200 and ended.json()["status"] == "closed"
    queue = chat.queue()
    assert queue["state"] == "ended" and queue["ended_by"] == "supplier"
    assert queue["rating_requested"] is True and queue["message"].startswith("You ended the chat. Rate it")
    rated = client.post(chat.url("/rating"), json={"rating": 3, "comment": "Fine."}, headers=chat.headers)
    assert rated.status_code == 201, rated.text
    assert chat.queue()["rated"] is True and chat.queue()["rating_requested"] is False
    assert client.get(f"/api/v1/agent/handoffs/{hid}", headers=agent).json()["rating"]["rating"] == 3
    # The agent still closes it with a note; the supplier is not asked to rate it again.
    closed = client.post(f"/api/v1/agent/handoffs/{hid}/close", json={"disposition": "Supplier left."}, headers=agent)
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    last = events_of(chat.messages(), "ended")[-1]
    assert last["text"] == "Alex closed the chat." and last["data"]["rating_requested"] is False
    again = client.post(chat.url("/rating"), json={"rating": 5}, headers=chat.headers)
    assert again.status_code == 409 and again.json()["rule"] == "already_rated"


def test_a_chat_that_never_reached_an_agent_cannot_be_rated(start_chat, client):
    chat = start_chat()
    chat.handoff()
    assert client.post(chat.url("/close"), headers=chat.headers).status_code == 200
    refused = client.post(chat.url("/rating"), json={"rating": 5}, headers=chat.headers)
    assert refused.status_code == 409 and refused.json()["rule"] == "rating_not_requested"
    assert "once it has ended" in refused.json()["detail"]


def test_start_over_is_only_for_a_chat_an_agent_closed(start_chat, client):
    chat = start_chat()
    chat.handoff()
    queued = client.post(chat.url("/start-over"), headers=chat.headers)
    assert queued.status_code == 409 and queued.json()["rule"] == "cannot_start_over"
    other = start_chat()
    client.post(other.url("/close"), headers=other.headers)  # the supplier ended it: a new chat is needed
    ended = client.post(other.url("/start-over"), headers=other.headers)
    assert ended.status_code == 409 and ended.json()["rule"] == "cannot_start_over"


def test_typing_reaches_no_one_unless_an_agent_has_the_chat(start_chat, client):
    chat = start_chat()
    assert client.post(chat.url("/typing"), json={"on": True}, headers=chat.headers).json() == {"delivered": False}


def test_transfer_to_another_agent_and_back_to_the_queue_keeps_the_place(
    start_chat, clock, client, agent, agent2, second_agent
):
    older = start_chat()
    older.handoff()
    clock.advance(minutes=1)
    newer = start_chat()
    newer.handoff()
    hid = queued_item(client, agent, older)["handoff_id"]
    client.post(f"/api/v1/agent/handoffs/{hid}/claim", headers=agent)
    assert events_of(newer.messages(), "queued")[-1]["data"]["position"] == 1  # moved up

    agents = client.get("/api/v1/agent/agents", headers=agent).json()
    assert {"user_id": "blake.agent", "name": "Blake Agent"} in agents
    nobody = client.post(f"/api/v1/agent/handoffs/{hid}/transfer", json={"to_agent": "no.such"}, headers=agent)
    assert nobody.status_code == 404 and nobody.json()["rule"] == "agent_not_found"
    moved = client.post(
        f"/api/v1/agent/handoffs/{hid}/transfer",
        json={"to_agent": second_agent, "note": "Needs help with a surety bond"},
        headers=agent,
    )
    assert moved.status_code == 200 and moved.json()["agent"]["user_id"] == second_agent
    assert "Needs help with a surety bond" in moved.json()["internal_notes"]
    assert "surety bond" not in " ".join(m["text"] for m in older.messages())  # the note is internal
    assert events_of(older.messages(), "with_agent")[-1]["data"]["agent_name"] == "Blake"
    not_mine = client.post(f"/api/v1/agent/handoffs/{hid}/messages", json={"text": "hi"}, headers=agent)
    assert not_mine.status_code == 409 and not_mine.json()["rule"] == "not_your_conversation"
    assert (
        client.post(f"/api/v1/agent/handoffs/{hid}/messages", json={"text": "Blake here"}, headers=agent2).status_code
        == 201
    )

    back = client.post(f"/api/v1/agent/handoffs/{hid}/transfer", json={"to_agent": None}, headers=agent2)
    assert back.status_code == 200 and back.json()["state"] == "queued"
    assert older.status() == "queued"
    chats = [i for i in client.get(QUEUE, headers=agent).json()["items"] if i["kind"] == "chat"]
    assert [i["conversation_id"] for i in chats] == [older.id, newer.id]  # it keeps its place: oldest first
    assert older.queue()["position"] == 1
    assert events_of(newer.messages(), "queued")[-1]["data"]["position"] == 2


def test_a_claimed_chat_cannot_be_claimed_again(start_chat, client, agent, agent2):
    chat = start_chat()
    chat.handoff()
    hid = queued_item(client, agent, chat)["handoff_id"]
    assert client.post(f"/api/v1/agent/handoffs/{hid}/claim", headers=agent).status_code == 200
    second = client.post(f"/api/v1/agent/handoffs/{hid}/claim", headers=agent2)
    assert second.status_code == 409
    assert second.json() == {
        "detail": "Alex Agent claimed this chat first; pick another one from the queue.",
        "rule": "already_claimed",
    }
    missing = client.post("/api/v1/agent/handoffs/999999/claim", headers=agent)
    assert missing.status_code == 404 and missing.json()["rule"] == "handoff_not_found"


def test_a_chat_the_supplier_left_cannot_be_claimed(start_chat, client, agent):
    chat = start_chat()
    chat.handoff()
    hid = queued_item(client, agent, chat)["handoff_id"]
    client.post(chat.url("/queue/leave"), headers=chat.headers)
    refused = client.post(f"/api/v1/agent/handoffs/{hid}/claim", headers=agent)
    assert refused.status_code == 409 and refused.json()["rule"] == "already_claimed"
    assert "left" in refused.json()["detail"]


def test_a_chat_that_ended_while_waiting_leaves_the_queue(start_chat, client, agent):
    chat = start_chat()
    chat.handoff()
    client.post(chat.url("/close"), headers=chat.headers)
    assert not [i for i in client.get(QUEUE, headers=agent).json()["items"] if i["conversation_id"] == chat.id]


def test_the_agent_sees_the_signed_in_suppliers_bidder_numbers_and_upload_history(start_chat, client, agent, sign_in):
    from tests.api.documents.pdfs import pdf

    supplier = sign_in("demo.supplier")
    uploaded = client.post(
        "/api/v1/documents",
        headers=supplier,
        data={
            "bidder_number": "12345",
            "document_type": "financial",
            "description": "balance_sheet",
            "certification_user_id": "demo.supplier",
        },
        files={"file": ("balance-sheet.pdf", pdf(pages=2, text="balance sheet"), "application/pdf")},
    )
    assert uploaded.status_code == 201, uploaded.text
    chat = start_chat()
    bound = client.post("/api/v1/chat-bindings", json={"conversation_id": chat.id}, headers=supplier)
    assert bound.status_code == 201, bound.text
    chat.handoff(reason="task_failed")
    item = queued_item(client, agent, chat)
    assert item["supplier"]["user_id"] == "demo.supplier"
    assert item["supplier"]["bidder_numbers"] == ["12345", "67890"]
    detail = client.get(f"/api/v1/agent/handoffs/{item['handoff_id']}", headers=agent).json()
    assert detail["supplier"]["organizations"] == ["Acme Home Medical LLC", "Acme Mobility Supplies Inc"]
    numbers = [u["confirmation_number"] for u in detail["upload_history"]]
    assert uploaded.json()["confirmation_number"] in numbers
    assert detail["upload_history_total"] >= 1

    anonymous = start_chat()
    anonymous.handoff()
    item = queued_item(client, agent, anonymous)
    assert item["supplier"] is None
    assert client.get(f"/api/v1/agent/handoffs/{item['handoff_id']}", headers=agent).json()["upload_history"] is None


def test_canned_replies_come_from_the_data_file(client, agent):
    replies = client.get("/api/v1/agent/canned-replies", headers=agent).json()
    assert len(replies) >= 5
    assert {"id", "title", "text"} <= set(replies[0])
    assert any("877-577-5331" in r["text"] for r in replies)


def test_the_supervisor_sees_queue_load_and_satisfaction_by_day(start_chat, clock, client, agent):
    waiting = start_chat()
    waiting.handoff()
    clock.advance(minutes=4)
    rated = start_chat()
    rated.handoff()
    hid = queued_item(client, agent, rated)["handoff_id"]
    client.post(f"/api/v1/agent/handoffs/{hid}/claim", headers=agent)
    client.post(f"/api/v1/agent/handoffs/{hid}/close", json={"disposition": "done"}, headers=agent)
    client.post(rated.url("/rating"), json={"rating": 2}, headers=rated.headers)
    stats = client.get("/api/v1/agent/supervisor", headers=agent).json()
    assert stats["chats_waiting"] == 1 and stats["longest_wait_seconds"] == 240
    alex = next(a for a in stats["per_agent"] if a["user_id"] == "demo.agent")
    assert alex["closed_today"] >= 1
    today = stats["satisfaction_by_day"][-1]
    assert today["day"] == "2026-11-18" and today["ratings"] >= 1 and 1 <= today["average"] <= 5
    assert len(stats["satisfaction_by_day"]) == 14
    svg = stats["chart_svg"]
    assert svg.startswith("<svg") and "<title" in svg and "<script" not in svg
