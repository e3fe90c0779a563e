"""The evaluation's service process: ``python -m bench.clone_eval.server DIR PORT``.

The real app (``mobile_api.app.create_app``: label URLs, pages, verify, batch sync)
served by uvicorn over TCP, on the SQLite database (or ``SEALTRACE_DATABASE_URL``)
that the driver prepared in ``DIR``. One addition, for the bench only: the driver
moves the service's clock to each event's arrival time with ``PUT /_bench/clock``
(the simulation spans months, the run minutes). The route exists only in this
launcher, which listens on 127.0.0.1; nothing else differs from production.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Request
from fastapi.responses import Response

from bench.clone_eval.service import SettableClock, settings_for
from mobile_api.app import create_app

CLOCK_ROUTE = "/_bench/clock"
# The driver sends each phone network's address as X-Forwarded-For from this peer.
PROXY = "127.0.0.1"


def build(directory: Path, now: dt.datetime) -> Any:
    clock = SettableClock(now)
    # The driver is the proxy: the service takes X-Forwarded-For from it.
    extra: dict[str, Any] = {"trusted_proxies": [PROXY]}
    database_url = os.environ.get("SEALTRACE_DATABASE_URL")
    if database_url:
        extra["database_url"] = database_url
    app = create_app(settings_for(directory, **extra), clock=clock)

    @app.put(CLOCK_ROUTE, include_in_schema=False)
    async def set_clock(request: Request) -> Response:
        clock.now = dt.datetime.fromisoformat((await request.body()).decode())
        return Response(status_code=204)

    return app


def main(argv: list[str]) -> None:
    directory, port = Path(argv[0]), int(argv[1])
    now = dt.datetime.fromisoformat(argv[2])
    uvicorn.run(build(directory, now), host=PROXY, port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
