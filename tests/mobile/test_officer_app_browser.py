"""The officer app end to end: Debian's chromium (Playwright) against a real uvicorn server.

Sign in, load the bundle, go offline, read labels from images with the in-page decoder
and from typed input, record scans and an inspection, come back online, and check in
the database that each was uploaded exactly once and that the online verdicts show;
then the same after reloading the page offline (the service worker serves the shell).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, func, select

from authn.code import ProductCode
from authn.digital_link import compress_digital_link, format_digital_link
from authn.dl_compression import compress_ais
from authn.element_string import format_fnc1
from authn.signing import sign_code
from keys.canonical import canonical_json, encode_public_key, parse_json, sign_envelope
from mobile_api.bloom import BloomFilter
from mobile_api.bundle import BUNDLE_TAG
from tests.conftest import require
from tests.mobile.conftest import ACME_GTIN, NOW, LiveServer, label_png
from verifier import console_auth
from verifier.db.models import Inspection, Scan

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
ZXING = Path(__file__).parents[2] / "mobile_api" / "officer_app" / "static" / "vendor" / "zxing"


def _set_password(server: LiveServer, name: str) -> None:
    with server.env.session() as session:
        console_auth.set_password(session, name, PASSWORD, now=server.env.clock())


def _scans(server: LiveServer) -> dict[str, int]:
    """scan_id -> number of rows, for the scans made by the officer account."""
    with Session(server.env.services.engine) as session:
        rows = session.exec(
            select(Scan.scan_id, func.count())
            .where(col(Scan.role) == "officer")
            .group_by(col(Scan.scan_id))
        ).all()
    return dict(rows)


def _inspections(server: LiveServer) -> list[tuple[str, str, int | None]]:
    with Session(server.env.services.engine) as session:
        rows = session.exec(
            select(Inspection.scan_id, Inspection.outcome, Inspection.quantity)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _sign_in(page: Any, server: LiveServer) -> None:
    page.goto(server.base_url + "/officer")
    page.fill("#signin-name", "officer")
    page.fill("#signin-password", PASSWORD)
    page.click("#signin-submit")
    page.wait_for_selector("#bundle-status[data-version]")
    # The service worker holds the shell and the decoder before the network goes away.
    page.wait_for_function(
        """async () => { const reg = await navigator.serviceWorker.ready;
          const cache = await caches.open("sealtrace-officer-v1");
          return !!navigator.serviceWorker.controller && !!reg.active
            && !!(await cache.match("/officer/static/vendor/zxing/zxing_reader.wasm"))
            && !!(await cache.match("/officer/")); }""",
        polling=200,
    )


def _next(page: Any) -> int:
    seq = page.get_attribute("#result", "data-seq")
    return int(seq) if seq else 0


def _wait_result(page: Any, after: int) -> tuple[str, str]:
    page.wait_for_selector(f'#result[data-seq="{after + 1}"]')
    return page.get_attribute("#verdict", "data-verdict"), page.get_attribute(
        "#verdict", "data-banner"
    )


def _photo(page: Any, name: str, png: bytes) -> tuple[str, str]:
    before = _next(page)
    page.set_input_files("#photo", files=[{"name": name, "mimeType": "image/png", "buffer": png}])
    return _wait_result(page, before)


def _typed(page: Any, text: str) -> tuple[str, str]:
    before = _next(page)
    page.fill("#code", text)
    page.press("#code", "Enter")
    return _wait_result(page, before)


def _online_verdicts(page: Any) -> dict[str, str]:
    cells = page.eval_on_selector_all(
        "#scans tr", "rows => rows.map(r => [r.dataset.scanId, r.dataset.state, "
        "r.querySelector('.online-verdict').textContent])",
    )  # fmt: skip
    return {scan_id: f"{state}:{online}" for scan_id, state, online in cells}


def _current_scan_ids(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "#scans tr", "rows => rows.map(r => r.dataset.scanId)"
    )
    return ids


def test_offline_scans_and_an_inspection_sync_exactly_once(
    browser: Any,
    live_server: LiveServer,
    artifacts_dir: Path,
) -> None:
    require(ZXING.joinpath("zxing_reader.wasm").exists(), "the officer app's decoder (make)")
    env = live_server.env
    _set_password(live_server, "officer")
    env.register(["GEN-1", "DEC-1"])
    env.register(["REC-1"], lot="LOT-R")
    env.set_status("DEC-1", "destroyed")
    env.recall_lot("LOT-R")
    genuine = env.sign("GEN-1", base=live_server.base_url)
    forged = env.sign("FAKE-1", key=Ed25519PrivateKey.generate(), base=live_server.base_url)
    recalled = env.sign("REC-1", lot="LOT-R", base=live_server.base_url)
    destroyed = sign_code(ProductCode(gtin=ACME_GTIN, serial="DEC-1"), env.world.acme_line)
    tampered = genuine.replace("GEN-1", "GEN-2")

    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.clock.install(time=NOW.timestamp())  # the page's clock is the service's
    page = context.new_page()
    _sign_in(page, live_server)
    assert page.get_attribute("#decoder-status", "data-decoder") == "zxing-wasm"

    context.set_offline(True)
    page.wait_for_selector("#network.offline")
    seen = {
        "genuine": _photo(page, "genuine.png", label_png(genuine)),
        "forged": _photo(page, "forged.png", label_png(forged)),
        "decommissioned": _photo(
            page, "destroyed.png", label_png(format_fnc1(destroyed.ais()), carrier="datamatrix")
        ),
        "recalled": _photo(page, "recalled.png", label_png(recalled)),
        "tampered_typed": _typed(page, tampered),
        "datamatrix_typed": _typed(
            page, "]d2" + format_fnc1(destroyed.ais()).replace("\x1d", "<GS>")
        ),
    }
    assert seen == {
        "genuine": ("authentic", "authentic"),
        "forged": ("unverifiable", "unverifiable"),  # offline: the key may be newer than the bundle
        "decommissioned": ("suspect", "suspect"),
        "recalled": ("authentic", "recalled"),
        "tampered_typed": ("counterfeit", "counterfeit"),
        "datamatrix_typed": ("suspect", "suspect"),
    }
    contact = page.inner_text("#contact")
    assert "Acme Pharma" in contact
    assert "security@acme.example" in contact
    assert "made" in page.inner_text("#facts")  # the bundle's age
    # An inspection on the spot, offline: the last scan is seized.
    page.check("input[name=outcome][value=seized]")
    page.fill("#quantity", "12")
    page.fill("#notes", "12 cartons in a van")
    page.click("#record-inspection")
    page.wait_for_selector('#queue-status[data-waiting="7"]')
    scan_ids = _current_scan_ids(page)
    assert len(scan_ids) == 6
    assert _scans(live_server) == {}  # nothing reached the service while offline
    page.screenshot(path=str(artifacts_dir / "officer-app-offline.png"), full_page=True)

    context.set_offline(False)
    page.wait_for_selector('#queue-status[data-waiting="0"]', timeout=30000)
    assert _scans(live_server) == dict.fromkeys(scan_ids, 1)
    last = scan_ids[0]  # newest first
    assert _inspections(live_server) == [(last, "seized", 12)]
    online = _online_verdicts(page)
    assert sorted(online.values()) == sorted(
        ["synced:authentic", "synced:counterfeit (differs)", "synced:suspect",
         "synced:authentic", "synced:counterfeit", "synced:suspect"]
    )  # fmt: skip
    differs = page.locator("[data-differs]")
    assert differs.count() == 1
    assert "unverifiable offline, counterfeit online" in differs.inner_text()
    page.click("#sync-now")  # a second sync uploads nothing again
    page.wait_for_timeout(500)
    assert _scans(live_server) == dict.fromkeys(scan_ids, 1)
    assert len(_inspections(live_server)) == 1

    # Offline again, and the page reloaded: the service worker serves the app.
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#bundle-status[data-version]")
    assert page.get_attribute("#decoder-status", "data-decoder") == "zxing-wasm"
    assert len(_current_scan_ids(page)) == 6
    again = {
        "genuine": _photo(page, "genuine.png", label_png(genuine)),
        "forged": _typed(page, forged),
        "decommissioned": _photo(
            page, "destroyed.png", label_png(format_fnc1(destroyed.ais()), carrier="datamatrix")
        ),
        "recalled": _typed(page, recalled),
    }
    assert again == {
        "genuine": ("authentic", "authentic"),
        "forged": ("unverifiable", "unverifiable"),
        "decommissioned": ("suspect", "suspect"),
        "recalled": ("authentic", "recalled"),
    }
    page.check("input[name=outcome][value=detained]")
    page.click("#record-inspection")
    page.wait_for_selector('#queue-status[data-waiting="5"]')
    new_ids = [i for i in _current_scan_ids(page) if i not in scan_ids]
    assert len(new_ids) == 4
    context.set_offline(False)
    page.wait_for_selector('#queue-status[data-waiting="0"]', timeout=30000)
    assert _scans(live_server) == dict.fromkeys([*scan_ids, *new_ids], 1)
    assert sorted(_inspections(live_server)) == sorted(
        [(last, "seized", 12), (_current_scan_ids(page)[0], "detained", None)]
    )
    assert page.get_attribute("#result-sync", "data-online") == "authentic"  # REC-1 online
    page.screenshot(path=str(artifacts_dir / "officer-app-synced.png"), full_page=True)
    context.close()


def test_the_bundle_is_refreshed_by_delta_when_the_network_returns(
    browser: Any,
    live_server: LiveServer,
) -> None:
    env = live_server.env
    _set_password(live_server, "officer")
    env.register(["LATE-1"])
    code = env.sign("LATE-1", base=live_server.base_url)
    context = browser.new_context()
    context.clock.install(time=NOW.timestamp())
    page = context.new_page()
    _sign_in(page, live_server)
    first = page.get_attribute("#bundle-status", "data-version")
    assert _typed(page, code) == ("authentic", "authentic")
    context.set_offline(True)
    env.set_status("LATE-1", "stolen")  # decommissioned while the handheld is offline
    assert _typed(page, code) == ("authentic", "authentic")
    deltas: list[str] = []
    page.on(
        "response",
        lambda r: (
            deltas.append(r.headers.get("x-bundle-kind", "")) if "offline-bundle" in r.url else None
        ),
    )
    context.set_offline(False)
    page.wait_for_function(
        "(first) => document.querySelector('#bundle-status').dataset.version !== first", arg=first
    )
    assert "delta" in deltas
    assert _typed(page, code) == ("suspect", "suspect")
    # The delta is kept: after a reload offline the new filter still applies.
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#bundle-status[data-version]")
    assert page.get_attribute("#bundle-status", "data-version") != first
    assert _typed(page, code) == ("suspect", "suspect")
    context.close()


# Opens a full bundle, applies the deltas, judges one code: what a handheld does, in the page.
JUDGE_IN_PAGE = """async ([full, deltas, registry, bundleKey, text, at]) => {
  const v = await import("/officer/static/verify.js");
  const keys = {registryKey: v.b64urlDecode(registry), bundleKey: v.b64urlDecode(bundleKey)};
  let held = await v.openBundle(full, keys);
  for (const delta of deltas) held = await v.applyDelta(held, delta, keys);
  return await v.verifyOffline(held, text, at);
}"""


def test_flagged_clones_in_a_bundle_make_the_page_say_suspect(
    browser: Any,
    live_server: LiveServer,
) -> None:
    """The clone list travels in the bundle as docs/mobile.md describes; the page reads it."""
    env = live_server.env
    env.register(["CLONE-1"])
    response = env.client.get("/v1/offline-bundle", headers=env.auth("officer"))
    signed = parse_json(response.content, "bundle")["signed"]
    flag = {"gtin": ACME_GTIN, "serial": "CLONE-1", "since": "2026-02-27T08:00:00Z",
            "reasons": ["IMPOSSIBLE_TRAVEL"]}  # fmt: skip
    key = env.world.bundle_key
    full = canonical_json(sign_envelope({**signed, "flagged": [flag]}, BUNDLE_TAG, [key]))
    delta = {k: v for k, v in signed.items() if k != "decommissioned"}
    delta.update(kind="delta", base_version=signed["version"], added="", flagged_removed=[flag],
                 filter_id=BloomFilter.from_json(signed["decommissioned"]).filter_id)  # fmt: skip
    unflag = canonical_json(sign_envelope(delta, BUNDLE_TAG, [key]))
    page = browser.new_context().new_page()
    page.goto(live_server.base_url + "/officer/help")
    at = (NOW + timedelta(minutes=1)).timestamp() * 1000
    text = env.sign("CLONE-1")
    flagged = page.evaluate(JUDGE_IN_PAGE, [full.decode(), [], *_pinned(live_server), text, at])
    assert flagged["verdict"] == "suspect"
    assert [r["code"] for r in flagged["reasons"]] == ["CODE_FLAGGED"]
    assert "IMPOSSIBLE_TRAVEL" in flagged["reasons"][0]["message"]
    # The delta that removes the flag brings the code back to genuine.
    cleared = page.evaluate(
        JUDGE_IN_PAGE, [full.decode(), [unflag.decode()], *_pinned(live_server), text, at]
    )
    assert cleared["verdict"] == "authentic"


def _pinned(server: LiveServer) -> list[str]:
    response = server.env.client.get("/officer/api/keys", headers=server.env.auth("officer"))
    assert response.status_code == 200, response.text
    keys = response.json()
    return [keys["registry_key"], keys["bundle_key"]]


def test_nothing_is_judged_with_a_bundle_not_signed_by_the_pinned_key(
    browser: Any,
    live_server: LiveServer,
) -> None:
    env = live_server.env
    response = env.client.get("/v1/offline-bundle", headers=env.auth("officer"))
    page = browser.new_context().new_page()
    page.goto(live_server.base_url + "/officer/help")
    registry, _ = _pinned(live_server)
    other = Ed25519PrivateKey.generate().public_key()
    message = page.evaluate(
        """async ([bundle, registry, other]) => {
          const v = await import("/officer/static/verify.js");
          try { await v.openBundle(bundle, {registryKey: v.b64urlDecode(registry),
                                            bundleKey: v.b64urlDecode(other)}); return "opened"; }
          catch (error) { return error.message; }
        }""",
        [response.text, registry, encode_public_key(other)],
    )
    assert message == "the offline bundle is not signed by the pinned bundle key"


def test_a_compressed_label_offline_gets_the_verdict_of_the_uncompressed_one(
    browser: Any,
    live_server: LiveServer,
) -> None:
    """Compressed GS1 Digital Links (authn/dl_compression.py), read from a photo and typed,
    offline: the page decompresses them itself and says what the uncompressed label gets;
    malformed compressed data is refused with a message that says so."""
    require(ZXING.joinpath("zxing_reader.wasm").exists(), "the officer app's decoder (make)")
    env = live_server.env
    _set_password(live_server, "officer")
    env.register(["ZIP-1", "ZIP-DEC"])
    env.set_status("ZIP-DEC", "destroyed")
    base = live_server.base_url
    genuine = sign_code(ProductCode(gtin=ACME_GTIN, serial="ZIP-1", expiry="271231"),
                        env.world.acme_line)  # fmt: skip
    destroyed = sign_code(ProductCode(gtin=ACME_GTIN, serial="ZIP-DEC"), env.world.acme_line)
    tampered = ProductCode(gtin=ACME_GTIN, serial="ZIP-2", expiry="271231").with_signature(
        genuine.signature or ""
    )
    rest = [(ai, value) for ai, value in genuine.ais() if ai != "01"]
    labels = {
        "genuine": (format_digital_link(genuine.ais(), base),
                    compress_digital_link(genuine.ais(), base)),
        "partly": (format_digital_link(genuine.ais(), base),
                   f"{base}/01/{ACME_GTIN}/{compress_ais(rest)}"),
        "decommissioned": (format_digital_link(destroyed.ais(), base),
                           compress_digital_link(destroyed.ais(), base)),
        "tampered": (format_digital_link(tampered.ais(), base),
                     compress_digital_link(tampered.ais(), base)),
    }  # fmt: skip
    assert all(plain != packed for plain, packed in labels.values())

    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.clock.install(time=NOW.timestamp())
    page = context.new_page()
    _sign_in(page, live_server)
    context.set_offline(True)
    page.wait_for_selector("#network.offline")
    seen = {}
    for name, (plain, packed) in labels.items():
        uncompressed = _photo(page, f"{name}.png", label_png(plain))
        uncompressed_reasons = page.inner_text("#reasons")
        compressed = _photo(page, f"{name}-compressed.png", label_png(packed))
        assert page.inner_text("#reasons") == uncompressed_reasons, name
        assert _typed(page, packed) == compressed, name
        seen[name] = (uncompressed, compressed)
    assert seen == {
        "genuine": (("authentic", "authentic"), ("authentic", "authentic")),
        "partly": (("authentic", "authentic"), ("authentic", "authentic")),
        "decommissioned": (("suspect", "suspect"), ("suspect", "suspect")),
        "tampered": (("counterfeit", "counterfeit"), ("counterfeit", "counterfeit")),
    }
    # Truncated compressed data: refused, and the message names the compressed data.
    assert _typed(page, labels["genuine"][1][:-12])[0] == "invalid"
    assert "compressed" in page.inner_text("#reasons")
    assert _scans(live_server) == {}  # offline: nothing reached the service
    # Back online, the queued compressed scans reach the service, which reads them too.
    context.set_offline(False)
    page.wait_for_selector('#queue-status[data-waiting="0"]', timeout=30000)
    # (Six scans of ZIP-1 in a minute: the service's clone detection may call later ones
    # suspect; what matters here is that every compressed text was read as a code.)
    online = list(_online_verdicts(page).values())
    assert len(online) == 12  # four labels, three scans each
    assert all(v.startswith("synced:") and "invalid" not in v for v in online), online
    assert online.count("synced:counterfeit") == 3
    context.close()


def test_offline_and_synced_answers_name_the_product_and_a_forgery_only_its_gtin(
    browser: Any, live_server: LiveServer, artifacts_dir: Path
) -> None:
    """The officer app's product line (app.js, verify.js, sync.js): name, strength and pack
    size from the offline bundle and then from the online answer, shown as text; a code the
    trust list does not vouch for gets the GTIN."""
    env = live_server.env
    _set_password(live_server, "officer")
    env.register(["NAME-1"])
    name = "Acmedol <b>forte</b>"  # markup in the brand's data must stay text
    product = {"productName": name, "availableStrength": "500 mg", "netContent": "20 tablets"}
    put = env.client.put(f"/v1/products/{ACME_GTIN}", json=product, headers=env.auth("acme"))
    assert put.status_code == 200, put.text
    genuine = env.sign("NAME-1", base=live_server.base_url)
    forged = env.sign("NAME-2", key=Ed25519PrivateKey.generate(), base=live_server.base_url)

    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.clock.install(time=NOW.timestamp())  # the page's clock is the service's
    page = context.new_page()
    _sign_in(page, live_server)
    assert _typed(page, genuine) == ("authentic", "authentic")
    # Offline first: the bundle fetched at sign-in carries the product (verify.js).
    facts = page.inner_text("#facts")
    assert f"Product\n{name} · 500 mg · 20 tablets" in facts, facts
    assert page.locator("#facts b").count() == 0
    page.wait_for_selector('#result-sync[data-online="authentic"]', timeout=30000)
    line = page.inner_text("#result-sync")
    assert f"Product: {name} · 500 mg · 20 tablets." in line
    assert page.locator("#result-sync b").count() == 0
    page.screenshot(path=str(artifacts_dir / "officer-app-product.png"), full_page=True)

    _typed(page, forged)
    assert "Acmedol" not in page.inner_text("#facts")  # offline: the GTIN only
    assert ACME_GTIN in page.inner_text("#facts")
    page.wait_for_selector('#result-sync[data-online="counterfeit"]', timeout=30000)
    line = page.inner_text("#result-sync")
    assert f"Product: GTIN {ACME_GTIN}." in line
    assert "Acmedol" not in line
    context.close()
