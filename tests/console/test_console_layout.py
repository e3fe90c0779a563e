"""The console's layout in Chromium at phone and desktop width.

No page scrolls sideways, and no table inside its own box: on a phone every table is
cards, each value led by its column's name; at a desk and on paper it is a table. The
journey's number labels never overlap each other or the list that explains them, for 2,
5 and 200 scans; axe-core finds no serious or critical violation. Screenshots go to
test-artifacts for a reviewer.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from console.code_pages import journey_story
from console.journey import build_journey
from detection import CodeRecord, Scan
from tests.console.conftest import LiveConsole, upload_product
from tests.console.console_world import ACME_GTIN, BRAVO_GTIN, NOW, PASSWORD

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
CSS = (Path(__file__).parents[2] / "console" / "static" / "console.css").read_text("utf-8")
RECORD = CodeRecord(gtin="09506000000428", serial="S1", registered=True)
# The case: one code scanned within minutes on many continents.
CONTINENTS = [
    ("FR", 48.8566, 2.3522), ("CN", 31.2304, 121.4737), ("US", 40.7128, -74.006),
    ("BR", -23.5505, -46.6333), ("AU", -33.8688, 151.2093),
]  # fmt: skip


@pytest.fixture
def shots(artifacts_dir: Path) -> Path:
    path = artifacts_dir / "screenshots" / "console"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _scan(index: int, country: str, lat: float, lon: float, minutes: float) -> Scan:
    at = NOW + timedelta(minutes=minutes)
    return Scan(
        scan_id=f"s{index:03d}", scanned_at=at, received_at=at, role="officer", lat=lat,
        lon=lon, accuracy_m=20, country=country, device_id=f"dev-{index}",
    )  # fmt: skip


def journeys() -> dict[str, list[Scan]]:
    rng = random.Random(21)
    many = [
        _scan(i, "XX", rng.uniform(-50, 65), rng.uniform(-170, 170), i * 37) for i in range(200)
    ]
    return {
        "2": [_scan(0, "FR", 45.764, 4.8357, 0), _scan(1, "FR", 48.8566, 2.3522, 24 * 60)],
        "5": [_scan(i, *place, i * 2) for i, place in enumerate(CONTINENTS)],
        "200": many,
    }


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def assert_no_overflow(page: Any) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    wide = page.evaluate(
        """w => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > w + 0.5)
        .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)""",
        widths[1],
    )
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths}, {wide}"


TABLES = """() => [...document.querySelectorAll('main table')].map(t => {
  const wrap = t.parentElement;
  const cells = [...t.querySelectorAll('tbody td')];
  const shown = cells.filter(td => td.getBoundingClientRect().height > 0);
  return {
    id: t.id, scroll: wrap.scrollWidth, client: wrap.clientWidth,
    display: getComputedStyle(t).display,
    head: t.querySelector('thead').getBoundingClientRect().height,
    unlabelled: cells.filter(td => !td.dataset.label).length,
    shown: shown.length,
    labels: shown.map(td => [td.dataset.label, getComputedStyle(td, '::before').content,
                             td.getBoundingClientRect().width]),
  };
})"""


def assert_tables_fit(page: Any, size: str) -> set[str]:
    """Every table's box fits its content; cards with visible labels on a phone, a table with
    its header row at a desk. Answers the ids of the tables seen."""
    tables = page.evaluate(TABLES)
    for table in tables:
        where = f"{page.url} #{table['id']} at {size}"
        assert table["scroll"] <= table["client"], f"{where} scrolls sideways: {table}"
        assert table["unlabelled"] == 0, where
        assert table["shown"] > 0, where
        if size == "phone":
            assert table["display"] == "block", where
            assert table["head"] <= 1, where  # the header row is for screen readers only
            for label, before, width in table["labels"]:
                assert before == f'"{label}"', (where, label, before)
                assert width > 0, where
        else:
            assert table["display"] == "table", where
            assert table["head"] > 1, where
            assert all(before == "none" for _, before, _ in table["labels"]), where
    return {t["id"] for t in tables}


def assert_accessible(page: Any, axe_script: str) -> None:
    page.add_script_tag(content=axe_script)  # the context bypasses CSP for this only
    result = page.evaluate("axe.run(document).then(r => r.violations)")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"


@pytest.mark.parametrize("size", sorted(WIDTHS))
@pytest.mark.parametrize("case", ["2", "5", "200"])
def test_journey_labels_never_overlap(browser: Any, shots: Path, size: str, case: str) -> None:
    journey = build_journey(RECORD, journeys()[case])
    assert len(journey.stops) == int(case)
    page = browser.new_context(viewport=WIDTHS[size], bypass_csp=True).new_page()
    page.set_content(
        f'<!doctype html><html lang="en"><head><style>{CSS}</style></head>'
        f'<body class="console"><main>{journey_story(journey)}</main></body></html>'
    )
    labels = page.locator("#journey text.stop-number")
    boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
    assert boxes
    assert all(boxes)
    marked = page.locator("#journey g.stop").evaluate_all(
        "gs => gs.flatMap(g => g.dataset.scanIds.split(' '))"
    )
    assert sorted(marked) == sorted(s.scan.scan_id for s in journey.stops)  # each scan once
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not _overlap(a, b), (a, b)
    notes = page.locator("#journey-notes").bounding_box()
    assert page.locator("#journey-notes li").count() == int(case)  # every scan explained
    for box in boxes:
        assert not _overlap(box, notes)
    svg = page.locator("#journey").bounding_box()
    for box in boxes:  # inside the picture: nothing runs off its edges
        assert svg["x"] <= box["x"]
        assert box["x"] + box["width"] <= svg["x"] + svg["width"] + 0.5
    if case == "5":
        assert page.locator("#journey g.leg.offending").count() >= 1
        assert page.locator("#journey-notes li.offending").count() >= 1
    assert_no_overflow(page)
    page.screenshot(path=str(shots / f"journey-{case}-{size}.png"), full_page=True)


def _sign_in(page: Any, live: LiveConsole, name: str) -> None:
    page.goto(live.base_url + "/console/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url("**/console/**")


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_every_console_page_fits_and_passes_axe(
    browser: Any, live_console: LiveConsole, shots: Path, axe_script: str, size: str
) -> None:
    seeded = live_console.console.seeded
    code = f"/console/codes/{ACME_GTIN}/{seeded.copied_serial}"
    pages = {
        "officer": [
            ("alerts", "/console/alerts"),
            ("alert", f"/console/alerts/{seeded.alert_id}"),
            ("code", code),
            ("report", code + "/report"),
            ("brand-overview", "/console/brand?brand=acme"),
        ],
        "acme-owner": [("brand-own", "/console/brand"), ("brand-code", code)],
    }
    officer = {"Authorization": f"Bearer {seeded.tokens['officer']}"}
    seizure = live_console.console.client.post(
        f"/v1/scans/{seeded.scan_ids['COPY1@CN']}/inspection",
        json={"outcome": "seized", "quantity": 24, "notes": "Carton of 24 with copied labels"},
        headers=officer,
    )
    assert seizure.status_code == 201, seizure.text
    # The code pages show the brand's uploaded pack picture: axe judges its alt text too.
    upload_product(live_console, "Acmedol 500 mg tablets")
    login = browser.new_context(viewport=WIDTHS[size], bypass_csp=True).new_page()
    login.goto(live_console.base_url + "/console/login")
    assert_no_overflow(login)
    assert_accessible(login, axe_script)
    login.screenshot(path=str(shots / f"login-{size}.png"), full_page=True)
    seen: set[str] = set()
    for account, paths in pages.items():
        page = browser.new_context(viewport=WIDTHS[size], bypass_csp=True).new_page()
        _sign_in(page, live_console, account)
        for name, path in paths:
            response = page.goto(live_console.base_url + path)
            assert response.status == 200, path
            page.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=True)
            if name in ("code", "report", "brand-code"):
                assert page.locator("#facts img#product-image[alt]").count() == 1, path
            assert_no_overflow(page)
            seen |= assert_tables_fit(page, size)
            assert_accessible(page, axe_script)
    # Every kind of console table was looked at (the lots table needs lot alerts: it is
    # drawn by the same function, test_every_console_table_is_drawn_with_card_labels).
    assert {"alerts", "legs", "history", "seizures", "top-codes"} <= seen, seen


def test_printed_tables_stay_tables(browser: Any, live_console: LiveConsole, shots: Path) -> None:
    """A4 paper (about 718 CSS px inside Chromium's default margins, narrower than the
    48 rem at which screens get cards) still gets the tables with their header rows."""
    code = f"/console/codes/{ACME_GTIN}/{live_console.console.seeded.copied_serial}"
    page = browser.new_context(viewport={"width": 718, "height": 1000}).new_page()
    _sign_in(page, live_console, "officer")
    page.goto(live_console.base_url + code + "/report")
    page.emulate_media(media="print")
    tables = page.evaluate(TABLES)
    assert {t["id"] for t in tables} >= {"legs", "history"}
    for table in tables:
        assert table["display"] == "table", table
        assert table["head"] > 1, table
    page.screenshot(path=str(shots / "report-print-a4.png"), full_page=True)


def test_every_console_table_is_drawn_with_card_labels() -> None:
    """No console page writes a table of its own: card_table gives every cell its label."""
    console = Path(__file__).parents[2] / "console"
    writers = sorted(p.name for p in console.glob("*.py") if "<table" in p.read_text("utf-8"))
    assert writers == ["tables.py"]


def test_code_search_takes_every_form_of_a_code_and_keeps_brands_apart(
    browser: Any, live_console: LiveConsole, shots: Path
) -> None:
    serial = live_console.console.seeded.copied_serial
    page = browser.new_context(viewport=WIDTHS["phone"]).new_page()
    _sign_in(page, live_console, "acme-owner")
    for typed in (
        f"https://id.example.com/01/{ACME_GTIN}/21/{serial}",
        f"(01){ACME_GTIN}(21){serial}",
        f"01{ACME_GTIN}21{serial}",
        f"{ACME_GTIN} {serial}",
    ):
        page.fill("#code-search", typed)
        page.click("form.search button[type=submit]")
        assert urlsplit(page.url).path == f"/console/codes/{ACME_GTIN}/{serial}", typed
    page.screenshot(path=str(shots / "search-result-phone.png"), full_page=True)
    page.fill("#code-search", f"(01){BRAVO_GTIN}(21){live_console.console.seeded.bravo_serial}")
    with page.expect_navigation() as navigation:
        page.click("form.search button[type=submit]")
    assert navigation.value.status == 404  # another brand's code: not found, as if absent
    page.fill("#code-search", "not a code")
    with page.expect_navigation() as navigation:
        page.click("form.search button[type=submit]")
    assert navigation.value.status == 400
