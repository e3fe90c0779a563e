"""Console dates in the reader's locale (Accept-Language), always said in UTC (#21)."""

from __future__ import annotations

import re

from console.pages import reader_locale
from tests.console.conftest import Console
from tests.console.console_world import ACME_GTIN, sign_in

PAGE = f"/console/codes/{ACME_GTIN}/QUIET1"


def history_dates(console: Console, accept_language: str | None) -> list[str]:
    client = console.client_for()
    assert sign_in(client, "officer").status_code == 303
    headers = {"Accept-Language": accept_language} if accept_language else {}
    html = client.get(PAGE, headers=headers).text
    body = html.split('id="history"', 1)[1]
    return re.findall(r'<div class="v">([^<]*UTC)</div>', body)  # card_table cells


def test_no_language_keeps_the_iso_form(console: Console) -> None:
    dates = history_dates(console, None)
    assert dates
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", d) for d in dates)


def test_german_and_french_readers_get_their_own_forms(console: Console) -> None:
    german = history_dates(console, "de-DE,de;q=0.9,en;q=0.5")
    assert german
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d:\d\d UTC", d) for d in german), german
    french = history_dates(console, "fr")
    assert any("mars 2026" in d for d in french), french


def test_an_unknown_or_hostile_header_falls_back() -> None:
    assert reader_locale("xx-QQ, *;q=0.1") is None
    assert reader_locale("\x00" * 5000) is None
    locale = reader_locale("pt-BR")
    assert locale is not None
    assert str(locale) == "pt_BR"
