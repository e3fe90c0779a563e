"""GS1 Digital Link URIs, parsed and written.

``https://id.example/01/09506000134352/10/ABC/21/123?17=250100&8030=...``

Parsing follows GS1's current rules as GS1's syntax engine applies them:

- Scheme ``http`` or ``https``; a host of RFC 3986 characters, none of
  ``_~?#@!$&'()*+,;=%`` (so no IPv6 zone id such as ``[fe80::1%25eth0]``),
  followed by a path. The fragment is ignored.
- The path ends with a primary key (``/01/<GTIN>``) and its qualifiers in
  one of the orders the dictionary gives for that key (``22, 10, 21`` or
  ``235`` for a GTIN). Whatever comes before the key is the resolver's own
  prefix, kept in ``base``. No trailing ``/``; no empty value.
- Path values are percent-decoded, ``+`` stays ``+``; query values are
  percent-decoded with ``+`` meaning a space (HTML form encoding, which GS1
  Digital Link query strings use). ``%00`` and non-ASCII are refused.
- A query key made only of digits is an AI and must be one the dictionary
  allows as a Digital Link attribute. A key qualifier of the path's key is
  refused in the query (``/01/...?10=ABC``: the lot belongs in the path).
  Anything else, including a percent-encoded key such as ``%31%30``, is a
  non-AI parameter such as ``linkType``, kept in ``other_params``.
- Every AI appears once. A GTIN in the path must have 14 digits; GTIN-8, -12
  or -13 (zero-suppressed) are refused unless ``permit_zero_suppressed_gtin``
  is set, and then padded to 14 digits.

Deliberate differences from GS1's engine (listed in the reference test): a
scheme in any letter case is accepted (RFC 3986: schemes are
case-insensitive), and a ``%`` not followed by two hex digits is refused
(RFC 3986 forbids it; GS1's engine keeps it as a literal ``%``).
Compressed Digital Links (``https://id.example/DBHKVAdpQgowOQ``, or partly
compressed after the primary key, ``/01/<GTIN>/<compressed>``) are
decompressed by :mod:`authn.dl_compression` and then checked exactly as the
uncompressed URI they stand for; :attr:`DigitalLink.compressed` keeps the
compressed segment. The alphabetic "convenience" codes (``/gtin/``) are not
supported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote, unquote_to_bytes

from authn.ai import MAX_AIS, validate_ais, validate_associations, validate_value
from authn.ai_table import AI_TABLE, ai_spec
from authn.dl_compression import compress_ais, decompress_ais
from authn.errors import GS1SyntaxError
from authn.gs1 import normalise_gtin

AIPair = tuple[str, str]

DEFAULT_BASE = "https://id.sealtrace.example"

# RFC 3986: unreserved, reserved and '%' are the only characters a URI holds.
_URI_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_NOT_URI_CHAR = re.compile("[^" + re.escape("".join(sorted(_URI_CHARS))) + "]")
_BAD_HOST_CHARS = frozenset("_~?#@!$&'()*+,;=%")
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
    ``other_params`` are the query parameters that are not AIs; ``compressed``
    is the compressed path segment when the URI was a compressed one.
    """

    ais: list[AIPair]
    base: str
    other_params: list[AIPair] = field(default_factory=list)
    compressed: str | None = None

    @property
    def primary_key(self) -> AIPair:
        return self.ais[0]


def _decode(raw: str, position: int, ai: str, *, query: bool) -> str:
    data = unquote_to_bytes(raw.replace("+", " ") if query else raw)
    if b"\x00" in data:
        raise GS1SyntaxError("value holds a NUL character (%00)", position=position, ai=ai)
    if not data.isascii():
        raise GS1SyntaxError("value holds non-ASCII characters", position=position, ai=ai)
    return data.decode("ascii")


def _checked_value(ai: str, raw: str, position: int, *, query: bool, pad_gtin: bool) -> str:
    if not raw:
        raise GS1SyntaxError("the AI has an empty value", position=position, ai=ai)
    value = _decode(raw, position, ai, query=query)
    try:
        if ai == "01" and len(value) in (8, 12, 13) and value.isdigit():
            if not pad_gtin:
                raise GS1SyntaxError(
                    f"a GTIN in a Digital Link path has 14 digits, not {len(value)} "
                    "(zero-suppressed GTINs are refused)"
                )
            value = normalise_gtin(value)
        validate_value(ai, value)
    except GS1SyntaxError as error:
        # Offsets inside a percent-encoded value do not map to the URI; name the value's start.
        raise GS1SyntaxError(error.reason, position=position, ai=ai) from None
    return value


