"""One typed settings object; nothing else in the code base reads ``os.environ``."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_KEY = "dev-feed-key"


class Settings(BaseSettings):
    """Service configuration, read from ``SAMENOP_*`` environment variables or ``.env``."""

    model_config = SettingsConfigDict(env_prefix="SAMENOP_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/samenop.db"
    redis_url: str | None = None
    # API keys accepted from the police feed and other systems (comma-separated in env).
    api_keys: list[str] = Field(default_factory=lambda: [PLACEHOLDER_KEY])
    # Directory of region YAML files loaded by the demo and `samenop config load`.
    regions_dir: str = "regions"
    # What the police are told when an incident falls outside every configured area.
    national_fallback_phone: str = "0800-2000"
    national_fallback_name: str = "Veilig Thuis (landelijk)"
    timezone: str = "Europe/Amsterdam"
    log_sql: bool = False

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
