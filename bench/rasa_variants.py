"""Two configurations of the Rasa server or more, side by side: the same conversations straight to Rasa's REST
channel (the floor of bench/chat_bench.py), in alternating rounds, each variant on a stack of its own.

    .venv/bin/python -m bench.rasa_variants --variant "rebuilt each turn:RASA_CACHED_CONVERSATIONS=0" \\
        --variant "kept between turns:"  [--rounds 6] [--conversations 4] [--level 1] [--think 0] \\
        [--paths floor,relay]

A variant is `NAME[@REVISION]:ENV=VALUE,ENV=VALUE`: settings (api/config.py) or environment given to its
stack (the Rasa server inherits the environment, so TensorFlow's variables work too); with `@REVISION`, the
files of that commit (git archive) run instead of the working tree's, with this tree's environments and
trained model: a before/after of code, e.g. `--variant "before@1320467:" --variant "after:"`.
All stacks run the same trained model on fresh PostgreSQL databases; in each round every variant gets the
same conversations (the seven turns of bench/chat_client.CONVERSATION, with the same pauses when `--think`
is set), in an order that alternates from round to round, so that a change in the machine's load hits all
alike.

`--paths floor,relay` also drives each variant's conversations through its API's chat WebSocket (the relay
of bench/chat_bench.py), the two paths alternating within each round, and reports the relay's p50 over the
floor's for every variant: the chat benchmark's "relay adds at most 10 %" ratio, measured for two settings
of the stack in one run.

Measured per variant (and path): reply latency (p50, p95; all turns, turns without and with a custom action) and the
Rasa server's CPU time per answered turn. The report goes to bench/results/rasa-variants.md, with the
ratio of each variant to the first.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.chat_bench import RESULTS, Round, Stack, demo_sessions, figures, fresh_database, run_round, start_stack
from bench.common import export_revision
from stack import paths


@dataclass
class Variant:
    name: str
    env: dict[str, str]
    revision: str | None = None
    stack: Stack | None = None
    tokens: list[str] = field(default_factory=list)
    rounds: dict[str, list[Round]] = field(default_factory=dict)  # by path
    rasa_cpu: dict[str, float] = field(default_factory=dict)  # seconds over the measured rounds, by path

    @classmethod
    def parse(cls, spec: str) -> Variant:
        name, _, assignments = spec.partition(":")
        name, _, revision = name.partition("@")
        env = {}
        for item in filter(None, (a.strip() for a in assignments.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise SystemExit(f"--variant {spec!r}: {item!r} is not ENV=VALUE")
            env[key.strip()] = value.strip()
        return cls(name.strip() or "as configured", env, revision.strip() or None)

    @property
    def spec(self) -> str:
        at = f"@{self.revision}" if self.revision else ""
        return f"{self.name}{at}:" + ",".join(f"{k}={x}" for k, x in self.env.items())


PATH_WORDS = {"floor": "straight to Rasa's REST channel", "relay": "through the API's chat WebSocket (the relay)"}


def exported(revision: str, tmp: Path) -> Path:
    """The files of `revision` (git archive) in a folder of `tmp`, sharing this tree's virtual environments
    and trained model (symbolic links), to be run as a stack of its own."""
    target = export_revision(revision, tmp / f"tree-{revision}")
    for shared in (paths.API_VENV, paths.RASA_VENV, paths.MODELS):
        link = target / shared.relative_to(paths.ROOT)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(shared, target_is_directory=True)
    return target


def report(variants: list[Variant], args: argparse.Namespace, started: str) -> str:
    paths_run = args.paths
    base = variants[0]
    first = base.rounds[paths_run[0]]
    turns_each = len(first[0].results) // max(args.conversations, 1) if first else 7
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    where = " and ".join(PATH_WORDS[p] for p in paths_run)
    lines = [
        f"# Rasa variants side by side — {started}",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; load average at "
        f"the end {load}. Command: `python -m bench.rasa_variants "
        + " ".join(f'--variant "{v.spec}"' for v in variants)
        + f" --rounds {args.rounds} --conversations {args.conversations} --level {args.level} --think {args.think}"
        + f" --paths {','.join(paths_run)}`.",
        "",
        f"Each variant: its own stack (API, action server, Rasa) on a fresh PostgreSQL database, the same "
        f"model. {args.rounds} rounds; in each, every variant gets {args.conversations} conversations of "
        f"{turns_each} turns {where}, {args.level} at a time"
        + (f", with pauses of {args.think} s on average between turns" if args.think else "")
        + ", in alternating order.",
        "",
        "| variant | path | turns | p50 ms | p95 ms | no action p50 / p95 | action p50 / p95 | Rasa CPU per turn |"
        " p50 / first | CPU / first |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths_run:
        base_all = figures(base.rounds[path], None)
        base_cpu = base.rasa_cpu[path] / max(base_all.count - base_all.failed, 1)
        for v in variants:
            every, plain, action = (figures(v.rounds[path], a) for a in (None, False, True))
            cpu = v.rasa_cpu[path] / max(every.count - every.failed, 1)
            lines.append(
                f"| {v.name} | {path} | {every.count} ({every.failed} failed) | {every.p50:.0f} | {every.p95:.0f} | "
                f"{plain.p50:.0f} / {plain.p95:.0f} | {action.p50:.0f} / {action.p95:.0f} | {cpu * 1000:.1f} ms | "
                f"{every.p50 / base_all.p50:.2f} | {cpu / base_cpu:.2f} |"
            )
    if {"relay", "floor"} <= set(paths_run):
        lines += ["", "| variant | relay p50 / floor p50 | relay p95 / floor p95 (action turns) |", "|---|---|---|"]
        for v in variants:
            relay, floor = figures(v.rounds["relay"], None), figures(v.rounds["floor"], None)
            relay_action, floor_action = figures(v.rounds["relay"], True), figures(v.rounds["floor"], True)
            lines.append(
                f"| {v.name} | {relay.p50 / floor.p50:.2f} ({relay.p50:.0f} / {floor.p50:.0f} ms) | "
                f"{relay_action.p95 / floor_action.p95:.2f} ({relay_action.p95:.0f} / {floor_action.p95:.0f} ms) |"
            )
    lines += ["", "Settings and environment of each variant:", ""]
    for v in variants:
        tree = f"the files of {v.revision}" if v.revision else "the working tree"
        settings = ", ".join(f"`{k}={x}`" for k, x in v.env.items()) or "as configured"
        lines.append(f"- {v.name}: {tree}; {settings}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rasa_variants")
    parser.add_argument("--variant", action="append", required=True, help="NAME:ENV=VALUE,... (two or more)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--conversations", type=int, default=4, help="Conversations per variant and round.")
    parser.add_argument("--level", type=int, default=1, help="Conversations at a time.")
    parser.add_argument("--think", type=float, default=0.0, help="Mean pause between turns (s); 0: none.")
    parser.add_argument("--output", type=Path, default=RESULTS / "rasa-variants.md")
    parser.add_argument(
        "--paths",
        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
        default=["floor"],
        help="floor (straight to Rasa, the default), relay (through the API's chat WebSocket), or floor,relay.",
    )
    args = parser.parse_args(argv)
    if not args.paths or set(args.paths) - set(PATH_WORDS):
        raise SystemExit(f"--paths: a comma-separated list of {', '.join(PATH_WORDS)}")
    variants = [Variant.parse(spec) for spec in args.variant]
    if len(variants) < 2:
        raise SystemExit("Give two --variant options or more.")
    if not paths.MODEL_FILE.exists():
        raise SystemExit("Train first: make train")
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stacks:
        for n, variant in enumerate(variants):
            database_url = stacks.enter_context(fresh_database(False, Path(tmp)))
            print(f"Starting the stack of {variant.name!r}...", flush=True)
            root = exported(variant.revision, Path(tmp)) if variant.revision else paths.ROOT
            variant.stack = start_stack(database_url, Path(tmp) / f"storage-{n}", variant.env, root)
            stacks.callback(variant.stack.stop)
            variant.tokens = demo_sessions(database_url, args.level)
            for path in args.paths:
                asyncio.run(run_round(variant.stack, path, 1, 1, variant.tokens))  # warm-up, not measured
        time.sleep(3)
        for number in range(args.rounds):
            order = variants if number % 2 == 0 else variants[::-1]
            path_order = args.paths if number % 2 == 0 else args.paths[::-1]
            for variant in order:
                assert variant.stack is not None
                for path in path_order:
                    before = variant.stack.cpu().get("rasa", 0.0)
                    rnd = asyncio.run(
                        run_round(variant.stack, path, args.level, args.conversations, variant.tokens, args.think)
                    )
                    used = variant.stack.cpu().get("rasa", 0.0) - before
                    variant.rasa_cpu[path] = variant.rasa_cpu.get(path, 0.0) + used
                    variant.rounds.setdefault(path, []).append(rnd)
                    failed = sum(not r.ok for r in rnd.results)
                    print(
                        f"  round {number + 1}, {variant.name}, {path}: {len(rnd.results)} turns, {failed} failed",
                        flush=True,
                    )
    text = report(variants, args, started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
