"""The registry operator's working directory: state file, encrypted keys, published lists.

Layout (created by :meth:`KeyHome.init_registry`)::

    <home>/state.json              brands, applications, certificates, revocations
    <home>/keys/<name>.key.pem     encrypted private keys (keys.filestore), mode 0600
    <home>/keys/<name>.pub.pem     their public keys
    <home>/trustlist/v<N>.json     every trust list built, never overwritten
    <home>/trustlist/current.json  a copy of the newest

One passphrase protects every private key of a home. In a real deployment the
registry and each brand keep their own home (a brand's root may live in an
HSM); one home holding all of them is the demo and test setup. Every method
takes ``now`` from the caller.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from authn.errors import Conflict, InvalidInput, KeyStoreError, NotFound
from keys.authority import (
    BrandApplication,
    issue_line_certificate,
    register_brand,
    revoke,
    rotate_root,
)
from keys.canonical import decode_public_key, encode_public_key, format_time
from keys.filestore import (
    generate_key_files,
    key_paths,
    load_private_key,
    load_public_key,
    write_private_key,
    write_public_key,
)
from keys.model import Brand, Contact, LineCertificate, Revocation
from keys.trust import Change, TrustList, build_trust_list, diff

HOME_ENV = "SEALTRACE_HOME"
DEFAULT_HOME = Path("sealtrace-keys")
STATE_FORMAT = "sealtrace/key-home/v1"


class KeyHome:
    """A directory of registry state, loaded and saved whole on each change."""

    def __init__(self, path: Path, passphrase: bytes) -> None:
        self.path = path
        self._passphrase = passphrase
        self.state: dict[str, Any] = self._load_state()

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def lists_dir(self) -> Path:
        return self.path / "trustlist"

    # registry -------------------------------------------------------------

    def init_registry(self) -> str:
        """Create the registry key; returns its key id."""
        if self.state.get("registry_key"):
            raise Conflict(f"{self.path} already has a registry key")
        files = generate_key_files(self.keys_dir, self._passphrase, "registry")
        self.state["registry_key"] = "registry"
        self._save()
        return files.key_id

    def registry_public_key(self) -> Ed25519PublicKey:
        return load_public_key(self.keys_dir / f"{self._registry_name()}.pub.pem")

    # brands ---------------------------------------------------------------

    def init_brand(
        self, brand_id: str, name: str, prefixes: Iterable[str], contact: Contact
    ) -> BrandApplication:
        """Generate the brand's root key and record its application for registration."""
        if brand_id in self.state["applications"]:
            raise Conflict(f"brand {brand_id} already exists in {self.path}")
        key_name = f"brand-{brand_id}-root-1"
        # Validate before generating, so a typo leaves no stray key behind.
        probe = BrandApplication(brand_id, name, tuple(prefixes), _throwaway_key(), contact)
        files = generate_key_files(self.keys_dir, self._passphrase, key_name)
        application = BrandApplication(
            brand_id, name, probe.prefixes, load_public_key(files.public_path), contact
        )
        self.state["applications"][brand_id] = {
            "name": name,
            "prefixes": list(application.prefixes),
            "contact": contact.to_json(),
            "root_key": encode_public_key(application.root_key),
        }
        self.state["root_key_files"][brand_id] = key_name
        self._save()
        return application

    def register_brand(self, brand_id: str, *, registered_by: str, now: datetime) -> Brand:
        app = self.state["applications"].get(brand_id)
        if app is None:
            raise NotFound(f"no brand {brand_id}; run init-brand first")
        if brand_id in self.state["brands"]:
            raise Conflict(f"brand {brand_id} is already registered")
        application = BrandApplication(
            brand_id,
            app["name"],
            tuple(app["prefixes"]),
            decode_public_key(app["root_key"], "root key"),
            Contact.from_json(app["contact"]),
        )
        for other in self.brands():
            for mine in application.prefixes:
                clash = next(
                    (p for p in other.prefixes if p.startswith(mine) or mine.startswith(p)), None
                )
                if clash is not None:
                    raise Conflict(
                        f"prefix {mine} overlaps {clash}, registered to brand {other.id}"
                    )
        brand = register_brand(application, registered_by=registered_by, at=now)
        self.state["brands"][brand_id] = brand.to_json()
        self._save()
        return brand

    def brand(self, brand_id: str) -> Brand:
        data = self.state["brands"].get(brand_id)
        if data is None:
            raise NotFound(f"brand {brand_id} is not registered")
        return Brand.from_json(data)

    def brands(self) -> list[Brand]:
        return [Brand.from_json(b) for b in self.state["brands"].values()]

    def rotate_root(self, brand_id: str, *, now: datetime) -> Brand:
        """New root for the brand, signed over by old and new; its line keys re-certified."""
        brand = self.brand(brand_id)
        old_name = self.state["root_key_files"][brand_id]
        generation = int(old_name.rsplit("-", 1)[1]) + 1
        new_name = f"brand-{brand_id}-root-{generation}"
        old = self._private(old_name)
        generate_key_files(self.keys_dir, self._passphrase, new_name)
        new = self._private(new_name)
        rotated, certs = rotate_root(brand, old, new, at=now, certificates=self.certificates())
        self.state["brands"][brand_id] = rotated.to_json()
        self.state["root_key_files"][brand_id] = new_name
        self.state["line_keys"] = [c.to_json() for c in certs]
        self._save()
        return rotated

    # line keys ------------------------------------------------------------

    def new_line(
        self,
        brand_id: str,
        *,
        name: str,
        prefixes: Iterable[str],
        valid_days: int,
        now: datetime,
        public_key: Ed25519PublicKey | None = None,
    ) -> LineCertificate:
        """Certify a line key: a new one kept in this home, or ``public_key`` held elsewhere."""
        if valid_days < 1:
            raise InvalidInput("--valid-days must be at least 1")
        brand = self.brand(brand_id)
        if any(c.brand_id == brand_id and c.name == name for c in self.certificates()):
            raise Conflict(f"brand {brand_id} already has a line key named {name!r}")
        root = self._private(self.state["root_key_files"][brand_id])
        # The key is written only once it is certified, so a refused request
        # leaves no orphan key file behind.
        private_path, public_path = key_paths(self.keys_dir, f"line-{brand_id}-{name}")
        line_private: Ed25519PrivateKey | None = None
        if public_key is None:
            line_private = Ed25519PrivateKey.generate()
            public_key = line_private.public_key()
        cert = issue_line_certificate(
            root,
            brand,
            public_key,
            name=name,
            prefixes=prefixes,
            not_before=now,
            not_after=now + timedelta(days=valid_days),
            issued_at=now,
        )
        if line_private is not None:
            write_private_key(private_path, line_private, self._passphrase)
            write_public_key(public_path, line_private.public_key())
        self.state["line_keys"].append(cert.to_json())
        self._save()
        return cert

    def certificates(self) -> list[LineCertificate]:
        return [LineCertificate.from_json(c) for c in self.state["line_keys"]]

    def revoke(
        self,
        kid: str,
        *,
        compromised_since: datetime,
        reason: str,
        now: datetime,
        public_key: str | None = None,
    ) -> Revocation:
        """Revoke the line key with id ``kid`` (``public_key`` picks one when ids collide)."""
        matches = [c for c in self.certificates() if c.key_id == kid]
        if public_key is not None:
            matches = [c for c in matches if encode_public_key(c.public_key) == public_key]
        if not matches:
            raise NotFound(f"no line key with id {kid}")
        if len(matches) > 1:
            keys = ", ".join(encode_public_key(c.public_key) for c in matches)
            raise Conflict(f"several line keys share id {kid}; pick one with --public-key ({keys})")
        cert = matches[0]
        encoded = encode_public_key(cert.public_key)
        if any(r["public_key"] == encoded for r in self.state["revocations"]):
            raise Conflict(f"line key {kid} is already revoked")
        revocation = revoke(
            cert, compromised_since=compromised_since, revoked_at=now, reason=reason
        )
        self.state["revocations"].append(revocation.to_json())
        self._save()
        return revocation

    # trust lists ----------------------------------------------------------

    def build_trust_list(self, *, now: datetime, valid_days: int) -> tuple[TrustList, list[Change]]:
        """Sign the next version; returns it and what changed since the previous one."""
        previous = self.current_trust_list(now=now, allow_stale=True)
        registry = self._private(self._registry_name())
        trust_list = build_trust_list(
            registry,
            version=(previous.version if previous else 0) + 1,
            issued_at=now,
            expires_at=now + timedelta(days=valid_days),
            brands=self.brands(),
            line_keys=self.certificates(),
            revocations=[Revocation.from_json(r) for r in self.state["revocations"]],
            previous=previous,
        )
        self.lists_dir.mkdir(parents=True, exist_ok=True)
        data = trust_list.to_signed_json()
        _write_atomic(self.lists_dir / f"v{trust_list.version}.json", data, exclusive=True)
        _write_atomic(self.lists_dir / "current.json", data)
        self.state["trust_list_version"] = trust_list.version
        self._save()
        changes = diff(previous, trust_list) if previous else []
        return trust_list, changes

    def current_trust_list(self, *, now: datetime, allow_stale: bool = False) -> TrustList | None:
        path = self.lists_dir / "current.json"
        if not path.exists():
            return None
        return TrustList.from_signed_json(
            path.read_bytes(), self.registry_public_key(), now=now, allow_stale=allow_stale
        )

    # internals ------------------------------------------------------------

    def _registry_name(self) -> str:
        name = self.state.get("registry_key")
        if not name:
            raise NotFound(f"{self.path} has no registry key; run init-registry first")
        return str(name)

    def _private(self, name: str) -> Ed25519PrivateKey:
        return load_private_key(self.keys_dir / f"{name}.key.pem", self._passphrase)

    def _load_state(self) -> dict[str, Any]:
        path = self.path / "state.json"
        if not path.exists():
            return {
                "format": STATE_FORMAT,
                "registry_key": None,
                "applications": {},
                "brands": {},
                "root_key_files": {},
                "line_keys": [],
                "revocations": [],
                "trust_list_version": 0,
            }
        try:
            state = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot read {path}: {exc}") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise KeyStoreError(f"{path} is not a sealtrace key home state file")
        return state

    def _save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps(self.state, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        _write_atomic(self.path / "state.json", data)


def describe_certificate(cert: LineCertificate) -> str:
    return (
        f"{cert.key_id}  {cert.brand_id}/{cert.name}  prefixes {','.join(cert.prefixes)}  "
        f"{format_time(cert.not_before)} .. {format_time(cert.not_after)}"
    )


def _throwaway_key() -> Ed25519PublicKey:
    return Ed25519PrivateKey.generate().public_key()


def _write_atomic(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    if exclusive and path.exists():
        raise Conflict(f"{path} already exists")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
