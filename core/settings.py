"""One typed settings object; nothing else in the code base reads ``os.environ``."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_KEY = "dev-admin-key"
PLACEHOLDER_LINK_SECRET = "dev-link-secret-change-me"
PLACEHOLDER_TWILIO_TOKEN = "dev-twilio-token"
PLACEHOLDER_VONAGE_SECRET = "dev-vonage-secret"
PLACEHOLDER_VONAGE_SIGNATURE = "dev-vonage-signature-secret-change-me"  # >= 32 bytes (HS256)
ProviderName = Literal["twilio", "vonage"]


class Settings(BaseSettings):
    """Service configuration, read from ``SAMENOP_*`` environment variables or ``.env``."""

    model_config = SettingsConfigDict(env_prefix="SAMENOP_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/samenop.db"
    redis_url: str | None = None
    # RQ queue (and job-id prefix), so several deployments can share one Redis.
    queue_name: str = Field(default="samenop", pattern=r"^[a-z0-9_-]{1,40}$")
    # Bootstrap admin keys (X-API-Key), comma-separated or a JSON list: for setting up
    # accounts and scoped keys (`samenop keys create`). May be empty; the police feed and
    # other systems get stored keys scoped to a role and regions.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [PLACEHOLDER_KEY])
    # --- access ---
    # The local demo only (`samenop demo` sets it, with environment=development): the
    # pages open without signing in, as an admin.
    demo_open: bool = False
    # Sign-in sessions of the pages end after this long without a request, and at the
    # latest this long after signing in.
    session_idle_minutes: int = Field(default=240, ge=5, le=24 * 60)
    session_absolute_hours: int = Field(default=14, ge=1, le=24 * 7)
    # An account is locked for a while after this many failed sign-ins in a row; an
    # address may fail this many times per window before it is refused altogether.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    login_per_address: int = Field(default=20, ge=1, le=10_000)
    login_window_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # How long a rotated API key keeps working beside its successor (hours).
    key_rotation_overlap_hours: float = Field(default=24.0, ge=0, le=24 * 90)
    # How long a websocket ticket (POST /api/v1/stream/tickets) may wait to be used.
    stream_ticket_seconds: int = Field(default=30, ge=5, le=600)
    # An external identity provider (OpenID Connect), optional: the issuer's URL (its
    # /.well-known/openid-configuration is read) and the client. An existing account is
    # found by its oidc_subject (the token's "sub") only; accounts are made by an admin
    # and their roles stay here. The username claim is only shown to someone unknown.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_username_claim: str = "preferred_username"
    # Directory of region YAML files loaded by the demo and `samenop config load`.
    regions_dir: str = "regions"
    # A configuration write that removes more than this share of the people (or any
    # region, or a team with open incidents) needs an explicit confirmation.
    config_remove_people_share: float = Field(default=0.2, ge=0, le=1)
    # The audit log takes the caller's address from X-Forwarded-For only when the
    # service runs behind a proxy that sets it (otherwise anyone could write it).
    trust_proxy_headers: bool = False
    # What the police are told when an incident falls outside every configured area.
    national_fallback_phone: str = "0800-2000"
    national_fallback_name: str = "Veilig Thuis (landelijk)"
    timezone: str = "Europe/Amsterdam"
    # Personal data of closed incidents (roles, ages, flags, callback numbers, notes) is
    # removed this many days after closing; the anonymous facts stay for the evaluation.
    retention_days: int = Field(default=90, ge=1, le=3650)
    log_sql: bool = False

    # --- paging ---
    # Who delivers pages: "console" prints them (embedded demo without a phone),
    # "twilio" / "vonage" use their SDKs (pointed at the local fakes in tests and the
    # demo). With a secondary, pages go through it while the primary is failing.
    paging_provider: Literal["console", "twilio", "vonage"] = "console"
    paging_secondary: ProviderName | None = None
    # How long a provider's HTTP request may take (connect and answer); a send that
    # times out is uncertain and looked up before anything is sent again.
    provider_timeout_seconds: float = Field(default=5.0, gt=0, le=6)
    # The failover circuit: it opens after this many consecutive failed or timed-out
    # sends through a provider, and then lets one probe through after this long.
    circuit_failures: int = Field(default=3, ge=1, le=100)
    circuit_probe_seconds: float = Field(default=15.0, gt=0, le=3600)
    # A send whose outcome is unknown (a timeout) and that the provider cannot be asked
    # about is not sent through the other provider before this long has passed without
    # any sign of it (a callback names the page).
    uncertain_send_seconds: float = Field(default=15.0, ge=0, le=600)
    # When a dispatch's pages could not be sent for this long, the control room is told
    # to phone the people on call itself ("Oproepen lukken niet — bel zelf: ...").
    send_failing_alarm_seconds: float = Field(default=10.0, gt=0, le=600)
    # "Nog niemand aangenomen": raised this long after the report while nobody accepted
    # (a region's configuration may set its own).
    no_accept_alarm_minutes: float = Field(default=3.0, gt=0, le=120)
    # How due pages and deadlines are driven: "rq" through Redis and RQ workers,
    # "inline" by a loop inside the API process; "auto" is rq when redis_url is set.
    delivery: Literal["auto", "inline", "rq"] = "auto"
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = PLACEHOLDER_TWILIO_TOKEN
    twilio_from: str = "+3197010000000"
    # Base URL of Twilio's REST API; set to the local fake in tests and the demo.
    twilio_api_base: str | None = None
    # Vonage: the Voice API application (JWT signed with its private key, a PEM file
    # path or the PEM itself), the account key and secret (SMS API), the signature
    # secret webhooks are signed with, and the number pages come from.
    vonage_application_id: str = "00000000-0000-4000-8000-000000000000"
    vonage_private_key: str | None = None
    vonage_api_key: str = "devkey01"
    vonage_api_secret: str = PLACEHOLDER_VONAGE_SECRET
    vonage_signature_secret: str = PLACEHOLDER_VONAGE_SIGNATURE
    vonage_from: str = "+3197010000001"
    # Hosts of Vonage's APIs ("api.nexmo.com", "rest.nexmo.com"); the local fake's
    # "127.0.0.1:PORT" in tests and the demo, trusted through ``vonage_ca_bundle``.
    vonage_api_host: str | None = None
    vonage_rest_host: str | None = None
    vonage_ca_bundle: str | None = None
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
    # --- the planners' daily digest (e-mail) ---
    # The mail server the digest goes through; unset: no digest is sent. Port 587 with
    # STARTTLS is the usual submission port; user and password only when it asks.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = "samenop@localhost"
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Local time (Europe/Amsterdam) from which each region's digest of the day goes out.
    digest_at: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # --- input bounds (api.hardening) ---
    # Largest request body, in bytes; the configuration routes (/api/v1/config...) have
    # their own. A larger body is answered 413 (Content-Length over it: unread).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_config_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    # Deepest nesting of arrays and objects in a JSON body.
    max_json_depth: int = Field(default=32, ge=8, le=256)
    # Most entries in one section of a configuration (people, teams, rules, ...).
    max_config_entries: int = Field(default=5000, ge=10, le=1_000_000)
    # Longest window asked of /api/v1/coverage/gaps, in days (8 weeks).
    max_gap_days: int = Field(default=56, ge=1, le=92)
    # Time limit of heavy work (configuration checks and writes, coverage gaps); it runs
    # off the event loop and stops, changing nothing, when the limit passes (503).
    work_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    # --- operations ---
    # Log lines: "json" (one object per line) or "text"; unset: json in production,
    # text elsewhere. Secrets and phone numbers are scrubbed either way.
    log_format: Literal["json", "text"] | None = None
    # Prometheus metrics on a port of their own, bound to 127.0.0.1, for a scraper on
    # the same host (the API's /metrics needs a key); served by `samenop serve` and
    # `samenop worker`. Unset: no such port.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Directory where the processes of one host (or sharing a volume) keep their
    # metrics, so any of them reports all (prometheus_client multiprocess mode).
    # `samenop serve --workers N` makes one of its own when this is unset.
    metrics_dir: str | None = None

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
    def _long_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not key or len(key) > 128:
                raise ValueError("each API key must be 1 to 128 characters")
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "production" and PLACEHOLDER_KEY in self.api_keys:
            raise ValueError(
                "SAMENOP_API_KEYS still holds the development placeholder; "
                "set real keys (or none) before running in production"
            )
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("SAMENOP_OIDC_ISSUER needs SAMENOP_OIDC_CLIENT_ID and _SECRET")
        if self.environment == "production" and self.link_secret == PLACEHOLDER_LINK_SECRET:
            raise ValueError("SAMENOP_LINK_SECRET still holds the development placeholder")
        if (
            self.environment == "production"
            and self.paging_provider == "twilio"
            and self.twilio_auth_token == PLACEHOLDER_TWILIO_TOKEN
        ):
            raise ValueError("SAMENOP_TWILIO_AUTH_TOKEN still holds the development placeholder")
        vonage_used = "vonage" in (self.paging_provider, self.paging_secondary)
        if self.environment == "production" and vonage_used:
            if self.vonage_api_secret == PLACEHOLDER_VONAGE_SECRET:
                raise ValueError(
                    "SAMENOP_VONAGE_API_SECRET still holds the development placeholder"
                )
            if self.vonage_signature_secret == PLACEHOLDER_VONAGE_SIGNATURE:
                raise ValueError(
                    "SAMENOP_VONAGE_SIGNATURE_SECRET still holds the development placeholder"
                )
            if not self.vonage_private_key:
                raise ValueError("SAMENOP_VONAGE_PRIVATE_KEY is needed to place Vonage calls")
        if self.paging_secondary is not None and self.paging_secondary == self.paging_provider:
            raise ValueError("SAMENOP_PAGING_SECONDARY must differ from SAMENOP_PAGING_PROVIDER")
        if self.paging_secondary is not None and self.paging_provider == "console":
            raise ValueError("a secondary provider needs a real primary (twilio or vonage)")
        if self.environment == "production" and self.paging_provider == "console":
            raise ValueError(
                "SAMENOP_PAGING_PROVIDER=console pages nobody; use twilio or vonage in production"
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
