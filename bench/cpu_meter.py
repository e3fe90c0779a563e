"""CPU seconds spent by the processes under test, read from /proc (Linux).

On a machine other work shares, requests per second move with whatever else
runs; the CPU time the server and its database spend per request moves far
less, because time spent waiting for a core is not counted. The benchmarks
report both, measured over the same interval.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; everything after its ")" splits cleanly.
    return text[text.rindex(")") + 2 :].split()


def _cpu_seconds(fields: list[str]) -> float:
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _TICKS


def session_cpu(session_id: int) -> float:
    """CPU seconds of every live process in ``session_id`` (a server started with
    ``start_new_session=True`` leads its own session, workers included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and int(fields[3]) == session_id:  # field 6: session id
            total += _cpu_seconds(fields)
    return total


def pids_cpu(pids: list[int]) -> float:
    """CPU seconds of the given processes (those that still exist)."""
    total = 0.0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += _cpu_seconds(fields)
    return total


def postgres_backends(admin_dsn: str, database: str) -> list[int]:
    """Process ids of the PostgreSQL backends connected to ``database`` (same machine)."""
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=2) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    return [int(row[0]) for row in rows]
