"""A language switch draws the scan's stored verdict with the code's state as it is now:
flagged as cloned or recalled since the page view, the redrawn page says so, and still
records nothing (docs/i18n.md, "Switching language")."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from mobile_api.i18n import catalogue
from tests.mobile.conftest import Env
from tests.mobile.test_mobile_page import HTML, SCAN_ID_FIELD, path_of, scans
from verifier.db.models import Scan

GERMAN, FRENCH = catalogue("de"), catalogue("fr")


def view(env: Env, path: str) -> str:
    """A browser's page view of a label: authentic, and the scan id its switcher names."""
    page = env.client.get(path, headers=HTML).text
    assert 'data-verdict="authentic"' in page
    match = SCAN_ID_FIELD.search(page)
    assert match is not None
    return match[1]


def stored_answer(env: Env, scan_id: str) -> dict[str, object]:
    with env.session() as session:
        row = session.exec(select(Scan).where(Scan.scan_id == scan_id)).one()
        answer: dict[str, object] = json.loads(row.answer)
        return answer


def flag_by_two_officers(env: Env, uri: str) -> None:
    earlier = (env.clock() - timedelta(hours=2)).isoformat()
    for place, country, at in (
        ({"lat": 50.11, "lon": 8.68, "accuracy_m": 20}, "DE", earlier),
        ({"lat": 31.23, "lon": 121.47, "accuracy_m": 20}, "CN", None),
    ):
        body: dict[str, object] = {"code": uri, "location": place, "country": country}
        if at is not None:
            body["scanned_at"] = at
        response = env.client.post("/v1/verify", json=body, headers=env.auth("officer"))
        assert response.status_code == 200, response.text
    assert response.json()["flagged"] is not None


def test_a_switch_after_the_code_was_flagged_says_check_advised(any_env: Env) -> None:
    env = any_env
    env.register(["REDRAW1"])
    uri = env.sign("REDRAW1")
    path = path_of(uri)
    shown = view(env, path)
    env.clock.advance(minutes=5)
    flag_by_two_officers(env, uri)
    count = len(scans(env))

    german = env.client.get(f"{path}&shown={shown}&lang=de", headers=HTML)

    assert german.status_code == 200
    assert GERMAN("Check advised") in german.text
    assert 'data-verdict="suspect"' in german.text
    assert GERMAN("Authentic product") not in german.text
    assert f'name="scan_id" value="{shown}"' in german.text  # still that scan's page
    # The photo's result on /scan is drawn the same way.
    french = env.client.get(f"/scan?shown={shown}&lang=fr", headers=HTML)
    assert 'data-verdict="suspect"' in french.text
    assert FRENCH("Check advised") in french.text
    # Nothing recorded, and the scan's own stored answer is what it was.
    assert len(scans(env)) == count
    assert stored_answer(env, shown)["verdict"] == "authentic"


def test_a_switch_after_the_lot_was_recalled_says_recalled(any_env: Env) -> None:
    env = any_env
    env.register(["REDRAW2"], lot="L7")
    path = path_of(env.sign("REDRAW2", lot="L7"))
    shown = view(env, path)
    env.recall_lot("L7")

    german = env.client.get(f"{path}&shown={shown}&lang=de", headers=HTML)

    assert GERMAN("Recalled: do not use") in german.text
    assert 'data-status="recalled"' in german.text
    assert f'name="scan_id" value="{shown}"' in german.text
    assert len(scans(env)) == 1


def test_a_switch_after_the_brand_locked_the_code_withholds_it(any_env: Env) -> None:
    env = any_env
    env.register(["REDRAW3"])
    path = path_of(env.sign("REDRAW3"))
    shown = view(env, path)
    env.clock.advance(minutes=1)
    env.set_status("REDRAW3", "locked")

    french = env.client.get(f"{path}&shown={shown}&lang=fr", headers=HTML)

    assert 'data-verdict="suspect" data-status="withheld"' in french.text
    assert "locked" not in french.text  # the brand's status is not told
    assert len(scans(env)) == 1
