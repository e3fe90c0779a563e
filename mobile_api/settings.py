"""Settings of the mobile layer (environment prefix ``SEALTRACE_MOBILE_``).

The verifier's own settings stay in :mod:`verifier.settings`; these only add
what phones and handhelds need: the key that signs offline bundles, the
decommissioned-code filter's false-positive rate and the upload limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MobileSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SEALTRACE_MOBILE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    bundle_key: Path | None = Field(
        default=None,
        description="Encrypted PEM Ed25519 private key that signs offline bundles. Without it, "
        "a key is generated at start (development only: handhelds cannot pin it).",
    )
    bundle_key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase of bundle_key."
    )
    bundle_max_age_hours: int = Field(
        default=72, ge=1, le=24 * 30, description="How long a handheld may use one bundle."
    )
    filter_fp_per_million: int = Field(
        default=10_000,
        ge=100,
        le=100_000,
        description="False-positive rate of the decommissioned-code filter, per million (1%).",
    )
    filter_min_capacity: int = Field(
        default=1 << 16, ge=1024, description="Smallest filter capacity (codes)."
    )
    delta_max_codes: int = Field(
        default=100_000, ge=0, description="A delta listing more codes than this is sent whole."
    )
    batch_max_items: int = Field(default=1000, ge=1, le=10_000)
    batch_body_limit: int = Field(default=2 * 1024 * 1024, ge=1024)
    decode_body_limit: int = Field(default=8 * 1024 * 1024, ge=1024)
    decode_max_pixels: int = Field(
        default=40_000_000, ge=1_000_000, description="Larger images are refused (bombs)."
    )
    decode_max_bytes: int = Field(
        default=48 * 1024 * 1024,
        ge=1024 * 1024,
        description="Most bytes the decoded pixels of one photo may take (read from its header, "
        "after JPEG draft scaling); larger images are refused with 413 before decoding.",
    )
    decode_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Photo decodes run at once (per worker or per host, see decode_scope); "
        "past it, 503 with Retry-After.",
    )
    decode_scope: Literal["worker", "host"] = Field(
        default="worker",
        description="Whether decode_concurrency counts per worker process or for every worker "
        "on the host together (flock on slot files).",
    )
    decode_nice: int = Field(
        default=19,
        ge=0,
        le=19,
        description="CPU priority (nice) of the photo decode processes: above the serving "
        "worker's, so decoding only takes CPU that verify does not need.",
    )
    decode_memory_mb: int = Field(
        default=384,
        ge=64,
        description="Address-space cap (RLIMIT_AS) of one photo decode process, in MiB.",
    )
    decode_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="A decode still running after this is stopped (503); its process is replaced.",
    )
    location_window_minutes: int = Field(
        default=30, ge=1, description="How long after a page view its location may be added."
    )
