"""Many requests at once never wait out the database pool (the 50-chat start of the chat benchmark).

Sync dependencies that read the database run in one worker thread and the route in another. A request
that kept its pooled connection across that hop held it while waiting for a thread; with every thread
busy waiting for a connection, requests waited out the pool timeout and were answered 503. The API is
run here with a pool of two connections and more requests at once than it has worker threads, for the
routes a chat and a signed-in supplier use most: each must answer 200.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.chat.conftest import PRECHAT
from tests.conftest import _clear_caches

# More than the 40 worker threads of the API's thread pool, so that threads run out before connections do.
REQUESTS = 80


@pytest.fixture
def small_pool_app(app_env: dict[str, str], demo_data: None) -> Iterator[object]:
    from api.main import create_app

    small = {"DATABASE_POOL_SIZE": "2", "DATABASE_MAX_OVERFLOW": "0", "DATABASE_POOL_TIMEOUT": "5"}
    old = {k: os.environ.get(k) for k in small}
    os.environ.update(small)
    _clear_caches()
    try:
        yield create_app()
    finally:
        from api.database import get_engine

        get_engine().dispose()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _clear_caches()


def _burst(app: object, requests: list[tuple[str, str, dict[str, str]]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            return await asyncio.gather(*(client.request(m, url, headers=h) for m, url, h in requests))

    return asyncio.run(run())


def _describe(responses: list[httpx.Response]) -> str:
    bad = [r for r in responses if r.status_code != 200]
    return f"{len(bad)} of {len(responses)} failed, e.g. {bad[0].status_code} {bad[0].text[:200]}" if bad else ""


def test_signed_in_requests_at_once_all_answer(small_pool_app: object, sign_in) -> None:  # type: ignore[no-untyped-def]
    headers = sign_in("demo.supplier")
    responses = _burst(small_pool_app, [("GET", "/api/v1/me", headers)] * REQUESTS)
    assert all(r.status_code == 200 for r in responses), _describe(responses)
    assert {r.json()["user_id"] for r in responses} == {"demo.supplier"}


def test_chat_requests_at_once_all_answer(small_pool_app: object, app) -> None:  # type: ignore[no-untyped-def]
    # Start one chat through the normal app (its pool is the default one), then read it 80 times at once.
    with TestClient(app) as client:
        started = client.post(
            "/api/v1/chat/conversations",
            json={"prechat": PRECHAT},
        )
    assert started.status_code == 201, started.text
    body = started.json()
    headers = {"X-Chat-Token": body["client_token"]}
    url = f"/api/v1/chat/conversations/{body['conversation_id']}"
    responses = _burst(small_pool_app, [("GET", url, headers)] * REQUESTS)
    assert all(r.status_code == 200 for r in responses), _describe(responses)
    assert {r.json()["conversation_id"] for r in responses} == {body["conversation_id"]}
