"""The offline bundle: what an officer's handheld needs to judge codes without a network.

Format (spec: docs/mobile.md): a signed envelope of ``keys.canonical`` whose
``signed`` part holds the registry's trust list *verbatim* (so the handheld
checks the registry's own signature on it, as the server does), the recalled
lots, a Bloom filter of decommissioned codes, the codes flagged as cloned, and the
product master data (name, strength, pack size; no images) of the GTINs whose brand
is in the trust list. The server signs the
envelope with its bundle key; the handheld pins that key and the registry key.
A delta carries the keys added to the filter since ``base_version`` instead of
the whole filter, and the products changed or removed since then. Pure: bytes,
keys and times come in as arguments.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from authn.errors import PayloadTooLarge, TrustError
from authn.signing import Signer
from keys.canonical import (
    JSONValue,
    canonical_json,
    expect_list,
    expect_object,
    expect_str,
    format_time,
    open_envelope,
    parse_json,
    parse_time,
    sign_envelope,
    signed_by,
)
from keys.trust import TrustList
from mobile_api.bloom import KEY_BYTES, BloomFilter

BUNDLE_TAG = b"sealtrace/offline-bundle/v1"
BUNDLE_TYPE = "sealtrace/offline-bundle"
SPEC_VERSION = 1
MAX_BUNDLE_BYTES = 512 * 1024 * 1024

Lot = tuple[str, str]  # (GTIN-14, lot)
Identity = tuple[str, str]  # (GTIN-14, serial)


@dataclass(frozen=True)
class FlaggedCode:
    """A code the service flagged as cloned: since when, and the reason codes."""

    since: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class BundleProduct:
    """A GTIN's product as its brand describes it, for the officer's offline answer.

    ``brand_id`` is the brand that owned the GTIN when the bundle was made: the answer
    names the product only when the code's trusted brand is that brand."""

    brand_id: str
    name: str
    strength: str | None = None
    net_content: str | None = None

    def label(self) -> str:
        """ "name · strength · size", leaving out what the brand did not give."""
        return " · ".join(p for p in (self.name, self.strength, self.net_content) if p)


@dataclass(frozen=True, eq=False)
class OfflineBundle:
    """A verified bundle, ready for :func:`mobile_api.offline.verify_offline`."""

    version: str
    generated_at: datetime
    expires_at: datetime
    trust_list: TrustList
    recalled_lots: frozenset[Lot]
    decommissioned: BloomFilter
    flagged: Mapping[Identity, FlaggedCode] = field(default_factory=dict)

    products: Mapping[str, BundleProduct] = field(default_factory=dict)

    def is_stale(self, now: datetime) -> bool:
        return now > self.expires_at


def _lots_json(lots: Iterable[Lot]) -> list[JSONValue]:
    return [[gtin, lot] for gtin, lot in sorted(set(lots))]


def _flagged_json(flagged: Mapping[Identity, FlaggedCode]) -> list[JSONValue]:
    return [
        {"gtin": gtin, "serial": serial, "since": f.since, "reasons": list(f.reasons)}
        for (gtin, serial), f in sorted(flagged.items())
    ]


def _products_json(products: Mapping[str, BundleProduct]) -> list[JSONValue]:
    out: list[JSONValue] = []
    for gtin, p in sorted(products.items()):
        entry: dict[str, JSONValue] = {"gtin": gtin, "brand_id": p.brand_id, "productName": p.name}
        # Absent, not null, when the brand gave none: a few bytes less per GTIN.
        if p.strength is not None:
            entry["availableStrength"] = p.strength
        if p.net_content is not None:
            entry["netContent"] = p.net_content
        out.append(entry)
    return out


def build_full(
    signer: Signer,
    *,
    version: str,
    generated_at: datetime,
    expires_at: datetime,
    trust_list: bytes,
    recalled_lots: Iterable[Lot],
    decommissioned: BloomFilter,
    flagged: Mapping[Identity, FlaggedCode] | None = None,
    products: Mapping[str, BundleProduct] | None = None,
) -> bytes:
    signed: dict[str, JSONValue] = {
        "type": BUNDLE_TYPE,
        "spec_version": SPEC_VERSION,
        "kind": "full",
        "version": version,
        "generated_at": format_time(generated_at),
        "expires_at": format_time(expires_at),
        "trust_list": trust_list.decode("utf-8"),
        "recalled_lots": _lots_json(recalled_lots),
        "decommissioned": dict(decommissioned.to_json()),
        "flagged": _flagged_json(flagged or {}),
        "products": _products_json(products or {}),
    }
    return canonical_json(sign_envelope(signed, BUNDLE_TAG, [signer]))


