"""The signed trust list: canonical bytes, tampering, rollback, staleness, rotation, diff."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authn.code import ProductCode
from authn.errors import InvalidInput, RollbackError, StaleTrustError, TrustError
from authn.signing import sign_code
from keys.authority import (
    BrandApplication,
    apply_rotation,
    register_brand,
    revoke,
    rotate_root,
)
from keys.canonical import canonical_json, encode_public_key, parse_json, sign_envelope
from keys.model import ROTATION_TAG, Contact, RootRotation
from keys.sample import SampleHierarchy, gtin_with_prefix, sample_hierarchy
from keys.trust import TRUST_LIST_TAG, TrustList, build_trust_list, diff

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def h() -> SampleHierarchy:
    return sample_hierarchy(NOW)


def next_list(h: SampleHierarchy, version: int, **changes: Any) -> TrustList:
    args: dict[str, Any] = {
        "version": version,
        "issued_at": NOW + DAY,
        "expires_at": NOW + 8 * DAY,
        "brands": [h.brand],
        "line_keys": [h.certificate],
        "revocations": [],
    }
    args.update(changes)
    return build_trust_list(h.registry, **args)


def load(data: bytes, h: SampleHierarchy, **kwargs: Any) -> TrustList:
    kwargs.setdefault("now", NOW)
    return TrustList.from_signed_json(data, h.registry.public_key(), **kwargs)


def test_bytes_are_canonical_and_round_trip(h: SampleHierarchy) -> None:
    data = h.trust_list.to_signed_json()
    document = json.loads(data)
    assert (
        data
        == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert set(document) == {"signed", "signatures"}
    assert document["signed"]["issued_at"] == "2026-03-01T12:00:00Z"
    reloaded = load(data, h)
    assert reloaded.to_signed_json() == data
    assert reloaded.version == 1
    assert reloaded.expires_at == NOW + 7 * DAY
    assert reloaded.brands == h.trust_list.brands


def test_building_twice_gives_identical_bytes(h: SampleHierarchy) -> None:
    # Ed25519 is deterministic and the JSON canonical, so a list is reproducible.
    assert next_list(h, 2).to_signed_json() == next_list(h, 2).to_signed_json()


def _flip_name(doc: Any) -> None:
    doc["signed"]["brands"][0]["name"] = "Evil Ltd"


def _add_revocation(doc: Any) -> None:
    doc["signed"]["revocations"].append({})


def _drop_signatures(doc: Any) -> None:
    doc["signatures"] = []


def _bump_version(doc: Any) -> None:
    doc["signed"]["version"] = 99


def _extend_expiry(doc: Any) -> None:
    doc["signed"]["expires_at"] = "2030-01-01T00:00:00Z"


def _swap_root(doc: Any) -> None:
    doc["signed"]["brands"][0]["root_key"] = encode_public_key(
        Ed25519PrivateKey.generate().public_key()
    )


TAMPERING = [
    _flip_name,
    _add_revocation,
    _drop_signatures,
    _bump_version,
    _extend_expiry,
    _swap_root,
]


@pytest.mark.parametrize("tamper", TAMPERING, ids=[t.__name__.strip("_") for t in TAMPERING])
def test_tampered_list_refused(h: SampleHierarchy, tamper: Callable[[Any], None]) -> None:
    document = json.loads(h.trust_list.to_signed_json())
    tamper(document)
    with pytest.raises(TrustError, match="not signed by the registry key"):
        load(canonical_json(document), h)


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[]", b'{"signed":{},"signatures":[]', b'{"signed":1.5,"signatures":[]}',
     b'{"signed":{},"signed":{},"signatures":[]}', "\udcff".encode("utf-8", "surrogatepass")],
    ids=["empty", "text", "array", "truncated", "float", "duplicate member", "bad utf-8"],
)  # fmt: skip
def test_garbage_refused_with_trust_error(h: SampleHierarchy, data: bytes) -> None:
    with pytest.raises(TrustError):
        load(data, h)


def test_other_registry_key_refused(h: SampleHierarchy) -> None:
    with pytest.raises(TrustError, match="not signed by the registry key"):
        TrustList.from_signed_json(
            h.trust_list.to_signed_json(), Ed25519PrivateKey.generate().public_key(), now=NOW
        )


def test_signature_for_another_document_kind_refused(h: SampleHierarchy) -> None:
    # The registry's signature under another domain tag (say, a rotation) is no trust list.
    signed = parse_json(h.trust_list.to_signed_json(), "list")["signed"]
    forged = canonical_json(sign_envelope(signed, ROTATION_TAG, [h.registry]))
    with pytest.raises(TrustError, match="not signed by the registry key"):
        load(forged, h)


# (case, offered version, held version, now offset, allow_stale, error or None)
FRESHNESS_CASES = [
    ("newer than held", 3, 2, DAY, False, None),
    ("same as held", 2, 2, DAY, False, None),
    ("older than held", 2, 3, DAY, False, RollbackError),
    ("expired", 2, None, 9 * DAY, False, StaleTrustError),
    ("expired, stale allowed", 2, None, 9 * DAY, True, None),
    ("expired and older: rollback wins", 2, 3, 9 * DAY, False, RollbackError),
    ("expires this very second", 2, None, 8 * DAY, False, None),
]


@pytest.mark.parametrize(
    ("version", "held", "offset", "allow_stale", "error"),
    [c[1:] for c in FRESHNESS_CASES],
    ids=[c[0] for c in FRESHNESS_CASES],
)
def test_rollback_and_staleness(
    h: SampleHierarchy,
    version: int,
    held: int | None,
    offset: timedelta,
    allow_stale: bool,
    error: type[Exception] | None,
) -> None:
    data = next_list(h, version).to_signed_json()
    kwargs = {"now": NOW + offset, "held_version": held, "allow_stale": allow_stale}
    if error is None:
        assert load(data, h, **kwargs).version == version
    else:
        with pytest.raises(error):
            load(data, h, **kwargs)


def test_builder_refuses_non_increasing_version(h: SampleHierarchy) -> None:
    with pytest.raises(TrustError, match="greater than the previous"):
        next_list(h, 1, previous=h.trust_list)
    assert next_list(h, 2, previous=h.trust_list).version == 2


def test_naive_now_is_refused(h: SampleHierarchy) -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        load(h.trust_list.to_signed_json(), h, now=datetime(2026, 3, 1))


# (case, who signs the statement) -> refused
ROTATION_SIGNERS: list[tuple[str, Callable[[SampleHierarchy, Ed25519PrivateKey], list[Any]]]] = [
    ("old root only", lambda h, new: [h.brand_root]),
    ("new root only", lambda h, new: [new]),
    ("old root and a stranger", lambda h, new: [h.brand_root, Ed25519PrivateKey.generate()]),
    ("new root twice", lambda h, new: [new, new]),
    ("nobody", lambda h, new: []),
]


@pytest.mark.parametrize(
    "signers", [c[1] for c in ROTATION_SIGNERS], ids=[c[0] for c in ROTATION_SIGNERS]
)
def test_rotation_needs_old_and_new_root(
    h: SampleHierarchy, signers: Callable[[SampleHierarchy, Ed25519PrivateKey], list[Any]]
) -> None:
    new = Ed25519PrivateKey.generate()
    draft = RootRotation(h.brand.id, h.brand_root.public_key(), new.public_key(), NOW, ())
    statement = RootRotation.from_json(
        sign_envelope(draft.signed_part(), ROTATION_TAG, signers(h, new))
    )
    with pytest.raises(TrustError, match="signed by both"):
        apply_rotation(h.brand, statement)
    # Smuggled into a registry-signed list anyway, it is refused there too.
    rotated = replace(h.brand, root_key=new.public_key(), rotations=(statement,))

    def swap(signed: Any) -> None:
        signed["brands"] = [rotated.to_json()]

    data = _resign(h, swap)
    with pytest.raises(TrustError, match="signed by both"):
        load(data, h)


def _resign(h: SampleHierarchy, mutate: Callable[[Any], None]) -> bytes:
    signed = parse_json(h.trust_list.to_signed_json(), "list")["signed"]
    mutate(signed)
    return canonical_json(sign_envelope(signed, TRUST_LIST_TAG, [h.registry]))


def test_root_replaced_without_rotation_refused(h: SampleHierarchy) -> None:
    # Even the registry cannot swap a brand's root silently.
    def swap(signed: Any) -> None:
        signed["brands"][0]["root_key"] = encode_public_key(
            Ed25519PrivateKey.generate().public_key()
        )

    with pytest.raises(TrustError, match="end of the rotation chain"):
        load(_resign(h, swap), h)


def test_rotation_by_both_roots_recertifies_lines(h: SampleHierarchy) -> None:
    new_root = Ed25519PrivateKey.generate()
    brand, certs = rotate_root(
        h.brand, h.brand_root, new_root, at=NOW + DAY, certificates=[h.certificate]
    )
    assert brand.root_key_id != h.brand.root_key_id
    assert certs[0].signed_by_root(new_root.public_key())
    rotated = next_list(h, 2, brands=[brand], line_keys=certs, previous=h.trust_list)
    code = sign_code(ProductCode(gtin=gtin_with_prefix("9506000"), serial="X1"), h.line_key)
    assert rotated.evaluate(code, now=NOW + DAY, registered_at=NOW, online=True).genuine
    # A second rotation chains on from the first.
    newer = Ed25519PrivateKey.generate()
    brand2, certs2 = rotate_root(brand, new_root, newer, at=NOW + 2 * DAY, certificates=certs)
    assert len(brand2.rotations) == 2
    assert next_list(h, 3, brands=[brand2], line_keys=certs2).version == 3
    # The old root's certificate is no longer accepted after rotation.
    with pytest.raises(TrustError, match="not signed by the current root"):
        next_list(h, 4, brands=[brand], line_keys=[h.certificate])
    with pytest.raises(TrustError, match="current root"):
        rotate_root(h.brand, Ed25519PrivateKey.generate(), newer, at=NOW, certificates=[])


def test_prefix_registered_to_two_brands_refused(h: SampleHierarchy) -> None:
    other = register_brand(
        BrandApplication(
            id="copycat", name="Copycat", prefixes=("95060001",),
            root_key=Ed25519PrivateKey.generate().public_key(),
        ),
        registered_by="op", at=NOW,
    )  # fmt: skip
    with pytest.raises(TrustError, match="overlaps"):
        next_list(h, 2, brands=[h.brand, other])


@pytest.mark.parametrize(
    ("brand_id", "name", "prefixes"),
    [("Bad Id", "x", ("950600",)), ("ok", " ", ("950600",)), ("ok", "x", ("12",)),
     ("ok", "x", ()), ("ok", "x", ("95060a",))],
)  # fmt: skip
def test_brand_application_validated(brand_id: str, name: str, prefixes: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput):
        BrandApplication(
            id=brand_id, name=name, prefixes=prefixes,
            root_key=Ed25519PrivateKey.generate().public_key(),
        )  # fmt: skip


def test_diff_lists_what_changed(h: SampleHierarchy) -> None:
    newcomer = register_brand(
        BrandApplication(
            id="globex", name="Globex", prefixes=("4000001",),
            root_key=Ed25519PrivateKey.generate().public_key(), contact=Contact(url="https://g.example"),
        ),
        registered_by="op", at=NOW,
    )  # fmt: skip
    revocation = revoke(h.certificate, compromised_since=NOW, revoked_at=NOW + DAY, reason="lost")
    new_root = Ed25519PrivateKey.generate()
    rotated, certs = rotate_root(
        h.brand, h.brand_root, new_root, at=NOW + DAY, certificates=[h.certificate]
    )
    v2 = next_list(
        h, 2, brands=[rotated, newer := newcomer], line_keys=certs, revocations=[revocation]
    )
    changes = [str(c) for c in diff(h.trust_list, v2)]
    assert f"brand_added globex: {newer.name}" in changes
    assert any(c.startswith("root_rotated acme") for c in changes)
    assert any(c.startswith(f"key_revoked {h.certificate.key_id}") for c in changes)
    assert not any(c.startswith("line_key_") for c in changes)  # same key, re-certified
    back = [str(c) for c in diff(v2, h.trust_list)]
    assert "brand_removed globex: Globex" in back
    assert f"revocation_removed {h.certificate.key_id}" in back
    assert diff(h.trust_list, h.trust_list) == []
