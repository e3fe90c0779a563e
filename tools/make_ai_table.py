"""Generate authn/gs1_dictionary.py from GS1's Barcode Syntax Dictionary.

    python -m tools.make_ai_table            # rewrite the module
    python -m tools.make_ai_table --check    # fail if the committed module differs

The dictionary (``gs1-syntax-dictionary.txt``, GS1 AISBL, Apache-2.0) is read
from ``../shared/gs1/`` beside the checkout, or from the folder named by
``SEALTRACE_SHARED_DIR``. The ISO 3166 and ISO 4217 code lists that some of
its linters need come from the ``pycountry`` package (a development
dependency); ISO 5218 (four codes) is not in pycountry and is written below.
The generated module is plain data: ``authn`` imports it and nothing else, so
the pure core never imports pycountry. A new dictionary release is a
regeneration, never an edit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pycountry

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "authn" / "gs1_dictionary.py"
DICTIONARY_NAME = "gs1-syntax-dictionary.txt"

# ISO/IEC 5218 codes for the representation of human sexes: not a pycountry
# database, and four codes only.
ISO5218 = ("0", "1", "2", "9")

_FLAGS = re.compile(r"[*!?\"$%&'()+,\-./:;<=>@\[\\\]^_`{|}~]+")
_COMPONENT = re.compile(r"(\[)?([NXYZ])(\.\.)?(\d+)(\])?((?:,[a-z0-9]+)*)")
_AIS = re.compile(r"(\d{2,4})(?:-(\d{2,4}))?")
_RELEASE = re.compile(r"^#\s*Release:\s*(\S+)", re.MULTILINE)

Component = tuple[str, int, int, bool, tuple[str, ...]]


@dataclass(frozen=True)
class Entry:
    ai: str
    predefined_length: bool
    dl_attribute: bool
    components: tuple[Component, ...]
    requires: tuple[tuple[tuple[str, ...], ...], ...]
    excludes: tuple[str, ...]
    dl_qualifiers: tuple[tuple[str, ...], ...] | None
    title: str


def shared_dir() -> Path:
    override = os.environ.get("SEALTRACE_SHARED_DIR")
    return Path(override) if override else REPO.parent / "shared"


def dictionary_path() -> Path:
    return shared_dir() / "gs1" / DICTIONARY_NAME


def _component(word: str, line: str) -> Component:
    match = _COMPONENT.fullmatch(word)
    if match is None or bool(match[1]) != bool(match[5]):
        raise ValueError(f"bad component {word!r} in: {line}")
    length = int(match[4])
    linters = tuple(name for name in match[6].split(",") if name)
    return (match[2], 1 if match[3] else length, length, bool(match[1]), linters)


def parse_line(line: str) -> list[Entry]:
    """The entries of one dictionary line (an AI range gives one entry per AI)."""
    body, _, title = line.partition("#")
    words = body.split()
    ais = _AIS.fullmatch(words[0])
    if ais is None:
        raise ValueError(f"bad AI in: {line}")
    rest = words[1:]
    flags = ""
    if rest and _FLAGS.fullmatch(rest[0]):
        flags, rest = rest[0], rest[1:]
    components: list[Component] = []
    requires: list[tuple[tuple[str, ...], ...]] = []
    excludes: list[str] = []
    dl_qualifiers: tuple[tuple[str, ...], ...] | None = None
    for word in rest:
        if word.startswith("req="):
            requires.append(tuple(tuple(group.split("+")) for group in word[4:].split(",")))
        elif word.startswith("ex="):
            excludes.extend(word[3:].split(","))
        elif word == "dlpkey":
            dl_qualifiers = ((),)
        elif word.startswith("dlpkey="):
            dl_qualifiers = tuple(tuple(seq.split(",")) for seq in word[7:].split("|"))
        else:
            components.append(_component(word, line))
    if not components:
        raise ValueError(f"no specification in: {line}")
    first, last = ais[1], ais[2] or ais[1]
    return [
        Entry(
            ai=str(number).zfill(len(first)),
            predefined_length="*" in flags,
            dl_attribute="?" in flags,
            components=tuple(components),
            requires=tuple(requires),
            excludes=tuple(excludes),
            dl_qualifiers=dl_qualifiers,
            title=title.strip(),
        )
        for number in range(int(first), int(last) + 1)
    ]


def parse_dictionary(text: str) -> tuple[str, list[Entry]]:
    release = _RELEASE.search(text)
    if release is None:
        raise ValueError("the dictionary names no release")
    entries: list[Entry] = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            entries.extend(parse_line(line))
    seen = [entry.ai for entry in entries]
    if len(seen) != len(set(seen)):
        raise ValueError("an AI is listed twice in the dictionary")
    return release[1], sorted(entries, key=lambda entry: entry.ai)


def _codes(values: set[str]) -> str:
    return "frozenset({" + ", ".join(repr(v) for v in sorted(values)) + "})"


def _entries_json(entries: list[Entry]) -> str:
    """One JSON array per AI, one line each, in a raw string literal."""
    rows = [
        json.dumps(
            [e.ai, e.predefined_length, e.dl_attribute, e.components, e.requires, e.excludes,
             e.dl_qualifiers, e.title],
            separators=(",", ":"),
        )
        for e in entries
    ]  # fmt: skip
    body = "[\n" + ",\n".join(rows) + "\n]"
    assert '"""' not in body  # it must fit in r"""...""" as it is
    return f'ENTRIES_JSON = r"""{body}"""'