def _check_uri(uri: str, host: str, host_start: int) -> None:
    bad = _NOT_URI_CHAR.search(uri)
    if bad is not None:
        raise GS1SyntaxError(f"character {bad[0]!r} is not allowed in a URI", position=bad.start())
    bad = _BAD_PERCENT.search(uri)
    if bad is not None:
        raise GS1SyntaxError("'%' must be followed by two hex digits", position=bad.start())
    if not host:
        raise GS1SyntaxError("the URI has no host", position=host_start)
    for pos, char in enumerate(host, start=host_start):
        if char in _BAD_HOST_CHARS:
            raise GS1SyntaxError(f"character {char!r} is not allowed in a host", position=pos)


def _no_key_error(segments: list[str], path_start: int) -> GS1SyntaxError:
    last = segments[-1] if segments else ""
    if len(segments) >= 3 and segments[-2].lower() in _ALPHA_KEYS:
        return GS1SyntaxError(
            f"alphabetic key names such as /{segments[-2]}/ are not supported; "
            "use the numeric AI, e.g. /01/ for a GTIN",
            position=path_start,
        )
    if last == "" and len(segments) > 2:
        return GS1SyntaxError("the path must not end with '/'", position=path_start)
    return GS1SyntaxError(
        "no GS1 primary key (such as /01/<GTIN>) at the end of the path", position=path_start
    )


def valid_path_sequence(path: Sequence[str]) -> bool:
    """Whether key + qualifiers, in this order, is one the dictionary allows."""
    key = AI_TABLE.get(path[0])
    if key is None or key.dl_qualifiers is None:
        return False
    qualifiers = list(path[1:])
    for sequence in key.dl_qualifiers:
        it = iter(sequence)
        if all(q in it for q in qualifiers):  # an ordered subsequence
            return True
    return False


def _qualifier_error(path: list[str], position: int) -> GS1SyntaxError:
    key, qualifiers = path[0], path[1:]
    repeated = next((q for i, q in enumerate(qualifiers) if q in qualifiers[:i]), None)
    if repeated is not None:
        return GS1SyntaxError("AI is given twice in the path", position=position, ai=repeated)
    sequences = ai_spec(key).dl_qualifiers or ((),)
    stray = next((q for q in qualifiers if not any(q in s for s in sequences)), None)
    if stray is not None:
        return GS1SyntaxError(
            f"not a key qualifier of ({key}) in a Digital Link path", position=position, ai=stray
        )
    if any(all(q in s for q in qualifiers) for s in sequences):
        order = next(s for s in sequences if all(q in s for q in qualifiers))
        return GS1SyntaxError(
            f"key qualifiers out of order: after ({key}) the order is "
            + ", ".join(f"({q})" for q in order),
            position=position,
            ai=key,
        )
    return GS1SyntaxError(
        f"key qualifiers of different kinds are mixed: the path after ({key}) takes one of "
        + " or ".join(",".join(s) for s in sequences),
        position=position,
        ai=key,
    )


def _parse_path(path: str, path_start: int) -> tuple[int, list[tuple[str, str, int]]]:
    """Where the primary key starts (segment index) and the raw (AI, value, offset) triples."""
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


def _query_ais(query: str, position: int) -> tuple[list[tuple[str, str, int]], list[AIPair]]:
    """The query's AI (key, raw value, offset) triples and its other parameters."""
    triples: list[tuple[str, str, int]] = []
    other: list[AIPair] = []
    for param in query.split("&"):
        key, has_value, raw = param.partition("=")
        if key.isascii() and key.isdigit():
            spec = AI_TABLE.get(key)
            if spec is None:
                raise GS1SyntaxError(
                    "unknown Application Identifier in the query", position=position, ai=key
                )
            if not spec.dl_attribute:
                raise GS1SyntaxError(
                    "not allowed as a Digital Link query attribute", position=position, ai=key
                )
            if not has_value or not raw:
                raise GS1SyntaxError("query attribute has no value", position=position, ai=key)
            triples.append((key, raw, position + len(key) + 1))
        elif param:
            other.append((unquote(key, errors="replace"), unquote(raw, errors="replace")))
        position += len(param) + 1
    return triples, other


def _decompressed(uri: str, match: re.Match[str], first: GS1SyntaxError) -> str | None:
    """The uncompressed URI a compressed one stands for; ``None`` if the path does not
    end with what looks like compressed data."""
    path_start = match.start("path")
    segments = match["path"].split("/")
    last = segments[-1]
    if len(segments) < 2 or not _COMPRESSED.fullmatch(last) or last.isdigit():
        return None
    try:
        ais, other = decompress_ais(last)
    except GS1SyntaxError as error:
        raise GS1SyntaxError(
            f"{first.reason}, and the last segment is no compressed Digital Link: {error.reason}",
            position=path_start,
            ai=error.ai,
        ) from None
    prefix = segments[:-1]
    key = AI_TABLE.get(prefix[-2]) if len(prefix) >= 3 else None
    try:
        if key is not None and key.dl_primary_key:
            # Partly compressed: /<key>/<value>/<compressed qualifiers and attributes>.
            if any(ai == key.ai for ai, _ in ais):
                raise GS1SyntaxError("AI is given twice", ai=key.ai)
            ais.insert(0, (key.ai, _decode(prefix[-1], path_start, key.ai, query=False)))
            prefix = prefix[:-2]
        base = uri[:path_start] + "/".join(prefix)
        expanded = format_digital_link(ais, base, other_params=other, check_associations=False)
    except GS1SyntaxError as error:
        raise _compressed_error(error, path_start) from None
    query = match["query"]
    if query:
        expanded += ("&" if "?" in expanded else "?") + query
    return expanded


