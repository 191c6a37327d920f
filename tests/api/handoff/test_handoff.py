"""The bot's handoff to a person: each trigger, the queue and its places, the bot's silence while queued."""

from __future__ import annotations

import pytest

from tests.api.handoff.conftest import SERVICE, events_of

REASONS = ["asked_for_person", "not_understood", "task_failed", "account_locked", "not_allowed_topic"]


@pytest.mark.parametrize("reason", REASONS)
def test_each_trigger_queues_the_chat_during_open_hours_and_the_agent_sees_the_reason(
    reason, start_chat, client, agent
):
    chat = start_chat()
    response = chat.handoff(reason=reason, topic="sign_in_mfa", detail="Asked twice about a locked code")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == {
        "state": "queued",
        "position": 1,
        "estimated_wait_minutes": answer["estimated_wait_minutes"],
        "opens_at_text": None,
        "phone": "877-577-5331",
    }
    assert answer["estimated_wait_minutes"] >= 1
    assert chat.status() == "queued"
    marker = events_of(chat.messages(), "queued")[-1]
    assert marker["sender"] == "system"
    assert marker["data"]["position"] == 1 and marker["data"]["reason"] == reason
    queue = client.get("/api/v1/agent/queue", headers=agent).json()
    (item,) = [i for i in queue["items"] if i["conversation_id"] == chat.id]
    assert item["reason"] == reason
    assert item["topic"] == "sign_in_mfa" and item["topic_label"] == "Signing in and MFA"
    assert item["prechat"]["organization"] == "Acme Home Medical LLC"


def test_only_the_service_credential_hands_a_chat_over(start_chat, client, sign_in):
    chat = start_chat()
    body = {"reason": "asked_for_person", "topic": "x"}
    nobody = client.post(chat.url("/handoff"), json=body)
    assert nobody.status_code == 401 and nobody.json()["rule"] == "service_credential_required"
    supplier = client.post(chat.url("/handoff"), json=body, headers=sign_in("demo.supplier"))
    assert supplier.status_code == 401 and supplier.json()["rule"] == "service_credential_required"
    widget = client.post(chat.url("/handoff"), json=body, headers=chat.headers)
    assert widget.status_code == 401
    assert chat.status() == "bot"


def test_a_bad_request_names_the_rule(start_chat, client):
    chat = start_chat()
    bad = client.post(chat.url("/handoff"), json={"reason": "bored", "topic": "x"}, headers=SERVICE)
    assert bad.status_code == 422
    assert bad.json()["rule"] == "invalid_request" and "reason" in bad.json()["detail"]
    unknown = client.post(
        "/api/v1/chat/conversations/no-such-chat-0000000/handoff", json={"reason": "task_failed"}, headers=SERVICE
    )
    assert unknown.status_code == 404 and unknown.json()["rule"] == "conversation_not_found"
    client.post(chat.url("/close"), headers=chat.headers)
    ended = chat.handoff()
    assert ended.status_code == 409 and ended.json()["rule"] == "conversation_closed"


def test_asking_again_while_queued_keeps_the_place(start_chat):
    first, second = start_chat(), start_chat()
    assert first.handoff().json()["position"] == 1
    assert second.handoff().json()["position"] == 2
    again = second.handoff(reason="not_understood")
    assert again.status_code == 200 and again.json()["position"] == 2
    assert len(events_of(second.messages(), "queued")) == 1


def test_the_topic_defaults_to_the_prechat_topic(start_chat, client, agent):
    chat = start_chat(topic="form_c")
    chat.handoff(topic="")
    (item,) = [
        i for i in client.get("/api/v1/agent/queue", headers=agent).json()["items"] if i["conversation_id"] == chat.id
    ]
    assert item["topic"] == "form_c" and item["topic_label"] == "Form C"


def test_places_update_live_and_survive_a_reload(start_chat):
    chats = [start_chat() for _ in range(3)]
    assert [c.handoff().json()["position"] for c in chats] == [1, 2, 3]
    assert chats[2].queue()["position"] == 3  # a reload reads it back
    left = chats[0].client.post(chats[0].url("/queue/leave"), headers=chats[0].headers)
    assert left.status_code == 200 and left.json()["state"] == "left"
    assert chats[0].status() == "bot"
    assert events_of(chats[0].messages(), "left")[-1]["text"].startswith("You left the queue")
    for chat, place in ((chats[1], 1), (chats[2], 2)):
        latest = events_of(chat.messages(), "queued")[-1]
        assert latest["data"]["position"] == place
        assert latest["data"]["estimated_wait_minutes"] >= 1
        assert chat.queue()["position"] == place
    again = chats[0].client.post(chats[0].url("/queue/leave"), headers=chats[0].headers)
    assert again.status_code == 409 and again.json()["rule"] == "not_in_queue"


def test_the_widget_reads_its_queue_only_with_its_client_token(start_chat, client):
    chat = start_chat()
    chat.handoff()
    assert client.get(chat.url("/queue")).json()["rule"] == "chat_token_required"
    wrong = client.get(chat.url("/queue"), headers={"X-Chat-Token": "not-the-token"})
    assert wrong.status_code == 404 and wrong.json()["rule"] == "conversation_not_found"
    assert chat.queue()["state"] == "queued"


def test_the_bot_is_silent_while_queued_and_every_message_is_kept_for_the_agent(start_chat, fake_rasa, client, agent):
    chat = start_chat()
    chat.say("How do I upload a bid surety bond?")
    chat.wait_for(lambda ms: any(m["text"] == "bot heard: How do I upload a bid surety bond?" for m in ms))
    chat.handoff()
    turns_before = len(fake_rasa.texts(chat.id))
    sent = chat.say("Are you still there? My bond upload keeps failing.")
    assert sent.status_code == 202, sent.text
    queued_reply = chat.say("Hello?")
    assert queued_reply.status_code == 202
    import time

    time.sleep(0.5)  # give a (wrong) relay the time to happen
    assert len(fake_rasa.texts(chat.id)) == turns_before  # nothing reached the bot
    messages = chat.messages()
    assert not [m for m in messages if m["sender"] == "bot" and "still there" in m["text"]]
    handoff_id = client.get("/api/v1/agent/queue", headers=agent).json()["items"][0]["handoff_id"]
    transcript = client.get(f"/api/v1/agent/handoffs/{handoff_id}", headers=agent).json()["transcript"]
    texts = [m["text"] for m in transcript if m["sender"] == "user"]
    assert "Are you still there? My bond upload keeps failing." in texts and "Hello?" in texts
    # Leaving the queue gives the chat back to the bot, which answers again.
    client.post(chat.url("/queue/leave"), headers=chat.headers)
    chat.say("Thanks, I'll try again")
    chat.wait_for(lambda ms: any(m["text"] == "bot heard: Thanks, I'll try again" for m in ms))
    assert fake_rasa.texts(chat.id)[-1] == "Thanks, I'll try again"


@pytest.mark.parametrize(("sent", "stored"), [("requested", "asked_for_person"), ("out_of_scope", "not_allowed_topic")])
def test_the_bots_older_reason_names_are_understood(sent, stored, start_chat, client, agent):
    chat = start_chat()
    answer = client.post(chat.url("/handoff"), json={"reason": sent, "topic": None}, headers=SERVICE)
    assert answer.status_code == 200, answer.text
    items = client.get("/api/v1/agent/queue", headers=agent).json()["items"]
    (item,) = [i for i in items if i["conversation_id"] == chat.id]
    assert item["reason"] == stored and item["topic"] == "uploading_documents"  # the pre-chat topic