def build_delta(
    signer: Signer,
    *,
    version: str,
    base_version: str,
    generated_at: datetime,
    expires_at: datetime,
    trust_list: bytes,
    recalled_lots: Iterable[Lot],
    filter_id: str,
    added_keys: Sequence[bytes],
    flagged_added: Mapping[Identity, FlaggedCode] | None = None,
    flagged_removed: Iterable[Identity] = (),
    products_changed: Mapping[str, BundleProduct] | None = None,
    products_removed: Iterable[str] = (),
) -> bytes:
    """A delta: the full (small) trust list and lot list, only the filter keys added and
    the products changed (added or rewritten) and removed."""
    signed: dict[str, JSONValue] = {
        "type": BUNDLE_TYPE,
        "spec_version": SPEC_VERSION,
        "kind": "delta",
        "version": version,
        "base_version": base_version,
        "generated_at": format_time(generated_at),
        "expires_at": format_time(expires_at),
        "trust_list": trust_list.decode("utf-8"),
        "recalled_lots": _lots_json(recalled_lots),
        "filter_id": filter_id,
        "added": base64.b64encode(b"".join(added_keys)).decode("ascii"),
        "flagged_added": _flagged_json(flagged_added or {}),
        "flagged_removed": [
            {"gtin": gtin, "serial": serial} for gtin, serial in sorted(set(flagged_removed))
        ],
        "products_changed": _products_json(products_changed or {}),
        "products_removed": sorted(set(products_removed)),
    }
    return canonical_json(sign_envelope(signed, BUNDLE_TAG, [signer]))


def _open(
    data: bytes, *, registry_key: Ed25519PublicKey, bundle_key: Ed25519PublicKey, now: datetime
) -> tuple[dict[str, JSONValue], TrustList]:
    if len(data) > MAX_BUNDLE_BYTES:
        raise PayloadTooLarge(f"an offline bundle is at most {MAX_BUNDLE_BYTES} bytes")
    signed, signatures = open_envelope(parse_json(data, "offline bundle"), "offline bundle")
    if not signed_by(signed, signatures, BUNDLE_TAG, bundle_key):
        raise TrustError("the offline bundle is not signed by the pinned bundle key")
    if signed.get("type") != BUNDLE_TYPE or signed.get("spec_version") != SPEC_VERSION:
        raise TrustError(f"not a version {SPEC_VERSION} sealtrace offline bundle")
    text = expect_str(signed.get("trust_list"), "bundle trust_list", max_len=64 * 1024 * 1024)
    # allow_stale: a stale list still tells counterfeits apart; evaluate() judges staleness.
    trust_list = TrustList.from_signed_json(
        text.encode("utf-8"), registry_key, now=now, allow_stale=True
    )
    return signed, trust_list


def _lots(value: JSONValue) -> frozenset[Lot]:
    lots = set()
    for i, item in enumerate(expect_list(value, "recalled_lots")):
        pair = expect_list(item, f"recalled_lots[{i}]")
        if len(pair) != 2:
            raise TrustError(f"recalled_lots[{i}] must be [gtin, lot]")
        lots.add((expect_str(pair[0], "gtin"), expect_str(pair[1], "lot")))
    return frozenset(lots)


def _flagged(value: JSONValue, what: str) -> dict[Identity, FlaggedCode]:
    found: dict[Identity, FlaggedCode] = {}
    for i, item in enumerate(expect_list(value if value is not None else [], what)):
        entry = expect_object(item, f"{what}[{i}]")
        identity = (
            expect_str(entry.get("gtin"), "gtin"),
            expect_str(entry.get("serial"), "serial"),
        )
        if "since" not in entry:  # flagged_removed: identities only
            found[identity] = FlaggedCode("", ())
            continue
        reasons = tuple(
            expect_str(r, "reason") for r in expect_list(entry.get("reasons"), "reasons")
        )
        found[identity] = FlaggedCode(expect_str(entry.get("since"), "since"), reasons)
    return found


