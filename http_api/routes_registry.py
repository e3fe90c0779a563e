"""The brand API: registrations, statuses, lots, markets, reading a code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from http_api.deps import CallerDep, NowDep, ServicesDep, SessionDep, TrustListDep
from verifier import registry, statuses
from verifier.schemas import (
    CodePublic,
    CodeStatusIn,
    FlagResolutionOut,
    FlagResolveIn,
    LotStatusIn,
    MarketsIn,
    MarketsOut,
    RegistrationIn,
    RegistrationOut,
    StatusChangeOut,
)
from verifier.verification.flags import resolve_flag

router = APIRouter(prefix="/v1", tags=["registry"])

GtinPath = Annotated[str, Path(pattern=r"^\d{14}$", description="14-digit GTIN")]
SerialPath = Annotated[str, Path(min_length=1, max_length=20)]
LotPath = Annotated[str, Path(min_length=1, max_length=20)]


@router.post("/registrations", response_model=RegistrationOut)
def register(
    body: RegistrationIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> RegistrationOut:
    """Register a batch of issued serials (brand accounts, GTIN within the brand's prefixes).

    Idempotent: the same body again registers nothing new and reports the serials as
    ``already_registered``."""
    return registry.register_batch(session, caller, trust, body, now=now)


@router.get("/codes/{gtin}/{serial}", response_model=CodePublic)
def read_code(
    gtin: GtinPath,
    serial: SerialPath,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> CodePublic:
    """A registered code with its status and change history (owning brand, officer, admin)."""
    return registry.read_code(session, caller, trust, gtin, serial, now=now)


@router.post("/codes/{gtin}/{serial}/status", response_model=StatusChangeOut)
def change_code_status(
    gtin: GtinPath,
    serial: SerialPath,
    body: CodeStatusIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    services: ServicesDep,
    now: NowDep,
) -> StatusChangeOut:
    """Decommission a unit (EMVS set). Only an active unit changes; setting its current status
    again changes nothing."""
    return statuses.change_code_status(
        session, caller, trust, gtin, serial, body.status, body.comment,
        now=now, undo_window=services.undo_window,
    )  # fmt: skip


@router.post("/codes/{gtin}/{serial}/status/undo", response_model=StatusChangeOut)
def undo_code_status(
    gtin: GtinPath,
    serial: SerialPath,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    services: ServicesDep,
    now: NowDep,
) -> StatusChangeOut:
    """Undo the latest status change: same account, within the undo window (10 days)."""
    return statuses.undo_code_status(
        session, caller, trust, gtin, serial, now=now, undo_window=services.undo_window
    )


@router.post("/codes/{gtin}/{serial}/flag/resolve", response_model=FlagResolutionOut)
def resolve_code_flag(
    gtin: GtinPath,
    serial: SerialPath,
    body: FlagResolveIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> FlagResolutionOut:
    """Resolve a code's flag as cloned (owning brand, officer, admin), with a comment.

    Audited. New clone evidence from accountable scans flags the code again."""
    return resolve_flag(session, caller, trust, gtin, serial, body.comment, now=now)


@router.post("/lots/{gtin}/{lot}/status", response_model=StatusChangeOut)
def change_lot_status(
    gtin: GtinPath,
    lot: LotPath,
    body: LotStatusIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    services: ServicesDep,
    now: NowDep,
) -> StatusChangeOut:
    """Recall a lot (or lift the recall)."""
    return statuses.change_lot_status(
        session, caller, trust, gtin, lot, body.status, body.comment,
        now=now, undo_window=services.undo_window,
    )  # fmt: skip


@router.post("/lots/{gtin}/{lot}/status/undo", response_model=StatusChangeOut)
def undo_lot_status(
    gtin: GtinPath,
    lot: LotPath,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    services: ServicesDep,
    now: NowDep,
) -> StatusChangeOut:
    return statuses.undo_lot_status(
        session, caller, trust, gtin, lot, now=now, undo_window=services.undo_window
    )


@router.put("/markets/{gtin}", response_model=MarketsOut)
def set_markets(
    gtin: GtinPath,
    body: MarketsIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> MarketsOut:
    """Set the intended markets of a GTIN, or of one batch of it (``batch_id``)."""
    return registry.set_markets(session, caller, trust, gtin, body.markets, body.batch_id, now=now)
