"""Delivery: in-process publish/subscribe per conversation, the one place that pushes to open chats.

Every event is stored first (messages in the database) and only then published here, so a client
that was not connected when it happened still gets it: it asks for what came after the last sequence
number it saw. Subscribers are the widget's WebSocket connections and HTTP long-polls of this API
process; `publish` may be called from any thread (the sync services run in a worker thread). An agent
console (issue 6) publishes agent messages and status changes through the same `hub`.

With several API processes, one process does not see another's publications; the WebSocket loop
therefore also re-reads the database every `SYNC_SECONDS`, so nothing is missed, only later.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from typing import Any

Event = dict[str, Any]


class Subscription:
    """The queue of events for one connection (or one long-poll) to one conversation."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=1_000)

    def put(self, event: Event) -> None:
        """Queue an event from any thread; a connection too slow to keep up re-reads the database instead."""

        def _put() -> None:
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(event)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            _put()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(_put)

    async def get(self, timeout: float) -> Event | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class Hub:
    """Subscriptions by conversation, and whether the assistant is composing an answer in each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[str, set[Subscription]] = defaultdict(set)
        self._typing: dict[str, int] = defaultdict(int)

    def subscribe(self, conversation_id: str) -> Subscription:
        """A new subscription (call from the event loop that will read it)."""
        subscription = Subscription(conversation_id)
        with self._lock:
            self._subscriptions[conversation_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            subs = self._subscriptions.get(subscription.conversation_id)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._subscriptions[subscription.conversation_id]

    def publish(self, conversation_id: str, event: Event) -> None:
        """Push an event to every subscriber of the conversation (store it first if it must survive)."""
        with self._lock:
            subs = list(self._subscriptions.get(conversation_id, ()))
        for subscription in subs:
            subscription.put(event)

    def subscriber_count(self, conversation_id: str) -> int:
        with self._lock:
            return len(self._subscriptions.get(conversation_id, ()))

    def set_typing(self, conversation_id: str, on: bool) -> None:
        """Say that the assistant started (or stopped) composing; nested turns are counted."""
        with self._lock:
            self._typing[conversation_id] += 1 if on else -1
            now_on = self._typing[conversation_id] > 0
            if not now_on:
                del self._typing[conversation_id]
        self.publish(conversation_id, {"type": "typing", "on": now_on})

    def is_typing(self, conversation_id: str) -> bool:
        with self._lock:
            return self._typing.get(conversation_id, 0) > 0


SYNC_SECONDS = 5.0
"""How often an open WebSocket re-reads the database for messages another process stored."""

hub = Hub()
