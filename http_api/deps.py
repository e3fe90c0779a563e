"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from authn.errors import PermissionDenied, Unauthenticated
from keys.trust import TrustList
from verifier.accounts import ANONYMOUS, Caller, Role, authenticate
from verifier.log_service import LogService
from verifier.settings import Clock, Settings
from verifier.trust import TrustStore
from verifier.verification.recorder import ScanRecorder
from verifier.verification.service import Verifier

bearer = HTTPBearer(auto_error=False, description="A sealtrace token: 'Bearer st_...'.")


@dataclass
class Services:
    """Everything one app instance holds; lives on ``app.state.services``."""

    settings: Settings
    engine: Engine
    clock: Clock
    trust: TrustStore
    verifier: Verifier
    recorder: ScanRecorder
    log: LogService
    # The read replica's engine; None: reads go to ``engine`` like everything else.
    read_engine: Engine | None = None

    @property
    def reader(self) -> Engine:
        """Where routed reads go: the replica when one is configured, else the primary."""
        return self.read_engine if self.read_engine is not None else self.engine

    @property
    def undo_window(self) -> timedelta:
        return timedelta(days=self.settings.undo_window_days)


def get_services(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


async def _services(request: Request) -> Services:
    # Dependencies that do no I/O are async: a sync one costs a trip to a worker thread
    # and back on every request, and a flood of cheap requests pays it many times over.
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with Session(services.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
"""A session on the primary: every route that writes, judges a scan, or must see its own
caller's write at once."""


def get_read_session(services: ServicesDep) -> Iterator[Session]:
    with Session(services.reader) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]
"""A session on the read replica when ``SEALTRACE_DATABASE_REPLICA_URL`` is set (else the
primary), for routes that only read and may answer from a copy a moment behind the
primary: listings, EPCIS queries and exports, the offline bundle. With a replica its
transactions are read-only, so a write through it fails. See docs/deploy.md, "Read
replicas"."""


async def get_now(services: ServicesDep) -> datetime:
    return services.clock()


NowDep = Annotated[datetime, Depends(get_now)]


async def get_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """Anonymous without an Authorization header; 401 for any bad one (never a silent downgrade).

    An anonymous caller costs no database session and no thread: the consumer's scan
    goes straight to the recorder.
    """
    if credentials is None:
        if request.headers.get("authorization"):
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        return ANONYMOUS
    pepper = services.settings.token_pepper.get_secret_value().encode("utf-8")
    return await run_in_threadpool(
        _authenticate, services.engine, credentials.credentials, pepper, services.clock()
    )


def _authenticate(engine: Engine, token: str, pepper: bytes, now: datetime) -> Caller:
    with Session(engine) as session:
        return authenticate(session, token, pepper=pepper, now=now)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_admin(caller: CallerDep) -> Caller:
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("this needs a registry admin's bearer token")
    if caller.role is not Role.ADMIN:
        raise PermissionDenied("only registry admins may do this")
    return caller


AdminDep = Annotated[Caller, Depends(get_admin)]


def get_trust_list(services: ServicesDep, session: SessionDep) -> TrustList:
    services.trust.refresh(session)
    return services.trust.current()


TrustListDep = Annotated[TrustList, Depends(get_trust_list)]
