"""Security headers, Prometheus metrics and their access rule, JSON logs with request ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from http_api.metrics import may_read
from tests.production.conftest import ACME_GTIN, Env, EnvFactory
from verifier.logging_setup import JsonFormatter, RequestIdFilter, uvicorn_log_config
from verifier.metrics import VERDICTS
from verifier.settings import Settings


@pytest.mark.parametrize("path", ["/healthz", "/v1/trust-list", "/scan", "/no/such/page"])
def test_security_headers_on_pages_api_and_errors(env: Env, path: str) -> None:
    response = env.client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    # Pages may set a stricter policy of their own; it is kept.
    assert response.headers["referrer-policy"] in ("strict-origin-when-cross-origin", "no-referrer")
    assert "frame-ancestors" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers  # plain http


def test_hsts_only_over_https(env: Env) -> None:
    secure = TestClient(env.app, base_url="https://testserver")
    response = secure.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def sample_value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_count_requests_by_route_template(sqlite_url: str, make_env: EnvFactory) -> None:
    env = make_env(sqlite_url, metrics_token="scrape-" + "s" * 30)
    scrape = {"Authorization": "Bearer scrape-" + "s" * 30}
    route = "/v1/codes/{gtin}/{serial}"
    requests = "sealtrace_http_requests_total"
    before = env.client.get("/metrics", headers=scrape).text
    assert env.register(["M1"]).status_code == 200
    for serial in ("M1", "M2", "M3"):
        env.client.get(f"/v1/codes/{ACME_GTIN}/{serial}", headers=env.auth("acme"))
    env.client.get("/no/such/path/at/all")
    after = env.client.get("/metrics", headers=scrape)
    assert after.status_code == 200
    counted = sample_value(after.text, requests, route=route, method="GET") - sample_value(
        before, requests, route=route, method="GET"
    )
    assert counted == 3
    found = sample_value(after.text, requests, route=route, status="200") - sample_value(
        before, requests, route=route, status="200"
    )
    assert found == 1  # M2 and M3 are not registered: 404
    assert f"/v1/codes/{ACME_GTIN}/M1" not in after.text  # raw paths never become labels
    assert sample_value(after.text, requests, route="<unmatched>") >= 1
    assert (
        sample_value(after.text, "sealtrace_http_request_duration_seconds_count", route=route) >= 3
    )


def test_verdict_counter_is_exposed_for_the_pipeline(sqlite_url: str, make_env: EnvFactory) -> None:
    env = make_env(sqlite_url, metrics_token="scrape-" + "t" * 30)
    VERDICTS.labels("authentic").inc()
    text = env.client.get("/metrics", headers={"Authorization": "Bearer scrape-" + "t" * 30}).text
    assert sample_value(text, "sealtrace_verdicts_total", verdict="authentic") >= 1


def test_metrics_count_verdicts_and_alerts(sqlite_url: str, make_env: EnvFactory) -> None:
    env = make_env(sqlite_url, metrics_token="scrape-" + "v" * 30)
    scrape = {"Authorization": "Bearer scrape-" + "v" * 30}
    before = env.client.get("/metrics", headers=scrape).text
    assert env.register(["V1"]).status_code == 200
    assert env.client.post("/v1/verify", json={"code": env.sign("V1")}).status_code == 200
    # Never registered: suspect, and a CODE_NOT_REGISTERED alert (a key may have leaked).
    assert env.client.post("/v1/verify", json={"code": env.sign("V2")}).status_code == 200
    after = env.client.get("/metrics", headers=scrape).text
    verdicts = "sealtrace_verdicts_total"
    for verdict in ("authentic", "suspect"):
        grown = sample_value(after, verdicts, verdict=verdict) - sample_value(
            before, verdicts, verdict=verdict
        )
        assert grown == 1, verdict
    alerts = "sealtrace_alerts_total"
    kind = "CODE_NOT_REGISTERED"
    assert sample_value(after, alerts, kind=kind) - sample_value(before, alerts, kind=kind) == 1
    # Each verify went through the recorder: two more scans in the batch-size histogram.
    batched = "sealtrace_record_batch_scans_sum"
    assert sample_value(after, batched) - sample_value(before, batched) == 2


def test_metrics_refused_without_token_from_other_addresses(
    sqlite_url: str, make_env: EnvFactory
) -> None:
    env = make_env(sqlite_url, metrics_token="scrape-" + "u" * 30)
    # TestClient's peer is "testclient", not an allowed address.
    refused = env.client.get("/metrics")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    wrong = env.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403


def test_metrics_allow_list_rule() -> None:
    settings = Settings(_env_file=None, metrics_allow_ips=["127.0.0.1", "10.1.0.0/16"])  # type: ignore[call-arg]
    assert may_read(settings, "127.0.0.1", None)
    assert may_read(settings, "10.1.200.3", None)
    assert not may_read(settings, "10.2.0.1", None)
    assert not may_read(settings, "testclient", None)
    assert not may_read(settings, "10.2.0.1", "Bearer anything")  # no token configured


@pytest.fixture
def json_lines() -> Iterator[list[str]]:
    """Records of every logger, formatted by the JSON formatter, for the test's duration."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_json_logs_carry_the_request_id(
    sqlite_url: str, make_env: EnvFactory, json_lines: list[str]
) -> None:
    env = make_env(sqlite_url, log_format="json")
    env.register(["J1"])
    response = env.client.post(
        "/v1/verify", json={"code": env.sign("J1")}, headers={"X-Request-ID": "req-abc-123"}
    )
    assert response.headers["x-request-id"] == "req-abc-123"
    entries = [json.loads(line) for line in json_lines]
    mine = [e for e in entries if e.get("request_id") == "req-abc-123"]
    access = [e for e in mine if e["logger"] == "sealtrace.access"]
    assert len(access) == 1
    assert access[0]["route"] == "/v1/verify"
    assert access[0]["status"] == 200
    assert isinstance(access[0]["duration_ms"], float)
    # The pipeline's own line (logged in a worker thread) has the id too.
    assert any(e["logger"].startswith("verifier.verification") for e in mine), mine


def test_log_config_builds_both_formats() -> None:
    assert uvicorn_log_config("json")["formatters"]["main"]["()"].endswith("JsonFormatter")
    assert "request_id" in uvicorn_log_config("text")["formatters"]["main"]["format"]
