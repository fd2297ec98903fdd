"""One typed settings object; nothing else in the code base reads ``os.environ``."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_KEY = "dev-feed-key"
PLACEHOLDER_LINK_SECRET = "dev-link-secret-change-me"
PLACEHOLDER_TWILIO_TOKEN = "dev-twilio-token"


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

    # --- paging ---
    # Who delivers pages: "console" prints them (embedded demo without a phone),
    # "twilio" uses the Twilio SDK (pointed at the local fake with twilio_api_base).
    paging_provider: Literal["console", "twilio"] = "console"
    # How due pages and deadlines are driven: "rq" through Redis and RQ workers,
    # "inline" by a loop inside the API process; "auto" is rq when redis_url is set.
    delivery: Literal["auto", "inline", "rq"] = "auto"
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = PLACEHOLDER_TWILIO_TOKEN
    twilio_from: str = "+3197010000000"
    # Base URL of Twilio's REST API; set to the local fake in tests and the demo.
    twilio_api_base: str | None = None
    # The URL Twilio (and the worker's phone) reaches this service on, as seen from
    # outside: webhooks are verified against it, links in SMS point at it.
    public_base_url: str = "http://127.0.0.1:8000"
    # Secret that signs the accept/decline links sent by SMS, and how long they work.
    link_secret: str = PLACEHOLDER_LINK_SECRET
    link_ttl_minutes: int = Field(default=120, ge=5, le=24 * 60)
    # --- live stream ---
    # How often each API process reads the event log when no bus notification came
    # (the notification normally wakes it at once; this bounds a lost one).
    stream_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Messages a websocket client may be behind while nothing could be sent to it for
    # 2 s (or ten times as many at any time) before it is closed (4408).
    stream_queue: int = Field(default=1000, ge=10, le=100_000)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # How long the worker's step page (sent once a worker accepts) keeps working.
    worker_link_hours: int = Field(default=12, ge=1, le=72)
    # Inbound SMS replies accepted per number per 10 minutes before we stop answering.
    sms_replies_per_10min: int = Field(default=10, ge=1, le=1000)
    # The demo's phone page (the fake Twilio), linked from the dashboard when set.
    demo_phones_url: str | None = None
    # How often the sweeper looks for due pages, passed deadlines and lost claims.
    sweep_seconds: float = Field(default=0.5, gt=0, le=60)

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
        if self.environment == "production" and self.link_secret == PLACEHOLDER_LINK_SECRET:
            raise ValueError("SAMENOP_LINK_SECRET still holds the development placeholder")
        if (
            self.environment == "production"
            and self.paging_provider == "twilio"
            and self.twilio_auth_token == PLACEHOLDER_TWILIO_TOKEN
        ):
            raise ValueError("SAMENOP_TWILIO_AUTH_TOKEN still holds the development placeholder")
        if self.environment == "production" and self.paging_provider == "console":
            raise ValueError(
                "SAMENOP_PAGING_PROVIDER=console pages nobody; use twilio in production"
            )
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError("SAMENOP_DATABASE_URL must point at PostgreSQL in production")
        return self

    @field_validator("public_base_url", "twilio_api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return None if value is None else value.rstrip("/")

    @property
    def delivery_mode(self) -> Literal["inline", "rq"]:
        if self.delivery == "auto":
            return "rq" if self.redis_url else "inline"
        return self.delivery


@lru_cache
def get_settings() -> Settings:
    return Settings()
