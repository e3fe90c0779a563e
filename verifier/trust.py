"""The trust list as the service holds it: loaded at start, replaced by an admin, never rolled back.

Parsing and judging are ``keys.trust``'s; this module adds the service's
concerns: persistence of every accepted list, refusal of rollback, and
picking up a list that another worker installed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from authn.errors import Conflict, RollbackError, SealtraceError, TrustError, Unavailable
from keys.trust import TrustList
from verifier.db.models import TrustListDoc

log = logging.getLogger(__name__)


class TrustListParser(Protocol):
    def __call__(
        self, data: bytes, *, now: datetime, held_version: int | None, allow_stale: bool
    ) -> TrustList: ...


def keys_trust_parser(registry_key: Ed25519PublicKey) -> TrustListParser:
    """The parser of ``keys.trust``: checks the registry's signature, version and expiry."""

    def parse(
        data: bytes, *, now: datetime, held_version: int | None, allow_stale: bool
    ) -> TrustList:
        return TrustList.from_signed_json(
            data, registry_key, now=now, held_version=held_version, allow_stale=allow_stale
        )

    return parse


@dataclass(frozen=True)
class HeldTrustList:
    trust_list: TrustList
    data: bytes

    @property
    def etag(self) -> str:
        return f'"v{self.trust_list.version}-{hashlib.sha256(self.data).hexdigest()[:16]}"'


class TrustStore:
    """Holds the current trust list of one worker; the database keeps every accepted one.

    Several workers share one database: each looks for a newer stored version
    at most every ``refresh_seconds``, so a list installed through one worker
    reaches all of them without a restart.
    """

    def __init__(
        self,
        parser: TrustListParser | None,
        *,
        refresh_seconds: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._parser = parser
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._held: HeldTrustList | None = None
        self._checked_at: datetime | None = None
        self._lock = threading.Lock()
        self._initial_file: bytes | None = None
        self._initialised = False

    @property
    def held(self) -> HeldTrustList | None:
        return self._held

    def current(self) -> TrustList:
        if self._held is None:
            raise Unavailable("the verifier holds no trust list yet; the registry must install one")
        return self._held.trust_list

    def _parse(self, data: bytes, *, held_version: int | None, allow_stale: bool) -> TrustList:
        if self._parser is None:
            raise Unavailable(
                "no registry public key is configured (SEALTRACE_REGISTRY_PUBLIC_KEY)"
            )
        return self._parser(
            data, now=self._clock(), held_version=held_version, allow_stale=allow_stale
        )

    def start(self, session: Session, file_data: bytes | None) -> None:
        """At start: load, or if the database is down, try again on the next refresh."""
        self._initial_file = file_data
        try:
            self.load_initial(session, file_data)
        except OperationalError as exc:
            session.rollback()
            log.error("cannot load the trust list yet, database unavailable: %s", exc.orig)
        except SealtraceError as exc:
            # A bad file or a missing registry key: serve 503s (and fail /readyz) with the
            # reason in the log, rather than refuse to start.
            self._initialised = True
            log.error("no usable trust list: %s", exc)

    def load_initial(self, session: Session, file_data: bytes | None) -> None:
        """The newest of the stored lists and the configured file."""
        stored = session.exec(
            select(TrustListDoc).order_by(col(TrustListDoc.version).desc()).limit(1)
        ).first()
        if stored is not None:
            # A stored list was accepted fresh; serving it stale beats serving nothing,
            # and evaluate() judges staleness per code.
            self._held = HeldTrustList(
                self._parse(stored.data, held_version=None, allow_stale=True), stored.data
            )
        if file_data is not None:
            held_version = self._held.trust_list.version if self._held else None
            try:
                parsed = self._parse(file_data, held_version=held_version, allow_stale=True)
            except RollbackError:
                log.warning("the configured trust list file is older than the stored one; ignored")
            else:
                if held_version is None or parsed.version > held_version:
                    self._store(session, parsed, file_data, account_id=None)
        self._checked_at = self._clock()
        self._initialised = True

    def install(self, session: Session, data: bytes, *, account_id: int | None) -> bool:
        """Install a newer list; False when it is the one already held. Rollback is refused."""
        with self._lock:
            self.refresh(session, force=True)
            held = self._held
            if held is not None and data == held.data:
                return False
            held_version = held.trust_list.version if held else None
            try:
                parsed = self._parse(data, held_version=held_version, allow_stale=False)
            except RollbackError as exc:
                raise Conflict(str(exc)) from None
            if held_version is not None and parsed.version <= held_version:
                raise Conflict(
                    f"trust list version {parsed.version} is not newer than the held "
                    f"version {held_version}"
                )
            self._store(session, parsed, data, account_id=account_id)
            return True

    def refresh(self, session: Session, *, force: bool = False) -> None:
        """Pick up a newer list another worker stored (one cheap query, rate-limited)."""
        if not self._initialised:
            self.load_initial(session, self._initial_file)
            return
        now = self._clock()
        if (
            not force
            and self._checked_at is not None
            and (now - self._checked_at).total_seconds() < self._refresh_seconds
        ):
            return
        self._checked_at = now
        newest = session.exec(select(func.max(TrustListDoc.version))).one()
        held_version = self._held.trust_list.version if self._held else None
        if newest is None or (held_version is not None and newest <= held_version):
            return
        doc = session.exec(select(TrustListDoc).where(TrustListDoc.version == newest)).one()
        try:
            self._held = HeldTrustList(
                self._parse(doc.data, held_version=held_version, allow_stale=True), doc.data
            )
        except TrustError as exc:
            log.error("stored trust list version %s is unusable: %s", newest, exc)

    def _store(
        self, session: Session, parsed: TrustList, data: bytes, *, account_id: int | None
    ) -> None:
        session.add(
            TrustListDoc(
                version=parsed.version,
                data=data,
                installed_at=self._clock(),
                installed_by=account_id,
            )
        )
        try:
            session.commit()
        except IntegrityError:
            # Another worker stored this version at the same moment.
            session.rollback()
            stored = session.exec(
                select(TrustListDoc.data).where(TrustListDoc.version == parsed.version)
            ).one()
            if stored != data:
                raise Conflict(
                    f"a different trust list with version {parsed.version} is already stored"
                ) from None
        self._held = HeldTrustList(parsed, data)
