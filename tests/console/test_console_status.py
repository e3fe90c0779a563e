"""A brand acts on its own unit from the code page: lock, mark destroyed, undo (#21)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.console.conftest import Console
from tests.console.console_world import ACME_GTIN, csrf_of, sign_in

PAGE = f"/console/codes/{ACME_GTIN}/QUIET1"


def signed_in(console: Console, who: str) -> TestClient:
    client = console.client_for()
    assert sign_in(client, who).status_code == 303
    return client


def post(client: TestClient, path: str, **form: str) -> int:
    csrf = csrf_of(client.get("/console/alerts").text)
    return client.post(path, data={"csrf": csrf, **form}, follow_redirects=False).status_code


def test_the_owning_brand_locks_undoes_and_marks_destroyed(console: Console) -> None:
    owner = signed_in(console, "acme-owner")
    page = owner.get(PAGE).text
    assert 'id="status-form"' in page
    assert "Now: <strong>active</strong>" in page
    assert post(owner, PAGE + "/status", action="lock", comment="suspect batch") == 303
    locked = owner.get(PAGE + "?changed=locked").text
    assert "Now: <strong>locked</strong>" in locked
    assert "Status now: locked." in locked
    assert 'id="undo-form"' in locked
    assert 'id="status-form"' not in locked  # only an active unit changes status
    assert post(owner, PAGE + "/status/undo") == 303
    assert "Now: <strong>active</strong>" in owner.get(PAGE).text
    assert post(owner, PAGE + "/status", action="destroyed") == 303
    assert "Now: <strong>destroyed</strong>" in owner.get(PAGE).text


def test_others_cannot_act_on_the_unit(console: Console) -> None:
    assert post(signed_in(console, "bravo-owner"), PAGE + "/status", action="lock") == 404
    officer = signed_in(console, "officer")
    assert 'id="status-form"' not in officer.get(PAGE).text
    assert post(officer, PAGE + "/status", action="lock") == 403
    owner = signed_in(console, "acme-owner")
    assert post(owner, PAGE + "/status", action="sold-to-me") == 400
    assert "Now: <strong>active</strong>" in owner.get(PAGE).text
    # Without the session's CSRF token nothing changes.
    refused = owner.post(PAGE + "/status", data={"action": "lock"}, follow_redirects=False)
    assert refused.status_code in (400, 403)
    assert "Now: <strong>active</strong>" in owner.get(PAGE).text
