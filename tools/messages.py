"""Extract the consumer pages' messages with Babel and update every language's catalogue.

    python -m tools.messages              # extract, update the .po files (make messages)
    python -m tools.messages --init xx    # start the catalogue of a new language xx

Extraction follows ``babel.cfg`` into ``mobile_api/locale/messages.pot``; each
``mobile_api/locale/<lang>/LC_MESSAGES/messages.po`` is then updated from it without
fuzzy matching, so a new or changed message shows up untranslated (and fails
tests/mobile/test_mobile_catalogues.py) until a person translates it. English is the
source language: its catalogue is filled with the source text itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

REPO = Path(__file__).resolve().parents[1]
LOCALE = REPO / "mobile_api" / "locale"
TEMPLATE = LOCALE / "messages.pot"
SOURCE_LANGUAGE = "en"


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "--quiet", *args])  # type: ignore[no-untyped-call]


def extract() -> None:
    pybabel(
        "extract", "--mapping-file", str(REPO / "babel.cfg"), "--output-file", str(TEMPLATE),
        "--add-location", "file", "--sort-by-file", "--no-wrap", "--project", "sealtrace",
        "--copyright-holder", "sealtrace", "--input-dirs", str(REPO / "mobile_api"),
    )  # fmt: skip
    # Paths relative to the checkout, so the template does not depend on where it was made.
    text = TEMPLATE.read_text(encoding="utf-8").replace(f"#: {REPO}/", "#: ")
    TEMPLATE.write_text(text, encoding="utf-8")


def update() -> None:
    pybabel(
        "update", "--input-file", str(TEMPLATE), "--output-dir", str(LOCALE),
        "--no-fuzzy-matching", "--ignore-obsolete", "--no-wrap",
    )  # fmt: skip
    fill_source_language()


def fill_source_language() -> None:
    path = LOCALE / SOURCE_LANGUAGE / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=SOURCE_LANGUAGE)
    for message in catalog:
        if message.id and not message.string:
            message.string = message.id
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0)


def init(lang: str) -> None:
    pybabel(
        "init", "--input-file", str(TEMPLATE), "--output-dir", str(LOCALE), "--locale", lang,
        "--no-wrap",
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", metavar="LANG", help="start the catalogue of a new language")
    args = parser.parse_args(argv)
    extract()
    if args.init:
        init(args.init)
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main())
