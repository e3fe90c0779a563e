"""Building offline bundles from the verifier's database: versions, deltas, a cache.

A bundle version is ``T.A.C``: the trust list version ``T``, the highest audit
event id ``A`` it reflects (every status change writes one), and the filter
capacity ``C``. A delta since ``T'.A'.C`` lists the codes decommissioned by
audit events after ``A'``; it is only possible while the capacity is unchanged
and no code was put back into circulation since (a Bloom filter cannot forget),
and while it lists at most ``delta_max_codes``: otherwise the full bundle is
sent. Either answer brings the handheld to the current version. Product data
changes write audit events too, so a delta carries the products set or deleted
after ``A'``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, tuple_
from sqlmodel import Session, col, select

from authn.signing import Signer, raw_public_key
from keys.canonical import format_time
from keys.signers import LazyFileSigner
from keys.trust import TrustList
from mobile_api.bloom import BloomFilter, filter_id_for, keys_of
from mobile_api.bundle import BundleProduct, FlaggedCode, build_delta, build_full
from mobile_api.settings import MobileSettings
from verifier.db.models import AuditEvent, CodeRecord, LotStatus, Product
from verifier.products import PRODUCT_DELETE, PRODUCT_SET
from verifier.statuses import CODE_STATUS
from verifier.verification.flags import FLAG_RESOLVED, FLAGGED
from verifier.verification.rules import ACTIVE, LOT_RECALLED_STATUS, stored_reasons

log = logging.getLogger(__name__)

CHUNK = 50_000


@dataclass(frozen=True)
class BundleAnswer:
    data: bytes
    version: str
    kind: str  # "full" or "delta"


def load_bundle_signer(settings: MobileSettings, *, environment: str) -> Signer:
    if settings.bundle_key is not None:
        passphrase = settings.bundle_key_passphrase
        if passphrase is None:
            raise ValueError("SEALTRACE_MOBILE_BUNDLE_KEY_PASSPHRASE is needed for the bundle key")
        # Opened on the first bundle, not in every worker's start (one scrypt each).
        return LazyFileSigner(settings.bundle_key, passphrase.get_secret_value().encode())
    if environment == "production":
        raise ValueError("production needs SEALTRACE_MOBILE_BUNDLE_KEY (offline bundle signing)")
    log.warning("no bundle key configured: offline bundles are signed by a throwaway key")
    return Ed25519PrivateKey.generate()


def parse_version(text: str) -> tuple[int, int, int] | None:
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 18 for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


class BundleService:
    def __init__(self, signer: Signer, settings: MobileSettings) -> None:
        self.signer = signer
        self.settings = settings
        self._lock = threading.Lock()
        self._cached: tuple[str, datetime, bytes] | None = None

    @property
    def key_id(self) -> str:
        return hashlib.sha256(raw_public_key(self.signer.public_key())).hexdigest()[:12]

    def capacity_for(self, count: int) -> int:
        capacity = self.settings.filter_min_capacity
        while capacity < count * 5 // 4:
            capacity *= 2
        return capacity

    def salt_for(self, capacity: int) -> bytes:
        # Deterministic per deployment key and size, so workers and restarts build the same filter.
        seed = b"sealtrace/bundle-salt/v1" + raw_public_key(self.signer.public_key())
        return hashlib.sha256(seed + capacity.to_bytes(8, "big")).digest()[:8]

    def current_version(self, session: Session, trust_list: TrustList) -> str:
        audit_id = session.exec(select(func.max(AuditEvent.id))).one() or 0
        count = session.exec(
            select(func.count()).select_from(CodeRecord).where(CodeRecord.status != ACTIVE)
        ).one()
        return f"{trust_list.version}.{audit_id}.{self.capacity_for(count)}"

    def _expires_at(self, trust_list: TrustList, now: datetime) -> datetime:
        return min(trust_list.expires_at, now + timedelta(hours=self.settings.bundle_max_age_hours))

    @staticmethod
    def recalled_lots(session: Session) -> list[tuple[str, str]]:
        rows = session.exec(
            select(LotStatus.gtin, LotStatus.lot).where(LotStatus.status == LOT_RECALLED_STATUS)
        ).all()
        return [(gtin, lot) for gtin, lot in rows]

    @staticmethod
    def flagged_codes(
        session: Session, only: set[tuple[str, str]] | None = None
    ) -> dict[tuple[str, str], FlaggedCode]:
        """The codes flagged as cloned now (of ``only``, when given): few, so listed exactly."""
        if only is not None and not only:
            return {}
        query = select(
            CodeRecord.gtin, CodeRecord.serial, CodeRecord.flagged_at, CodeRecord.flag_reasons
        ).where(col(CodeRecord.flagged_at).is_not(None))
        if only is not None:
            query = query.where(
                tuple_(col(CodeRecord.gtin), col(CodeRecord.serial)).in_(sorted(only))
            )
        found: dict[tuple[str, str], FlaggedCode] = {}
        for gtin, serial, flagged_at, reasons in session.exec(query):
            assert flagged_at is not None
            why = tuple(stored_reasons(reasons))
            found[(gtin, serial)] = FlaggedCode(format_time(flagged_at), why)
        return found

    @staticmethod
    def products(
        session: Session, trust: TrustList, only: set[str] | None = None
    ) -> dict[str, BundleProduct]:
        """The products (of ``only``, when given) whose brand owns their GTIN in ``trust``:
        a row left behind by a prefix that moved to another brand is not shipped."""
        if only is not None and not only:
            return {}
        query = select(Product)
        if only is not None:
            query = query.where(col(Product.gtin).in_(sorted(only)))
        found: dict[str, BundleProduct] = {}
        for row in session.exec(query):
            owner = trust.brand_owning(row.gtin)
            if owner is not None and owner.id == row.brand_id:
                found[row.gtin] = BundleProduct(
                    row.brand_id, row.product_name, row.strength, row.net_content
                )
        return found

    def answer(
        self,
        session: Session,
        trust: TrustList,
        trust_bytes: bytes,
        now: datetime,
        since: str | None,
    ) -> BundleAnswer:
        version = self.current_version(session, trust)
        if since is not None:
            delta = self._delta(session, trust, trust_bytes, now, since, version)
            if delta is not None:
                return delta
        return BundleAnswer(self._full(session, trust, trust_bytes, now, version), version, "full")

    def _full(
        self, session: Session, trust: TrustList, trust_bytes: bytes, now: datetime, version: str
    ) -> bytes:
        with self._lock:
            # Rebuilding the filter costs seconds for millions of codes: one build per version.
            # The signature covers generated_at, so a cached bundle keeps its first timestamp.
            # It is rebuilt when a sixth of its validity is gone, so it never ships nearly stale.
            fresh_for = timedelta(hours=self.settings.bundle_max_age_hours) / 6
            if self._cached is not None:
                cached_version, built_at, cached = self._cached
                if cached_version == version and now - built_at < fresh_for:
                    return cached
            capacity = int(version.rsplit(".", 1)[1])
            bloom = BloomFilter.empty(capacity, self.settings.filter_fp_per_million,
                                      self.salt_for(capacity))  # fmt: skip
            rows = session.exec(
                select(CodeRecord.gtin, CodeRecord.serial)
                .where(CodeRecord.status != ACTIVE)
                .execution_options(yield_per=CHUNK)
            )
            chunk: list[tuple[str, str]] = []
            for gtin, serial in rows:
                chunk.append((gtin, serial))
                if len(chunk) >= CHUNK:
                    bloom.add_keys(keys_of(bloom.salt, chunk))
                    chunk = []
            bloom.add_keys(keys_of(bloom.salt, chunk))
            data = build_full(
                self.signer, version=version, generated_at=now,
                expires_at=self._expires_at(trust, now), trust_list=trust_bytes,
                recalled_lots=self.recalled_lots(session), decommissioned=bloom,
                flagged=self.flagged_codes(session), products=self.products(session, trust),
            )  # fmt: skip
            self._cached = (version, now, data)
            return data

    def _delta(
        self,
        session: Session,
        trust: TrustList,
        trust_bytes: bytes,
        now: datetime,
        since: str,
        version: str,
    ) -> BundleAnswer | None:
        base = parse_version(since)
        current = parse_version(version)
        assert current is not None
        if base is None or base[2] != current[2] or base[1] > current[1] or base[0] > current[0]:
            return None
        events = session.exec(
            select(AuditEvent.action, AuditEvent.gtin, AuditEvent.serial, AuditEvent.after)
            .where(
                col(AuditEvent.id) > base[1],
                col(AuditEvent.id) <= current[1],
                col(AuditEvent.action).in_(
                    [
                        CODE_STATUS,
                        CODE_STATUS + ".undo",
                        FLAGGED,
                        FLAG_RESOLVED,
                        PRODUCT_SET,
                        PRODUCT_DELETE,
                    ]
                ),
            )
            .order_by(col(AuditEvent.id))
        ).all()
        added: list[tuple[str, str]] = []
        flag_changes: set[tuple[str, str]] = set()
        product_changes: set[str] = set()
        for action, gtin, serial, after in events:
            if action in (PRODUCT_SET, PRODUCT_DELETE):
                if gtin is not None:
                    product_changes.add(gtin)
                continue
            if action in (FLAGGED, FLAG_RESOLVED):
                if gtin is not None and serial is not None:
                    flag_changes.add((gtin, serial))
                continue
            if action != CODE_STATUS or after == ACTIVE:
                return None  # a code back in circulation: the filter must be rebuilt
            if gtin is not None and serial is not None:
                added.append((gtin, serial))
        if len(added) > self.settings.delta_max_codes:
            return None
        capacity = current[2]
        salt = self.salt_for(capacity)
        filter_id = filter_id_for(capacity, self.settings.filter_fp_per_million, salt)
        keys = keys_of(salt, added)
        flagged = self.flagged_codes(session, only=flag_changes)
        products = self.products(session, trust, only=product_changes)
        data = build_delta(
            self.signer, version=version, base_version=since, generated_at=now,
            expires_at=self._expires_at(trust, now), trust_list=trust_bytes,
            recalled_lots=self.recalled_lots(session), filter_id=filter_id,
            added_keys=[keys[i : i + 16] for i in range(0, len(keys), 16)],
            flagged_added=flagged, flagged_removed=flag_changes - set(flagged),
            products_changed=products, products_removed=product_changes - set(products),
        )  # fmt: skip
        return BundleAnswer(data, version, "delta")
