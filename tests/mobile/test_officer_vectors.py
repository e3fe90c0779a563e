"""The shared offline vectors: the Python reference verifier and the officer app's in-page
verifier (Debian's chromium) must give every case the same verdict and reasons."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from authn.errors import SealtraceError
from keys.canonical import decode_public_key
from mobile_api.bundle import OfflineBundle, apply_delta, open_bundle
from mobile_api.offline import verify_offline
from tests.mobile.conftest import LiveServer
from tools.make_offline_vectors import VECTORS

VECTOR_DATA: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
CASES = VECTOR_DATA["cases"]
FIELDS = ("verdict", "reasons", "brand", "product")


def _bundles(at: datetime) -> dict[str, OfflineBundle]:
    keys = {
        "registry_key": decode_public_key(VECTOR_DATA["registry_key"], "registry key"),
        "bundle_key": decode_public_key(VECTOR_DATA["bundle_key"], "bundle key"),
    }
    full = open_bundle(VECTOR_DATA["bundle"].encode(), now=at, **keys)
    return {"full": full, "delta": apply_delta(full, VECTOR_DATA["delta"].encode(), now=at, **keys)}


def test_the_vectors_cover_every_verdict() -> None:
    verdicts = {case["verdict"] for case in CASES}
    assert verdicts == {"authentic", "suspect", "counterfeit", "unverifiable", "invalid"}
    assert len({case["name"] for case in CASES}) == len(CASES)
    # Products: named for genuine codes, not for forgeries of the same GTIN.
    by_name = {case["name"]: case for case in CASES}
    assert by_name["product_named"]["product"] == "Paracetamol 500 mg tablets · 500 mg · 20 tablets"
    assert by_name["delta_product_changed"]["product"] == "Aspirin 100 mg tablets · 100 mg"
    for forged in ("product_forged_uncertified_key_gtin_only", "product_forged_unsigned_gtin_only",
                   "product_forged_serial_changed_gtin_only", "delta_product_removed",
                   "product_of_another_brand_not_named"):  # fmt: skip
        assert by_name[forged]["product"] is None, forged


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_python_offline_verifier_gives_each_vector_its_verdict(case: dict[str, Any]) -> None:
    at = datetime.fromisoformat(case["at"])
    bundle = _bundles(at)[case["bundle"]]
    try:
        result = verify_offline(bundle, case["input"], now=at)
    except SealtraceError:
        got: dict[str, Any] = {"verdict": "invalid", "reasons": [], "brand": None, "product": None}
    else:
        label = result.product.label() if result.product is not None else None
        got = {"verdict": result.verdict, "reasons": [r.code for r in result.reasons],
               "brand": result.brand, "product": label}  # fmt: skip
    assert got == {key: case[key] for key in FIELDS}


# Runs every case in the page with the app's own modules; returns what the page decided.
RUN_IN_PAGE = """async (vectors) => {
  const v = await import("/officer/static/verify.js");
  const keys = {registryKey: v.b64urlDecode(vectors.registry_key),
                bundleKey: v.b64urlDecode(vectors.bundle_key)};
  const full = await v.openBundle(vectors.bundle, keys);
  const delta = await v.applyDelta(full, vectors.delta, keys);
  const out = [];
  for (const c of vectors.cases) {
    const r = await v.verifyOffline(c.bundle === "delta" ? delta : full, c.input, Date.parse(c.at));
    out.push({name: c.name, verdict: r.verdict,
              reasons: r.verdict === "invalid" ? [] : r.reasons.map((x) => x.code),
              brand: r.brand, product: r.product, contact: r.contact});
  }
  return out;
}"""


def run_in_officer_page(chromium: Any, server: LiveServer, script: str, argument: object) -> Any:
    """``script`` run with ``argument`` in a fresh officer-app page (its modules importable)."""
    page = chromium.new_context().new_page()
    page.goto(server.base_url + "/officer/help")
    return page.evaluate(script, argument)


@pytest.mark.browser
def test_the_page_gives_every_vector_the_python_verdict(
    browser: Any,
    live_server: LiveServer,
) -> None:
    got = run_in_officer_page(browser, live_server, RUN_IN_PAGE, VECTOR_DATA)
    expected = [{"name": c["name"], **{k: c[k] for k in FIELDS}} for c in CASES]
    assert [{k: g[k] for k in ("name", *FIELDS)} for g in got] == expected
    genuine = next(g for g in got if g["name"] == "genuine_digital_link")
    assert genuine["contact"] == VECTOR_DATA["contact"]
