"""The agent WebSocket: opened with a single-use ticket (never the session token), it pushes the queue as it
changes, a watched chat's messages and the supplier typing."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

WS = "/api/v1/agent/ws"


def ticket(client, headers) -> str:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/agent/ws-ticket", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["ticket"]


def receive_until(ws, predicate, frames: int = 30) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The first frame matching `predicate` (the server also sends the queue every few seconds)."""
    for _ in range(frames):
        frame = ws.receive_json()
        if predicate(frame):
            return frame
    raise AssertionError("the expected frame did not come")


def test_a_supplier_gets_no_ticket(client, sign_in):
    refused = client.post("/api/v1/agent/ws-ticket", headers=sign_in("demo.supplier"))
    assert refused.status_code == 403 and refused.json()["rule"] == "agent_only"


def test_the_queue_and_a_watched_chat_arrive_live(client, agent, start_chat):
    with client.websocket_connect(WS) as ws:
        ws.send_json({"type": "hello", "ticket": ticket(client, agent)})
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["agent"]["user_id"] == "demo.agent"
        chat = start_chat()
        chat.handoff(reason="not_understood")
        frame = receive_until(
            ws, lambda f: f["type"] == "queue" and any(i["conversation_id"] == chat.id for i in f["queue"]["items"])
        )
        (item,) = [i for i in frame["queue"]["items"] if i["conversation_id"] == chat.id]
        assert item["reason"] == "not_understood"

        ws.send_json({"type": "watch", "conversation_id": chat.id, "after": 0})
        backlog = receive_until(ws, lambda f: f["type"] == "message" and f["message"]["sender"] == "system")
        assert backlog["conversation_id"] == chat.id and backlog["message"]["seq"] == 1
        claimed = client.post(f"/api/v1/agent/handoffs/{item['handoff_id']}/claim", headers=agent)
        assert claimed.status_code == 200
        receive_until(ws, lambda f: f["type"] == "status" and f["status"] == "with_agent")
        chat.say("Is anyone there?")
        said = receive_until(ws, lambda f: f["type"] == "message" and f["message"]["sender"] == "user")
        assert said["message"]["text"] == "Is anyone there?"
        client.post(chat.url("/typing"), json={"on": True}, headers=chat.headers)
        typing = receive_until(ws, lambda f: f["type"] == "typing")
        assert typing == {"type": "typing", "conversation_id": chat.id, "on": True}
        ws.send_json({"type": "ping"})
        receive_until(ws, lambda f: f["type"] == "pong")


def test_a_ticket_opens_one_socket_only(client, agent):
    used = ticket(client, agent)
    with client.websocket_connect(WS) as ws:
        ws.send_json({"type": "hello", "ticket": used})
        assert ws.receive_json()["type"] == "ready"
    with client.websocket_connect(WS) as ws:
        ws.send_json({"type": "hello", "ticket": used})
        frame = ws.receive_json()
        assert frame["rule"] == "ticket_invalid"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401


@pytest.mark.parametrize("hello", [{"type": "hello"}, {"type": "watch"}, {"token": "session token?"}])
def test_without_a_ticket_the_socket_closes(hello, client, sign_in):
    with client.websocket_connect(WS) as ws:
        ws.send_json(hello)
        assert ws.receive_json()["rule"] == "hello_required"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4400


def test_a_session_token_is_not_a_ticket(client, agent):
    with client.websocket_connect(WS) as ws:
        ws.send_json({"type": "hello", "ticket": agent["Authorization"].removeprefix("Bearer ")})
        assert ws.receive_json()["rule"] == "ticket_invalid"
