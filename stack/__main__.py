"""`python -m stack run|prepare|train`: see README, "Running"."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from pydantic import ValidationError

from stack import paths
from stack.follow import READY_LINE


def _settings():  # type: ignore[no-untyped-def]
    from api.config import Settings

    return Settings()


def prepare(*, train_model: bool, seed: bool, check_ports: bool):  # type: ignore[no-untyped-def]
    """Everything before the services start. Returns the settings and the endpoints file."""
    from api.manage import migrate
    from stack import preflight, rasa_config, secrets
    from stack.train import train

    secrets.ensure_secrets()
    settings = _settings()
    preflight.check_environments()
    if check_ports:
        preflight.check_ports(settings)
    preflight.check_databases(settings)
    preflight.check_lock_store(settings)
    migrate(settings.database_url)
    if seed:
        from api.seed import load_demo_data

        list(load_demo_data(settings.database_url))
    if train_model:
        train()
    elif not paths.MODEL_FILE.exists():
        raise preflight.PreflightError("There is no trained model: run 'make train' (or 'make run', which trains).")
    endpoints_file = rasa_config.write_endpoints(settings, paths.RUN / f"endpoints-{settings.rasa_port}.yml")
    return settings, endpoints_file


def banner(settings) -> str:  # type: ignore[no-untyped-def]
    from api.seed import DEMO_USERS

    lines = [
        "",
        "The Chat Now stack is up:",
        f"  Chat Now page and API   http://localhost:{settings.api_port}/",
        f"  API documentation       http://localhost:{settings.api_port}/docs",
        f"  Agent console           http://localhost:{settings.api_port}/agent",
        f"  Rasa (REST channel)     http://127.0.0.1:{settings.rasa_port}/webhooks/rest/webhook",
        f"  Action server           http://127.0.0.1:{settings.action_port}/health",
        "Demo sign-ins (user ID / password):",
    ]
    lines += [f"  {role.value:<9}{uid:<16}{pw}" for uid, pw, *_rest, role, _n in DEMO_USERS]
    lines.append("Logs of all three follow. Press Ctrl-C to stop.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from stack.services import Supervisor, build_services

    started = time.monotonic()
    settings, endpoints_file = prepare(train_model=not args.no_train, seed=not args.no_seed, check_ports=True)
    supervisor = Supervisor(build_services(settings, endpoints_file), echo=not args.quiet)
    stop = threading.Event()

    def _on_signal(signum, _frame):  # type: ignore[no-untyped-def]
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    supervisor.start()
    try:
        supervisor.wait_healthy(
            timeout=args.timeout,
            on_ready=lambda s, t: print(f"[stack] {s.name} is healthy on port {s.port} after {t:.1f} s", flush=True),
        )
        print(banner(settings), flush=True)
        print(f"{READY_LINE} {time.monotonic() - started:.1f} s", flush=True)
        while not stop.wait(0.5):
            dead = supervisor.first_dead()
            if dead:
                supervisor.check_alive(dead)
    except Exception as exc:  # ServiceFailed, or anything while waiting: stop the rest cleanly
        print(f"\n[stack] {exc}\n[stack] Stopping the other services.", file=sys.stderr, flush=True)
        supervisor.stop()
        return 1
    print("\n[stack] Stopping the three services...", flush=True)
    supervisor.stop()
    print("[stack] Stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    from stack.preflight import PreflightError
    from stack.train import TrainingFailed, train

    parser = argparse.ArgumentParser(prog="python -m stack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run_p = sub.add_parser("run", help="Prepare and start the three services; Ctrl-C stops them.")
    run_p.add_argument("--no-train", action="store_true", help="Use the model on disk as it is.")
    run_p.add_argument("--no-seed", action="store_true", help="Do not load the demo data set.")
    run_p.add_argument("--quiet", action="store_true", help="Do not mirror the services' logs.")
    run_p.add_argument("--timeout", type=float, default=240.0, help="Seconds to wait for health.")
    from stack.scaled import add_parser as add_scaled_parser

    add_scaled_parser(sub)
    sub.add_parser("prepare", help="Migrate, seed and train, without starting anything.")
    train_p = sub.add_parser("train", help="Train the model if its inputs changed.")
    train_p.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "run":
            return run(args)
        if args.cmd == "run-scaled":
            from stack.scaled import run_scaled

            return run_scaled(args)
        if args.cmd == "prepare":
            prepare(train_model=True, seed=True, check_ports=False)
            return 0
        if args.cmd == "train":
            train(force=args.force)
            return 0
    except (PreflightError, TrainingFailed) as exc:
        print(f"\033[31m{exc}\033[0m" if sys.stderr.isatty() else str(exc), file=sys.stderr)
        return 2
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first.get("loc") else "a setting"
        print(f"The setting {name} is not valid ({first['msg']}): fix it in the environment or .env.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