def _compressed_error(error: GS1SyntaxError, path_start: int) -> GS1SyntaxError:
    # Positions inside the decompressed URI do not map to the request; name the segment.
    return GS1SyntaxError(
        f"compressed Digital Link: {error.reason}", position=path_start, ai=error.ai
    )


def parse_digital_link(
    uri: str,
    *,
    check_associations: bool = True,
    permit_zero_suppressed_gtin: bool = False,
    permit_compressed: bool = True,
) -> DigitalLink:
    """Parse a GS1 Digital Link URI, compressed or not; :class:`GS1SyntaxError` if it is
    not one. A compressed one must decompress to a valid uncompressed Digital Link."""
    match = _URI.match(uri)
    if match is None or match["scheme"].lower() not in ("http", "https"):
        raise GS1SyntaxError("a Digital Link URI starts with https:// or http://", position=0)
    _check_uri(uri, match["host"], match.start("host"))
    path_start = match.start("path")
    try:
        key_index, path_triples = _parse_path(match["path"], path_start)
    except GS1SyntaxError as error:
        expanded = _decompressed(uri, match, error) if permit_compressed else None
        if expanded is None:
            raise
        try:
            link = parse_digital_link(
                expanded,
                check_associations=check_associations,
                permit_zero_suppressed_gtin=permit_zero_suppressed_gtin,
                permit_compressed=False,
            )
        except GS1SyntaxError as inner:
            raise _compressed_error(inner, path_start) from None
        return replace(link, compressed=match["path"].rsplit("/", 1)[1])
    base = uri[:path_start] + "/".join(match["path"].split("/")[:key_index])
    path = [ai for ai, _, _ in path_triples]
    if not valid_path_sequence(path):
        raise _qualifier_error(path, path_triples[0][2])
    query_triples, other = _query_ais(match["query"] or "", match.start("query"))

    ais: list[AIPair] = []
    seen: dict[str, str] = {}
    for number, (ai, raw, position) in enumerate(path_triples + query_triples):
        in_query = number >= len(path_triples)
        value = _checked_value(
            ai, raw, position, query=in_query, pad_gtin=in_query or permit_zero_suppressed_gtin
        )
        if ai in seen:
            detail = "with another value" if seen[ai] != value else "twice"
            raise GS1SyntaxError(f"AI is given {detail}", position=position, ai=ai)
        if in_query and any(
            valid_path_sequence([*path[:j], ai, *path[j:]]) for j in range(1, len(path) + 1)
        ):
            raise GS1SyntaxError(
                f"a key qualifier of ({path[0]}) belongs in the path, not in the query",
                position=position,
                ai=ai,
            )
        seen[ai] = value
        ais.append((ai, value))
    if len(ais) > MAX_AIS:
        raise GS1SyntaxError(f"too many AIs: {len(ais)}, at most {MAX_AIS}")
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

    The first primary-key AI in ``ais`` goes into the path with as many of its
    qualifiers as one of GS1's sequences takes, in that order; every other AI
    becomes a query attribute, sorted by AI; ``other_params`` (e.g.
    ``linkType``) follow in their order. Values are percent-encoded except
    RFC 3986 unreserved characters.
    """
    if not _BASE.fullmatch(base):
        raise GS1SyntaxError(f"base must be an http(s) URL without query or fragment: {base!r}")
    validate_ais(ais, check_associations=check_associations)
    path, query = _path_and_query(ais)
    uri = base.rstrip("/") + "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in path)
    params = [f"{ai}={quote(value, safe='')}" for ai, value in query]
    params += [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in other_params]
    return uri + ("?" + "&".join(params) if params else "")


def compress_digital_link(
    ais: Sequence[AIPair],
    base: str = DEFAULT_BASE,
    *,
    other_params: Sequence[AIPair] = (),
    check_associations: bool = True,
    optimise: bool = True,
) -> str:
    """The compressed Digital Link URI of ``ais``: ``base`` and one compressed segment
    holding every AI and every ``other_params`` pair (GS1's reference toolkit's bits,
    with its optimisation codes unless ``optimise`` is false)."""
    if not _BASE.fullmatch(base):
        raise GS1SyntaxError(f"base must be an http(s) URL without query or fragment: {base!r}")
    validate_ais(ais, check_associations=check_associations)
    _path_and_query(ais)  # a primary key, and every other AI allowed beside it
    return base.rstrip("/") + "/" + compress_ais(ais, other_params, optimise=optimise)
