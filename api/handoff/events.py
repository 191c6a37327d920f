"""Live events for the agent console: an in-process publish/subscribe like the chat's `hub`.

Channels: `QUEUE` (the queue changed: every console re-reads it), `agent:<user pk>` (a chat was transferred
to that agent) and `typing:<conversation id>` (the supplier is typing). Messages of a conversation travel
on the chat's own hub, which the agent WebSocket subscribes to as well.

With several API processes one process does not see another's publications; the agent WebSocket
therefore also re-reads the queue every few seconds, so nothing is missed, only later.
"""

from __future__ import annotations

from api.chat.delivery import Hub

QUEUE = "queue"

agent_hub = Hub()


def queue_changed() -> None:
    agent_hub.publish(QUEUE, {"type": "queue_changed"})


def assigned(agent_pk: int, *, handoff_id: int, conversation_id: str, by: str) -> None:
    agent_hub.publish(
        f"agent:{agent_pk}",
        {"type": "assigned", "handoff_id": handoff_id, "conversation_id": conversation_id, "by": by},
    )


def supplier_typing(conversation_id: str, on: bool) -> None:
    agent_hub.publish(f"typing:{conversation_id}", {"type": "typing", "conversation_id": conversation_id, "on": on})


def agents_online() -> int:
    """Agent consoles connected to this process (for the wait estimate)."""
    return agent_hub.subscriber_count(QUEUE)
