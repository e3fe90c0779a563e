"""The EPCIS 2.0 simple event query as URL parameters, and its page tokens. Pure.

:func:`parse_query` reads the query string of ``/events`` (and of the other
event resources) into an :class:`EventFilter`. Every parameter the store can
answer is supported; a standard parameter it cannot answer (for fields it does
not index) and any name the standard does not define are refused with
:class:`QueryParameterError`, never ignored. Values with several alternatives
are separated by ``|``, as the REST binding writes them
(``EQ_bizStep=shipping|receiving``).

Page tokens (``nextPageToken``) are stateless: the position after the last
event of the page, the number of events already given (for ``eventCountLimit``)
and a digest of the query they belong to, signed with an HMAC. A token from
another query or a changed token is refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from authn.errors import GS1SyntaxError, InvalidInput, PayloadTooLarge
from epcis.identifiers import identify
from epcis.model import ACTIONS, EVENT_TYPES
from epcis.vocabulary import bare_term

DEFAULT_PER_PAGE = 30  # the REST binding's default
MAX_PER_PAGE = 1000

# Which index roles each MATCH_ parameter looks at (epcis.model.TraceEvent.mentions).
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "child", "parent", "input", "output"),
    "MATCH_epcClass": ("class",),
    "MATCH_inputEPCClass": ("inclass",),
    "MATCH_outputEPCClass": ("outclass",),
    "MATCH_anyEPCClass": ("class", "inclass", "outclass"),
}
# Standard parameters of the simple event query this store does not index.
_UNSUPPORTED = re.compile(
    r"(WD_readPoint|WD_bizLocation|EQ_transformationID|EQ_correctiveEventID"
    r"|EQ_persistentDisposition_(set|unset)|EQ_(bizTransaction|source|destination)_.+"
    r"|(EQ|GT|GE|LT|LE)_quantity|(EQ|GT|GE|LT|LE|EXISTS)_(INNER_|ILMD_|ERROR_DECLARATION_).+"
    r"|HASATTR_.+|EQ_ATTR_.+|(EQ|GT|GE|LT|LE|EXISTS)_.+)"
)
_ORDER_FIELDS = ("eventTime", "recordTime")
_TOKEN_VERSION = 1


class QueryParameterError(InvalidInput):
    """The standard's QueryParameterException: a parameter unknown, unsupported or malformed."""


class QueryTooLarge(PayloadTooLarge):
    """The standard's QueryTooLargeException: more events match than ``maxEventCount``."""


class NotAcceptable(InvalidInput):
    """The client asks for an EPCIS or CBV version this repository does not speak (406)."""


class NotSupported(InvalidInput):
    """A part of the standard this repository does not offer, such as named queries (501)."""


@dataclass(frozen=True)
class Match:
    """Events naming one of ``keys`` (or a key under one of ``prefixes``) in one of ``roles``."""

    roles: tuple[str, ...]
    keys: tuple[str, ...]
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventFilter:
    """A parsed simple event query; empty tuples and None mean "no restriction"."""

    event_types: tuple[str, ...] = ()
    event_time: tuple[dt.datetime | None, dt.datetime | None] = (None, None)
    record_time: tuple[dt.datetime | None, dt.datetime | None] = (None, None)
    declared: tuple[dt.datetime | None, dt.datetime | None] = (None, None)
    has_error_declaration: bool = False
    actions: tuple[str, ...] = ()
    biz_steps: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    error_reasons: tuple[str, ...] = ()
    matches: tuple[Match, ...] = ()
    order_by: str = "eventTime"
    descending: bool = False
    event_count_limit: int | None = None
    max_event_count: int | None = None
    per_page: int = DEFAULT_PER_PAGE
    next_page_token: str | None = None
    digest: str = field(default="", compare=False)


@dataclass(frozen=True)
class PagePosition:
    """Where the next page starts: after (sort value, row id); ``given`` events so far."""

    sort_value: dt.datetime
    row_id: int
    given: int


def _values(name: str, raw: str) -> tuple[str, ...]:
    values = tuple(v for v in raw.split("|"))
    if not raw or any(not v for v in values):
        raise QueryParameterError(f"{name} needs a value (alternatives separated by '|')")
    return values