def render(release: str, entries: list[Entry]) -> str:
    countries = list(pycountry.countries)
    currencies = list(pycountry.currencies)
    lines = [
        f'"""GS1 Barcode Syntax Dictionary, release {release}, as Python data.',
        "",
        "Generated by tools/make_ai_table.py: do not edit; regenerate it from a new",
        "dictionary release instead (`make vectors` fails when it is out of date).",
        "Sources: GS1's gs1-syntax-dictionary.txt (Copyright GS1 AISBL, Apache-2.0)",
        f"and, for the ISO 3166 and ISO 4217 code lists, pycountry {pycountry_version()}.",
        "This module is data only and longer than a hand-written module would be.",
        "",
        "Each entry of ENTRIES_JSON: [AI, predefined length i.e. no FNC1 after it,",
        "allowed as a Digital Link query attribute, components as [charset, min, max,",
        "optional, linters], req rules (each a list of alternatives, each a list of AI",
        "patterns that must all be present), ex patterns, Digital Link qualifier",
        "sequences when the AI is a primary key (else null), title]; authn.ai_table",
        "reads it. The entries are JSON in one string, not Python literals, because",
        "json.loads reads them in about a millisecond where compiling the same data as",
        "tuples took about 0.1 s whenever no bytecode cache could be used.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "from __future__ import annotations",
        "",
        f"RELEASE = {release!r}",
        "",
        "# One line per AI: the table reads like the dictionary it comes from.",
        "# fmt: off",
        _entries_json(entries),
        "",
        "# ISO 3166-1 numeric country codes (linters iso3166, iso3166999).",
        f"ISO3166_NUMERIC = {_codes({c.numeric for c in countries})}",
        "# ISO 3166-1 alpha-2 country codes (linter iso3166alpha2, IBAN countries).",
        f"ISO3166_ALPHA2 = {_codes({c.alpha_2 for c in countries})}",
        "# ISO 4217 numeric currency codes (linter iso4217).",
        f"ISO4217_NUMERIC = {_codes({c.numeric for c in currencies if hasattr(c, 'numeric')})}",
        "# ISO/IEC 5218 sex codes (linter iso5218).",
        f"ISO5218 = {_codes(set(ISO5218))}",
        "# fmt: on",
        "",
    ]
    return _formatted("\n".join(lines))


def pycountry_version() -> str:
    from importlib.metadata import version

    return version("pycountry")


def _formatted(source: str) -> str:
    """The source as ``ruff format`` writes it, so that lint and --check agree."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUT), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return result.stdout


def generate() -> str:
    release, entries = parse_dictionary(dictionary_path().read_text(encoding="utf-8"))
    return render(release, entries)


def check() -> bool:
    """True when the committed module is what the dictionary generates; says why not."""
    expected = generate()
    actual = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    if actual != expected:
        print(f"{OUT.relative_to(REPO)} is out of date: run python -m tools.make_ai_table")
        return False
    print(f"{OUT.relative_to(REPO)} matches {DICTIONARY_NAME}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the module differs")
    args = parser.parse_args(argv)
    if not dictionary_path().is_file():
        print(f"{dictionary_path()} not found (set SEALTRACE_SHARED_DIR)", file=sys.stderr)
        return 2
    if args.check:
        return 0 if check() else 1
    OUT.write_text(generate(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
