"""Settings of the whole product, read from the environment and an optional `.env`.

Every setting has a default that works on a developer machine; `make run` and `make test`
need no configuration. The stack runner (`stack/`) reads the same settings to configure Rasa
and the action server, so there is one source of truth.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


class Settings(BaseSettings):
    # var/secrets.env holds the tokens the stack runner generated; a .env written by hand wins.
    model_config = SettingsConfigDict(
        env_file=(VAR_DIR / "secrets.env", PROJECT_ROOT / ".env"), env_file_encoding="utf-8", extra="ignore"
    )

    environment: str = Field(
        "development", description="development, test or production. Production refuses default secrets."
    )
    database_url: str = Field(
        f"sqlite:///{VAR_DIR / 'cbp.db'}",
        description="SQLAlchemy URL of the API database. PostgreSQL: postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    database_pool_size: int = Field(
        10, ge=1, le=1000, description="Connections each API process keeps open to the database."
    )
    database_max_overflow: int = Field(
        20, ge=0, le=1000, description="Extra connections an API process may open at a peak, closed after use."
    )
    database_pool_timeout: float = Field(
        30, gt=0, le=600, description="Seconds a request waits for a free database connection before a 503."
    )
    storage_dir: Path = Field(VAR_DIR / "storage", description="Folder for uploaded files (never served).")
    tracker_store_url: str | None = Field(
        None,
        description="SQLAlchemy URL of Rasa's tracker store. Default: a SQLite file beside the API database, "
        "or the same PostgreSQL server as the API.",
    )
    rasa_cached_conversations: int = Field(
        256,
        ge=0,
        le=100_000,
        description="Conversations whose tracker each Rasa server keeps in memory between turns instead of "
        "rebuilding it from the tracker store (bot/tracker_store.py); 0 rebuilds it on every message.",
    )
    lock_store_url: str | None = Field(
        None,
        description="Redis URL for Rasa's lock store (scaled deployments), e.g. redis://127.0.0.1:6379/1. "
        "Default: Rasa's in-memory lock store (one Rasa server).",
    )
    action_service_token: str | None = Field(
        None, description="Service credential the action server uses to call the API. Generated under var/ if unset."
    )
    rasa_auth_token: str | None = Field(
        None, description="Token protecting Rasa's HTTP API. Generated under var/ if unset."
    )
    business_timezone: str = Field("America/New_York", description="Time zone of the customer service center.")
    mfa_enforcement_date: dt.date = Field(
        dt.date(2022, 6, 3), description="From this date a user cannot sign in without an MFA device."
    )
    notifier: Literal["outbox", "smtp"] = Field(
        "outbox",
        description="How one-time codes and account notices are delivered. outbox: every message (text, voice, "
        "email) is written to the outbox table, readable at /dev/outbox outside production. smtp: emails go to "
        "the SMTP server below; text and voice still go to the outbox until an SMS/voice provider is plugged in "
        "(see api/auth/notifier.py).",
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server for emails when NOTIFIER=smtp.")
    smtp_port: int = Field(1025, description="Port of the SMTP server (1025: a local development server).")
    smtp_sender: str = Field(
        "CBP Connexion <no-reply@cbic.example>", description="From address of the emails the API sends."
    )
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS before sending.")
    smtp_username: str | None = Field(None, description="SMTP user name, when the server requires sign-in.")
    smtp_password: str | None = Field(None, description="SMTP password, when the server requires sign-in.")
    contact_center_always_open: bool = Field(
        False,
        description="Tests and demos only: treat the customer service center as open at every hour, so that a "
        "handoff joins the agents' queue at night, on weekends and on holidays (the browser tests run at any hour). "
        "Ignored in production. Default off: the real hours (9 a.m. to 5:30 p.m. Eastern, Monday to Friday).",
    )
    api_host: str = Field("127.0.0.1", description="Interface the API listens on (the one public origin).")
    api_port: int = Field(8000, description="Port of the API, the Chat Now page and the agent console.")
    rasa_port: int = Field(5005, description="Port of the Rasa server (listens on 127.0.0.1 only).")
    action_port: int = Field(5055, description="Port of the action server (listens on 127.0.0.1 only).")
    log_level: str = Field("info", description="Log level of the three services.")

    @field_validator("business_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not a time zone name such as America/New_York") from exc
        return value

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            missing = [n for n in ("action_service_token", "rasa_auth_token") if not getattr(self, n)]
            if missing:
                raise ValueError(f"In production set {', '.join(n.upper() for n in missing)} explicitly.")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}"

    def effective_tracker_store_url(self) -> str:
        """The tracker store URL, derived from the database URL when not set."""
        if self.tracker_store_url:
            return self.tracker_store_url
        if self.database_url.startswith("sqlite"):
            db_path = Path(self.database_url.split("///", 1)[1])
            return f"sqlite:///{db_path.with_name(db_path.stem + '-rasa-tracker.db')}"
        return self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