def _time(name: str, raw: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise QueryParameterError(f"{name} {raw!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise QueryParameterError(f"{name} {raw!r} needs a time zone offset, e.g. Z")
    return moment.astimezone(dt.UTC)


def _count(name: str, raw: str, *, upper: int | None = None) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise QueryParameterError(f"{name} must be a positive integer, got {raw!r}")
    value = int(raw)
    if upper is not None and value > upper:
        raise QueryParameterError(f"{name} may be at most {upper}, got {value}")
    return value


def _key(name: str, value: str) -> str:
    try:
        return identify(value).key
    except GS1SyntaxError as exc:
        raise QueryParameterError(f"{name}: {exc}") from None


def _match(name: str, raw: str) -> Match:
    keys: list[str] = []
    prefixes: list[str] = []
    for value in _values(name, raw):
        try:
            found = identify(value)
        except GS1SyntaxError as exc:
            raise QueryParameterError(f"{name}: {exc}") from None
        keys.append(found.key)
        if found.kind == "class":
            # An EPC pattern or a GTIN alone: every instance and lot of the class.
            prefixes.append(found.key + "/")
    return Match(MATCH_ROLES[name], tuple(keys), tuple(prefixes))


def _terms(vocabulary: str) -> Callable[[str, str], tuple[str, ...]]:
    def parse(name: str, raw: str) -> tuple[str, ...]:
        return tuple(bare_term(vocabulary, v) or v for v in _values(name, raw))

    return parse


def _choices(allowed: frozenset[str]) -> Callable[[str, str], tuple[str, ...]]:
    def parse(name: str, raw: str) -> tuple[str, ...]:
        values = _values(name, raw)
        wrong = sorted(set(values) - allowed)
        if wrong:
            raise QueryParameterError(
                f"{name}: {', '.join(wrong)} is not one of {', '.join(sorted(allowed))}"
            )
        return values

    return parse


def _keys(name: str, raw: str) -> tuple[str, ...]:
    return tuple(_key(name, v) for v in _values(name, raw))


# Parameter -> (EventFilter field, parser of the raw value).
_LISTS: dict[str, tuple[str, Callable[[str, str], tuple[str, ...]]]] = {
    "eventType": ("event_types", _choices(EVENT_TYPES)),
    "EQ_action": ("actions", _choices(ACTIONS)),
    "EQ_bizStep": ("biz_steps", _terms("bizStep")),
    "EQ_disposition": ("dispositions", _terms("disposition")),
    "EQ_readPoint": ("read_points", _keys),
    "EQ_bizLocation": ("biz_locations", _keys),
    "EQ_eventID": ("event_ids", lambda name, raw: _values(name, raw)),
    "EQ_errorReason": ("error_reasons", _terms("errorReason")),
}
# Parameter -> (EventFilter field, index in its (from, to) pair).
_TIMES: dict[str, tuple[str, int]] = {
    "GE_eventTime": ("event_time", 0),
    "LT_eventTime": ("event_time", 1),
    "GE_recordTime": ("record_time", 0),
    "LT_recordTime": ("record_time", 1),
    "GE_errorDeclarationTime": ("declared", 0),
    "LT_errorDeclarationTime": ("declared", 1),
    # The query schema of the REST binding spells these with an underscore.
    "GE_errorDeclaration_Time": ("declared", 0),
    "LT_errorDeclaration_Time": ("declared", 1),
}
PAGING = ("perPage", "nextPageToken")
SUPPORTED: tuple[str, ...] = (
    *_LISTS,
    *_TIMES,
    *MATCH_ROLES,
    "EXISTS_errorDeclaration",
    "orderBy",
    "orderDirection",
    "eventCountLimit",
    "maxEventCount",
    *PAGING,
)


def _refuse(name: str) -> QueryParameterError:
    if _UNSUPPORTED.fullmatch(name):
        return QueryParameterError(
            f"{name} is a query parameter of EPCIS 2.0 that this repository does not support"
        )
    return QueryParameterError(f"{name} is not a query parameter of the EPCIS 2.0 event query")


def parse_query(
    params: Sequence[tuple[str, str]], *, fixed: Mapping[str, str] | None = None
) -> EventFilter:
    """The filter of a query string (name, value pairs in order).

    ``fixed`` holds what the resource path already says (``eventType`` on
    ``/eventTypes/{type}/events``, ``MATCH_anyEPC`` on ``/epcs/{epc}/events``);
    the same name in the query string is refused.
    """
    fixed = dict(fixed or {})
    seen: dict[str, str] = {}
    for name, value in params:
        if name in fixed:
            raise QueryParameterError(f"{name} is given by the resource path; leave it out")
        if name not in SUPPORTED:
            raise _refuse(name)
        if name in seen:
            raise QueryParameterError(f"{name} appears twice; separate alternatives with '|'")
        seen[name] = value
    values: dict[str, Any] = {}
    for name, raw in {**seen, **fixed}.items():
        if name in _LISTS:
            attribute, parse = _LISTS[name]
            values[attribute] = parse(name, raw)
        elif name in _TIMES:
            attribute, index = _TIMES[name]
            pair = list(values.get(attribute, (None, None)))
            if pair[index] is not None:
                raise QueryParameterError(f"{name} and its other spelling are both given")
            pair[index] = _time(name, raw)
            values[attribute] = tuple(pair)
        elif name in MATCH_ROLES:
            values.setdefault("matches", []).append(_match(name, raw))
        elif name == "EXISTS_errorDeclaration":
            if raw not in ("", "true"):
                raise QueryParameterError("EXISTS_errorDeclaration takes no value")
            values["has_error_declaration"] = True
        elif name == "orderBy":
            if raw not in _ORDER_FIELDS:
                raise QueryParameterError(
                    f"orderBy must be one of {', '.join(_ORDER_FIELDS)}, got {raw!r}"
                )
            values["order_by"] = raw
        elif name == "eventCountLimit":
            values["event_count_limit"] = _count(name, raw)
        elif name == "maxEventCount":
            values["max_event_count"] = _count(name, raw)
        elif name == "perPage":
            values["per_page"] = _count(name, raw, upper=MAX_PER_PAGE)
        elif name == "nextPageToken":
            values["next_page_token"] = raw
    direction = seen.get("orderDirection")
    if direction is not None and direction not in ("ASC", "DESC"):
        raise QueryParameterError(f"orderDirection must be ASC or DESC, got {direction!r}")
    # The standard's default direction is DESC once orderBy is given; without orderBy
    # the order is the repository's choice: oldest event first.
    values["descending"] = direction == "DESC" or (direction is None and "orderBy" in seen)
    if "eventCountLimit" in seen and "maxEventCount" in seen:
        raise QueryParameterError("eventCountLimit and maxEventCount exclude each other")
    if "matches" in values:
        values["matches"] = tuple(values["matches"])
    query = {n: v for n, v in sorted({**seen, **fixed}.items()) if n not in PAGING}
    digest = hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:32]
    return EventFilter(**values, digest=digest)


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:16]


