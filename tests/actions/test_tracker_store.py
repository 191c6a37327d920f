"""The tracker store Rasa runs with (bot/tracker_store.py), on real SQLite and PostgreSQL databases.

What a supplier would notice if it were wrong: the assistant forgetting or repeating part of the
conversation, above all when two Rasa servers share it (the scaled layout), or after a new session began.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.tracker_store import CachedSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")
CLASS_PATH = "bot.tracker_store.CachedSQLTrackerStore"  # what stack/rasa_config.py writes (tests/stack too)


@pytest.fixture(scope="module")
def bot_domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    """Keyword arguments of a tracker store on a fresh database, as endpoints.yml gives them."""
    if request.param == "sqlite":
        yield {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
        return
    name = f"cbp_tracker_{uuid.uuid4().hex[:8]}"
    yield {"dialect": "postgresql", "host": "127.0.0.1", "port": 5432, "db": name, "login_db": "postgres"}
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def store(bot_domain: Domain, database: dict[str, object], **kwargs: object) -> CachedSQLTrackerStore:
    created = CachedSQLTrackerStore(domain=bot_domain, **database, **kwargs)  # type: ignore[arg-type]
    return created


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def turn(tracker: DialogueStateTracker, text: str, intent: str, answer: str) -> None:
    """What one message adds to a tracker: the supplier's words, the bot's answer, the wait for the next."""
    tracker.update(UserUttered(text, intent={"name": intent, "confidence": 0.98}))
    tracker.update(ActionExecuted(f"utter_{intent}"))
    tracker.update(BotUttered(answer))
    tracker.update(ActionExecuted("action_listen"))


def new_session(tracker: DialogueStateTracker) -> None:
    """Events in the order and with the timestamps Rasa's processor logs them: the action's SessionStarted
    is made while it runs, before the ActionExecuted logged for it (which comes first in the list)."""
    time.sleep(0.01)
    session = SessionStarted()
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(session)
    tracker.update(ActionExecuted("action_listen"))


def started(sender_id: str, bot_domain: Domain) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender_id, bot_domain.slots)
    new_session(tracker)
    return tracker


def saved(into: SQLTrackerStore, sender_id: str, bot_domain: Domain, *said: str) -> DialogueStateTracker:
    """A conversation's first turn (`said`: text, intent, answer; a greeting by default), saved in `into`."""
    text, intent, answer = said or ("hi", "greet", "Hello.")
    tracker = started(sender_id, bot_domain)
    turn(tracker, text, intent, answer)
    run(into.save(tracker))
    return tracker


def stored_events(tracker: DialogueStateTracker) -> list[dict]:
    return [event.as_dict() for event in tracker.events]


def rebuilt(bot_domain: Domain, database: dict[str, object], sender_id: str) -> DialogueStateTracker:
    """The tracker as Rasa's own SQL tracker store rebuilds it from the database."""
    plain = SQLTrackerStore(domain=bot_domain, **database)  # type: ignore[arg-type]
    tracker = run(plain.retrieve(sender_id))
    plain.engine.dispose()
    assert tracker is not None
    return tracker


def test_the_next_message_gets_the_saved_tracker_and_it_matches_the_database(bot_domain, database):
    one = store(bot_domain, database)
    tracker = saved(one, "c1", bot_domain, "how do I upload", "ask_upload", "Use the Upload button.")

    again = run(one.retrieve("c1"))

    assert again is tracker
    assert (one.reused, one.rebuilt) == (1, 0)
    assert stored_events(again) == stored_events(rebuilt(bot_domain, database, "c1"))
    assert again.latest_message.intent["name"] == "ask_upload"


def stored_rows(store: SQLTrackerStore, sender_id: str) -> list[tuple]:
    table = store.SQLEvent.__table__
    query = sa.select(table.c.type_name, table.c.timestamp, table.c.intent_name, table.c.action_name, table.c.data)
    with store.engine.connect() as conn:
        return list(conn.execute(query.where(table.c.sender_id == sender_id).order_by(table.c.id)))


