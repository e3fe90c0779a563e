"""GS1 EPCIS 2.0 track and trace: capture, store, query, export; aggregation and route findings.

Pure (no I/O): ``identifiers``, ``vocabulary``, ``hashing``, ``validation``,
``model``, ``aggregation``, ``documents``. Storage and HTTP: ``tables``,
``store``, ``api``. See docs/epcis.md.
"""
