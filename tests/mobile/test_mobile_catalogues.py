"""The consumer pages' gettext catalogues: complete, consistent with the source, usable."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from mobile_api.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    PLACEHOLDER,
    Catalogue,
    catalogue,
    pick_language,
    po_path,
)

REPO = Path(__file__).resolve().parents[2]


def template() -> Catalog:
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        return read_po(handle)


def source_messages() -> set[str]:
    """What Babel extracts from the source today, by the project's babel.cfg."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = extract_from_dir(str(REPO / "mobile_api"), method_map, options_map)
    return {message for _file, _line, message, _comments, _context in found}


def test_the_template_is_what_the_source_marks() -> None:
    """A message added to the source without `make messages` fails here."""
    assert {str(m.id) for m in template() if m.id} == source_messages()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_catalogue_translates_every_message_with_its_placeholders(lang: str) -> None:
    with po_path(lang).open("rb") as handle:
        po = read_po(handle, locale=lang)
    translated = {str(m.id): m for m in po if m.id}
    for message in template():
        if not message.id:
            continue
        msgid = str(message.id)
        assert msgid in translated, f"{lang}: {msgid!r} is missing"
        entry = translated[msgid]
        assert isinstance(entry.string, str)
        assert entry.string.strip(), f"{lang}: {msgid!r} is not translated"
        assert not entry.fuzzy, f"{lang}: {msgid!r} is fuzzy"
        assert sorted(PLACEHOLDER.findall(entry.string)) == sorted(PLACEHOLDER.findall(msgid))
        # Only %(name)s placeholders: a stray % would break the formatting at run time.
        assert "%" not in PLACEHOLDER.sub("", entry.string), f"{lang}: stray % in {msgid!r}"
    errors = [(m.id, e) for m, e in po.check()]  # Babel's own checkers (python-format)
    assert errors == []


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_each_language_speaks_for_itself(lang: str) -> None:
    """Not English under another name: nearly every sentence differs from the source."""
    words = catalogue(lang)
    same = [m for m in words.messages if words(m) == m and len(m) > 12]
    assert same == []


def test_a_catalogue_fills_placeholders_and_knows_its_direction() -> None:
    assert catalogue("de")("Contact %(brand)s", brand="Acme") == "Kontakt: Acme"
    assert catalogue("ar").direction == "rtl"
    assert catalogue("zh").direction == "ltr"
    assert catalogue("de").name == "Deutsch"
    assert catalogue("xx").lang == "en"


def test_pick_language() -> None:
    assert pick_language("de-CH,de;q=0.9,en;q=0.8") == "de"
    assert pick_language("ja,zh-CN;q=0.5,en;q=0.4") == "zh"
    assert pick_language("pt-BR") == "pt"
    assert pick_language("en;q=0.5,pl") == "pl"
    assert pick_language("fr", override="it") == "it"
    assert pick_language("fr", override="xx") == "fr"
    assert pick_language(None) == "en"


def test_a_message_missing_from_a_catalogue_shows_in_english() -> None:
    assert Catalogue("de", {})("Lot") == "Lot"
    assert Catalogue("de", {"Lot": "Charge"})("Lot") == "Charge"
