"""The relay's own cost per chat turn, without Rasa's: `python -m bench.relay_overhead`.

The API runs as in `make run` (uvicorn, its own process, PostgreSQL) and relays to a stand-in for Rasa's
REST channel that answers at once with two messages, so everything measured is the relay's work: the
WebSocket frame in, storing the turn, the POST to Rasa, storing and publishing the answer. In the same
run, the same turns are POSTed straight to the stand-in (what Rasa's REST channel alone would cost a
client). Reported: p50/p95 time to the first message of the answer on both paths, their difference
(the relay's overhead), and the API's CPU per turn. Turns are sent one after another by one client:
the figure is the relay's latency on an otherwise idle machine, the quantity the chat benchmark's
"relay adds at most 10 % to p50" target is about (bench/results/chat-profile.md).

`--pause SECONDS` waits that long before each turn on both paths, as a supplier does while reading and
typing: every process a turn goes through (the API, its worker threads, PostgreSQL's backend, the
connection to Rasa) is then idle when the turn arrives, which back-to-back turns never see.

`--baseline REVISION` runs the API of an earlier commit beside the working tree's, each on its own fresh
database, in rounds of rotating order against the same stand-in: a before/after in one run, as the
machine's load drifts (both with this tree's uvicorn options, stack.services.API_SERVER_OPTIONS).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
from websockets.sync.client import connect

from bench.chat_bench import fresh_database
from bench.chat_client import PRECHAT
from bench.common import RASA_ANSWER, export_revision, serve_rasa_stand_in
from stack.localhost import free_port, wait_healthy
from stack.services import API_SERVER_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
TURNS_PER_CHAT = 15


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _relay_turns(api: str, turns: int, pause: float = 0.0) -> list[float]:
    """Turns through the chat WebSocket, in chats of TURNS_PER_CHAT (below the per-minute limit)."""
    times: list[float] = []
    while len(times) < turns:
        times += _one_chat(api, min(TURNS_PER_CHAT, turns - len(times)), pause)
    return times


_chats = itertools.count()


def _one_chat(api: str, turns: int, pause: float) -> list[float]:
    # Each chat from its own loopback address, as suppliers do: the limit on new chats is per address.
    index = next(_chats)
    address = f"127.0.{1 + index // 250}.{1 + index % 250}"
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30) as client:
        started = client.post(f"{api}/api/v1/chat/conversations", json={"prechat": PRECHAT})
    started.raise_for_status()
    chat = started.json()
    ws_url = api.replace("http://", "ws://") + f"/api/v1/chat/conversations/{chat['conversation_id']}/ws"
    times = []

    def wait_for(ws: Any, seq: int) -> None:
        while True:
            frame = json.loads(ws.recv(timeout=30))
            if frame["type"] == "message" and frame["message"]["seq"] >= seq:
                return

    with connect(ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "token": chat["client_token"], "after": 0}))
        wait_for(ws, len(RASA_ANSWER))  # the greeting: every measured turn starts with nothing in flight
        for _ in range(turns):
            time.sleep(pause)
            sent = time.perf_counter()
            ws.send(json.dumps({"type": "message", "client_message_id": uuid.uuid4().hex, "text": "how big a pdf?"}))
            while (frame := json.loads(ws.recv(timeout=30)))["type"] != "ack":
                pass
            wait_for(ws, frame["seq"] + 1)  # the answer's first message
            times.append(time.perf_counter() - sent)
            wait_for(ws, frame["seq"] + len(RASA_ANSWER))  # and the rest, before the next turn
    return times


def _floor_turns(rasa: str, turns: int, pause: float = 0.0) -> list[float]:
    times = []
    with httpx.Client(timeout=30) as client:
        for _ in range(turns):
            time.sleep(pause)
            sent = time.perf_counter()
            response = client.post(f"{rasa}/webhooks/rest/webhook", json={"sender": "x", "message": "how big a pdf?"})
            assert response.json() == RASA_ANSWER
            times.append(time.perf_counter() - sent)
    return times


@contextmanager
def _api(label: str, code: Path, database_url: str, rasa_port: int, tmp: Path) -> Iterator[tuple[str, psutil.Process]]:
    """The API of the tree at `code` (migrated on its own fresh database), as `make run` starts it."""
    api_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RASA_PORT": str(rasa_port),
        "API_PORT": str(api_port),
        "STORAGE_DIR": str(tmp / f"storage-{label}"),
        "PYTHONPATH": str(code),
    }
    subprocess.run([sys.executable, "-m", "api.manage", "migrate"], env=env, cwd=code, check=True)
    argv_api = [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(api_port), "--log-level", "warning"]
    process = subprocess.Popen([*argv_api, *API_SERVER_OPTIONS], env=env, cwd=code)
    api = f"http://127.0.0.1:{api_port}"
    try:
        wait_healthy(api, process, f"API ({label})")
        yield api, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_overhead")
    parser.add_argument("--turns", type=int, default=300, help="Turns per path per round.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds of the paths.")
    parser.add_argument("--sqlite", action="store_true", help="Use SQLite, not PostgreSQL.")
    parser.add_argument("--pause", type=float, default=0.0, help="Seconds of idle before each turn (both paths).")
    parser.add_argument(
        "--baseline", metavar="REVISION", help="Also run the API of this git revision, side by side (before/after)."
    )
    parser.add_argument("--profile", type=Path, help="Record the API with py-spy (collapsed stacks to this file).")
    args = parser.parse_args(argv)

    rasa_port = free_port()
    fake = serve_rasa_stand_in(rasa_port)
    floor_url = f"http://127.0.0.1:{rasa_port}"
    labels = ["this tree"] + ([args.baseline] if args.baseline else [])
    relay: dict[str, list[float]] = {label: [] for label in labels}
    cpu_per_turn: dict[str, list[float]] = {label: [] for label in labels}
    floor: list[float] = []
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        apis = {}
        for index, label in enumerate(labels):
            code = ROOT if index == 0 else export_revision(label, tmp / f"tree-{label}")
            (tmp / f"db-{index}").mkdir()
            database_url = stack.enter_context(fresh_database(args.sqlite, tmp / f"db-{index}"))
            apis[label] = stack.enter_context(_api(f"api-{index}", code, database_url, rasa_port, tmp))
        spy = None
        if args.profile:
            args.profile.parent.mkdir(parents=True, exist_ok=True)
            py_spy = str(Path(sys.executable).parent / "py-spy")
            pid = str(apis[labels[0]][1].pid)
            spy_argv = [py_spy, "record", "--pid", pid, "--format", "raw", "--rate", "500"]
            spy = subprocess.Popen([*spy_argv, "--output", str(args.profile)], stdout=subprocess.DEVNULL)
        for api, _ in apis.values():
            _relay_turns(api, 20)  # warm up
        _floor_turns(floor_url, 20)
        for round_index in range(args.rounds):
            # The order rotates, so that a change in the machine's load hits every path alike.
            order = labels[round_index % len(labels) :] + labels[: round_index % len(labels)]
            for label in order:
                api, process = apis[label]
                before = sum(process.cpu_times()[:2])
                relay[label] += _relay_turns(api, args.turns, args.pause)
                cpu_per_turn[label].append((sum(process.cpu_times()[:2]) - before) / args.turns)
            floor += _floor_turns(floor_url, args.turns, args.pause)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    fake.should_exit = True
    ms = 1000
    print("| path | turns | p50 ms | p95 ms | overhead at p50 ms | API CPU per turn ms |\n|---|---|---|---|---|---|")
    for label in labels:
        times = relay[label]
        overhead = statistics.median(times) - statistics.median(floor)
        cpu = statistics.median(cpu_per_turn[label])
        print(
            f"| relay, {label} (API + stand-in Rasa) | {len(times)} | {ms * statistics.median(times):.2f} | "
            f"{ms * _percentile(times, 0.95):.2f} | {ms * overhead:.2f} | {ms * cpu:.2f} |"
        )
    print(
        f"| floor (stand-in Rasa alone) | {len(floor)} | {ms * statistics.median(floor):.2f} | "
        f"{ms * _percentile(floor, 0.95):.2f} | | |"
    )
    print(f"\nAPI CPU per turn: the median of {args.rounds} rounds; chat starts included.")
    print(f"Pause before each turn: {args.pause:g} s.")
    if args.baseline:
        mine, base = labels
        ratio = (statistics.median(relay[mine]) - statistics.median(floor)) / (
            statistics.median(relay[base]) - statistics.median(floor)
        )
        cpu = statistics.median(cpu_per_turn[mine]) / statistics.median(cpu_per_turn[base])
        print(f"This tree / {base}: overhead {ratio:.2f}, API CPU per turn {cpu:.2f}")


if __name__ == "__main__":
    main()
