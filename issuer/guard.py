"""The issuer's checks before it prints: would the verifier accept what we are about to sign?

A label signed outside its key's certificate is judged counterfeit by every
verifier, so printing it only wastes a print run and, worse, puts fakes into
the supply chain with the brand's own signature on them. The checks run on
the batch's parameters and the signing key's public half, before any serial
is drawn or any file is written, for key files and HSM keys alike.

Pure: the trust list, the key and ``now`` come in as arguments.
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from authn.errors import InvalidInput, TrustError
from authn.signing import key_id, raw_public_key
from detection.rules_state import expiry_date, is_expired
from keys.model import LineCertificate
from keys.trust import TrustList


class IssueRefused(InvalidInput):
    """The batch would print labels that no verifier accepts; nothing was written."""


def certificate_for(trust_list: TrustList, public_key: Ed25519PublicKey) -> LineCertificate:
    """The usable line certificate of ``public_key`` in ``trust_list``, or refuse."""
    raw = raw_public_key(public_key)
    kid = key_id(public_key)
    for cert in trust_list.line_keys:
        if raw_public_key(cert.public_key) != raw:
            continue
        problem = trust_list.certificate_problems.get(raw)
        if problem is not None:
            raise IssueRefused(f"line key {kid}'s certificate is not valid: {problem}")
        return cert
    raise IssueRefused(
        f"key {kid} is not certified in trust list version {trust_list.version}: "
        "certify it with `sealtrace keys new-line` and publish a new trust list"
    )


def check_issue(
    *,
    gtin14: str,
    expiry: str | None,
    public_key: Ed25519PublicKey,
    trust_list: TrustList,
    now: dt.datetime,
    allow_past_expiry: bool = False,
) -> LineCertificate:
    """Refuse (``IssueRefused``) a batch whose labels the verifier would not accept.

    Checked: the key is certified and not revoked, the GTIN lies within the
    certificate's prefixes, ``now`` lies within its signing window, and the
    expiry date (its syntax and calendar are checked by ``ProductCode``) is
    not past.
    """
    cert = certificate_for(trust_list, public_key)
    kid = cert.key_id
    revocation = trust_list.revocation_of(public_key)
    if revocation is not None:
        since = f"{revocation.compromised_since:%Y-%m-%d %H:%M} UTC"
        raise IssueRefused(f"line key {kid} is revoked (compromised since {since})")
    if not cert.covers(gtin14):
        raise IssueRefused(
            f"GTIN {gtin14} is outside line key {kid}'s certified prefixes "
            f"{', '.join(cert.prefixes)}: every label would verify as counterfeit"
        )
    if not cert.in_window(now):
        raise IssueRefused(
            f"line key {kid} may sign only from {cert.not_before:%Y-%m-%d %H:%M} to "
            f"{cert.not_after:%Y-%m-%d %H:%M} UTC; it is now {now:%Y-%m-%d %H:%M} UTC"
        )
    if expiry is not None and not allow_past_expiry:
        check_expiry(expiry, now)
    return cert


def check_expiry(expiry: str, now: dt.datetime) -> None:
    """Refuse an AI (17) expiry that is already past (the same rule the verifier uses)."""
    if is_expired(expiry, now):
        raise IssueRefused(
            f"expiry {expiry_date(expiry, now.date())} is already past: every label would "
            "show an expired product (--allow-past-expiry prints them anyway, for tests)"
        )


def load_trust_list(data: bytes, registry_key: Ed25519PublicKey, now: dt.datetime) -> TrustList:
    """The signed trust list the checks use; an expired one still says what a key may sign."""
    try:
        return TrustList.from_signed_json(data, registry_key, now=now, allow_stale=True)
    except TrustError as exc:
        raise IssueRefused(f"the trust list cannot be used: {exc}") from None
