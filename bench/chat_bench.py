"""Chat benchmark: conversations through the public chat transport against the same turns sent straight to
Rasa's REST channel (the floor), at 1, 10 and 50 concurrent conversations.

    make bench-chat         # or: .venv/bin/python -m bench.chat_bench [--levels 1,10,50] [--sqlite] [--think 3]

It starts the real stack (`python -m stack run --no-train`) on free ports, on a fresh PostgreSQL database
(the production set-up; `--sqlite` for the default developer one), and runs every concurrency level
as relay, floor, floor, relay rounds (so that a change in the machine's load hits both paths alike).
By default each conversation is closed-loop: the next turn is sent as soon as the answer to the last one
arrived, so N conversations keep N turns in flight (a saturation test: far more load than N suppliers
make). With `--think SECONDS` each simulated supplier pauses between turns, reading the answer and typing
the next message, for a time drawn from an exponential distribution with that mean (seeded, so both
paths get the same pauses): the load N real suppliers make.
Results: bench/results/chat.md and chat-latency.png (closed loop), chat-paced.md and chat-latency-paced.png
(with think time).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import psutil

from bench.chat_client import (
    CONVERSATION,
    Supplier,
    TurnResult,
    demo_sessions,
    floor_conversation,
    relay_conversation,
)
from stack import paths
from stack.follow import wait_until_ready
from stack.localhost import LOCAL_POSTGRES as POSTGRES
from stack.localhost import free_port

RESULTS = paths.ROOT / "bench" / "results"
TARGET_RATIO = 1.10
TARGET_ACTION_P95_MS = 300.0
PATHS = ("relay", "floor")
ACTIONS: tuple[bool | None, ...] = (None, False, True)  # all turns, turns without and with custom actions


# --- the database and the stack -------------------------------------------------------------------------


@contextmanager
def fresh_database(sqlite: bool, tmp: Path) -> Iterator[str]:
    if sqlite:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(os.environ.get("BENCH_POSTGRES_URL", POSTGRES))
    name = f"cbp_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Stack:
    process: subprocess.Popen[str]
    api_url: str
    rasa_url: str
    rasa_token: str
    output: list[str] = field(default_factory=list)

    def rss(self) -> dict[str, float]:
        """Resident memory (MiB) of each service's process tree."""
        from bench.stack_bench import service_rss

        return service_rss(psutil.Process(self.process.pid))

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each service's process tree, and by this benchmark."""
        found: dict[str, float] = {}
        for child in psutil.Process(self.process.pid).children():
            cmd = " ".join(child.cmdline())
            name = "api" if "uvicorn" in cmd else "actions" if "rasa_sdk" in cmd else "rasa" if "rasa" in cmd else None
            if name:
                times = [p.cpu_times() for p in (child, *child.children(recursive=True))]
                found[name] = sum(t.user + t.system for t in times)
        me = psutil.Process().cpu_times()
        found["benchmark client"] = me.user + me.system
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_stack(
    database_url: str, storage: Path, extra_env: dict[str, str] | None = None, root: Path = paths.ROOT
) -> Stack:
    """The `make run` stack on free ports. For bench.rasa_variants: `extra_env`, settings or environment to
    change; `root`, another tree to run (an earlier commit's files, with this tree's environments and model)."""
    ports = {"API_PORT": free_port(), "RASA_PORT": free_port(), "ACTION_PORT": free_port()}
    env = (
        os.environ
        | (extra_env or {})
        | {k: str(v) for k, v in ports.items()}
        | {
            "DATABASE_URL": database_url,
            "STORAGE_DIR": str(storage),
            "RASA_AUTH_TOKEN": "chat-bench-rasa-token",
            "ACTION_SERVICE_TOKEN": "chat-bench-service-token",
            "LOG_LEVEL": "warning",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "stack", "run", "--no-train", "--quiet", "--timeout", "400"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = Stack(
        process,
        f"http://127.0.0.1:{ports['API_PORT']}",
        f"http://127.0.0.1:{ports['RASA_PORT']}",
        env["RASA_AUTH_TOKEN"],
    )
    if not wait_until_ready(process, stack.output):
        raise SystemExit("The stack did not start:\n" + "\n".join(stack.output[-30:]))
    return stack


SERVICE_MARKERS = {"api": "uvicorn", "rasa": "rasa_server run", "actions": "rasa_sdk"}


def start_profile(stack: Stack, out: Path, service: str = "api") -> subprocess.Popen[bytes]:
    """py-spy recording one service's process (CPU samples, all threads) until interrupted."""
    marker = SERVICE_MARKERS[service]
    target = next(c for c in psutil.Process(stack.process.pid).children() if marker in " ".join(c.cmdline()))
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    argv = [str(spy), "record", "--pid", str(target.pid), "--format", "raw", "--output", str(out), "--rate", "200"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- the load -------------------------------------------------------------------------------------------


@dataclass
class Round:
    path: str
    level: int
    results: list[TurnResult]
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds each service used in the round


class MemorySampler:
    """The highest resident memory of each service while the load runs."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak: dict[str, float] = defaultdict(float)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for name, mib in self.stack.rss().items():
                self.peak[name] = max(self.peak[name], mib)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def run_round(
    stack: Stack, path: str, level: int, conversations: int, tokens: list[str], think: float = 0.0
) -> Round:
    """`conversations` conversations, at most `level` at a time; `think`: mean pause between turns (s)."""
    suppliers = [Supplier(i, stack.api_url) for i in range(level)]
    rasa = httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=level))
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(conversations):
        queue.put_nowait(n)
    results: list[TurnResult] = []

    async def worker(supplier: Supplier) -> None:
        if think > 0:
            # Suppliers do not all press Enter in the same instant: each arrives at its own moment of the first
            # `think` seconds (seeded: the same moment on both paths).
            await asyncio.sleep(random.Random(10_000 + supplier.index).uniform(0, think))
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            token = tokens[supplier.index]
            # The same seed on both paths: supplier i pauses the same times through the relay and the floor.
            draws = random.Random(supplier.index)
            pause = partial(draws.expovariate, 1.0 / think) if think > 0 else 0.0
            if path == "relay":
                results.extend(await relay_conversation(supplier, token, between=pause))
            else:
                results.extend(await floor_conversation(supplier, token, stack.rasa_url, rasa, between=pause))

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(s) for s in suppliers))
    finally:
        await rasa.aclose()
        for supplier in suppliers:
            await supplier.close()
    # Wall time of the turns themselves (chat start-up and binding are not measured).
    if not results:
        return Round(path, level, results, time.perf_counter() - started)
    first = min(r.started for r in results)
    last = max(r.started + r.seconds for r in results)
    return Round(path, level, results, last - first)


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Figures:
    count: int
    failed: int
    p50: float
    p95: float
    p99: float
    rate: float  # turns per second


def figures(rounds: list[Round], action: bool | None) -> Figures:
    ms = []
    failed = 0
    seconds = sum(r.seconds for r in rounds)
    for rnd in rounds:
        for result in rnd.results:
            if action is not None and result.turn.action != action:
                continue
            if not result.ok:
                failed += 1
                continue
            ms.append(result.seconds * 1000)
    return Figures(len(ms) + failed, failed, pct(ms, 50), pct(ms, 95), pct(ms, 99), len(ms) / seconds if seconds else 0)


def ratio_interval(
    relay: list[TurnResult], floor: list[TurnResult], resamples: int = 2000, seed: int = 8
) -> tuple[float, float]:
    """A 95 % interval of relay p50 / floor p50, by resampling whole conversations of each path (a cluster
    bootstrap: the turns of one conversation are alike, so they are not resampled as if independent).
    Seeded, so the same results give the same interval."""
    draws = random.Random(seed)

    def by_conversation(results: list[TurnResult]) -> list[list[float]]:
        groups: dict[str, list[float]] = defaultdict(list)
        for result in results:
            if result.ok:
                groups[result.conversation_id].append(result.seconds)
        return list(groups.values())

    relay_groups, floor_groups = by_conversation(relay), by_conversation(floor)
    if not relay_groups or not floor_groups:
        return float("nan"), float("nan")

    def resampled_median(groups: list[list[float]]) -> float:
        return statistics.median([t for g in draws.choices(groups, k=len(groups)) for t in g])

    ratios = sorted(resampled_median(relay_groups) / resampled_median(floor_groups) for _ in range(resamples))
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


# --- the report -----------------------------------------------------------------------------------------


def outputs(think: float) -> tuple[str, str]:
    """The report's and the chart's file names in bench/results: paced runs do not overwrite closed-loop ones."""
    return ("chat-paced.md", "chat-latency-paced.png") if think > 0 else ("chat.md", "chat-latency.png")


def chart(levels: list[int], table: dict[tuple[int, str, bool | None], Figures], out: Path, subtitle: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, action, title in (
        (axes[0], False, "Turns without custom actions"),
        (axes[1], True, "Turns with custom actions"),
    ):
        for path, color in (("relay", "#1f5fa8"), ("floor", "#999999")):
            label = "through the chat transport" if path == "relay" else "straight to Rasa (floor)"
            ax.plot(levels, [table[(lv, path, action)].p50 for lv in levels], "o-", color=color, label=f"p50, {label}")
            ax.plot(levels, [table[(lv, path, action)].p95 for lv in levels], "s--", color=color, label=f"p95, {label}")
        if action:
            ax.axhline(TARGET_ACTION_P95_MS, color="#b00020", linewidth=1, linestyle=":", label="p95 target at 10")
        ax.set_xscale("log")
        ax.set_xticks(levels, [str(lv) for lv in levels])
        ax.set_xlabel("concurrent conversations")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("reply latency (ms)")
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=7, loc="upper left")
    if subtitle:
        fig.suptitle(subtitle, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def report(
    levels: list[int],
    rounds: list[Round],
    idle: dict[str, float],
    loaded: dict[str, float],
    database: str,
    notes: list[str],
    think: float = 0.0,
) -> str:
    chosen = {(lv, path): [r for r in rounds if r.level == lv and r.path == path] for lv in levels for path in PATHS}
    table = {(lv, path, action): figures(chosen[(lv, path)], action) for (lv, path) in chosen for action in ACTIONS}
    image = outputs(think)[1]
    pacing = (
        f"Each supplier pauses between turns (reading, typing): exponential, mean {think:g} s; the suppliers "
        f"arrive spread evenly over the first {think:g} s, not all in the same instant; each supplier has two "
        "conversations in a row per round (eight at 1 concurrent), so every percentile rests on more turns."
        if think > 0
        else "Closed loop, no think time."
    )
    chart(levels, table, RESULTS / image, pacing)
    cpu = re.sub(r"\s+", " ", platform.processor() or platform.machine())
    load = os.getloadavg()
    lines = [
        f"# Chat benchmark — {dt.date.today().isoformat()}",
        "",
        f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {cpu}; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (other jobs share the machine).",
        f"Database: {database}. One API process, one action server, one Rasa server (`make run` layout).",
        f"Conversation ({len(CONVERSATION)} turns): "
        + ", ".join(f"{t.label}{' (custom action)' if t.action else ''}" for t in CONVERSATION)
        + ". "
        + pacing,
        "",
        "Latency is from sending the turn to the first message of the answer: over the chat WebSocket",
        "(relay) or the HTTP answer of Rasa's REST channel (floor). Rate: answered turns per second.",
        "",
        "| concurrent | path | turns | p50 ms | p95 ms | p99 ms | turns/s | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for level in levels:
        for action, kind in ((None, "all"), (False, "no action"), (True, "action")):
            for path in ("relay", "floor"):
                f = table[(level, path, action)]
                lines.append(
                    f"| {level} | {path}, {kind} | {f.count} | {f.p50:.0f} | {f.p95:.0f} | {f.p99:.0f} | "
                    f"{f.rate:.1f} | {f.failed} |"
                )
    lines += [
        "",
        "## Targets",
        "",
        "The interval of each ratio: 95 %, from resampling whole conversations of both paths (2,000 times).",
        "",
        "| measure | value | 95 % interval | target | met |",
        "|---|---|---|---|---|",
    ]
    for level in levels:
        ratio = table[(level, "relay", None)].p50 / table[(level, "floor", None)].p50
        low, high = ratio_interval(
            [t for r in chosen[(level, "relay")] for t in r.results],
            [t for r in chosen[(level, "floor")] for t in r.results],
        )
        lines.append(
            f"| relay p50 / floor p50, {level} concurrent | {ratio:.2f} | {low:.2f} to {high:.2f} | "
            f"≤ {TARGET_RATIO:.2f} | {'yes' if ratio <= TARGET_RATIO else 'no'} |"
        )
    if 10 in levels:
        p95 = table[(10, "relay", True)].p95
        floor95 = table[(10, "floor", True)].p95
        lines.append(
            f"| action-turn p95 through the relay, 10 concurrent | {p95:.0f} ms (floor {floor95:.0f} ms) | | "
            f"< {TARGET_ACTION_P95_MS:.0f} ms | {'yes' if p95 < TARGET_ACTION_P95_MS else 'no'} |"
        )
    lines += ["", "## Resident memory (MiB, each service with its child processes)", ""]
    lines += ["| service | idle | peak under the 50-conversation load |", "|---|---|---|"]
    for name in sorted(idle):
        lines.append(f"| {name} | {idle[name]:.0f} | {loaded.get(name, float('nan')):.0f} |")
    lines += ["", "## CPU per answered turn (ms, each service's process tree; the benchmark client too)", ""]
    names = sorted({n for r in rounds for n in r.cpu})
    lines += ["| concurrent | path | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for (level, path), picked in chosen.items():
        turns = sum(1 for r in picked for t in r.results if t.ok) or 1
        cells = [f"{sum(r.cpu.get(n, 0.0) for r in picked) / turns * 1000:.0f}" for n in names]
        lines.append(f"| {level} | {path} | " + " | ".join(cells) + " |")
    lines += ["", f"![latency chart]({image})", ""]
    if notes:
        lines += ["## Notes", "", *notes, ""]
    return "\n".join(lines)


async def run_levels(
    stack: Stack, levels: list[int], tokens: list[str], loaded: dict[str, float], think: float = 0.0
) -> list[Round]:
    rounds: list[Round] = []
    for level in levels:
        # Paced runs: two conversations per supplier, so that the p95 of the action turns at 10 rests on 80 turns
        # per path rather than 40; at 1 concurrent, eight in a row (112 turns per path: its p50 ratio had moved
        # between 1.03 and 1.21 across runs of 56).
        conversations = max(2 * level, 8) if think > 0 else max(level, 4)
        for path in ("relay", "floor", "floor", "relay"):
            print(f"  {level} concurrent, {path}: {conversations} conversations...", flush=True)
            cpu_before = stack.cpu()
            if level == max(levels):
                with MemorySampler(stack) as sampler:
                    rnd = await run_round(stack, path, level, conversations, tokens, think)
                for name, mib in sampler.peak.items():
                    loaded[name] = max(loaded.get(name, 0.0), mib)
            else:
                rnd = await run_round(stack, path, level, conversations, tokens, think)
            rnd.cpu = {name: used - cpu_before.get(name, 0.0) for name, used in stack.cpu().items()}
            failed = sum(not r.ok for r in rnd.results)
            print(f"    {len(rnd.results)} turns in {rnd.seconds:.1f} s, {failed} failed", flush=True)
            rounds.append(rnd)
    return rounds


def check_answers(rounds: list[Round]) -> list[str]:
    """Say so when a turn did not get the answer it should (so the figures measure the real path)."""
    notes = []
    errors = Counter(
        f"{rnd.path}, {rnd.level} concurrent: {(r.error or 'the assistant could not be reached (retry notice)')[:90]}"
        for rnd in rounds
        for r in rnd.results
        if not r.ok
    )
    notes += [f"- {count} failed turns: {what}" for what, count in errors.most_common(8)]
    for rnd in rounds:
        for result in rnd.results:
            if result.turn.label == "history" and result.ok:
                text = " ".join(str(m.get("text") or "") for m in result.replies).lower()
                if "sign in" in text and "upload" not in text:
                    notes.append(f"- A history turn ({rnd.path}) was asked to sign in: {text[:120]}")
    return notes[:12]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_bench")
    parser.add_argument("--levels", default="1,10,50", help="Concurrency levels, comma separated.")
    parser.add_argument("--sqlite", action="store_true", help="Use SQLite (the developer default), not PostgreSQL.")
    parser.add_argument(
        "--profile",
        type=Path,
        help="Record a service with py-spy during the whole run (collapsed stacks to this file).",
    )
    parser.add_argument(
        "--profile-service", choices=sorted(SERVICE_MARKERS), default="api", help="The service --profile records."
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Mean pause of each supplier between turns (exponential); 0: closed loop (the default).",
    )
    args = parser.parse_args(argv)
    levels = sorted({int(x) for x in args.levels.split(",")})
    if not paths.MODEL_FILE.exists():
        raise SystemExit("Train first: make train")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.sqlite, Path(tmp)) as database_url:
        print("Starting the stack (about a minute)...", flush=True)
        stack = start_stack(database_url, Path(tmp) / "storage")
        try:
            tokens = demo_sessions(database_url, max(levels))
            print("Warming up...", flush=True)
            asyncio.run(run_round(stack, "relay", 1, 1, tokens))
            time.sleep(5)
            idle = stack.rss()
            loaded: dict[str, float] = {}
            spy = start_profile(stack, args.profile, args.profile_service) if args.profile else None
            rounds = asyncio.run(run_levels(stack, levels, tokens, loaded, args.think))
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
                print(f"Profile of {args.profile_service}: {args.profile} (py-spy collapsed stacks)")
        finally:
            stack.stop()
    database = "SQLite (developer default)" if args.sqlite else "PostgreSQL 127.0.0.1:5432 (fresh database)"
    text = report(levels, rounds, idle, loaded, database, check_answers(rounds), args.think)
    (RESULTS / outputs(args.think)[0]).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
