"""The signed trust list and the trust decision for one code (spec: docs/trust.md).

Pure: bytes, keys and times come in as arguments; nothing here reads a file
or the clock. :meth:`TrustList.from_signed_json` raises (``TrustError``,
``RollbackError``, ``StaleTrustError``) for a list that must not be used;
:meth:`TrustList.evaluate` never raises for a bad code and returns a
:class:`TrustDecision` with a stable reason instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from authn.code import ProductCode
from authn.errors import (
    InvalidInput,
    PayloadTooLarge,
    RollbackError,
    StaleTrustError,
    TrustError,
)
from authn.signing import Reason, SignatureCheck, Signer, check_signature, raw_public_key
from keys.canonical import (
    JSONValue,
    canonical_json,
    expect_int,
    expect_list,
    expect_object,
    format_time,
    open_envelope,
    parse_json,
    parse_time,
    sign_envelope,
    signed_by,
)
from keys.model import Brand, LineCertificate, Revocation, prefixes_within

TRUST_LIST_TAG = b"sealtrace/trust-list/v1"
TRUST_LIST_TYPE = "sealtrace/trust-list"
SPEC_VERSION = 1
MAX_TRUST_LIST_BYTES = 32 * 1024 * 1024

Outcome = Literal["genuine", "counterfeit", "cannot_confirm"]

_MESSAGES = {
    "TRUST_OK": "The code is signed by a certified line key of its brand.",
    "REGISTERED_BEFORE_COMPROMISE": (
        "The code's key was later revoked, but this code was registered before the key was "
        "compromised."
    ),
    "SIGNATURE_MISSING": "The code carries no signature.",
    "SIGNATURE_MALFORMED": "The code's signature field is not a well-formed signature.",
    "KEY_UNKNOWN": "The code was signed with a key that is not in the trust list.",
    "SIGNATURE_INVALID": "The signature does not match the code's data.",
    "CERTIFICATE_INVALID": "The signing key is not properly certified by a registered brand.",
    "GTIN_OUTSIDE_KEY_PREFIXES": "The signing key is not allowed to sign this product's GTIN.",
    "OUTSIDE_SIGNING_WINDOW": "The code was first seen outside its key's signing window.",
    "KEY_REVOKED": "The signing key has been revoked as compromised.",
    "TRUST_LIST_STALE": "The trust list has expired, so the code cannot be confirmed.",
}


@dataclass(frozen=True)
class TrustDecision:
    """What the trust list says about one code.

    ``brand`` is the right holder: the brand of the signing key when the key is
    known, otherwise the brand owning the GTIN's prefix (so an officer holding
    a fake still gets the contact of the brand it imitates), or ``None``.
    """

    outcome: Outcome
    reason: str
    message: str
    brand: Brand | None = None
    key_id: str | None = None
    revoked_compromised_since: datetime | None = None
    certificate: LineCertificate | None = None

    @property
    def genuine(self) -> bool:
        return self.outcome == "genuine"


@dataclass(frozen=True)
class Change:
    """One difference between two trust list versions."""

    kind: str  # brand_added, brand_removed, brand_changed, root_rotated,
    # line_key_added, line_key_removed, key_revoked, revocation_removed
    subject: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}" + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True, eq=False)
class TrustList:
    """A parsed, signature-verified trust list."""

    version: int
    issued_at: datetime
    expires_at: datetime
    brands: tuple[Brand, ...]
    line_keys: tuple[LineCertificate, ...]
    revocations: tuple[Revocation, ...]
    raw: bytes = field(repr=False)
    # Why each certificate is unusable, by raw public key (absent = usable).
    certificate_problems: dict[bytes, str] = field(repr=False)

    @classmethod
    def from_signed_json(
        cls,
        data: bytes,
        registry_key: Ed25519PublicKey,
        *,
        now: datetime,
        held_version: int | None = None,
        allow_stale: bool = False,
    ) -> TrustList:
        """Verify and parse a trust list; fail closed on anything doubtful.

        Order as in TUF: signature first (nothing unsigned is interpreted),
        then rollback against ``held_version``, then expiry against ``now``.
        """
        _require_aware(now, "now")
        if len(data) > MAX_TRUST_LIST_BYTES:
            raise PayloadTooLarge(f"trust list is over {MAX_TRUST_LIST_BYTES} bytes")
        signed, signatures = open_envelope(parse_json(data, "trust list"), "trust list")
        if not signed_by(signed, signatures, TRUST_LIST_TAG, registry_key):
            raise TrustError("the trust list is not signed by the registry key")
        members = {
            "type", "spec_version", "version", "issued_at", "expires_at",
            "brands", "line_keys", "revocations",
        }  # fmt: skip
        expect_object(signed, "trust list", members)
        if signed["type"] != TRUST_LIST_TYPE or signed["spec_version"] != SPEC_VERSION:
            raise TrustError(f"not a version {SPEC_VERSION} sealtrace trust list")
        version = expect_int(signed["version"], "trust list version")
        if version < 1:
            raise TrustError("trust list version must be 1 or more")
        if held_version is not None and version < held_version:
            raise RollbackError(
                f"trust list version {version} is older than the held version {held_version}"
            )
        expires_at = parse_time(signed["expires_at"], "trust list expires_at")
        if now > expires_at and not allow_stale:
            raise StaleTrustError(
                f"trust list version {version} expired at {format_time(expires_at)}"
            )
        brands = tuple(Brand.from_json(b) for b in expect_list(signed["brands"], "brands"))
        line_keys = tuple(
            LineCertificate.from_json(c) for c in expect_list(signed["line_keys"], "line_keys")
        )
        revocations = tuple(
            Revocation.from_json(r) for r in expect_list(signed["revocations"], "revocations")
        )
        _check_unique(brands, line_keys)
        for brand in brands:
            problem = brand.chain_problem()
            if problem is not None:
                raise TrustError(f"brand {brand.id}: {problem}")
        return cls(
            version=version,
            issued_at=parse_time(signed["issued_at"], "trust list issued_at"),
            expires_at=expires_at,
            brands=brands,
            line_keys=line_keys,
            revocations=revocations,
            raw=bytes(data),
            certificate_problems=_certificate_problems(brands, line_keys),
        )

    def to_signed_json(self) -> bytes:
        """The exact bytes this list was parsed from (or built as)."""
        return self.raw

    def brand_for(self, brand_id: str) -> Brand | None:
        return next((b for b in self.brands if b.id == brand_id), None)

    def brand_owning(self, gtin14: str) -> Brand | None:
        """The brand registered for the GTIN's company prefix, if any."""
        return next((b for b in self.brands if b.owns(gtin14)), None)

    def certificates_with_id(self, kid: str) -> list[LineCertificate]:
        """Every line certificate whose (short, possibly shared) key id is ``kid``."""
        return [c for c in self.line_keys if c.key_id == kid]

    def revocation_of(self, key: Ed25519PublicKey) -> Revocation | None:
        raw = raw_public_key(key)
        return next((r for r in self.revocations if raw_public_key(r.public_key) == raw), None)

    def is_stale(self, now: datetime) -> bool:
        return now > self.expires_at

    def signature_check(self, code: ProductCode) -> SignatureCheck:
        """The signature check of ``code`` against this list's line keys (the Ed25519 work).

        It depends on nothing but the code and this list, so a service may do it early,
        outside any lock, and hand it to :meth:`evaluate` of this same list.
        """
        return check_signature(
            code, (c.public_key for c in self.certificates_with_id(code.key_id or ""))
        )

    def evaluate(
        self,
        code: ProductCode,
        *,
        now: datetime,
        registered_at: datetime | None,
        online: bool,
        signature: SignatureCheck | None = None,
    ) -> TrustDecision:
        """Judge ``code`` against this list; never raises for a bad code.

        ``registered_at`` is when the verifier's registry of issued codes first
        recorded the code (``None``: never). ``online`` says whether that
        registry was consulted; offline, only the trust list is evidence.
        ``signature`` is this list's :meth:`signature_check` of the code, if done already.
        """
        _require_aware(now, "now")
        if registered_at is not None:
            _require_aware(registered_at, "registered_at")
        gtin_brand = self.brand_owning(code.gtin)
        check = signature if signature is not None else self.signature_check(code)
        if check.reason is Reason.MISSING:
            # Enrolled brands sign every unit; an unsigned code of theirs is fake.
            outcome: Outcome = "counterfeit" if gtin_brand is not None else "cannot_confirm"
            return _decide(outcome, "SIGNATURE_MISSING", gtin_brand)
        if check.reason is Reason.MALFORMED:
            return _decide("counterfeit", "SIGNATURE_MALFORMED", gtin_brand)
        if check.reason is Reason.UNKNOWN_KEY:
            # Offline, the officer's copy may predate a newly certified line key.
            outcome = "counterfeit" if online else "cannot_confirm"
            return _decide(outcome, "KEY_UNKNOWN", gtin_brand, kid=check.key_id)
        if check.key is None:
            return _decide("counterfeit", "SIGNATURE_INVALID", gtin_brand, kid=check.key_id)

        cert = self._certificate_for(check.key)
        brand = self.brand_for(cert.brand_id) or gtin_brand
        kid = cert.key_id
        if raw_public_key(cert.public_key) in self.certificate_problems:
            return _decide("counterfeit", "CERTIFICATE_INVALID", brand, kid=kid, cert=cert)
        if not cert.covers(code.gtin):
            return _decide("counterfeit", "GTIN_OUTSIDE_KEY_PREFIXES", brand, kid=kid, cert=cert)
        if now < cert.not_before:
            # No genuine code can exist before its key's window opens; offline the
            # device clock is the only witness, so do not accuse on it alone.
            outcome = "counterfeit" if online else "cannot_confirm"
            return _decide(outcome, "OUTSIDE_SIGNING_WINDOW", brand, kid=kid, cert=cert)
        if online and registered_at is not None and not cert.in_window(registered_at):
            return _decide("counterfeit", "OUTSIDE_SIGNING_WINDOW", brand, kid=kid, cert=cert)
        revocation = self.revocation_of(cert.public_key)
        since = revocation.compromised_since if revocation else None
        reason = "TRUST_OK"
        if since is not None:
            if not online:
                return _decide("cannot_confirm", "KEY_REVOKED", brand, kid, cert, since)
            if registered_at is None or registered_at >= since:
                return _decide("counterfeit", "KEY_REVOKED", brand, kid, cert, since)
            reason = "REGISTERED_BEFORE_COMPROMISE"
        if self.is_stale(now):
            return _decide("cannot_confirm", "TRUST_LIST_STALE", brand, kid, cert, since)
        return _decide("genuine", reason, brand, kid, cert, since)

    def _certificate_for(self, key: Ed25519PublicKey) -> LineCertificate:
        raw = raw_public_key(key)
        return next(c for c in self.line_keys if raw_public_key(c.public_key) == raw)


