"""Log formats: plain text for a terminal, one JSON object per line for a log pipeline.

Every record made while a request is being answered carries that request's id
(``request_id``), set by ``RequestIdMiddleware`` in a context variable, so one
request's lines can be found together and matched with the id a 500 answer
quotes. ``uvicorn_log_config`` is what ``sealtrace serve`` hands to uvicorn,
which applies it in every worker process.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

LogFormat = Literal["text", "json"]

REQUEST_ID: ContextVar[str | None] = ContextVar("sealtrace_request_id", default=None)

# Attributes every LogRecord has; anything else came from ``extra=`` and is logged as a field.
_STANDARD = frozenset(
    set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
    | {"message", "asctime", "color_message", "taskName"}
)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...extra, "exc"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# Query parameters whose values never reach a log line (a client may put a token in the URL).
SECRET_PARAMETERS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "secret", "password", "passphrase",
     "auth", "authorization", "session", "csrf"}
)  # fmt: skip


def redact_query(path: str) -> str:
    """``path`` with the values of secret-named query parameters replaced by ``[redacted]``."""
    if "?" not in path:
        return path
    base, _, query = path.partition("?")
    parts = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        if eq and unquote_plus(name).lower() in SECRET_PARAMETERS:
            part = f"{name}=[redacted]"
        parts.append(part)
    return base + "?" + "&".join(parts)


class RedactQueryFilter(logging.Filter):
    """Redacts secret query values in uvicorn's access lines (args: client, method, path, ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def uvicorn_log_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn and the app, in the chosen format."""
    formatter: dict[str, Any] = (
        {"()": "verifier.logging_setup.JsonFormatter"}
        if log_format == "json"
        else {"format": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "main",
        "filters": ["request_id"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "verifier.logging_setup.RequestIdFilter"},
            "redact_query": {"()": "verifier.logging_setup.RedactQueryFilter"},
        },
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level.upper()},
        "loggers": {
            # uvicorn's loggers keep their own levels but write through ours.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True, "filters": ["redact_query"]},
        },
    }


def configure_logging(log_format: LogFormat, level: str = "INFO") -> None:
    """Apply :func:`uvicorn_log_config` to this process (scripts, tests)."""
    import logging.config

    logging.config.dictConfig(uvicorn_log_config(log_format, level))
