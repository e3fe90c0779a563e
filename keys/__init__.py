"""Key lifecycle and trust (spec: docs/trust.md).

- ``keys.filestore``: Ed25519 keys in encrypted PKCS#8 files (mode 0600).
- ``keys.pkcs11``: a signer whose private key stays in a PKCS#11 token.
- ``keys.signers``: ``load_signer(spec)`` for a key file or a ``pkcs11:`` spec.
- ``keys.canonical``: canonical JSON, timestamps, signed envelopes.
- ``keys.model``: brands, line certificates, root rotations, revocations.
- ``keys.authority``: building them (register, certify, rotate, revoke).
- ``keys.trust``: the signed trust list, ``TrustList.evaluate`` and ``diff``.
- ``keys.home``: the registry operator's state directory behind the CLI.
- ``keys.sample``: a small in-memory hierarchy for tests and demos.
"""