def build_trust_list(
    registry: Signer,
    *,
    version: int,
    issued_at: datetime,
    expires_at: datetime,
    brands: Sequence[Brand],
    line_keys: Sequence[LineCertificate],
    revocations: Sequence[Revocation],
    previous: TrustList | None = None,
) -> TrustList:
    """Sign a new trust list; refuses anything a verifier would reject or flag.

    Every brand's rotation chain must hold, every certificate must be signed
    by its brand's current root within the brand's prefixes, no prefix may be
    registered to two brands, and the version must exceed ``previous``.
    """
    if previous is not None and version <= previous.version:
        raise TrustError(f"version {version} must be greater than the previous {previous.version}")
    if expires_at <= issued_at:
        raise TrustError("a trust list must expire after it is issued")
    _check_unique(brands, line_keys)
    for brand in brands:
        problem = brand.chain_problem()
        if problem is not None:
            raise TrustError(f"brand {brand.id}: {problem}")
    _check_prefixes_unshared(brands)
    problems = _certificate_problems(brands, line_keys)
    for cert in line_keys:
        problem = problems.get(raw_public_key(cert.public_key))
        if problem is not None:
            raise TrustError(f"line key {cert.key_id} ({cert.brand_id}/{cert.name}): {problem}")
    signed: dict[str, JSONValue] = {
        "type": TRUST_LIST_TYPE,
        "spec_version": SPEC_VERSION,
        "version": version,
        "issued_at": format_time(issued_at),
        "expires_at": format_time(expires_at),
        "brands": [b.to_json() for b in sorted(brands, key=lambda b: b.id)],
        "line_keys": [c.to_json() for c in sorted(line_keys, key=_cert_order)],
        "revocations": [r.to_json() for r in sorted(revocations, key=_revocation_order)],
    }
    data = canonical_json(sign_envelope(signed, TRUST_LIST_TAG, [registry]))
    return TrustList.from_signed_json(
        data,
        registry.public_key(),
        now=issued_at,
        held_version=previous.version if previous else None,
    )


