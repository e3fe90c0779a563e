"""A small, complete trust hierarchy in memory, for tests and demos.

One registry key, one brand with a root key, one certified line key and a
signed trust list, all fresh keys (never fixed ones, so nothing here can be
mistaken for a production key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authn.gs1 import check_digit
from keys.authority import BrandApplication, issue_line_certificate, register_brand
from keys.model import Brand, Contact, LineCertificate
from keys.trust import TrustList, build_trust_list


@dataclass(frozen=True)
class SampleHierarchy:
    registry: Ed25519PrivateKey
    brand_root: Ed25519PrivateKey
    brand: Brand
    line_key: Ed25519PrivateKey
    certificate: LineCertificate
    trust_list: TrustList


def gtin_with_prefix(prefix: str, item: str = "1") -> str:
    """A valid GTIN-13 starting with ``prefix`` (item reference zero-padded)."""
    body = prefix + item.rjust(12 - len(prefix), "0")
    return body + check_digit(body)


def sample_hierarchy(
    now: datetime,
    *,
    brand_id: str = "acme",
    brand_prefixes: tuple[str, ...] = ("9506000",),
    line_prefixes: tuple[str, ...] | None = None,
    valid_days: int = 365,
    list_days: int = 7,
) -> SampleHierarchy:
    """A registry, brand ``brand_id`` and one line key valid from ``now`` for ``valid_days``."""
    registry = Ed25519PrivateKey.generate()
    root = Ed25519PrivateKey.generate()
    line = Ed25519PrivateKey.generate()
    application = BrandApplication(
        id=brand_id,
        name=f"{brand_id.title()} Ltd",
        prefixes=brand_prefixes,
        root_key=root.public_key(),
        contact=Contact(email=f"brand-protection@{brand_id}.example", phone="+44 20 7946 0000"),
    )
    brand = register_brand(application, registered_by="registry-operator", at=now)
    certificate = issue_line_certificate(
        root,
        brand,
        line.public_key(),
        name="line-1",
        prefixes=line_prefixes or brand_prefixes,
        not_before=now,
        not_after=now + timedelta(days=valid_days),
        issued_at=now,
    )
    trust_list = build_trust_list(
        registry,
        version=1,
        issued_at=now,
        expires_at=now + timedelta(days=list_days),
        brands=[brand],
        line_keys=[certificate],
        revocations=[],
    )
    return SampleHierarchy(registry, root, brand, line, certificate, trust_list)