def test_it_stores_the_rows_rasas_own_store_writes(bot_domain, database):
    """Its saving skips Rasa's count of the stored events; what it writes must not differ."""
    cached, plain = store(bot_domain, database), SQLTrackerStore(domain=bot_domain, **database)  # type: ignore[arg-type]
    first = started("x", bot_domain)
    turn(first, "hi", "greet", "Hello.")
    run(plain.save(DialogueStateTracker.from_events("plain", list(first.events), bot_domain.slots)))
    run(cached.save(DialogueStateTracker.from_events("cached", list(first.events), bot_domain.slots)))
    later = DialogueStateTracker("later", bot_domain.slots)
    turn(later, "bidder 67890", "inform", "Thanks.")
    later.update(SlotSet("bidder_number", "67890"))
    for name, into in (("plain", plain), ("cached", cached)):
        tracker = run(into.retrieve(name))
        for event in later.events:
            tracker.update(event)
        run(into.save(tracker))

    assert len(stored_rows(plain, "plain")) == len(first.events) + len(later.events)
    assert stored_rows(cached, "cached") == stored_rows(plain, "plain")
    plain.engine.dispose()


def test_a_turn_answered_by_another_server_is_not_missed(bot_domain, database):
    first, second = store(bot_domain, database), store(bot_domain, database)
    tracker = saved(first, "c2", bot_domain)  # the first server keeps it

    elsewhere = run(second.retrieve("c2"))  # the next message goes to the second server
    turn(elsewhere, "bidder 12345", "inform", "Thanks.")
    elsewhere.update(SlotSet("bidder_number", "12345"))
    run(second.save(elsewhere))

    back = run(first.retrieve("c2"))  # and the one after to the first again

    assert back is not tracker
    assert back.latest_message.text == "bidder 12345"
    assert back.get_slot("bidder_number") == "12345"
    assert stored_events(back) == stored_events(rebuilt(bot_domain, database, "c2"))
    assert first.rebuilt == 1


def test_a_kept_tracker_is_handed_out_once(bot_domain, database):
    one = store(bot_domain, database)
    tracker = saved(one, "c3", bot_domain, "hours?", "ask_hours", "9 to 5:30 Eastern.")

    first, second = run(one.retrieve("c3")), run(one.retrieve("c3"))

    assert first is tracker and second is not tracker
    assert stored_events(second) == stored_events(first)


def test_a_session_begun_during_the_turn_is_rebuilt_with_that_session_only(bot_domain, database):
    one = store(bot_domain, database)
    tracker = saved(one, "c4", bot_domain)
    tracker = run(one.retrieve("c4"))
    new_session(tracker)  # the supplier came back after the session expired
    turn(tracker, "thanks", "thank", "You're welcome.")
    run(one.save(tracker))

    again = run(one.retrieve("c4"))

    assert again is not tracker
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["thanks"]
    assert stored_events(again) == stored_events(rebuilt(bot_domain, database, "c4"))


def test_the_least_recently_used_conversations_leave_the_cache(bot_domain, database):
    one = store(bot_domain, database, cached_conversations=2)
    trackers = {sender: saved(one, sender, bot_domain) for sender in ("a", "b", "c")}

    assert run(one.retrieve("a")) is not trackers["a"]
    assert run(one.retrieve("b")) is trackers["b"]
    assert run(one.retrieve("c")) is trackers["c"]


def test_zero_cached_conversations_rebuilds_every_time(bot_domain, database):
    one = store(bot_domain, database, cached_conversations=0)
    tracker = saved(one, "c5", bot_domain)

    again = run(one.retrieve("c5"))

    assert again is not tracker
    assert stored_events(again) == stored_events(tracker)
    assert (one.reused, one.rebuilt) == (0, 1)


def test_the_endpoints_section_rasa_reads_builds_this_store(bot_domain, tmp_path):
    """Rasa falls back to an in-memory store, with only a warning, when it cannot import the class."""
    config = EndpointConfig.from_dict(
        {"type": CLASS_PATH, "cached_conversations": 8, "dialect": "sqlite", "db": str(tmp_path / "t.db")}
    )

    created = create_tracker_store(config, bot_domain)

    assert isinstance(created, CachedSQLTrackerStore)
    assert created.cached_conversations == 8
