"""The code page's headline is the stored truth: the code's flag and the answers given."""

from __future__ import annotations

import re

from tests.console.conftest import Console
from tests.console.console_world import ACME_GTIN, sign_in


def summary_of(console: Console, serial: str) -> str:
    client = console.client_for()
    sign_in(client, "officer")
    page = client.get(f"/console/codes/{ACME_GTIN}/{serial}")
    assert page.status_code == 200, page.text
    match = re.search(r'<p class="summary (\w+)" id="summary">(.*?)</p>', page.text, re.S)
    assert match, "no summary on the code page"
    return f"{match.group(1)}: {match.group(2)}"


def test_a_flagged_code_leads_with_its_flag_and_the_scan_that_showed_it(console: Console) -> None:
    # COPY1: officers scanned it in Lyon, Paris and, an hour after Paris, in Shanghai.
    summary = summary_of(console, "COPY1")
    assert summary.startswith("bad: ")
    assert "Flagged as cloned since" in summary
    assert "IMPOSSIBLE_TRAVEL" in summary
    assert "in CN" in summary  # the scan that showed it
    assert "Last seen legitimately in FR" in summary
    assert "Risk" not in summary  # no replayed score that could disagree with the answers


def test_a_code_only_ever_answered_authentic_says_exactly_that(console: Console) -> None:
    summary = summary_of(console, "QUIET1")
    assert summary.startswith("ok: ")
    assert "Every answer given for this code was authentic (1 scan)" in summary
