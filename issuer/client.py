"""The producer's HTTP client for the verifier's brand API (everything but registration).

Errors come back as the project's own exception tree, one class per HTTP
answer, with the service's ``detail`` as the message, so the command line
prints one line for each; the token never appears in a message.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from authn.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SealtraceError,
    Unauthenticated,
    Unavailable,
)

URL_ENV = "SEALTRACE_URL"
TOKEN_ENV = "SEALTRACE_TOKEN"  # noqa: S105 - a variable name
CONFIG_ENV = "SEALTRACE_CONFIG"
DEFAULT_URL = "http://127.0.0.1:8000"
BULK_LIMIT = 10_000  # items per bulk status call, the service's own limit
_BY_STATUS: dict[int, type[SealtraceError]] = {
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}


def default_config_path() -> Path:
    if CONFIG_ENV in os.environ:
        return Path(os.environ[CONFIG_ENV])
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "sealtrace" / "client.toml"


@dataclass(frozen=True)
class ClientConfig:
    url: str
    token: str

    @classmethod
    def resolve(
        cls, url: str | None, config: Path | None, env: Mapping[str, str] = os.environ
    ) -> ClientConfig:
        """--url, then $SEALTRACE_URL, then the config file; the token from the env or the file.

        The config file is TOML with ``url`` and ``token``; it holds a secret, so
        one that others can read is refused, as for key files.
        """
        path = config or default_config_path()
        stored: dict[str, Any] = {}
        if path.is_file():
            if path.stat().st_mode & 0o077:
                raise InvalidInput(f"{path} holds a token and others can read it: chmod 600 {path}")
            try:
                stored = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise InvalidInput(f"{path} is not valid TOML: {exc}") from None
        elif config is not None:
            raise InvalidInput(f"no config file at {path}")
        token = env.get(TOKEN_ENV) or str(stored.get("token") or "")
        if not token:
            raise Unauthenticated(f"set ${TOKEN_ENV} (or token in {path}) to your account's token")
        base = url or env.get(URL_ENV) or str(stored.get("url") or DEFAULT_URL)
        if not base.startswith(("http://", "https://")):
            raise InvalidInput(f"the verifier URL must be http(s), got {base!r}")
        return cls(base.rstrip("/"), token)


class VerifierClient:
    """Thin calls to the brand API; each returns the decoded JSON answer."""

    def __init__(self, config: ClientConfig, *, timeout: float = 120.0) -> None:
        self.config = config
        self._http = httpx.Client(
            base_url=config.url,
            headers={"Authorization": f"Bearer {config.token}"},
            timeout=timeout,
        )

    def __enter__(self) -> VerifierClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the verifier at {self.config.url}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return None
        return response.json()

    def bulk_status(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per-item results for any number of items, in calls of at most ``BULK_LIMIT``."""
        results: list[dict[str, Any]] = []
        for start in range(0, len(items), BULK_LIMIT):
            answer = self.call(
                "POST", "/v1/codes/status:batch", json={"items": items[start : start + BULK_LIMIT]}
            )
            results.extend(answer["results"])
        return results


def _error(response: httpx.Response) -> SealtraceError:
    try:
        problem = response.json()
        detail = problem.get("detail") if isinstance(problem, dict) else problem
    except ValueError:
        detail = response.text[:200]
    if isinstance(detail, list):  # a validation error: say where
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail[:3]
        )
    message = f"{response.status_code}: {detail or response.reason_phrase}"
    if response.status_code >= 500:
        return Unavailable(message)
    return _BY_STATUS.get(response.status_code, InvalidInput)(message)
