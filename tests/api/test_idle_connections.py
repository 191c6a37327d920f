"""Pooled PostgreSQL connections are checked before use only after sitting idle (api/database.py).

A connection the server dropped while it sat in the pool (a database restart, a firewall timeout) is
replaced on checkout instead of failing the supplier's request; one in steady use is not pinged, which
saves a round trip per checkout (two per chat turn).
"""

from __future__ import annotations

import os

import psycopg
import pytest
from sqlalchemy.engine import make_url

from api import database
from stack.localhost import LOCAL_POSTGRES

POSTGRES = os.environ.get("DATABASE_URL", "")
if not POSTGRES.startswith("postgresql"):
    POSTGRES = LOCAL_POSTGRES


def _terminate(backend_pid: int) -> None:
    url = make_url(POSTGRES)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database, autocommit=True
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))


def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


@pytest.fixture
def engine():  # type: ignore[no-untyped-def]
    engine = database.make_engine(POSTGRES, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(engine, monkeypatch):
    first = _backend_pid(engine)
    _terminate(first)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle long enough
    second = _backend_pid(engine)  # no error: the ping found it dead and the pool opened a new one
    assert second != first


def test_a_connection_in_steady_use_is_not_pinged(engine, monkeypatch):
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    first = _backend_pid(engine)
    assert _backend_pid(engine) == first  # the same pooled connection, reused at once
    assert pings == []
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _backend_pid(engine) == first
    assert len(pings) == 1
