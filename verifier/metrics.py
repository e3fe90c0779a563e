"""The service's own Prometheus counters, beside the HTTP ones of :mod:`http_api.metrics`.

Module-level, so the verification pipeline can count without knowing about HTTP:
``VERDICTS.labels(verdict).inc()``, ``ALERTS.labels(kind).inc()``. ``GET /metrics``
(:mod:`http_api.metrics`) exposes them with the rest, per process or, with several
workers, added up from ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

VERDICTS = Counter(
    "sealtrace_verdicts_total", "Verification verdicts given, by verdict.", ["verdict"]
)
ALERTS = Counter("sealtrace_alerts_total", "Alerts created, by kind.", ["kind"])
RECORD_BATCH = Histogram(
    "sealtrace_record_batch_scans",
    "Scans judged and committed together in one transaction (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
