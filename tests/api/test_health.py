"""Readiness reports the database and Redis over real connections."""

from __future__ import annotations

import os

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings

from ..conftest import API_KEY

REDIS_URL = os.environ.get("SAMENOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_healthz_reports_database_and_config(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["config_version"] >= 1
    assert body["database"] in ("sqlite", "postgresql")


def test_healthz_pings_real_redis(db_url: str) -> None:
    settings = Settings(
        environment="test", database_url=db_url, api_keys=[API_KEY], redis_url=REDIS_URL
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json()["redis"] == "ok"


def test_healthz_unreachable_redis_is_503(db_url: str) -> None:
    settings = Settings(
        environment="test",
        database_url=db_url,
        api_keys=[API_KEY],
        redis_url="redis://127.0.0.1:1/0",
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json()["redis"].startswith("unreachable")


def test_database_down_is_503_saying_a_retry_is_safe() -> None:
    settings = Settings(
        environment="test",
        api_keys=[API_KEY],
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
    )
    with TestClient(create_app(settings), headers={"X-API-Key": API_KEY}) as c:
        r = c.post(
            "/api/v1/incidents",
            json={
                "source": "s",
                "external_id": "1",
                "reported_at": "2026-11-28T23:40",
                "case_type": "HG",
                "police_unit": "A",
                "police_callback": "06 12345678",
            },
        )
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert "Retry the same request" in r.json()["detail"]