def diff(old: TrustList, new: TrustList) -> list[Change]:
    """What changed from ``old`` to ``new``: brands, roots, line keys, revocations."""
    changes: list[Change] = []
    old_brands = {b.id: b for b in old.brands}
    new_brands = {b.id: b for b in new.brands}
    for brand_id in sorted(new_brands.keys() - old_brands.keys()):
        changes.append(Change("brand_added", brand_id, new_brands[brand_id].name))
    for brand_id in sorted(old_brands.keys() - new_brands.keys()):
        changes.append(Change("brand_removed", brand_id, old_brands[brand_id].name))
    for brand_id in sorted(old_brands.keys() & new_brands.keys()):
        before, after = old_brands[brand_id], new_brands[brand_id]
        if raw_public_key(before.root_key) != raw_public_key(after.root_key):
            detail = f"{before.root_key_id} -> {after.root_key_id}"
            changes.append(Change("root_rotated", brand_id, detail))
        altered = [
            name
            for name, a, b in (
                ("name", before.name, after.name),
                ("contact", before.contact, after.contact),
                ("prefixes", before.prefixes, after.prefixes),
            )
            if a != b
        ]
        if altered:
            changes.append(Change("brand_changed", brand_id, ", ".join(altered)))
    old_keys = {raw_public_key(c.public_key): c for c in old.line_keys}
    new_keys = {raw_public_key(c.public_key): c for c in new.line_keys}
    for raw in _ordered(new_keys.keys() - old_keys.keys(), new_keys):
        changes.append(Change("line_key_added", _describe(new_keys[raw])))
    for raw in _ordered(old_keys.keys() - new_keys.keys(), old_keys):
        changes.append(Change("line_key_removed", _describe(old_keys[raw])))
    old_rev = {raw_public_key(r.public_key): r for r in old.revocations}
    new_rev = {raw_public_key(r.public_key): r for r in new.revocations}
    for raw in sorted(new_rev.keys() - old_rev.keys()):
        rev = new_rev[raw]
        since = format_time(rev.compromised_since)
        changes.append(Change("key_revoked", rev.key_id, f"compromised since {since}"))
    for raw in sorted(old_rev.keys() - new_rev.keys()):
        changes.append(Change("revocation_removed", old_rev[raw].key_id))
    return changes


