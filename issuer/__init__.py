"""The producer's side of sealtrace: serials, batch signing, labels, manifests, registration.

- :mod:`issuer.serials`: unguessable 65-bit serials in Crockford base32.
- :mod:`issuer.journal`: the serial registry (unique per GTIN) and the
  crash-safe batch journal.
- :mod:`issuer.batch`: issuing and resuming a batch, in chunks, on all cores.
- :mod:`issuer.outputs`: payloads, printer manifests, label images, PDF sheets.
- :mod:`issuer.render`: QR code and GS1 DataMatrix rendering.
- :mod:`issuer.register`: registering a batch with the verifier over HTTP.

See docs/issuer.md.
"""
