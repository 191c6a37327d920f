"""Shared fixtures: a real database per test session (SQLite, or PostgreSQL when asked) and the app.

Set DATABASE_URL to a PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run
the tests against PostgreSQL: a fresh database is created on that server for the session and dropped
afterwards, so the named database itself is left alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


def _clear_caches() -> None:
    from api.config import get_settings
    from api.database import get_engine, get_sessionmaker

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test session."""
    from api.manage import migrate

    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgresql"):
        name = f"cbp_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        migrate(url)
        yield url
        from api.database import get_engine

        get_engine().dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def app_env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of the API under test; settings are read from it."""
    env = {
        "DATABASE_URL": database_url,
        "STORAGE_DIR": str(tmp_path_factory.mktemp("storage")),
        "ACTION_SERVICE_TOKEN": "test-service-token",
        "RASA_AUTH_TOKEN": "test-rasa-token",
        "ENVIRONMENT": "test",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _clear_caches()
    yield env
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _clear_caches()


@pytest.fixture(scope="session")
def app(app_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from api.main import create_app

    return create_app()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(app_env: dict[str, str]) -> Iterator[Session]:
    from api.database import get_sessionmaker

    with get_sessionmaker()() as session:
        yield session


@pytest.fixture(scope="session")
def demo_data(app_env: dict[str, str]) -> None:
    from api.seed import load_demo_data

    list(load_demo_data(app_env["DATABASE_URL"]))


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def sign_in(db: Session, demo_data: None):  # type: ignore[no-untyped-def]
    """sign_in("demo.supplier") -> headers of a fresh signed-in session for that user."""
    from sqlalchemy import select

    from api.auth.models import User
    from api.auth.sessions import create_session

    def _sign_in(user_id: str) -> dict[str, str]:
        user = db.scalar(select(User).where(User.user_id == user_id))
        assert user is not None, f"no demo user {user_id}"
        token, _row = create_session(db=db, user=user)
        return {"Authorization": f"Bearer {token}"}

    return _sign_in


# One live stack (API, action server, Rasa) per test session, for every directory that needs it.
from tests.live_stack import live_stack  # noqa: E402, F401