def seal(values: list[Any], secret: bytes) -> str:
    """``values`` as an opaque, signed URL-safe token."""
    payload = json.dumps([_TOKEN_VERSION, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload + _sign(secret, payload)).rstrip(b"=").decode()


def unseal(token: str, secret: bytes, what: str) -> list[Any]:
    """The values of a token :func:`seal` made; QueryParameterError for any other string."""
    refused = QueryParameterError(f"{what} is not one this repository gave for this query")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise refused from None
    payload, signature = raw[:-16], raw[-16:]
    if len(raw) <= 16 or not hmac.compare_digest(signature, _sign(secret, payload)):
        raise refused
    values = json.loads(payload)
    if not isinstance(values, list) or not values or values[0] != _TOKEN_VERSION:
        raise refused
    return values[1:]


def encode_token(position: PagePosition, query: EventFilter, *, scope: str, secret: bytes) -> str:
    """An opaque token for the page after ``position`` of ``query``, as seen by ``scope``."""
    return seal(
        [position.sort_value.isoformat(), position.row_id, position.given, query.digest, scope],
        secret,
    )


def decode_token(token: str, query: EventFilter, *, scope: str, secret: bytes) -> PagePosition:
    """The position a token of this query and scope stands for; QueryParameterError otherwise."""
    values = unseal(token, secret, "nextPageToken")
    if len(values) != 5 or values[3] != query.digest or values[4] != scope:
        raise QueryParameterError("nextPageToken is not one this repository gave for this query")
    moment, row_id, given = values[:3]
    return PagePosition(dt.datetime.fromisoformat(moment), int(row_id), int(given))
