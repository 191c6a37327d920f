"""The stack runner: fingerprints, Rasa's configuration, and clear stops on bad configuration."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api.config import Settings
from stack import fingerprint, rasa_config

ROOT = Path(__file__).resolve().parents[2]


def copy_inputs(dest: Path) -> Path:
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "data", dest / "data")
    (dest / "requirements").mkdir()
    shutil.copy(ROOT / "requirements" / "rasa.lock.txt", dest / "requirements" / "rasa.lock.txt")
    return dest


def test_fingerprint_is_stable_and_changes_with_any_training_input(tmp_path):
    root = copy_inputs(tmp_path)
    first = fingerprint.compute(root)
    assert fingerprint.compute(root) == first
    nlu = next((root / "data").rglob("*.yml"))
    nlu.write_text(nlu.read_text() + "\n")
    assert fingerprint.compute(root) != first
    second = fingerprint.compute(root)
    (root / "config.yml").write_text((root / "config.yml").read_text() + "\n# tuned\n")
    assert fingerprint.compute(root) != second


def test_fingerprint_notices_a_new_data_file(tmp_path):
    root = copy_inputs(tmp_path)
    before = fingerprint.compute(root)
    (root / "data" / "extra.yml").write_text('version: "3.1"\n')
    assert fingerprint.compute(root) != before


def test_tracker_store_follows_the_database():
    sqlite = Settings(database_url="sqlite:////tmp/x/cbp.db")
    assert rasa_config.tracker_store(sqlite.effective_tracker_store_url(), sqlite.rasa_cached_conversations) == {
        "type": "bot.tracker_store.CachedSQLTrackerStore",
        "cached_conversations": 256,
        "dialect": "sqlite",
        "db": "/tmp/x/cbp-rasa-tracker.db",
    }
    pg = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    config = rasa_config.tracker_store(pg.effective_tracker_store_url(), 0)
    assert config | {} == {
        "type": "bot.tracker_store.CachedSQLTrackerStore",
        "cached_conversations": 0,
        "dialect": "postgresql",
        "url": "127.0.0.1",
        "port": 5432,
        "db": "test",
        "login_db": "test",
        "username": "postgres",
    }


def test_lock_store_is_redis_only_when_asked():
    assert rasa_config.lock_store(None) is None
    assert rasa_config.lock_store("redis://127.0.0.1:6379/2") == {
        "type": "redis",
        "url": "127.0.0.1",
        "port": 6379,
        "db": 2,
        "key_prefix": "cbp",
    }


def test_endpoints_point_rasa_at_the_action_server():
    settings = Settings(action_port=6055, lock_store_url="redis://127.0.0.1:6379/0")
    config = rasa_config.endpoints(settings)
    assert config["action_endpoint"]["url"] == "http://127.0.0.1:6055/webhook"
    assert config["lock_store"]["type"] == "redis"


def run_stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", "run", "--no-train", *args],
        cwd=ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_clear_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_unreachable_database_stops_with_one_sentence(tmp_path):
    message = one_clear_sentence(run_stack({"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nope"}))
    assert "Cannot reach the database" in message and "DATABASE_URL" in message


def test_port_in_use_stops_with_one_sentence(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = one_clear_sentence(
            run_stack({"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite", "API_PORT": str(port)})
        )
    assert f"Port {port} (API) is already in use" in message and "API_PORT" in message


def test_bad_setting_stops_with_one_sentence(tmp_path):
    message = one_clear_sentence(run_stack({"BUSINESS_TIMEZONE": "Mars/Olympus_Mons"}))
    assert "BUSINESS_TIMEZONE" in message


def test_missing_python_for_rasa_stops_setup_with_one_sentence():
    result = subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=ROOT,
        env=os.environ | {"RASA_PYTHON": "/nonexistent/python3.10"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "RASA_PYTHON=/nonexistent/python3.10 is not a working Python 3.8-3.10" in result.stderr


def test_missing_rasa_environment_is_explained(tmp_path, monkeypatch):
    from stack import paths, preflight

    monkeypatch.setattr(paths, "RASA_VENV", tmp_path / "no-venv")
    with pytest.raises(preflight.PreflightError, match="make setup"):
        preflight.check_environments()
