"""Rasa's endpoints.yml, written from the product's settings (one source of truth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from api.config import Settings

TRACKER_STORE_CLASS = "bot.tracker_store.CachedSQLTrackerStore"
"""Rasa's SQL tracker store that keeps each conversation's tracker between turns (bot/tracker_store.py)."""


def tracker_store(url: str, cached_conversations: int) -> dict[str, Any]:
    """Rasa's tracker store configuration for an SQLAlchemy URL (SQLite or PostgreSQL)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    common = {"type": TRACKER_STORE_CLASS, "cached_conversations": cached_conversations}
    if backend == "sqlite":
        db = Path(parsed.database or "rasa-tracker.db").resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        return common | {"dialect": "sqlite", "db": str(db)}
    if backend == "postgresql":
        config: dict[str, Any] = common | {
            "dialect": "postgresql",  # Rasa's environment brings psycopg2
            "url": parsed.host or "127.0.0.1",
            "port": parsed.port or 5432,
            "db": parsed.database or "rasa",
            "login_db": parsed.database or "postgres",
        }
        if parsed.username:
            config["username"] = parsed.username
        if parsed.password:
            config["password"] = parsed.password
        return config
    raise ValueError(f"The tracker store must be SQLite or PostgreSQL, not {backend}.")


def lock_store(url: str | None) -> dict[str, Any] | None:
    if not url:
        return None  # Rasa's in-memory lock store: right for one Rasa server
    parsed = make_url(url)
    config: dict[str, Any] = {
        "type": "redis",
        "url": parsed.host or "127.0.0.1",
        "port": parsed.port or 6379,
        "db": int(parsed.database or 0),
        "key_prefix": "cbp",
    }
    if parsed.password:
        config["password"] = parsed.password
    return config


def endpoints(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "action_endpoint": {"url": f"{settings.action_url}/webhook"},
        "tracker_store": tracker_store(settings.effective_tracker_store_url(), settings.rasa_cached_conversations),
    }
    lock = lock_store(settings.lock_store_url)
    if lock:
        config["lock_store"] = lock
    return config


def write_endpoints(settings: Settings, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by the stack runner from the settings; do not edit.\n" + yaml.safe_dump(endpoints(settings))
    )
    return path
