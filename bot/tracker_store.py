"""Rasa's SQL tracker store, keeping each conversation's tracker in memory between its turns.

Rasa's `SQLTrackerStore` rebuilds a conversation's tracker from the database on every message: it reads
every event of the session, parses each one's JSON and replays them all. On a seven-turn conversation that
was 14 % of Rasa's CPU per turn (py-spy, bench/results/chat-profile.md), and it grows with the conversation.

This store keeps the tracker it has just saved and hands it back at the conversation's next message when
the database holds no newer event for the conversation, which one indexed query checks (`max(id)` of the
conversation's events). So a turn answered in between by another Rasa server of the scaled layout is never
missed: its events are newer, and the tracker is rebuilt from the database as before. The same happens
after a restart, for a conversation this server has not seen, and for one evicted from the cache (the least
recently used go first beyond `cached_conversations`; 0 turns the cache off).

What makes handing back the kept object safe, all of it guaranteed by Rasa already:
- the lock store lets one server process one message of a conversation at a time, and the tracker is
  saved as the last step of each message;
- events are only ever appended, and their ids only grow;
- a tracker is kept only if it holds exactly the events a rebuild would give: those from its latest
  `SessionStarted` on (not one where a new session began during the turn, which still holds the old
  session's events; the next message rebuilds it).
A kept tracker is taken out of the cache when it is handed out, so no two callers ever share one.

Saving skips two queries of Rasa's: the count of the session's stored events (a tracker this store handed
out holds exactly those, so it knows the count) and, for the cache, the newest id (the insert gives it).

Used in the tracker store section of endpoints.yml, which stack/rasa_config.py writes:
`type: bot.tracker_store.CachedSQLTrackerStore`.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

DEFAULT_CACHED_CONVERSATIONS = 256


def holds_one_session(tracker: DialogueStateTracker) -> bool:
    """Whether the tracker holds exactly what SQLTrackerStore.retrieve would rebuild for it: every event
    from the latest SessionStarted's timestamp on (all events if there is none), and no earlier one."""
    starts = [event.timestamp for event in tracker.events if isinstance(event, SessionStarted)]
    return not starts or all(event.timestamp >= starts[-1] for event in tracker.events)


class CachedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that reuses the tracker it saved last for a conversation when nothing newer is stored."""

    def __init__(self, *args: Any, cached_conversations: int = DEFAULT_CACHED_CONVERSATIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cached_conversations = max(0, int(cached_conversations))
        # conversation id -> (id of its newest stored event, the tracker saved with it); oldest use first
        self._kept: OrderedDict[str, tuple[int, DialogueStateTracker]] = OrderedDict()
        # conversation id -> (the tracker handed out for it, how many of its events are stored)
        self._handed_out: OrderedDict[str, tuple[DialogueStateTracker, int]] = OrderedDict()
        self.reused = 0
        self.rebuilt = 0

    def _newest_event_id(self, sender_id: str) -> Optional[int]:
        with self.session_scope() as session:
            return session.query(sa.func.max(self.SQLEvent.id)).filter(self.SQLEvent.sender_id == sender_id).scalar()

    @staticmethod
    def _remember(cache: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
        cache[key] = value
        while len(cache) > size:
            cache.popitem(last=False)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        kept = self._kept.pop(sender_id, None)
        tracker: Optional[DialogueStateTracker] = None
        if kept is not None:
            newest_kept, tracker = kept
            if self._newest_event_id(sender_id) != newest_kept:
                logger.debug("Conversation %s has newer events than the kept tracker; rebuilding it.", sender_id)
                tracker = None
        if tracker is not None:
            self.reused += 1
        else:
            self.rebuilt += 1
            tracker = await super().retrieve(sender_id)
        if tracker is not None and self.cached_conversations > 0:
            # Either way it holds exactly the session's stored events, so save() need not count them.
            self._remember(self._handed_out, sender_id, (tracker, len(tracker.events)), self.cached_conversations)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        sender_id = tracker.sender_id
        self._kept.pop(sender_id, None)
        handed = self._handed_out.pop(sender_id, None)
        if handed is not None and handed[0] is tracker and self.event_broker is None:
            newest = self._append(tracker, stored=handed[1])
        else:  # a new conversation, or events to stream: Rasa's own way, which counts what is stored
            await super().save(tracker)
            newest = None
        if self.cached_conversations == 0 or not holds_one_session(tracker):
            return
        if newest is None:
            newest = self._newest_event_id(sender_id)
        if newest is not None:
            self._remember(self._kept, sender_id, (newest, tracker), self.cached_conversations)

    def _append(self, tracker: DialogueStateTracker, stored: int) -> Optional[int]:
        """Store the tracker's events after the first `stored`, with the columns SQLTrackerStore.save writes;
        the id of the newest one (None when there was nothing to store)."""
        rows = []
        for event in itertools.islice(tracker.events, stored, None):
            data = event.as_dict()
            rows.append(
                self.SQLEvent(
                    sender_id=tracker.sender_id,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"),
                    data=json.dumps(data),
                )
            )
        if not rows:
            return None
        with self.session_scope() as session:
            session.add_all(rows)
            session.flush()  # assigns the ids
            newest = int(rows[-1].id)
            session.commit()
        return newest