def _decide(
    outcome: Outcome,
    reason: str,
    brand: Brand | None,
    kid: str | None = None,
    cert: LineCertificate | None = None,
    since: datetime | None = None,
) -> TrustDecision:
    return TrustDecision(outcome, reason, _MESSAGES[reason], brand, kid, since, cert)


def _certificate_problems(
    brands: Iterable[Brand], line_keys: Iterable[LineCertificate]
) -> dict[bytes, str]:
    by_id = {b.id: b for b in brands}
    problems: dict[bytes, str] = {}
    for cert in line_keys:
        brand = by_id.get(cert.brand_id)
        if brand is None:
            problem = f"brand {cert.brand_id!r} is not registered"
        elif not cert.signed_by_root(brand.root_key):
            problem = f"not signed by the current root of brand {brand.id}"
        elif not prefixes_within(cert.prefixes, brand.prefixes):
            problem = f"prefixes {list(cert.prefixes)} are not all within the brand's"
        else:
            continue
        problems[raw_public_key(cert.public_key)] = problem
    return problems


def _check_unique(brands: Sequence[Brand], line_keys: Sequence[LineCertificate]) -> None:
    ids = [b.id for b in brands]
    if len(set(ids)) != len(ids):
        raise TrustError("a brand id appears twice in the trust list")
    raws = [raw_public_key(c.public_key) for c in line_keys]
    if len(set(raws)) != len(raws):
        raise TrustError("a line key appears twice in the trust list")


def _check_prefixes_unshared(brands: Sequence[Brand]) -> None:
    owners: list[tuple[str, str]] = [(p, b.id) for b in brands for p in b.prefixes]
    for prefix, owner in owners:
        for other_prefix, other in owners:
            if owner != other and other_prefix.startswith(prefix):
                raise TrustError(
                    f"prefix {other_prefix} of brand {other} overlaps {prefix} of brand {owner}"
                )


def _cert_order(cert: LineCertificate) -> tuple[str, str, bytes]:
    return (cert.brand_id, cert.key_id, raw_public_key(cert.public_key))


def _revocation_order(rev: Revocation) -> bytes:
    return raw_public_key(rev.public_key)


def _ordered(raws: set[bytes], certs: dict[bytes, LineCertificate]) -> list[bytes]:
    return sorted(raws, key=lambda raw: _cert_order(certs[raw]))


def _describe(cert: LineCertificate) -> str:
    return f"{cert.key_id} ({cert.brand_id}/{cert.name})"


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} must be a timezone-aware datetime")
