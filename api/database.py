"""Engine, sessions and the declarative base, created lazily from the settings."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from api.config import get_settings

# Stable constraint names so that Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20, pool_timeout: float = 30) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout for concurrent writers."""
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    # hide_parameters: SQL logs and error messages never show bound values (password hashes, outbox bodies).
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True, **pool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, hide_parameters=True, **pool)
    _ping_idle_connections(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 10.0


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection before use when it sat idle for a while, not on every checkout.

    `pool_pre_ping` costs a round trip to PostgreSQL on every checkout: two per chat turn, 3 % of the
    API's samples in the chat benchmark. A connection in steady use is known to be alive; one that sat
    idle may have been dropped (a database restart, a firewall) and is pinged, and replaced when the
    ping fails. A connection that breaks while in use is still caught: SQLAlchemy then invalidates the
    whole pool, so only the operation that met it fails.
    """

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # new, or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the driver's error: the pool retries with a new connection
            raise DisconnectionError("an idle pooled connection was dropped") from exc
        if not alive:
            raise DisconnectionError("an idle pooled connection was dropped")


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
    )


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


T = TypeVar("T")

# One gate per event loop (the API has one; tests start several in turn).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def connection_slot() -> AsyncIterator[None]:
    """A turn at the database: at most as many at once as the pool has connections.

    Waiting happens here, on the event loop, not in a worker thread. A worker thread that waited for a
    pooled connection held the thread, while the requests holding the connections waited for a thread to
    finish their work (FastAPI runs each sync dependency, the route and its response validation in turn
    in the thread pool): with 50 chats starting at once nothing moved until the pool timed out (503s).
    With every database user passing this gate first, a thread never waits for a connection.
    """
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        settings = get_settings()
        gate = _gates[loop] = asyncio.Semaphore(settings.database_pool_size + settings.database_max_overflow)
    try:
        await asyncio.wait_for(gate.acquire(), get_settings().database_pool_timeout)
    except TimeoutError:
        # The same error as a pool that timed out: answered 503 "try again in a minute".
        raise PoolTimeoutError("Every database connection stayed busy for the pool timeout.") from None
    try:
        yield
    finally:
        gate.release()


async def get_db() -> AsyncIterator[Session]:
    """The request's session, opened and closed on the event loop, not in a worker thread.

    The request first waits its turn at the database (`connection_slot`); a sync dependency would need a
    worker thread of its own just to close the session and give its connection back.
    """
    async with connection_slot():
        session = get_sessionmaker()()
        try:
            yield session
        finally:
            session.close()


def get_autocommit_sessionmaker() -> sessionmaker[Session]:
    """Sessions whose statements each commit on their own on PostgreSQL (on SQLite: ordinary sessions).

    For work whose every write is a single statement there (a chat turn's: `append_messages`): psycopg
    sends BEGIN in a round trip of its own, and COMMIT is another, two of the five round trips of storing
    the bot's answer.
    """
    return _autocommit_sessionmaker(get_engine())


@lru_cache(maxsize=4)
def _autocommit_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    if engine.dialect.name == "postgresql":
        return sessionmaker(bind=engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
    return get_sessionmaker()


async def in_db(fn: Callable[..., T], /, *, autocommit: bool = False, **kwargs: Any) -> T:
    """Run a keyword-only function `fn(db=..., **kwargs)` in a worker thread with a short session of its own.

    `autocommit`: the session of `get_autocommit_sessionmaker`, for functions written for it.
    """
    sessions = get_autocommit_sessionmaker() if autocommit else get_sessionmaker()

    def _call() -> T:
        with sessions() as db:
            return fn(db=db, **kwargs)

    async with connection_slot():
        return await run_in_threadpool(_call)


SessionDep = Annotated[Session, Depends(get_db)]
