"""Building the trust hierarchy: brands, line certificates, rotations, revocations.

The registry operator's and the brand's side of docs/trust.md, as pure
functions over keys and times. Each refuses what a verifier would reject, so a
mistake is caught where it is made rather than at a border post.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from authn.code import ProductCode
from authn.errors import InvalidInput, TrustError
from authn.signing import Signer, sign_code
from keys.canonical import same_key, sign_envelope, utc_seconds
from keys.model import (
    BRAND_ID,
    CERTIFICATE_TAG,
    COMPANY_PREFIX,
    LINE_PREFIX,
    Brand,
    Contact,
    LineCertificate,
    Revocation,
    RootRotation,
    check_prefixes,
    prefixes_within,
)


@dataclass(frozen=True)
class BrandApplication:
    """What a brand hands the registry: who it is, its prefixes and its root key."""

    id: str
    name: str
    prefixes: tuple[str, ...]
    root_key: Ed25519PublicKey
    contact: Contact = field(default_factory=Contact)

    def __post_init__(self) -> None:
        if not BRAND_ID.fullmatch(self.id):
            raise InvalidInput(
                f"brand id {self.id!r} must be 1-64 lowercase letters, digits and '-'"
            )
        if not self.name.strip():
            raise InvalidInput("a brand needs a name")
        try:
            prefixes = check_prefixes(self.prefixes, COMPANY_PREFIX, f"brand {self.id}")
        except TrustError as exc:
            raise InvalidInput(f"{exc} (GS1 company prefixes have 4 to 12 digits)") from None
        object.__setattr__(self, "prefixes", prefixes)


def register_brand(application: BrandApplication, *, registered_by: str, at: datetime) -> Brand:
    """The registry's record that ``registered_by`` registered the brand at ``at``."""
    if not registered_by.strip():
        raise InvalidInput("say who registers the brand")
    return Brand(
        id=application.id,
        name=application.name,
        prefixes=application.prefixes,
        root_key=application.root_key,
        registered_root=application.root_key,
        registered_by=registered_by,
        registered_at=utc_seconds(at),
        contact=application.contact,
    )


def issue_line_certificate(
    root: Signer,
    brand: Brand,
    line_key: Ed25519PublicKey,
    *,
    name: str,
    prefixes: Iterable[str],
    not_before: datetime,
    not_after: datetime,
    issued_at: datetime,
) -> LineCertificate:
    """The brand root certifies ``line_key`` for ``prefixes`` (within the brand's) and a window."""
    if not same_key(root.public_key(), brand.root_key):
        raise TrustError(f"the signing key is not the current root of brand {brand.id}")
    checked = check_prefixes(list(prefixes), LINE_PREFIX, f"line key {name!r}")
    if not prefixes_within(checked, brand.prefixes):
        raise TrustError(
            f"line prefixes {list(checked)} are not all within brand {brand.id}'s "
            f"{list(brand.prefixes)}"
        )
    start, end = utc_seconds(not_before), utc_seconds(not_after)
    if end <= start:
        raise TrustError("a signing window must end after it starts")
    draft = LineCertificate(
        brand_id=brand.id,
        name=name,
        public_key=line_key,
        prefixes=checked,
        not_before=start,
        not_after=end,
        issued_at=utc_seconds(issued_at),
    )
    return LineCertificate.from_json(sign_envelope(draft.signed_part(), CERTIFICATE_TAG, [root]))


def apply_rotation(brand: Brand, rotation: RootRotation) -> Brand:
    """``brand`` with its root moved by ``rotation``; refused unless old and new both signed."""
    if rotation.brand_id != brand.id:
        raise TrustError(f"the rotation is for brand {rotation.brand_id}, not {brand.id}")
    if not same_key(rotation.old_key, brand.root_key):
        raise TrustError(f"the rotation does not start from brand {brand.id}'s current root")
    if same_key(rotation.old_key, rotation.new_key):
        raise TrustError("a rotation must move to a different key")
    if not rotation.valid():
        raise TrustError("a root rotation must be signed by both the old and the new root")
    return replace(brand, root_key=rotation.new_key, rotations=(*brand.rotations, rotation))


def rotate_root(
    brand: Brand,
    old: Signer,
    new: Signer,
    *,
    at: datetime,
    certificates: Iterable[LineCertificate],
) -> tuple[Brand, list[LineCertificate]]:
    """Rotate the brand's root and re-certify its line keys under the new root.

    Certificates of other brands pass through unchanged. Re-certifying keeps
    every line signing without a gap; only the current root certifies.
    """
    rotation = RootRotation.create(brand.id, old, new, utc_seconds(at))
    rotated = apply_rotation(brand, rotation)
    renewed = []
    for cert in certificates:
        if cert.brand_id == brand.id:
            draft = replace(cert, signatures=())
            cert = LineCertificate.from_json(
                sign_envelope(draft.signed_part(), CERTIFICATE_TAG, [new])
            )
        renewed.append(cert)
    return rotated, renewed


def revoke(
    certificate: LineCertificate, *, compromised_since: datetime, revoked_at: datetime, reason: str
) -> Revocation:
    """Withdraw a line key; codes registered before ``compromised_since`` stay genuine."""
    since, at = utc_seconds(compromised_since), utc_seconds(revoked_at)
    if since > at:
        raise InvalidInput("a key cannot be compromised after the moment it is revoked")
    if not reason.strip():
        raise InvalidInput("give a reason for the revocation")
    return Revocation(certificate.public_key, since, at, reason)


def sign_within_certificate(
    code: ProductCode, signer: Signer, certificate: LineCertificate, *, now: datetime
) -> ProductCode:
    """Sign ``code`` only if ``certificate`` allows it now: same key, GTIN, window.

    The issuer's guard: a code signed outside the window or the prefixes would
    be judged counterfeit, so it is never made.
    """
    if not same_key(signer.public_key(), certificate.public_key):
        raise TrustError("the signer's key is not the certified line key")
    if not certificate.covers(code.gtin):
        raise TrustError(
            f"GTIN {code.gtin} is outside line key {certificate.key_id}'s prefixes "
            f"{list(certificate.prefixes)}"
        )
    if not certificate.in_window(now):
        raise TrustError(
            f"line key {certificate.key_id} may sign only from {certificate.not_before} "
            f"to {certificate.not_after}"
        )
    return sign_code(code, signer)
