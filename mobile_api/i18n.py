"""The consumer pages' words: gettext catalogues read with Babel, and picking a language.

The messages are English sentences in the source, marked with :func:`N_` or passed to a
:class:`Catalogue`; ``tools/messages.py`` (``make messages``) extracts them with Babel into
``locale/messages.pot`` and updates ``locale/<lang>/LC_MESSAGES/messages.po``.

The ``.po`` files are read once, at the first page, with ``babel.messages.pofile``: no
compiled ``.mo`` to build, ship or forget to rebuild, and a few hundred short messages
parse in milliseconds (docs/i18n.md). A message missing from a catalogue shows in
English rather than breaking a page; a unit test keeps every catalogue complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
# English first: it is the source language and the answer when nothing else fits.
LANGUAGES = ("en", "de", "es", "fr", "it", "pt", "pl", "zh", "ar")
DEFAULT_LANGUAGE = "en"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def N_(message: str) -> str:
    """Marks ``message`` for extraction where it is defined; translated where it is shown."""
    return message


@dataclass(frozen=True)
class Catalogue:
    """One language's messages, its direction and its own name for itself."""

    lang: str
    messages: dict[str, str]

    def __call__(self, message: str, **values: str) -> str:
        """``message`` in this language, its ``%(name)s`` placeholders filled in."""
        text = self.messages.get(message) or message
        return text % values if values else text

    @property
    def direction(self) -> str:
        """ "rtl" or "ltr", as the ``dir`` attribute wants it (from the CLDR data)."""
        return "rtl" if Locale.parse(self.lang).text_direction == "rtl" else "ltr"

    @property
    def name(self) -> str:
        """The language's name in itself ("Deutsch", "العربية"), for the switcher."""
        own = Locale.parse(self.lang).get_display_name(self.lang) or self.lang
        return own[:1].upper() + own[1:]

    def date(self, day: date) -> str:
        """A date as a reader of this language writes it (30. Juni 2027, 2027年6月30日)."""
        return format_date(day, "long", locale=self.lang)


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(lang: str) -> Catalogue:
    """The translated, non-fuzzy messages of ``lang``'s ``.po`` file."""
    with po_path(lang).open("rb") as handle:
        po = read_po(handle, locale=lang, domain=DOMAIN)
    messages = {
        str(m.id): m.string
        for m in po
        if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }
    return Catalogue(lang, messages)


@cache
def catalogue(lang: str) -> Catalogue:
    """The catalogue of ``lang`` (one of :data:`LANGUAGES`), read once per process."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    return read_catalogue(lang)


def pick_language(accept_language: str | None, override: str | None = None) -> str:
    """The best of :data:`LANGUAGES` for an Accept-Language header; ``override`` (the
    ``lang`` query parameter or form field) wins when it names a supported language."""
    if override is not None and override.lower()[:2] in LANGUAGES:
        return override.lower()[:2]
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, item in enumerate((accept_language or "")[:500].split(",")):
        parts = item.strip().split(";")
        tag = parts[0].strip().lower()
        quality = 1.0
        for param in parts[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.split("-")[0]
        # Earlier entries win ties, as the header lists preferences in order.
        score = quality - position * 1e-6
        if primary in LANGUAGES and quality > 0 and score > best_q:
            best, best_q = primary, score
    return best
