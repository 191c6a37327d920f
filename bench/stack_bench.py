"""Stack benchmark: full training time, cold start and warm restart to ready, resident memory.

    make bench            # or: .venv/bin/python -m bench.stack_bench

Cold start: a fresh database and tracker store (migrations, demo data), the model unpacked for the
first time by this Rasa process. Warm restart: the same again with the database already there.
Resident memory (RSS, including child processes) of each service is read when the stack is ready
and idle. Results go to bench/results/stack.md.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from stack import paths
from stack.localhost import free_port
from stack.services import RASA_ENV

RESULTS = paths.ROOT / "bench" / "results"


def full_training_seconds(out_dir: Path) -> float:
    env = os.environ | RASA_ENV | {"RASA_CACHE_DIRECTORY": str(out_dir / "cache"), "LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    subprocess.run(
        [
            str(paths.RASA_VENV / "bin" / "rasa"),
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "data",
            "--out",
            str(out_dir),
            "--force",
        ],
        cwd=paths.ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def service_rss(runner: psutil.Process) -> dict[str, float]:
    """RSS in MiB of each service's process tree, by the runner's children."""
    found: dict[str, float] = {}
    for child in runner.children(recursive=False):
        cmd = " ".join(child.cmdline())
        name = (
            "api"
            if "uvicorn" in cmd
            else "actions"
            if "rasa_sdk" in cmd
            else "rasa"
            if "rasa_server run" in cmd or "rasa run" in cmd or "/rasa " in cmd
            else None
        )
        if name is None:
            continue
        tree = [child, *child.children(recursive=True)]
        found[name] = sum(p.memory_info().rss for p in tree) / 2**20
    return found


def start_to_ready(env: dict[str, str]) -> tuple[float, dict[str, float]]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stack", "run", "--no-train", "--quiet"],
        cwd=paths.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout
    ready_at = None
    for line in proc.stdout:
        if "[stack] ready in" in line:
            ready_at = time.monotonic() - started
            break
    if ready_at is None:
        raise SystemExit("The stack did not become ready.")
    time.sleep(5)  # idle
    rss = service_rss(psutil.Process(proc.pid))
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return ready_at, rss


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not paths.MODEL_FILE.exists():
        raise SystemExit("Train first: make train")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        print("Training from scratch (this takes a minute or two)...", flush=True)
        training = full_training_seconds(tmp_path / "models")
        env = os.environ | {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.db'}",
            "STORAGE_DIR": str(tmp_path / "storage"),
            "API_PORT": str(free_port()),
            "RASA_PORT": str(free_port()),
            "ACTION_PORT": str(free_port()),
        }
        print("Cold start...", flush=True)
        cold, _ = start_to_ready(env)
        print("Warm restart...", flush=True)
        warm, rss = start_to_ready(env)
    cpu = re.sub(r"\s+", " ", platform.processor() or platform.machine())
    rows = [
        ("Full training (`rasa train --force`)", f"{training:.1f} s"),
        ("Cold start to ready (fresh database, all three healthy)", f"{cold:.1f} s"),
        ("Warm restart to ready", f"{warm:.1f} s"),
        ("Warm restart / cold start", f"{warm / cold:.2f}"),
    ]
    rows += [(f"Resident memory, idle: {name}", f"{mib:.0f} MiB") for name, mib in sorted(rss.items())]
    report = [
        f"# Stack benchmark — {dt.date.today().isoformat()}",
        "",
        f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {cpu}.",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
    ]
    (RESULTS / "stack.md").write_text("\n".join(report))
    print("\n".join(report))


if __name__ == "__main__":
    main()
