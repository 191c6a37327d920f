"""The scaled-out layout on one machine: `python -m stack run-scaled` (`make run-scaled`).

    nginx :API_PORT ──> API workers (uvicorn) x N ──> nginx :RASA_PORT ──> Rasa servers x N ──> action server
                              │                                                │
                              └──────── PostgreSQL (API database, Rasa tracker store) ─┘, Redis (lock store)

Two API workers and two Rasa servers by default, one action server (it keeps no state; run more
behind the same kind of upstream when it becomes the bottleneck). All API workers share one
STORAGE_DIR (the `FileStorage` interface: a shared volume here, an object store later). nginx is
the load balancer; its configuration is rendered from the same rules as deploy/nginx.conf, with an
access log that names the upstream of every request (how the tests prove the spread).
See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from api.config import Settings
from stack import paths
from stack.follow import READY_LINE
from stack.preflight import PreflightError, port_problem
from stack.services import Service, Supervisor, build_services

RASA_SIDE_KEEPALIVE_SECONDS = 75
"""How long nginx keeps an idle connection from an API worker to the Rasa servers: longer than the relay's
own keep-alive (api/chat/relay.py: KEEPALIVE_SECONDS), so that the relay always closes first."""
UNPACKED_NGINX = paths.VAR / "tools" / "nginx" / "usr" / "sbin" / "nginx"


@dataclass(frozen=True)
class Layout:
    public_port: int  # nginx in front of the API workers: the one public origin
    api_ports: tuple[int, ...]
    rasa_port: int  # nginx in front of the Rasa servers (internal)
    rasa_ports: tuple[int, ...]
    action_port: int

    @classmethod
    def from_settings(cls, settings: Settings, workers: int, rasa_servers: int) -> Layout:
        return cls(
            public_port=settings.api_port,
            api_ports=tuple(settings.api_port + 1 + i for i in range(workers)),
            rasa_port=settings.rasa_port,
            rasa_ports=tuple(settings.rasa_port + 1 + i for i in range(rasa_servers)),
            action_port=settings.action_port,
        )

    def all_ports(self) -> list[tuple[int, str]]:
        return [
            (self.public_port, "load balancer (API)"),
            *((p, f"API worker {i + 1}") for i, p in enumerate(self.api_ports)),
            (self.rasa_port, "load balancer (Rasa)"),
            *((p, f"Rasa server {i + 1}") for i, p in enumerate(self.rasa_ports)),
            (self.action_port, "action server"),
        ]


def nginx_binary() -> str:
    found = shutil.which("nginx") or (str(UNPACKED_NGINX) if UNPACKED_NGINX.exists() else None)
    if not found:
        raise PreflightError(
            "nginx is missing: run 'scripts/setup.sh --nginx' (make run-scaled does) or install nginx."
        )
    return found


def nginx_config(layout: Layout, run_dir: Path, log_dir: Path) -> str:
    """nginx.conf for this machine: the rules of deploy/nginx.conf on 127.0.0.1, without TLS."""
    api = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in layout.api_ports)
    rasa = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in layout.rasa_ports)
    temp = run_dir / "tmp"
    return f"""# Rendered by stack/scaled.py for `make run-scaled`; production: deploy/nginx.conf.
