"""The scaled-out runner's checks and its nginx configuration, without starting the servers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from api.chat import relay
from stack.localhost import LOCAL_POSTGRES
from stack.scaled import Layout, nginx_binary, nginx_config
from tests.live_stack import ROOT


def run_scaled(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", "run-scaled", "--quiet"],
        cwd=ROOT,
        env=os.environ | {"STORAGE_DIR": str(tmp_path)} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_scaled_layout_refuses_sqlite_with_the_fix(tmp_path):
    result = run_scaled(
        tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", LOCK_STORE_URL="redis://127.0.0.1:6379/1"
    )
    assert result.returncode == 2
    assert "needs PostgreSQL: set DATABASE_URL" in result.stderr


def test_scaled_layout_needs_a_shared_lock_store(tmp_path):
    result = run_scaled(tmp_path, DATABASE_URL=LOCAL_POSTGRES, LOCK_STORE_URL="")
    assert result.returncode == 2
    assert "shared lock store: set LOCK_STORE_URL" in result.stderr


def test_rendered_nginx_configuration_is_valid(tmp_path):
    layout = Layout(18000, (18001, 18002), 15005, (15006, 15007), 15055)
    run_dir = tmp_path / "run"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run_dir / "tmp" / sub).mkdir(parents=True)
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_config(layout, run_dir, tmp_path))
    checked = subprocess.run(
        [nginx_binary(), "-t", "-c", str(conf), "-p", str(run_dir)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    text = conf.read_text()
    # Both workers and both Rasa servers are upstreams; the WebSocket upgrade and the client's address pass.
    for port in (18001, 18002, 15006, 15007):
        assert f"server 127.0.0.1:{port} " in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text


def _keepalive_after(config: str, listen: str) -> int:
    """The keepalive_timeout (seconds) of the server block that listens on `listen`."""
    block = config.split(f"listen {listen};", 1)[1].split("location", 1)[0]
    found = re.search(r"keepalive_timeout (\d+)s;", block)
    assert found, f"no keepalive_timeout in the server block of {listen}"
    return int(found[1])


def test_nginx_keeps_the_relays_idle_connections_to_rasa_open_longer_than_the_relay_does(tmp_path):
    # Otherwise a turn could be sent on a connection nginx is closing, and fail (api/chat/relay.py).
    layout = Layout(18000, (18001, 18002), 15005, (15006, 15007), 15055)
    rendered = nginx_config(layout, tmp_path / "run", tmp_path)
    assert _keepalive_after(rendered, "127.0.0.1:15005") > relay.KEEPALIVE_SECONDS
    production = (ROOT / "deploy" / "nginx.conf").read_text()
    assert _keepalive_after(production, "10.0.2.10:5005") > relay.KEEPALIVE_SECONDS
