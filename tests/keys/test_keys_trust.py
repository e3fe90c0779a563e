"""The trust decision for one code: chain, prefixes, windows, revocation, colliding key ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authn.code import ProductCode
from authn.errors import TrustError
from authn.signing import key_id, sign_code
from keys.authority import issue_line_certificate, revoke, sign_within_certificate
from keys.canonical import canonical_json, parse_json, sign_envelope
from keys.sample import SampleHierarchy, gtin_with_prefix, sample_hierarchy
from keys.trust import TRUST_LIST_TAG, TrustList, build_trust_list

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BRAND_GTIN = gtin_with_prefix("9506000", "42")
OTHER_LINE_GTIN = gtin_with_prefix("9506001", "42")  # the brand's, but not line-1's
FOREIGN_GTIN = gtin_with_prefix("4000001", "7")


@pytest.fixture(scope="module")
def h() -> SampleHierarchy:
    # Brand owns 950600 (6 digits); line-1 may sign only 9506000.
    return sample_hierarchy(NOW, brand_prefixes=("950600",), line_prefixes=("9506000",))


def code(gtin: str = BRAND_GTIN, serial: str = "ABC123") -> ProductCode:
    return ProductCode(gtin=gtin, serial=serial)


def resign(tl: TrustList, registry: Ed25519PrivateKey, mutate: Callable[[Any], None]) -> bytes:
    """The list with ``mutate`` applied to its signed part, signed again by the registry."""
    signed = parse_json(tl.to_signed_json(), "list")["signed"]
    mutate(signed)
    return canonical_json(sign_envelope(signed, TRUST_LIST_TAG, [registry]))


def _tampered(c: ProductCode) -> ProductCode:
    return ProductCode(gtin=c.gtin, serial="ABC124", signature=c.signature)


def _malformed(c: ProductCode) -> ProductCode:
    return c.with_signature("A" * 89)


# (case, code builder, online, registered_at offset from NOW, outcome, reason)
CHAIN_CASES = [
    ("valid, online", lambda h: sign_code(code(), h.line_key), True, DAY, "genuine", "TRUST_OK"),
    ("valid, offline", lambda h: sign_code(code(), h.line_key), False, None, "genuine", "TRUST_OK"),
    ("valid, never registered (verifier decides)",
     lambda h: sign_code(code(), h.line_key), True, None, "genuine", "TRUST_OK"),
    ("unsigned code of an enrolled brand", lambda h: code(), True, None,
     "counterfeit", "SIGNATURE_MISSING"),
    ("unsigned code of a stranger", lambda h: code(FOREIGN_GTIN), True, None,
     "cannot_confirm", "SIGNATURE_MISSING"),
    ("malformed signature", lambda h: _malformed(sign_code(code(), h.line_key)), True, None,
     "counterfeit", "SIGNATURE_MALFORMED"),
    ("unknown key, online", lambda h: sign_code(code(), Ed25519PrivateKey.generate()), True,
     None, "counterfeit", "KEY_UNKNOWN"),
    ("unknown key, offline (list may predate the key)",
     lambda h: sign_code(code(), Ed25519PrivateKey.generate()), False, None,
     "cannot_confirm", "KEY_UNKNOWN"),
    ("data changed after signing", lambda h: _tampered(sign_code(code(), h.line_key)), True,
     DAY, "counterfeit", "SIGNATURE_INVALID"),
    ("line key outside its prefixes", lambda h: sign_code(code(OTHER_LINE_GTIN), h.line_key),
     True, DAY, "counterfeit", "GTIN_OUTSIDE_KEY_PREFIXES"),
    ("line key on another brand's GTIN", lambda h: sign_code(code(FOREIGN_GTIN), h.line_key),
     False, None, "counterfeit", "GTIN_OUTSIDE_KEY_PREFIXES"),
    ("first seen before the window, online", lambda h: sign_code(code(), h.line_key), True,
     -DAY, "counterfeit", "OUTSIDE_SIGNING_WINDOW"),
    ("first seen after the window, online", lambda h: sign_code(code(), h.line_key), True,
     400 * DAY, "counterfeit", "OUTSIDE_SIGNING_WINDOW"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "online", "offset", "outcome", "reason"),
    [case[1:] for case in CHAIN_CASES],
    ids=[case[0] for case in CHAIN_CASES],
)
def test_chain_decisions(
    h: SampleHierarchy,
    build: Callable[[SampleHierarchy], ProductCode],
    online: bool,
    offset: timedelta | None,
    outcome: str,
    reason: str,
) -> None:
    registered_at = NOW + offset if offset is not None else None
    decision = h.trust_list.evaluate(
        build(h), now=NOW + 2 * DAY, registered_at=registered_at, online=online
    )
    assert (decision.outcome, decision.reason) == (outcome, reason)
    assert decision.message.endswith(".")
    # The right holder is named whenever the key or the GTIN is the brand's.
    assert (decision.brand is not None) == (
        reason != "SIGNATURE_MISSING" or outcome != "cannot_confirm"
    )


def test_genuine_decision_carries_brand_contact_and_key(h: SampleHierarchy) -> None:
    signed = sign_code(code(), h.line_key)
    decision = h.trust_list.evaluate(signed, now=NOW + DAY, registered_at=NOW, online=True)
    assert decision.genuine
    assert decision.key_id == key_id(h.line_key.public_key()) == signed.key_id
    assert decision.brand is not None
    assert decision.brand.id == "acme"
    assert decision.brand.contact.email == "brand-protection@acme.example"
    assert decision.revoked_compromised_since is None


def test_window_cannot_be_judged_offline(h: SampleHierarchy) -> None:
    signed = sign_code(code(), h.line_key)
    late = NOW + 400 * DAY
    offline = h.trust_list.evaluate(signed, now=NOW + DAY, registered_at=late, online=False)
    assert offline.outcome == "genuine"


def test_before_window_opens_by_the_clock(h: SampleHierarchy) -> None:
    signed = sign_code(code(), h.line_key)
    online = h.trust_list.evaluate(signed, now=NOW - DAY, registered_at=None, online=True)
    offline = h.trust_list.evaluate(signed, now=NOW - DAY, registered_at=None, online=False)
    assert (online.outcome, online.reason) == ("counterfeit", "OUTSIDE_SIGNING_WINDOW")
    assert (offline.outcome, offline.reason) == ("cannot_confirm", "OUTSIDE_SIGNING_WINDOW")


def test_retired_key_codes_stay_genuine(h: SampleHierarchy) -> None:
    signed = sign_code(code(), h.line_key)
    after_retirement = h.certificate.not_after + 30 * DAY
    list_then = build_trust_list(
        h.registry,
        version=2,
        issued_at=after_retirement,
        expires_at=after_retirement + 7 * DAY,
        brands=[h.brand],
        line_keys=[h.certificate],
        revocations=[],
    )
    decision = list_then.evaluate(
        signed, now=after_retirement, registered_at=NOW + DAY, online=True
    )
    assert (decision.outcome, decision.reason) == ("genuine", "TRUST_OK")


def test_stale_list_cannot_confirm_genuine_but_still_catches_fakes(h: SampleHierarchy) -> None:
    stale = TrustList.from_signed_json(
        h.trust_list.to_signed_json(), h.registry.public_key(), now=NOW + 30 * DAY, allow_stale=True
    )
    later = NOW + 30 * DAY
    good = stale.evaluate(sign_code(code(), h.line_key), now=later, registered_at=NOW, online=False)
    assert (good.outcome, good.reason) == ("cannot_confirm", "TRUST_LIST_STALE")
    bad = stale.evaluate(
        _tampered(sign_code(code(), h.line_key)), now=later, registered_at=None, online=False
    )
    assert bad.outcome == "counterfeit"


def test_certificate_under_unregistered_root(h: SampleHierarchy) -> None:
    rogue_root = Ed25519PrivateKey.generate()
    rogue_line = Ed25519PrivateKey.generate()
    # The rogue root poses as the brand's root when signing.
    posing = type(h.brand)(**{**h.brand.__dict__, "root_key": rogue_root.public_key()})
    rogue_cert = issue_line_certificate(
        rogue_root, posing, rogue_line.public_key(), name="rogue", prefixes=["9506000"],
        not_before=NOW, not_after=NOW + 9 * DAY, issued_at=NOW,
    )  # fmt: skip
    with pytest.raises(TrustError, match="not signed by the current root"):
        build_trust_list(
            h.registry, version=2, issued_at=NOW, expires_at=NOW + DAY, brands=[h.brand],
            line_keys=[h.certificate, rogue_cert], revocations=[],
        )  # fmt: skip
    # A list that carries it anyway (a registry bug) flags that one key and no other.
    data = resign(h.trust_list, h.registry, lambda s: s["line_keys"].append(rogue_cert.to_json()))
    tl = TrustList.from_signed_json(data, h.registry.public_key(), now=NOW)
    fake = tl.evaluate(sign_code(code(), rogue_line), now=NOW, registered_at=NOW, online=True)
    assert (fake.outcome, fake.reason) == ("counterfeit", "CERTIFICATE_INVALID")
    real = tl.evaluate(sign_code(code(), h.line_key), now=NOW, registered_at=NOW, online=True)
    assert real.outcome == "genuine"


def test_certificate_for_unknown_brand_is_invalid(h: SampleHierarchy) -> None:
    def rename(signed: Any) -> None:
        signed["brands"][0]["id"] = "other"

    tl = TrustList.from_signed_json(
        resign(h.trust_list, h.registry, rename), h.registry.public_key(), now=NOW
    )
    decision = tl.evaluate(sign_code(code(), h.line_key), now=NOW, registered_at=NOW, online=True)
    assert (decision.outcome, decision.reason) == ("counterfeit", "CERTIFICATE_INVALID")


COMPROMISED = NOW + 10 * DAY

# (case, online, registered_at, outcome, reason)
REVOCATION_CASES = [
    ("online, registered before the compromise", True, COMPROMISED - DAY,
     "genuine", "REGISTERED_BEFORE_COMPROMISE"),
    ("online, registered a second before", True, COMPROMISED - timedelta(seconds=1),
     "genuine", "REGISTERED_BEFORE_COMPROMISE"),
    ("online, registered at the compromise moment", True, COMPROMISED,
     "counterfeit", "KEY_REVOKED"),
    ("online, registered after the compromise", True, COMPROMISED + DAY,
     "counterfeit", "KEY_REVOKED"),
    ("online, never registered", True, None, "counterfeit", "KEY_REVOKED"),
    ("offline, registered before (no evidence offline)", False, COMPROMISED - DAY,
     "cannot_confirm", "KEY_REVOKED"),
    ("offline, after", False, COMPROMISED + DAY, "cannot_confirm", "KEY_REVOKED"),
    ("offline, never registered", False, None, "cannot_confirm", "KEY_REVOKED"),
]  # fmt: skip


@pytest.fixture(scope="module")
def revoked_list(h: SampleHierarchy) -> TrustList:
    revocation = revoke(
        h.certificate,
        compromised_since=COMPROMISED,
        revoked_at=COMPROMISED + 2 * DAY,
        reason="line PC stolen",
    )
    return build_trust_list(
        h.registry,
        version=2,
        issued_at=COMPROMISED + 2 * DAY,
        expires_at=COMPROMISED + 9 * DAY,
        brands=[h.brand],
        line_keys=[h.certificate],
        revocations=[revocation],
        previous=h.trust_list,
    )


@pytest.mark.parametrize(
    ("online", "registered_at", "outcome", "reason"),
    [case[1:] for case in REVOCATION_CASES],
    ids=[case[0] for case in REVOCATION_CASES],
)
def test_revocation_rule(
    h: SampleHierarchy,
    revoked_list: TrustList,
    online: bool,
    registered_at: datetime | None,
    outcome: str,
    reason: str,
) -> None:
    signed = sign_code(code(), h.line_key)
    decision = revoked_list.evaluate(
        signed, now=COMPROMISED + 3 * DAY, registered_at=registered_at, online=online
    )
    assert (decision.outcome, decision.reason) == (outcome, reason)
    assert decision.revoked_compromised_since == COMPROMISED


def test_revocation_cannot_postdate_itself(h: SampleHierarchy) -> None:
    with pytest.raises(ValueError, match="compromised after"):
        revoke(h.certificate, compromised_since=NOW + DAY, revoked_at=NOW, reason="x")


def _colliding_keys() -> tuple[Ed25519PrivateKey, Ed25519PrivateKey]:
    """Two fresh keys sharing a 3-byte key id (birthday search: ~5,000 keys)."""
    seen: dict[str, Ed25519PrivateKey] = {}
    for _ in range(200_000):
        key = Ed25519PrivateKey.generate()
        kid = key_id(key.public_key())
        if kid in seen:
            return seen[kid], key
        seen[kid] = key
    raise AssertionError("no collision found")  # pragma: no cover


def test_two_line_keys_sharing_a_key_id(h: SampleHierarchy) -> None:
    first, second = _colliding_keys()
    assert key_id(first.public_key()) == key_id(second.public_key())
    certs = [
        issue_line_certificate(
            h.brand_root, h.brand, key.public_key(), name=name, prefixes=["9506000"],
            not_before=NOW, not_after=NOW + 30 * DAY, issued_at=NOW,
        )
        for name, key in (("line-a", first), ("line-b", second))
    ]  # fmt: skip
    revocation = revoke(certs[0], compromised_since=NOW, revoked_at=NOW + DAY, reason="leak")
    tl = build_trust_list(
        h.registry, version=2, issued_at=NOW, expires_at=NOW + 7 * DAY, brands=[h.brand],
        line_keys=certs, revocations=[revocation],
    )  # fmt: skip
    assert len(tl.certificates_with_id(key_id(first.public_key()))) == 2
    by_second = tl.evaluate(sign_code(code(), second), now=NOW, registered_at=NOW, online=True)
    assert (by_second.outcome, by_second.reason) == ("genuine", "TRUST_OK")
    assert by_second.certificate is not None
    assert by_second.certificate.name == "line-b"
    # The revocation names the first key only, though both share the id.
    by_first = tl.evaluate(sign_code(code(), first), now=NOW, registered_at=NOW, online=True)
    assert (by_first.outcome, by_first.reason) == ("counterfeit", "KEY_REVOKED")
    assert by_first.certificate is not None
    assert by_first.certificate.name == "line-a"


# (case, signing moment, gtin, match)
GUARD_CASES = [
    ("window expired at signing", NOW + 31 * DAY, BRAND_GTIN, "may sign only"),
    ("window not yet open", NOW - DAY, BRAND_GTIN, "may sign only"),
    ("GTIN outside the line's prefixes", NOW + DAY, OTHER_LINE_GTIN, "outside line key"),
]


@pytest.mark.parametrize(
    ("moment", "gtin", "match"), [c[1:] for c in GUARD_CASES], ids=[c[0] for c in GUARD_CASES]
)
def test_issuer_guard_refuses_to_sign(
    h: SampleHierarchy, moment: datetime, gtin: str, match: str
) -> None:
    cert = issue_line_certificate(
        h.brand_root, h.brand, h.line_key.public_key(), name="l", prefixes=["9506000"],
        not_before=NOW, not_after=NOW + 30 * DAY, issued_at=NOW,
    )  # fmt: skip
    with pytest.raises(TrustError, match=match):
        sign_within_certificate(code(gtin), h.line_key, cert, now=moment)


def test_issuer_guard_signs_inside_window_and_refuses_other_keys(h: SampleHierarchy) -> None:
    signed = sign_within_certificate(code(), h.line_key, h.certificate, now=NOW + DAY)
    assert h.trust_list.evaluate(signed, now=NOW + DAY, registered_at=NOW, online=True).genuine
    with pytest.raises(TrustError, match="not the certified line key"):
        sign_within_certificate(code(), Ed25519PrivateKey.generate(), h.certificate, now=NOW)


def test_line_prefixes_must_be_within_the_brand(h: SampleHierarchy) -> None:
    with pytest.raises(TrustError, match="not all within brand"):
        issue_line_certificate(
            h.brand_root, h.brand, Ed25519PrivateKey.generate().public_key(), name="x",
            prefixes=["9506000", "4000001"], not_before=NOW, not_after=NOW + DAY, issued_at=NOW,
        )  # fmt: skip
    with pytest.raises(TrustError, match="not the current root"):
        issue_line_certificate(
            Ed25519PrivateKey.generate(), h.brand, h.line_key.public_key(), name="x",
            prefixes=["9506000"], not_before=NOW, not_after=NOW + DAY, issued_at=NOW,
        )  # fmt: skip
