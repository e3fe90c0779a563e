"""A batch of scans costs a fixed number of SQL statements, however many scans it holds.

Every code here has a supply-chain history (packed in a case, the case on a pallet,
the pallet shipped from Germany to France) and scans of its own; each scan carries a
country, so judging it walks unit -> case -> pallet for the EPCIS route findings.
The statements the batch's transaction sends are counted with SQLAlchemy's
``before_cursor_execute`` event, for a batch of 1 scan and one of 32 scans of 32
distinct codes: the counts must be equal. Scans are judged right, too: a unit scanned
in Italy while its pallet is on its way to France is suspect, one in France is not.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event

from epcis.documents import aggregation_event, epcis_document, object_event
from epcis.findings import forget_parsed_events
from epcis.identifiers import unit_uri
from http_api.routes_epcis import router
from storage import pipeline
from verifier.accounts import ANONYMOUS
from verifier.schemas import VerifyIn, VerifyOut

if TYPE_CHECKING:
    from tests.verifier.conftest import Env

FACTORY = "urn:epc:id:sgln:9506000.00001.0"  # Germany
WAREHOUSE = "urn:epc:id:sgln:9506000.00002.0"  # France
PALLET = "urn:epc:id:sscc:9506000.0000000999"
SERIALS = [f"N{i:02d}" for i in range(33)]  # one for the batch of 1, 32 for the other
ROME = {"lat": 41.9, "lon": 12.5, "accuracy_m": 30}
PARIS = {"lat": 48.86, "lon": 2.35, "accuracy_m": 30}


@pytest.fixture
def routed(env: Env) -> Env:
    """Codes registered, packed 8 to a case, the cases on a pallet on its way to France."""
    if not any(getattr(r, "path", "").startswith("/v1/epcis") for r in env.app.routes):
        env.app.include_router(router)
    assert env.register(SERIALS).status_code == 200
    start = env.clock() - dt.timedelta(days=2)
    events: list[dict[str, Any]] = []
    cases = []
    for number, first in enumerate(range(0, len(SERIALS), 8), start=1):
        case = f"urn:epc:id:sscc:9506000.{number:010d}"
        cases.append(case)
        units = [unit_uri(env.ACME_GTIN, s) for s in SERIALS[first : first + 8]]
        events.append(aggregation_event(case, units, at=start, biz_location=FACTORY))
    events += [
        aggregation_event(PALLET, cases, at=start + dt.timedelta(hours=1), biz_location=FACTORY),
        object_event(
            [PALLET], at=start + dt.timedelta(hours=2), biz_step="shipping",
            disposition="in_transit", read_point=FACTORY,
            sources=[("location", FACTORY)], destinations=[("location", WAREHOUSE)],
        ),
    ]  # fmt: skip
    document = epcis_document(events, created=start, locations={FACTORY: "DE", WAREHOUSE: "FR"})
    response = env.client.post("/v1/epcis/capture", json=document, headers=env.auth("acme"))
    assert response.status_code == 201, response.text
    for serial in SERIALS:  # a history of its own for every code
        assert env.verify(env.sign(serial), country="FR", location=PARIS).status_code == 200
    env.clock.advance(hours=12)  # Paris to Rome by then is no impossible travel
    return env


def judged(env: Env, serials: list[str]) -> tuple[list[VerifyOut], list[str]]:
    """Judge one batch of scans of ``serials`` (even positions in Italy, odd in France),
    returning the answers and every statement the batch sent."""
    verifier = env.services.verifier
    jobs = [
        verifier.prepare(
            ANONYMOUS,
            VerifyIn.model_validate(
                {"code": env.sign(serial), "country": "IT", "location": ROME}
                if i % 2 == 0
                else {"code": env.sign(serial), "country": "FR", "location": PARIS}
            ),
        )
        for i, serial in enumerate(serials)
    ]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: Any) -> None:
        if context is not None:  # None: part of a pipeline, counted as one below
            statements.append(" ".join(sql.split())[:120])

    def count_pipeline(sent: list[str]) -> None:  # one round trip for all of them
        statements.append(" | ".join(" ".join(sql.split())[:120] for sql in sent))

    forget_parsed_events()  # both batches start cold: nothing parsed in an earlier one
    engine = env.services.engine
    event.listen(engine, "before_cursor_execute", count)
    pipeline.listeners.append(count_pipeline)
    try:
        with env.session() as session:
            results = verifier.judge(session, jobs)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        pipeline.listeners.remove(count_pipeline)
    answers = [r for r in results if isinstance(r, VerifyOut)]
    assert len(answers) == len(jobs), results
    return answers, statements


def test_a_batch_of_32_sends_as_many_statements_as_a_batch_of_1(routed: Env) -> None:
    one, one_sent = judged(routed, SERIALS[:1])
    many, many_sent = judged(routed, SERIALS[1:])
    assert len(many) == 32
    # The route findings are in the answers: Italy is off the pallet's way, France is on it.
    assert [a.verdict for a in one] == ["suspect"]
    assert [a.verdict for a in many] == ["suspect", "authentic"] * 16
    assert len(many_sent) == len(one_sent), "\n".join(
        ["batch of 1:", *one_sent, "", "batch of 32:", *many_sent]
    )
    # unit, case, pallet: one statement each for the events naming them and one for the
    # documents not parsed yet; then the countries of the locations those events name.
    epcis = [s for s in one_sent if "epcis" in s]
    assert len(epcis) == 7, "\n".join(epcis)
    # Round trips, the commit apart. On PostgreSQL the reads that need nothing from each
    # other go in one pipeline each (docs/performance.md lists them): the trust list's
    # version, the batch's state (code rows, histories, products, images), the seven EPCIS
    # reads, the locks with the re-read of the histories, the scans' insert, the alert's
    # upsert with its brand's webhook, the log's head lock, its entries with the head.
    # Sent one by one, as on SQLite (BEGIN IMMEDIATE in place of the locks), they were 20.
    listing = "\n".join(one_sent)
    if routed.services.engine.dialect.name == "postgresql":
        assert len(one_sent) == 14, listing
        # Three pipelines; the log's entries and head go as one statement of their own.
        assert sum(" | " in s for s in one_sent) == 3, listing
        assert sum(s.startswith("WITH head AS (UPDATE log_head") for s in one_sent) == 1, listing
    else:
        assert len(one_sent) == 20, listing