def _optional_str(value: JSONValue, what: str) -> str | None:
    return None if value is None else expect_str(value, what, max_len=200)


def _products(value: JSONValue, what: str) -> dict[str, BundleProduct]:
    found: dict[str, BundleProduct] = {}
    # A bundle from before products were carried has none: the answer names the GTIN only.
    for i, item in enumerate(expect_list(value if value is not None else [], what)):
        entry = expect_object(item, f"{what}[{i}]")
        found[expect_str(entry.get("gtin"), "gtin", max_len=14)] = BundleProduct(
            brand_id=expect_str(entry.get("brand_id"), "brand_id", max_len=64),
            name=expect_str(entry.get("productName"), "productName", max_len=200),
            strength=_optional_str(entry.get("availableStrength"), "availableStrength"),
            net_content=_optional_str(entry.get("netContent"), "netContent"),
        )
    return found


def _gtins(value: JSONValue, what: str) -> list[str]:
    return [
        expect_str(g, what, max_len=14)
        for g in expect_list(value if value is not None else [], what)
    ]


def open_bundle(
    data: bytes, *, registry_key: Ed25519PublicKey, bundle_key: Ed25519PublicKey, now: datetime
) -> OfflineBundle:
    """Verify and parse a full bundle; raises TrustError for anything not to be trusted."""
    signed, trust_list = _open(data, registry_key=registry_key, bundle_key=bundle_key, now=now)
    if signed.get("kind") != "full":
        raise TrustError("this is a delta; apply it to a full bundle with apply_delta")
    return OfflineBundle(
        version=expect_str(signed.get("version"), "version"),
        generated_at=parse_time(signed.get("generated_at"), "generated_at"),
        expires_at=parse_time(signed.get("expires_at"), "expires_at"),
        trust_list=trust_list,
        recalled_lots=_lots(signed.get("recalled_lots")),
        decommissioned=BloomFilter.from_json(expect_object(signed.get("decommissioned"), "filter")),
        flagged=_flagged(signed.get("flagged"), "flagged"),
        products=_products(signed.get("products"), "products"),
    )


def apply_delta(
    bundle: OfflineBundle,
    data: bytes,
    *,
    registry_key: Ed25519PublicKey,
    bundle_key: Ed25519PublicKey,
    now: datetime,
) -> OfflineBundle:
    """The bundle after a delta (or the delta's full bundle if the server sent a full one)."""
    signed, trust_list = _open(data, registry_key=registry_key, bundle_key=bundle_key, now=now)
    if signed.get("kind") == "full":
        return open_bundle(data, registry_key=registry_key, bundle_key=bundle_key, now=now)
    if signed.get("base_version") != bundle.version:
        raise TrustError(
            f"this delta applies to version {signed.get('base_version')}, not {bundle.version}"
        )
    if signed.get("filter_id") != bundle.decommissioned.filter_id:
        raise TrustError("this delta was made for a differently sized filter; fetch a full bundle")
    if trust_list.version < bundle.trust_list.version:
        raise TrustError("the delta's trust list is older than the one held")
    try:
        added = base64.b64decode(str(signed.get("added")), validate=True)
    except (binascii.Error, ValueError):
        raise TrustError("the delta's added keys are malformed") from None
    if len(added) % KEY_BYTES:
        raise TrustError("the delta's added keys are malformed")
    filter_copy = BloomFilter.from_json(bundle.decommissioned.to_json())
    filter_copy.add_keys(added)
    flagged = dict(bundle.flagged)
    for identity in _flagged(signed.get("flagged_removed"), "flagged_removed"):
        flagged.pop(identity, None)
    flagged.update(_flagged(signed.get("flagged_added"), "flagged_added"))
    products = dict(bundle.products)
    for gtin in _gtins(signed.get("products_removed"), "products_removed"):
        products.pop(gtin, None)
    products.update(_products(signed.get("products_changed"), "products_changed"))
    return replace(
        bundle,
        version=expect_str(signed.get("version"), "version"),
        generated_at=parse_time(signed.get("generated_at"), "generated_at"),
        expires_at=parse_time(signed.get("expires_at"), "expires_at"),
        trust_list=trust_list,
        recalled_lots=_lots(signed.get("recalled_lots")),
        decommissioned=filter_copy,
        flagged=flagged,
        products=products,
    )
