"""Places and units of aggregated alerts, and when their growth is worth telling the brand.

An aggregated alert stands for many scans: every scan of one GTIN under one key that
failed the signature, or every scan of one recalled lot. Its row counts the scans; its
tallies (``alert_tally``) count, per country and per serial, how often each was seen and
when first and last. A brand reads "42 scans of forged codes of this GTIN, 17 serials, in
DE, FR and PL", not 42 alerts.

Tallies are upserted in the verify transaction, one statement per batch, like the alerts
themselves. The upsert's returned count tells whether a value is new (a first country is
"meaningful growth" and is announced; a first serial is not).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlmodel import Session, col, func, select

from storage.upsert import dialect_insert
from verifier.db.models import AlertTally

COUNTRY = "country"
SERIAL = "serial"


@dataclass
class Seen:
    """What one batch saw of one aggregated alert: countries and serials, with counts."""

    countries: dict[str, int] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)

    def add(self, country: str | None, serial: str) -> None:
        if country:
            self.countries[country] = self.countries.get(country, 0) + 1
        self.serials[serial] = self.serials.get(serial, 0) + 1


@dataclass(frozen=True)
class Place:
    country: str
    count: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class Tallies:
    places: tuple[Place, ...] = ()
    units: int = 0


def crossed_threshold(before: int, after: int) -> bool:
    """True when the count reached a new power of ten (10, 100, 1000, ...) in between."""
    if before < 1 or after <= before:
        return False
    return math.floor(math.log10(after)) > math.floor(math.log10(before))


def record(session: Session, seen: dict[int, Seen], *, now: datetime) -> set[int]:
    """Add one batch's tallies; returns the alerts that saw a country for the first time.

    Does not commit: it runs in the verify transaction."""
    rows: list[dict[str, Any]] = []
    for alert_id, what in seen.items():
        for dimension, values in ((COUNTRY, what.countries), (SERIAL, what.serials)):
            rows.extend(
                {
                    "alert_id": alert_id, "dimension": dimension, "value": value,
                    "count": count, "first_seen_at": now, "last_seen_at": now,
                }
                for value, count in values.items()
            )  # fmt: skip
    if not rows:
        return set()
    added = {(r["alert_id"], r["dimension"], r["value"]): r["count"] for r in rows}
    statement = _upsert_statement(session.get_bind().dialect.name)
    new_place: set[int] = set()
    for alert_id, dimension, value, count in session.execute(statement, rows):
        if dimension == COUNTRY and count == added[(alert_id, dimension, value)]:
            new_place.add(alert_id)
    return new_place


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    table: Table = AlertTally.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=["alert_id", "dimension", "value"],
        set_={
            "count": table.c.count + statement.excluded.count,
            "last_seen_at": statement.excluded.last_seen_at,
        },
    ).returning(table.c.alert_id, table.c.dimension, table.c.value, table.c.count)


def read(session: Session, alert_ids: Iterable[int]) -> dict[int, Tallies]:
    """The places (most seen first) and the number of distinct units of each alert."""
    wanted = sorted(set(alert_ids))
    if not wanted:
        return {}
    places: dict[int, list[Place]] = {}
    for row in session.exec(
        select(AlertTally).where(
            col(AlertTally.alert_id).in_(wanted), AlertTally.dimension == COUNTRY
        )
    ):
        places.setdefault(row.alert_id, []).append(
            Place(row.value, row.count, row.first_seen_at, row.last_seen_at)
        )
    units = dict(
        session.exec(
            select(AlertTally.alert_id, func.count())
            .where(col(AlertTally.alert_id).in_(wanted), AlertTally.dimension == SERIAL)
            .group_by(col(AlertTally.alert_id))
        ).all()
    )
    return {
        alert_id: Tallies(_ordered(places.get(alert_id, ())), int(units.get(alert_id, 0)))
        for alert_id in wanted
        if alert_id in places or alert_id in units
    }


def _ordered(places: Sequence[Place]) -> tuple[Place, ...]:
    return tuple(sorted(places, key=lambda p: (-p.count, p.country)))
