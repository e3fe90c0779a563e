"""Settings of the verification service (environment prefix ``SEALTRACE_``, or ``.env``).

Development is the default and needs nothing: SQLite under ``./data``, a
built-in token pepper. Outside development the service refuses to start on
the unsafe defaults (see :meth:`Settings.refuse_unsafe_defaults`).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Clock = Callable[[], datetime]

DEFAULT_DATABASE_URL = "sqlite:///./data/sealtrace.db"
DEVELOPMENT_PEPPER = "sealtrace-development-pepper-not-for-production"
MIN_PEPPER_CHARS = 32


def utc_now() -> datetime:
    """The real clock; the app takes any other ``Clock`` (tests pass their own)."""
    return datetime.now(UTC)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SEALTRACE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("SEALTRACE_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    database_replica_url: str | None = Field(
        default=None,
        description="A read-only PostgreSQL hot standby (postgresql+psycopg://...). When set, "
        "the console's pages, EPCIS queries and exports, alert and seizure listings and the "
        "offline bundle read from it; everything that writes or judges a scan stays on "
        "SEALTRACE_DATABASE_URL. Reads there may lag the primary (docs/deploy.md).",
    )
    allow_sqlite_in_production: bool = Field(
        default=False,
        description="Single-machine deployments (a border post) may run SQLite in production.",
    )
    token_pepper: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PEPPER),
        description="Server secret mixed into stored token hashes (HMAC-SHA256).",
    )
    trust_list: Path | None = Field(default=None, description="Signed trust list JSON file.")
    registry_public_key: Path | None = Field(
        default=None, description="PEM Ed25519 public key of the registry that signs trust lists."
    )
    trust_refresh_seconds: float = Field(
        default=30.0, ge=0, description="How often a worker looks for a newer stored trust list."
    )
    db_pool_size: int = Field(
        default=5, ge=1, le=100, description="PostgreSQL connections kept open per worker."
    )
    db_max_overflow: int = Field(
        default=5, ge=0, le=100, description="Extra PostgreSQL connections per worker under load."
    )
    db_pool_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for a free connection before a 503."
    )
    db_lock_timeout_ms: int = Field(
        default=2000,
        ge=0,
        description="PostgreSQL lock_timeout: a statement waiting longer for a lock fails and "
        "the request is answered 503 with Retry-After (0: wait for ever).",
    )
    db_statement_timeout_ms: int = Field(
        default=15_000,
        ge=0,
        description="PostgreSQL statement_timeout: the longest one statement may run (0: none).",
    )
    db_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="SQLite busy timeout: the wait for the write lock."
    )
    apply_migrations: bool = Field(default=True, description="Run Alembic upgrade at start.")
    history_limit: int = Field(default=50, ge=1, le=1000, description="Recent scans loaded.")
    history_days: int = Field(default=180, ge=1, description="Age of the oldest scan loaded.")
    record_batch_max: int = Field(
        default=64, ge=1, le=500, description="Most scans one worker commits in one transaction."
    )
    undo_window_days: int = Field(default=10, ge=0, description="Status changes undoable.")
    verify_body_limit: int = Field(default=64 * 1024, ge=1024)
    registration_body_limit: int = Field(default=2 * 1024 * 1024, ge=1024)
    trust_list_body_limit: int = Field(default=4 * 1024 * 1024, ge=1024)
    product_image_max_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest product image upload, in bytes."
    )
    product_image_max_pixels: int = Field(
        default=16_000_000, ge=1, description="Largest product image upload, in pixels."
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db: rate-limit counters shared by every worker and "
        "machine; without it each worker counts on its own.",
    )
    anonymous_verify_limit: int = Field(
        default=300,
        ge=0,
        description="Requests to anonymous routes (label URLs, decode, /scan, /report, verify, "
        "log, product images) per client IP per window; 0 turns the limit off.",
    )
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=86_400)
    rate_limit_key_prefix: str = Field(
        default="sealtrace:rl:", max_length=64, description="Prefix of the Redis keys."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Addresses or networks (CIDR) of the load balancers in front: only when the "
        "TCP peer is one of them is the client IP taken from X-Forwarded-For (the rightmost "
        "entry that is not itself a trusted proxy). A JSON list or a comma-separated string.",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token that may read /metrics from anywhere."
    )
    metrics_allow_ips: list[str] = Field(
        default=["127.0.0.1", "::1"],
        description="Client IPs that may read /metrics without the token (the scraper's).",
    )
    webhook_allow_networks: list[str] = Field(
        default=[],
        description="Networks (CIDR) webhooks may reach although they are not public, e.g. "
        "an internal receiver; everything else that is loopback, private, link-local or "
        "reserved is refused, after DNS resolution and on every connection.",
    )
    hsts_seconds: int = Field(
        default=31_536_000, ge=0, description="Strict-Transport-Security max-age on https."
    )
    epcis_job_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Lease of a running EPCIS capture job, renewed while it runs: a job whose "
        "worker died is taken over by another worker once its lease has expired.",
    )
    worker_healthcheck_seconds: int = Field(
        default=30,
        gt=0,
        description="How long uvicorn's supervisor waits for a worker to answer its health "
        "check before killing it (with --workers over 1); a busy machine needs longer.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, with the request id."
    )

    log_key: Path | None = Field(
        default=None,
        description="Encrypted PKCS#8 Ed25519 key that signs the transparency log's checkpoints.",
    )
    log_key_passphrase: SecretStr | None = Field(default=None, description="The log key's.")
    log_origin: str = Field(
        default="sealtrace.invalid/log",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9.:/_-]+$",
        description="The log's name in its checkpoints (e.g. verify.brand.example/log).",
    )
    log_checkpoint_seconds: float = Field(
        default=10.0, ge=0, description="A new checkpoint is signed at most this often."
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """``10.0.0.5,10.0.1.0/24`` as well as ``["10.0.0.5"]`` (the environment gives text)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("webhook_allow_networks", "trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError: refused at start
        return value

    @model_validator(mode="after")
    def replica_needs_postgresql(self) -> Settings:
        # A SQLite file has no replica; a replica of anything but the primary's PostgreSQL
        # would answer reads from another database.
        if self.database_replica_url is None:
            return self
        if self.is_sqlite or not self.database_replica_url.startswith("postgresql"):
            raise ValueError(
                "SEALTRACE_DATABASE_REPLICA_URL needs PostgreSQL on both "
                "SEALTRACE_DATABASE_URL and the replica (postgresql+psycopg://...)"
            )
        return self

    @model_validator(mode="after")
    def refuse_unsafe_defaults(self) -> Settings:
        """Outside development: a real pepper; in production also a real store and trust."""
        if self.environment == "development":
            return self
        pepper = self.token_pepper.get_secret_value()
        if pepper == DEVELOPMENT_PEPPER or len(pepper) < MIN_PEPPER_CHARS:
            raise ValueError(
                f"SEALTRACE_TOKEN_PEPPER must be set to a secret of at least "
                f"{MIN_PEPPER_CHARS} characters when SEALTRACE_ENVIRONMENT={self.environment}"
            )
        if self.environment == "production":
            if self.is_sqlite and not self.allow_sqlite_in_production:
                raise ValueError(
                    "production needs PostgreSQL (SEALTRACE_DATABASE_URL=postgresql+psycopg://...)"
                    "; set SEALTRACE_ALLOW_SQLITE_IN_PRODUCTION=true for a single-machine install"
                )
            if self.registry_public_key is None:
                raise ValueError("production needs SEALTRACE_REGISTRY_PUBLIC_KEY (a PEM file)")
            if self.log_key is None:
                raise ValueError("production needs SEALTRACE_LOG_KEY (signs log checkpoints)")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