worker_processes 1;
daemon off;
pid {run_dir / "nginx.pid"};
error_log {log_dir / f"nginx-{layout.public_port}.error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    log_format upstreams '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                         'upstream=$upstream_addr rt=$request_time urt=$upstream_response_time';
    access_log {log_dir / f"nginx-{layout.public_port}.access.log"} upstreams;
    upstream chat_api {{
        least_conn;
{api}
        keepalive 64;
    }}
    upstream chat_rasa {{
{rasa}
        keepalive 32;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}
    server {{
        listen 127.0.0.1:{layout.public_port};
        client_max_body_size 60m;
        proxy_request_buffering off;
        location / {{
            proxy_pass http://chat_api;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 75s;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
    server {{
        listen 127.0.0.1:{layout.rasa_port};
        keepalive_timeout {RASA_SIDE_KEEPALIVE_SECONDS}s;
        location / {{
            proxy_pass http://chat_rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 65s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def check_scaled_settings(settings: Settings) -> None:
    """Several servers need shared state: PostgreSQL for both stores and Redis for Rasa's locks."""
    if not settings.database_url.startswith("postgresql"):
        raise PreflightError(
            "The scaled layout needs PostgreSQL: set DATABASE_URL, e.g. "
            "DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/cbp_scaled make run-scaled."
        )
    if not settings.effective_tracker_store_url().startswith("postgresql"):
        raise PreflightError("The scaled layout needs the tracker store on PostgreSQL: unset TRACKER_STORE_URL.")
    if not settings.lock_store_url:
        raise PreflightError(
            "Several Rasa servers need a shared lock store: set LOCK_STORE_URL, e.g. redis://127.0.0.1:6379/1."
        )


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database when the server answers and the database does not exist yet."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    except SQLAlchemyError:  # the preflight check that follows names the problem and the fix
        return
    finally:
        admin.dispose()


def build_scaled_services(settings: Settings, layout: Layout, endpoints_file: Path) -> list[Service]:
    """The services of the layout: each built by stack.services with its own port."""
    services: list[Service] = []
    # Everything reaches the API and Rasa through the load balancer (API_PORT, RASA_PORT are nginx).
    shared = {
        "API_PORT": str(layout.public_port),
        "RASA_PORT": str(layout.rasa_port),
        "ACTION_PORT": str(layout.action_port),
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # uvicorn takes the client address from nginx's X-Forwarded-For
    }
    for i, port in enumerate(layout.api_ports):
        api = build_services(settings.model_copy(update={"api_port": port}), endpoints_file)[0]
        api.name = f"api-{i + 1}"
        api.env = api.env | shared
        services.append(api)
    actions = build_services(settings, endpoints_file)[1]
    actions.env = actions.env | {"API_URL": f"http://127.0.0.1:{layout.public_port}"}
    services.append(actions)
    for i, port in enumerate(layout.rasa_ports):
        rasa = build_services(settings.model_copy(update={"rasa_port": port}), endpoints_file)[2]
        rasa.name = f"rasa-{i + 1}"
        services.append(rasa)
    return services


def nginx_service(layout: Layout) -> Service:
    run_dir = paths.RUN / f"nginx-{layout.public_port}"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    paths.LOGS.mkdir(parents=True, exist_ok=True)
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_config(layout, run_dir, paths.LOGS))
    binary = nginx_binary()
    check = subprocess.run([binary, "-t", "-q", "-c", str(conf), "-p", str(run_dir)], capture_output=True, text=True)
    if check.returncode != 0:
        raise PreflightError(f"nginx refused its configuration {conf}: {check.stderr.strip()}")
    return Service(
        name="nginx",
        argv=[binary, "-c", str(conf), "-p", str(run_dir)],
        port=layout.public_port,
        health_url=f"http://127.0.0.1:{layout.public_port}/healthz",
        healthy=lambda r: r.status_code == 200,
        color="32",
    )


def banner(layout: Layout) -> str:
    return "\n".join(
        [
            "",
            "The scaled-out Chat Now stack is up:",
            f"  Chat Now page and API (nginx)   http://localhost:{layout.public_port}/",
            f"  API workers                     {', '.join(f'127.0.0.1:{p}' for p in layout.api_ports)}",
            f"  Rasa (nginx, internal)          http://127.0.0.1:{layout.rasa_port}/webhooks/rest/webhook",
            f"  Rasa servers                    {', '.join(f'127.0.0.1:{p}' for p in layout.rasa_ports)}",
            f"  Action server                   http://127.0.0.1:{layout.action_port}/health",
            f"  Which server answered what      {paths.LOGS / f'nginx-{layout.public_port}.access.log'}",
            "Press Ctrl-C to stop.",
        ]
    )


def run_scaled(args: argparse.Namespace) -> int:
    from stack.__main__ import _settings, prepare

    started = time.monotonic()
    settings = _settings()
    check_scaled_settings(settings)
    layout = Layout.from_settings(settings, args.api_workers, args.rasa_servers)
    if args.api_worker_ports:
        layout = Layout(**{**layout.__dict__, "api_ports": tuple(int(p) for p in args.api_worker_ports.split(","))})
    if args.rasa_server_ports:
        layout = Layout(**{**layout.__dict__, "rasa_ports": tuple(int(p) for p in args.rasa_server_ports.split(","))})
    for port, name in layout.all_ports():
        problem = port_problem(port, name, "API_PORT / RASA_PORT")
        if problem:
            raise PreflightError(problem)
    ensure_database(settings.database_url)
    settings, endpoints_file = prepare(train_model=False, seed=not args.no_seed, check_ports=False)
    services = build_scaled_services(settings, layout, endpoints_file)
    services.append(nginx_service(layout))
    supervisor = Supervisor(services, echo=not args.quiet)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    supervisor.start()
    try:
        supervisor.wait_healthy(
            timeout=args.timeout,
            on_ready=lambda s, t: print(f"[stack] {s.name} is healthy on port {s.port} after {t:.1f} s", flush=True),
        )
        _check_rasa_through_nginx(layout, settings.rasa_auth_token or "")
        print(banner(layout), flush=True)
        print(f"{READY_LINE} {time.monotonic() - started:.1f} s", flush=True)
        reported: set[str] = set()
        while not stop.wait(0.5):
            watch(supervisor, reported)
    except Exception as exc:
        print(f"\n[stack] {exc}\n[stack] Stopping the other services.", file=sys.stderr, flush=True)
        supervisor.stop()
        return 1
    print("\n[stack] Stopping the scaled-out stack...", flush=True)
    supervisor.stop()
    print("[stack] Stopped.", flush=True)
    return 0


def watch(supervisor: Supervisor, reported: set[str]) -> None:
    """Say when a server stops; stop everything only when no server of a kind is left."""
    for service in supervisor.services:
        if service.process and service.process.poll() is not None and service.name not in reported:
            reported.add(service.name)
            print(
                f"[stack] {service.name} stopped (exit code {service.process.returncode}); "
                "the load balancer sends its share to the others.",
                flush=True,
            )
    kinds: dict[str, list[Service]] = {}
    for service in supervisor.services:
        kinds.setdefault(service.name.split("-")[0], []).append(service)
    for group in kinds.values():
        if all(s.process and s.process.poll() is not None for s in group):
            supervisor.check_alive(group[0])  # raises ServiceFailed with the log tail


def _check_rasa_through_nginx(layout: Layout, token: str) -> None:
    response = httpx.get(f"http://127.0.0.1:{layout.rasa_port}/status", params={"token": token}, timeout=10)
    response.raise_for_status()


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run-scaled", help="Two API workers and two Rasa servers behind nginx, on PostgreSQL and Redis.")
    p.add_argument("--api-workers", type=int, default=2)
    p.add_argument("--rasa-servers", type=int, default=2)
    p.add_argument("--api-worker-ports", help="Comma-separated ports (default: API_PORT+1, +2...).")
    p.add_argument("--rasa-server-ports", help="Comma-separated ports (default: RASA_PORT+1, +2...).")
    p.add_argument("--no-seed", action="store_true", help="Do not load the demo data set.")
    p.add_argument("--quiet", action="store_true", help="Do not mirror the services' logs.")
    p.add_argument("--timeout", type=float, default=400.0, help="Seconds to wait for health.")
