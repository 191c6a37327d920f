from __future__ import annotations


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/healthz" in spec["paths"]


def test_healthz_says_unavailable_when_the_database_is_gone(app_env, monkeypatch):
    from fastapi.testclient import TestClient

    from api.config import get_settings
    from api.database import get_engine, get_sessionmaker
    from api.main import create_app

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    for cache in (get_settings, get_engine, get_sessionmaker):
        cache.cache_clear()
    try:
        with TestClient(create_app()) as c:
            response = c.get("/healthz")
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"
    finally:
        monkeypatch.undo()
        for cache in (get_settings, get_engine, get_sessionmaker):
            cache.cache_clear()
