"""Settings: the only reader of the environment; placeholders refused in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import PLACEHOLDER_KEY, Settings


def test_api_keys_from_env_comma_separated_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMENOP_API_KEYS", "feed-one, feed-two")
    assert Settings().api_keys == ["feed-one", "feed-two"]
    monkeypatch.setenv("SAMENOP_API_KEYS", '["feed-three"]')
    assert Settings().api_keys == ["feed-three"]


def test_production_refuses_placeholder_key_and_sqlite() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", database_url="postgresql+psycopg://x/y")
    with pytest.raises(ValidationError, match="LINK_SECRET"):
        Settings(environment="production", api_keys=["real"], database_url="postgresql://x/y")
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings(
            environment="production",
            api_keys=["real"],
            link_secret="a-real-secret",
            paging_provider="twilio",
            twilio_auth_token="real-token",
            database_url="sqlite:///x.db",
        )
    real = {
        "environment": "production",
        "api_keys": ["real"],
        "link_secret": "a-real-secret",
        "database_url": "postgresql+psycopg://x/y",
    }
    with pytest.raises(ValidationError, match="pages nobody"):
        Settings(**real)
    with pytest.raises(ValidationError, match="TWILIO_AUTH_TOKEN"):
        Settings(**real, paging_provider="twilio")
    ok = Settings(**real, paging_provider="twilio", twilio_auth_token="real-token")
    assert PLACEHOLDER_KEY not in ok.api_keys


def test_an_empty_key_list_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bootstrap admin keys are optional: scoped keys live in the database."""
    monkeypatch.setenv("SAMENOP_API_KEYS", " , ")
    assert Settings().api_keys == []
