"""Bench-only server: the full app, with or without the transparency log's append.

Used by :mod:`bench.bench_log_cost` to measure what the log costs recorded verify.
Both variants start the same way (this launcher, the same uvicorn options), so the
log is the only difference. The switch exists only here, as a separate uvicorn
factory, on purpose: no setting or environment variable of the service turns the
log off, so no production configuration can do it by accident. Never point the
unlogged variant at a database whose log matters: the scans it records have no log
entries, and ``sealtrace audit verify`` names each of them.

    python -m bench.serve_log_ab PORT WORKERS logged|unlogged
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import FastAPI


def _disable_log() -> None:
    import transparency.hooks
    import verifier.verification.writes

    # No listeners (ORM writes queue nothing, nothing is appended at commit), and the
    # verify path's own call for its executemany of scans does nothing.
    transparency.hooks.install = lambda clock=None: None

    def _skip(*args: Any, **kwargs: Any) -> None:
        return None

    setattr(verifier.verification.writes, "log_rows", _skip)  # noqa: B010 (not exported)


def logged() -> FastAPI:
    """uvicorn factory target: exactly ``mobile_api.app:app``."""
    from mobile_api.app import create_app

    return create_app()


def unlogged() -> FastAPI:
    """uvicorn factory target: the same app with the log's append switched off."""
    _disable_log()
    return logged()


def main(argv: list[str]) -> None:
    import uvicorn

    port, workers, variant = int(argv[0]), int(argv[1]), argv[2]
    if variant not in ("logged", "unlogged"):
        raise SystemExit("variant is logged or unlogged")
    uvicorn.run(
        f"bench.serve_log_ab:{variant}",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
