"""A transparency log of the service's evidence: scans, status changes, inspections,
seizures, account, token and webhook changes.

An append-only Merkle tree as RFC 9162 (Certificate Transparency 2.0) defines it,
kept in the service's own database inside the transaction that stores each
entry, with signed checkpoints in the C2SP signed-note format and inclusion and
consistency proofs that anyone can check without trusting the operator.

- :mod:`transparency.merkle`: the tree's hashes, proofs and proof checks (pure).
- :mod:`transparency.note`: signed-note checkpoints (pure; keys passed in).
- :mod:`transparency.entries`: what an entry holds for each logged table (pure).
- :mod:`transparency.tables`, :mod:`transparency.store`: the tree in the database.
- :mod:`transparency.hooks`: every logged row joins the log at commit.
- :mod:`transparency.audit`: recompute the tree and compare every logged row.
- :mod:`transparency.checker`: a standalone checker of evidence bundles.
"""
