"""One typed settings object; nothing else in the code base reads ``os.environ``."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_KEY = "dev-feed-key"


class Settings(BaseSettings):
    """Service configuration, read from ``SAMENOP_*`` environment variables or ``.env``."""

    model_config = SettingsConfigDict(env_prefix="SAMENOP_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/samenop.db"
    redis_url: str | None = None
    # RQ queue (and job-id prefix), so several deployments can share one Redis.
    queue_name: str = Field(default="samenop", pattern=r"^[a-z0-9_-]{1,40}$")
    # API keys accepted from the police feed and other systems: comma-separated or a
    # JSON list in the environment.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [PLACEHOLDER_KEY])
    # Directory of region YAML files loaded by the demo and `samenop config load`.
    regions_dir: str = "regions"
    # What the police are told when an incident falls outside every configured area.
    national_fallback_phone: str = "0800-2000"
    national_fallback_name: str = "Veilig Thuis (landelijk)"
    timezone: str = "Europe/Amsterdam"
    # Incidents (roles, ages, flags) and their dispatch are deleted after this many days.
    retention_days: int = Field(default=90, ge=1, le=3650)
    log_sql: bool = False

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [key.strip() for key in text.split(",") if key.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _some_key(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one API key is needed")
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "production" and PLACEHOLDER_KEY in self.api_keys:
            raise ValueError(
                "SAMENOP_API_KEYS still holds the development placeholder; "
                "set real keys before running in production"
            )
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError("SAMENOP_DATABASE_URL must point at PostgreSQL in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
