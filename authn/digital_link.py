"""GS1 Digital Link URIs (uncompressed form), parsed and written.

``https://id.example/01/09506000134352/10/ABC/21/123?17=250100&8030=...``

- The path ends with a primary key (``/01/<GTIN>``) and its qualifiers in
  the order GS1 fixes for that key (22, 10, 21 for a GTIN). Whatever comes
  before the key is the resolver's own prefix, kept in ``base``.
- The query holds further AIs (only those GS1 allows as Digital Link
  attributes) and any non-AI parameters such as ``linkType``. A query key made
  only of digits is an AI; anything else is another parameter.
- Values are percent-decoded; every AI value is checked against the AI table
  and the whole set against GS1's pairing rules.

Deliberate choices, where GS1 leaves room or the older grammar differs:

- A GTIN-8, -12 or -13 in the URI is accepted and zero-padded to 14 digits in
  the result, so that the pairs are always valid AI values (the current
  dictionary allows only 14 digits; older URIs carry the short forms).
- One trailing ``/`` after the path is tolerated; the fragment is ignored.
- Every AI may appear only once; qualifiers out of order are rejected.
- The compressed form and the alphabetic "convenience" codes (``/gtin/``)
  are not supported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, unquote_to_bytes

from authn.ai import validate_ais, validate_associations, validate_value
from authn.ai_table import AI_TABLE, AISpec, ai_spec
from authn.errors import GS1SyntaxError
from authn.gs1 import normalise_gtin

AIPair = tuple[str, str]

DEFAULT_BASE = "https://id.sealtrace.example"

# RFC 3986: unreserved, reserved and '%' are the only characters a URI holds.
_URI_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_URI = re.compile(
    r"(?P<scheme>[A-Za-z]+)://(?P<host>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?"
)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_BASE = re.compile(r"https?://[^/?#\s]+(?:/[^?#\s]*)?", re.IGNORECASE)
# Compressed Digital Link paths are one long base64url segment.
_COMPRESSED = re.compile(r"[A-Za-z0-9_-]{8,}")
# The "convenience" names of the Digital Link 1.x grammar, dropped since.
_ALPHA_KEYS = frozenset(
    {"gtin", "itip", "gmn", "cpid", "gln", "party", "gsrnp", "gsrn", "gcn"}
    | {"sscc", "gdti", "ginc", "gsin", "grai", "giai"}
)


@dataclass(frozen=True)
class DigitalLink:
    """A parsed Digital Link URI.

    ``ais`` holds the path AIs (primary key first, then its qualifiers) and
    then the query AIs, in the order the URI had them; ``base`` is scheme,
    host and any path prefix before the primary key (no trailing ``/``);
    ``other_params`` are the query parameters that are not AIs.
    """

    ais: list[AIPair]
    base: str
    other_params: list[AIPair] = field(default_factory=list)

    @property
    def primary_key(self) -> AIPair:
        return self.ais[0]


def _decode(raw: str, position: int, ai: str) -> str:
    data = unquote_to_bytes(raw)
    if not data.isascii():
        raise GS1SyntaxError("value holds non-ASCII characters", position=position, ai=ai)
    return data.decode("ascii")


def _checked_value(ai: str, raw: str, position: int) -> str:
    value = _decode(raw, position, ai)
    try:
        if ai == "01" and len(value) in (8, 12, 13) and value.isdigit():
            value = normalise_gtin(value)
        validate_value(ai, value)
    except GS1SyntaxError as error:
        # Offsets inside a percent-encoded value do not map to the URI; name the value's start.
        raise GS1SyntaxError(error.reason, position=position, ai=ai) from None
    return value


def _check_uri_characters(uri: str) -> None:
    for pos, char in enumerate(uri):
        if char not in _URI_CHARS:
            raise GS1SyntaxError(f"character {char!r} is not allowed in a URI", position=pos)
    bad = _BAD_PERCENT.search(uri)
    if bad is not None:
        raise GS1SyntaxError("'%' must be followed by two hex digits", position=bad.start())


def _no_key_error(segments: list[str], path_start: int) -> GS1SyntaxError:
    last = segments[-1] if segments else ""
    if len(segments) >= 3 and segments[-2].lower() in _ALPHA_KEYS:
        return GS1SyntaxError(
            f"alphabetic key names such as /{segments[-2]}/ are not supported; "
            "use the numeric AI, e.g. /01/ for a GTIN",
            position=path_start,
        )
    if len(segments) == 2 and _COMPRESSED.fullmatch(last) and not last.isdigit():
        return GS1SyntaxError("compressed Digital Link URIs are not supported", position=path_start)
    return GS1SyntaxError(
        "no GS1 primary key (such as /01/<GTIN>) at the end of the path", position=path_start
    )


def _check_qualifiers(key: AISpec, qualifiers: list[str], position: int) -> None:
    repeated = next((q for i, q in enumerate(qualifiers) if q in qualifiers[:i]), None)
    if repeated is not None:
        raise GS1SyntaxError("AI is given twice in the path", position=position, ai=repeated)
    sequences = key.dl_qualifiers or ((),)
    for sequence in sequences:
        if all(q in sequence for q in qualifiers):
            order = [sequence.index(q) for q in qualifiers]
            if order == sorted(order):
                return
            raise GS1SyntaxError(
                f"key qualifiers out of order: after ({key.ai}) the order is "
                + ", ".join(f"({q})" for q in sequence),
                position=position,
                ai=key.ai,
            )
    stray = next((q for q in qualifiers if not any(q in s for s in sequences)), None)
    if stray is None:
        raise GS1SyntaxError(
            "key qualifiers of different kinds are mixed: the path after ("
            + key.ai
            + ") takes one of "
            + " or ".join(",".join(s) for s in sequences),
            position=position,
            ai=key.ai,
        )
    raise GS1SyntaxError(
        f"not a key qualifier of ({key.ai}) in a Digital Link path", position=position, ai=stray
    )


def _parse_path(path: str, path_start: int) -> tuple[int, list[tuple[str, str, int]]]:
    """Where the primary key starts (segment index) and the raw (AI, value, offset) triples."""
    if path.endswith("/"):
        path = path[:-1]
    segments = path.split("/")
    offsets = [path_start]
    for segment in segments[:-1]:
        offsets.append(offsets[-1] + len(segment) + 1)
    triples: list[tuple[str, str, int]] = []
    index = len(segments) - 2
    while index >= 1:
        code = segments[index]
        spec = AI_TABLE.get(code)
        if spec is None:
            if code.isascii() and code.isdigit() and 2 <= len(code) <= 4:
                raise GS1SyntaxError(
                    "unknown Application Identifier in the path", position=offsets[index], ai=code
                )
            break
        triples.insert(0, (code, segments[index + 1], offsets[index + 1]))
        if spec.dl_primary_key:
            return index, triples
        index -= 2
    raise _no_key_error(segments, path_start)


def parse_digital_link(uri: str, *, check_associations: bool = True) -> DigitalLink:
    """Parse an uncompressed GS1 Digital Link URI; :class:`GS1SyntaxError` if it is not one."""
    _check_uri_characters(uri)
    match = _URI.match(uri)
    if match is None or match["scheme"].lower() not in ("http", "https"):
        raise GS1SyntaxError("a Digital Link URI starts with https:// or http://", position=0)
    if not match["host"]:
        raise GS1SyntaxError("the URI has no host", position=len(match["scheme"]) + 3)
    path_start = match.start("path")
    key_index, triples = _parse_path(match["path"], path_start)
    base = uri[:path_start] + "/".join(match["path"].split("/")[:key_index])

    ais: list[AIPair] = []
    seen: dict[str, str] = {}

    def add(ai: str, raw: str, position: int) -> None:
        value = _checked_value(ai, raw, position)
        if ai in seen:
            detail = "with another value" if seen[ai] != value else "twice"
            raise GS1SyntaxError(f"AI is given {detail}", position=position, ai=ai)
        seen[ai] = value
        ais.append((ai, value))

    for ai, raw, position in triples:
        add(ai, raw, position)
    _check_qualifiers(ai_spec(triples[0][0]), [ai for ai, _, _ in triples[1:]], triples[0][2])

    other: list[AIPair] = []
    if match["query"]:
        position = match.start("query")
        for param in match["query"].split("&"):
            key_raw, has_value, raw = param.partition("=")
            name = unquote(key_raw, errors="replace")
            if name.isascii() and name.isdigit():
                spec = AI_TABLE.get(name)
                if spec is None:
                    raise GS1SyntaxError(
                        "unknown Application Identifier in the query", position=position, ai=name
                    )
                if not spec.dl_attribute:
                    raise GS1SyntaxError(
                        "not allowed as a Digital Link query attribute", position=position, ai=name
                    )
                if not has_value or not raw:
                    raise GS1SyntaxError("query attribute has no value", position=position, ai=name)
                add(name, raw, position + len(key_raw) + 1)
            elif param:
                other.append((name, unquote(raw, errors="replace")))
            position += len(param) + 1
    if check_associations:
        validate_associations(ais)
    return DigitalLink(ais=ais, base=base, other_params=other)


def _path_and_query(ais: Sequence[AIPair]) -> tuple[list[AIPair], list[AIPair]]:
    values = dict(ais)
    key = next((ai for ai, _ in ais if ai_spec(ai).dl_primary_key), None)
    if key is None:
        raise GS1SyntaxError(
            "a Digital Link needs a primary key such as (01) GTIN or (00) SSCC among the AIs"
        )
    sequences = ai_spec(key).dl_qualifiers or ((),)
    best = max(sequences, key=lambda seq: sum(q in values for q in seq))
    path = [(key, values[key])] + [(q, values[q]) for q in best if q in values]
    in_path = {ai for ai, _ in path}
    query: list[AIPair] = []
    for ai in sorted(set(values) - in_path):
        if not ai_spec(ai).dl_attribute:
            raise GS1SyntaxError(
                f"cannot be written in a Digital Link with primary key ({key}): "
                "neither a key qualifier nor a query attribute",
                ai=ai,
            )
        query.append((ai, values[ai]))
    return path, query


def format_digital_link(
    ais: Sequence[AIPair],
    base: str = DEFAULT_BASE,
    *,
    other_params: Sequence[AIPair] = (),
    check_associations: bool = True,
) -> str:
    """The canonical Digital Link URI of ``ais``.

    The first primary-key AI in ``ais`` goes into the path with its
    qualifiers in GS1's order; every other AI becomes a query attribute,
    sorted by AI; ``other_params`` (e.g. ``linkType``) follow in their order.
    Values are percent-encoded except RFC 3986 unreserved characters.
    """
    if not _BASE.fullmatch(base):
        raise GS1SyntaxError(f"base must be an http(s) URL without query or fragment: {base!r}")
    validate_ais(ais, check_associations=check_associations)
    path, query = _path_and_query(ais)
    uri = base.rstrip("/") + "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in path)
    params = [f"{ai}={quote(value, safe='')}" for ai, value in query]
    params += [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in other_params]
    return uri + ("?" + "&".join(params) if params else "")
