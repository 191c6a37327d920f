"""The async side of a turn: relay it to Rasa, store the answer, deliver it; shared by the WebSocket and
the HTTP fallback. Database work runs in a worker thread with a short-lived session of its own.

A turn is processed in a task of its own, not in the connection that brought it: when the client
drops in the middle of a bot reply, the reply is still stored, and the client gets it on reconnecting.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from sqlalchemy.orm import Session

from api.chat import relay, service
from api.chat.delivery import hub
from api.database import in_db

logger = logging.getLogger("api.chat")

_turn_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
_tasks: set[asyncio.Task[None]] = set()


def _turn_lock(conversation_id: str) -> asyncio.Lock:
    # One turn at a time per conversation, so replies come in the order of the turns.
    lock = _turn_locks.get(conversation_id)
    if lock is None:
        lock = asyncio.Lock()
        _turn_locks[conversation_id] = lock
    return lock


async def process_turn(conversation_id: str, message_id: int | None, job: service.RelayJob | None = None) -> None:
    """Relay a stored user turn (or the start of the chat when `message_id` is None) and deliver the answer.

    `job` is the relay job read in the transaction that accepted the turn; it is used only when no other
    turn of the conversation was in progress then (otherwise it is read again under the lock, as the
    conversation may have been handed to an agent meanwhile). It saves a database round trip and a
    worker-thread hop per turn, which the chat benchmark showed to matter on a busy machine.
    """
    lock = _turn_lock(conversation_id)
    if lock.locked():
        job = None
    async with lock:
        try:
            if job is None:
                job = await in_db(service.relay_job, conversation_id=conversation_id, message_id=message_id)
            if job is None:
                return
            hub.set_typing(conversation_id, True)
            try:
                replies = await relay.send_turn(
                    conversation_id=job.conversation_id, text=job.text, metadata=job.metadata
                )
            except relay.RasaUnavailable:
                notice = await in_db(_fail, job=job)
                service.deliver(conversation_id, [notice])
                return
            finally:
                hub.set_typing(conversation_id, False)
            stored = await in_db(_complete, autocommit=True, job=job, replies=replies)
            service.deliver(conversation_id, stored)
        except Exception:
            # The turn stays stored (pending); a resend after STALE_RELAY relays it again.
            logger.exception("Relaying a turn of a conversation failed")


def _fail(*, db: Session, job: service.RelayJob) -> Any:
    return service.fail_relay(db=db, job=job)


def _complete(*, db: Session, job: service.RelayJob, replies: list[relay.BotReply]) -> Any:
    return service.complete_relay(db=db, job=job, replies=replies)


def spawn_turn(conversation_id: str, message_id: int | None, job: service.RelayJob | None = None) -> None:
    """Process a turn in the background, independent of the connection that brought it."""
    task = asyncio.get_running_loop().create_task(process_turn(conversation_id, message_id, job))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def wait_for_turns() -> None:
    """Wait for the turns being processed (tests, and a clean shutdown)."""
    while _tasks:
        await asyncio.gather(*list(_tasks), return_exceptions=True)
