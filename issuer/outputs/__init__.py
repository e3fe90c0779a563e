"""What a batch writes: payloads, printer manifests, per-label images and PDF sheets.

Every writer here is given finished, signed units and writes files; none of
them draws serials or touches the journal (that is :mod:`issuer.batch`).
"""
