"""CPU per relayed turn of two HTTP clients, side by side in one run: httpx.AsyncClient (the relay's
first client) and aiohttp.ClientSession (its client now, api/chat/relay.py).

`python -m bench.relay_client` POSTs a turn-sized body to a local server that answers like Rasa's REST
channel, through one kept-open client of each kind, in alternating rounds; it prints the CPU time of
the client's thread per request (the server runs in another thread) and the wall time. Kept to show why
the relay uses aiohttp: in the chat benchmark the API shares two cores with Rasa, so the relay's CPU is
latency (bench/results/chat-profile.md).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

from bench.common import RASA_ANSWER, serve_rasa_stand_in

BODY = {
    "sender": "x" * 43,
    "message": "how big can my pdf be",
    "metadata": {"prechat": {"first_name": "Dana", "bidder_number": "12345"}, "signed_in": False},
}


async def _measure(requests: int, rounds: int, url: str) -> list[tuple[str, float, float]]:
    results = []
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=3.0)) as hx,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=3)) as ah,
    ):

        async def with_httpx() -> Any:
            return (await hx.post(url, json=BODY)).json()

        async def with_aiohttp() -> Any:
            async with ah.post(url, json=BODY) as response:
                return await response.json()

        clients: list[tuple[str, Callable[[], Awaitable[Any]]]] = [("httpx", with_httpx), ("aiohttp", with_aiohttp)]
        for _ in range(rounds):
            for name, post in clients:
                for _ in range(50):  # warm up: connection open, code paths loaded
                    assert await post() == RASA_ANSWER
                cpu, wall = time.thread_time(), time.perf_counter()
                for _ in range(requests):
                    await post()
                results.append((name, (time.thread_time() - cpu) / requests, (time.perf_counter() - wall) / requests))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_client")
    parser.add_argument("--requests", type=int, default=2000, help="Requests per client per round.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds of the two clients.")
    parser.add_argument("--port", type=int, default=5999)
    args = parser.parse_args(argv)
    server = serve_rasa_stand_in(args.port)
    try:
        url = f"http://127.0.0.1:{args.port}/webhooks/rest/webhook"
        results = asyncio.run(_measure(args.requests, args.rounds, url))
    finally:
        server.should_exit = True
    print("| client | client CPU per request, ms | wall per request, ms |\n|---|---|---|")
    for name in ("httpx", "aiohttp"):
        mine = [r for r in results if r[0] == name]
        cpu = sorted(r[1] for r in mine)[len(mine) // 2] * 1000
        wall = sorted(r[2] for r in mine)[len(mine) // 2] * 1000
        print(f"| {name} | {cpu:.3f} | {wall:.3f} |")
    by = {name: sorted(r[1] for r in results if r[0] == name)[args.rounds // 2] for name in ("httpx", "aiohttp")}
    print(f"\nhttpx / aiohttp CPU per request: {by['httpx'] / by['aiohttp']:.1f}x (median of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
