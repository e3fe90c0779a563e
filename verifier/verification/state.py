"""Loading what the rules need about a batch of codes: two or three indexed queries in all.

The hot path reads the codes' rows with their intended markets and the brands' detection
thresholds for the GTINs (one statement), their lots' statuses (when the codes carry a
lot) and a bounded window of recent scans per code (newest first), never the full history.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, Text, TextualSelect, and_, bindparam, func, text, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.types import ARRAY
from sqlmodel import Session, col, select

from authn.code import ProductCode
from detection import ProductThresholds
from storage.pipeline import Row, Step, pipelined
from storage.types import UTCDateTime
from verifier.db.models import CodeRecord, IntendedMarket, LotStatus, ProductThreshold, Scan
from verifier.verification.rules import CodeFacts, ScanFacts, effective_status_of

__all__ = [
    "CodeState",
    "StateQuery",
    "code_facts",
    "effective_status_of",
    "load_states",
    "load_states_and",
    "recent_ids_from",
    "recent_ids_step",
    "recent_scan_ids",
    "scan_facts",
]


@dataclass(frozen=True)
class CodeState:
    record: CodeFacts | None
    lot_status: str | None
    intended_markets: tuple[str, ...] | None
    recent: tuple[ScanFacts, ...]
    thresholds: ProductThresholds | None = None
    # Every scan the history query read (before each code's own time bound): compared with
    # recent_scan_ids() to learn whether another transaction added a scan meanwhile.
    window_ids: frozenset[str] = frozenset()


def code_facts(row: CodeRecord) -> CodeFacts:
    return CodeFacts(
        gtin=row.gtin, serial=row.serial, lot=row.lot, expiry=row.expiry, key_id=row.key_id,
        batch_id=row.batch_id, brand_id=row.brand_id, registered_at=row.registered_at,
        status=row.status, status_changed_at=row.status_changed_at, flagged_at=row.flagged_at,
        flag_reasons=row.flag_reasons, flag_scan_id=row.flag_scan_id,
    )  # fmt: skip


def scan_facts(row: Scan) -> ScanFacts:
    """A stored scan as the rules see it (times read back as UTC)."""
    return ScanFacts(
        scanned_at=_aware(row.scanned_at), role=row.role, device_id=row.device_id,
        country=row.country, lat=row.lat, lon=row.lon, accuracy_m=row.accuracy_m,
        verdict=row.verdict, scan_id=row.scan_id, recorded_at=_aware(row.recorded_at),
    )  # fmt: skip


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


Identity = tuple[str, str]  # (gtin, serial)

_CODE: Table = CodeRecord.__table__  # type: ignore[attr-defined]
_THRESHOLD: Table = ProductThreshold.__table__  # type: ignore[attr-defined]
_MARKET: Table = IntendedMarket.__table__  # type: ignore[attr-defined]
_BATCH_MARKETS = _MARKET.alias("batch_markets")
_GTIN_MARKETS = _MARKET.alias("gtin_markets")
_FACTS = tuple(f.name for f in dataclasses.fields(CodeFacts))
# The codes' rows with their GTIN's thresholds and intended markets, in one statement of
# plain rows (no ORM entities); each join is on a unique key, so one row per code.
_RECORDS = sa_select(
    *(_CODE.c[name] for name in _FACTS),
    _THRESHOLD.c.gtin.label("threshold_gtin"),
    _THRESHOLD.c.max_distinct_devices,
    _THRESHOLD.c.max_sessions_after_sale,
    _THRESHOLD.c.max_speed_kmh,
    _BATCH_MARKETS.c.markets.label("batch_markets"),
    _GTIN_MARKETS.c.markets.label("gtin_markets"),
).select_from(
    _CODE.outerjoin(_THRESHOLD, _THRESHOLD.c.gtin == _CODE.c.gtin)
    .outerjoin(
        _BATCH_MARKETS,
        and_(_BATCH_MARKETS.c.gtin == _CODE.c.gtin, _BATCH_MARKETS.c.batch_id == _CODE.c.batch_id),
    )
    .outerjoin(
        _GTIN_MARKETS, and_(_GTIN_MARKETS.c.gtin == _CODE.c.gtin, _GTIN_MARKETS.c.batch_id == "")
    )
)


# On PostgreSQL the codes come as two arrays joined to the rows: one statement text for any
# number of codes, which psycopg prepares once, where a row-value IN list is a new text (and
# a new plan of its outer joins) for every batch size. SQLite keeps the IN list.
_WANTED = (
    func.unnest(bindparam("gtins", type_=ARRAY(Text)), bindparam("serials", type_=ARRAY(Text)))
    .table_valued("gtin", "serial")
    .render_derived(name="wanted")
)
_RECORDS_PG = _RECORDS.join(
    _WANTED, and_(_WANTED.c.gtin == _CODE.c.gtin, _WANTED.c.serial == _CODE.c.serial)
)


_LOTS_PG = text(
    "SELECT l.gtin, l.lot, l.status FROM unnest(CAST(:gtins AS text[]), CAST(:lots AS text[])) "
    "AS q(gtin, lot) JOIN lot_status AS l ON l.gtin = q.gtin AND l.lot = q.lot"
)


def _records_step(dialect: str, identities: list[Identity]) -> Step:
    if dialect == "postgresql":
        gtins, serials = [g for g, _ in identities], [s for _, s in identities]
        return Step(_RECORDS_PG, {"gtins": gtins, "serials": serials})
    return Step(_RECORDS.where(tuple_(_CODE.c.gtin, _CODE.c.serial).in_(identities)))


def _lots_step(dialect: str, lots: list[tuple[str, str]]) -> Step:
    if dialect == "postgresql":
        return Step(_LOTS_PG, {"gtins": [g for g, _ in lots], "lots": [lot for _, lot in lots]})
    return Step(
        select(LotStatus.gtin, LotStatus.lot, LotStatus.status).where(
            tuple_(col(LotStatus.gtin), col(LotStatus.lot)).in_(lots)
        )
    )


@dataclass(frozen=True)
class StateQuery:
    """One code whose state a batch needs, and the earliest moment its history must reach."""

    code: ProductCode
    since: datetime


def load_states(
    session: Session, queries: Sequence[StateQuery], *, history_limit: int
) -> dict[Identity, CodeState]:
    """The state of every code in ``queries`` in two or three statements, however many codes."""
    return load_states_and(session, queries, history_limit=history_limit)[0]


def load_states_and(
    session: Session,
    queries: Sequence[StateQuery],
    *,
    history_limit: int,
    also: Sequence[Step] = (),
) -> tuple[dict[Identity, CodeState], list[list[Row]]]:
    """The state of every code in ``queries``, and the rows of the reads ``also`` asked for
    (which need nothing from the state): on PostgreSQL all in one round trip
    (:func:`storage.pipeline.pipelined`), elsewhere two or three statements and ``also``'s.

    Each code's recent history is its own ``LIMIT``-ed index range (``ix_scan_code_time``):
    a hot code's long history is never read in full.
    """
    connection = session.connection()
    wanted = _widest(queries)
    if not wanted:
        return {}, pipelined(connection, also)
    dialect = connection.dialect.name
    lots = sorted({(q.code.gtin, q.code.lot) for q in wanted.values() if q.code.lot is not None})
    steps = [_records_step(dialect, list(wanted))]
    if lots:
        steps.append(_lots_step(dialect, lots))
    steps.append(_recent_step(dialect, list(wanted.values()), history_limit))
    found = pipelined(connection, [*steps, *also])
    record_rows, recent_rows = found[0], found[len(steps) - 1]
    lot_rows = found[1] if lots else []
    records: dict[Identity, CodeFacts] = {}
    thresholds: dict[Identity, ProductThresholds] = {}
    markets: dict[Identity, tuple[str, ...]] = {}
    for row in record_rows:
        identity = (row["gtin"], row["serial"])
        records[identity] = CodeFacts(**{name: row[name] for name in _FACTS})
        if row["threshold_gtin"] is not None:
            thresholds[identity] = ProductThresholds(
                max_distinct_devices=row["max_distinct_devices"],
                max_sessions_after_sale=row["max_sessions_after_sale"],
                max_speed_kmh=row["max_speed_kmh"],
            )
        # A batch's own markets win over the GTIN-wide ones (stored under batch '').
        stored = row["batch_markets"] or row["gtin_markets"]
        if stored:
            markets[identity] = tuple(stored.split(","))
    lot_status = {(row["gtin"], row["lot"]): row["status"] for row in lot_rows}
    recent, read = _recent_scans(recent_rows, list(wanted.values()))
    states: dict[Identity, CodeState] = {}
    for identity, query in wanted.items():
        lot = query.code.lot
        states[identity] = CodeState(
            record=records.get(identity),
            lot_status=lot_status.get((query.code.gtin, lot)) if lot is not None else None,
            intended_markets=markets.get(identity),
            recent=tuple(recent.get(identity, ())),
            thresholds=thresholds.get(identity),
            window_ids=read.get(identity, frozenset()),
        )
    return states, found[len(steps) :]


def recent_ids_step(session: Session, queries: Sequence[StateQuery], *, history_limit: int) -> Step:
    """The read of :func:`recent_scan_ids`, to be sent after the code locks in one pipeline."""
    wanted = list(_widest(queries).values())
    dialect, params = _recent_params(session.get_bind().dialect.name, wanted, history_limit)
    return Step(_RECENT_IDS[dialect], params)


def recent_ids_from(rows: Sequence[Row]) -> dict[Identity, frozenset[str]]:
    read: dict[Identity, set[str]] = {}
    for row in rows:
        read.setdefault((row["gtin"], row["serial"]), set()).add(row["scan_id"])
    return {identity: frozenset(ids) for identity, ids in read.items()}


def recent_scan_ids(
    session: Session, queries: Sequence[StateQuery], *, history_limit: int
) -> dict[Identity, frozenset[str]]:
    """Which scans :func:`load_states` would read for these codes now (``window_ids``)."""
    if not queries:
        return {}
    step = recent_ids_step(session, queries, history_limit=history_limit)
    return recent_ids_from(pipelined(session.connection(), [step])[0])


def _widest(queries: Sequence[StateQuery]) -> dict[Identity, StateQuery]:
    """One query per code, reaching as far back as any of its queries does."""
    wanted: dict[Identity, StateQuery] = {}
    for query in queries:
        identity = query.code.identity()
        held = wanted.get(identity)
        if held is None or query.since < held.since:
            wanted[identity] = query
    return wanted


# Each code's newest scans, as its own LIMIT-ed range of ix_scan_code_time, for any number of
# codes in one fixed statement (prepared and cached once, whatever the batch): PostgreSQL
# joins the codes (two arrays) LATERAL to the scans; SQLite walks a JSON array of the codes.
# The *_IDS forms read only which scans are there, to see whether another worker added one.
_LATERAL = (
    "FROM unnest(CAST(:gtins AS text[]), CAST(:serials AS text[])) AS q(gtin, serial) "
    "CROSS JOIN LATERAL (SELECT * FROM scan WHERE scan.gtin = q.gtin AND scan.serial = q.serial "
    "AND scan.scanned_at >= :since ORDER BY scan.scanned_at DESC LIMIT :lim) AS s"
)
_JSON_EACH = (
    "FROM json_each(:codes) AS q JOIN scan AS s ON s.id IN ("
    "SELECT id FROM scan WHERE gtin = json_extract(q.value, '$[0]') "
    "AND serial = json_extract(q.value, '$[1]') AND scanned_at >= :since "
    "ORDER BY scanned_at DESC LIMIT :lim)"
)
_FULL = (
    "SELECT s.scan_id, s.gtin, s.serial, s.scanned_at, s.recorded_at, s.role, s.device_id, "
    "s.country, s.lat, s.lon, s.accuracy_m, s.verdict "
)
_IDS = "SELECT s.scan_id, s.gtin, s.serial "


def _statement(sql: str) -> TextualSelect:
    return (
        text(sql)
        .bindparams(bindparam("since", type_=UTCDateTime()))
        .columns(scanned_at=UTCDateTime(), recorded_at=UTCDateTime())
    )


_RECENT = {"postgresql": _statement(_FULL + _LATERAL), "sqlite": _statement(_FULL + _JSON_EACH)}
_RECENT_IDS = {"postgresql": _statement(_IDS + _LATERAL), "sqlite": _statement(_IDS + _JSON_EACH)}


def _recent_params(
    dialect: str, queries: list[StateQuery], history_limit: int
) -> tuple[str, dict[str, object]]:
    # One lower bound for the batch: newest first, a code's newest scans since the earliest
    # bound, cut to its own bound, are exactly its newest scans since its own bound.
    params: dict[str, object] = {"since": min(q.since for q in queries), "lim": history_limit}
    if dialect == "postgresql":
        params["gtins"] = [q.code.gtin for q in queries]
        params["serials"] = [q.code.serial for q in queries]
    else:
        params["codes"] = json.dumps([[q.code.gtin, q.code.serial] for q in queries])
    return dialect, params


def _recent_step(dialect: str, queries: list[StateQuery], history_limit: int) -> Step:
    dialect, params = _recent_params(dialect, queries, history_limit)
    return Step(_RECENT[dialect], params)


def _recent_scans(
    rows: Sequence[Row], queries: list[StateQuery]
) -> tuple[dict[Identity, list[ScanFacts]], dict[Identity, frozenset[str]]]:
    """Each code's recent scans (newest first), and the ids of every scan the query read."""
    bounds = {q.code.identity(): q.since for q in queries}
    found: dict[Identity, list[ScanFacts]] = {}
    read: dict[Identity, set[str]] = {}
    for row in rows:
        identity = (row["gtin"], row["serial"])
        read.setdefault(identity, set()).add(row["scan_id"])
        if row["scanned_at"] < bounds[identity]:
            continue
        facts = ScanFacts(
            scanned_at=row["scanned_at"], role=row["role"], device_id=row["device_id"],
            country=row["country"], lat=row["lat"], lon=row["lon"],
            accuracy_m=row["accuracy_m"], verdict=row["verdict"], scan_id=row["scan_id"],
            recorded_at=row["recorded_at"],
        )  # fmt: skip
        found.setdefault(identity, []).append(facts)
    for scans in found.values():
        scans.sort(key=lambda s: s.scanned_at, reverse=True)  # newest first
    return found, {identity: frozenset(ids) for identity, ids in read.items()}
