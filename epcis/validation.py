"""Checking an EPCIS 2.0 JSON-LD document event by event, without the network or a schema file.

:func:`read_document` gives every good event as a :class:`TraceEvent` and
every bad one as an :class:`EventError` with its index and one sentence; the
caller stores all or nothing. The checks are those of the EPCIS 2.0 JSON
schema that matter for a store (types, times, actions, identifiers, CBV
terms) plus sealtrace's own: a partner may only write about GTINs under the
company prefixes of the brand it captures for.

Location master data travels in the document header, as EPCIS 2.0 defines
it (``epcisHeader.epcisMasterData``, vocabulary type BusinessLocation or
ReadPoint, attribute ``urn:epcglobal:cbv:mda#countryCode``); it is what maps
a location to a country for the route rules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from authn.errors import GS1SyntaxError, InvalidInput
from epcis.hashing import context_namespaces, event_hash
from epcis.identifiers import identify, is_uri
from epcis.model import ACTIONS, EVENT_TYPES, Party, TraceEvent
from epcis.vocabulary import bare_term, is_cbv_form, normalise_terms
from keys.model import gtin_in_prefixes

MAX_EVENTS = 10_000
DOCUMENT_TYPES = ("EPCISDocument", "EPCISQueryDocument")
COUNTRY_ATTRIBUTES = frozenset({"urn:epcglobal:cbv:mda#countryCode", "cbvmda:countryCode"})
LOCATION_VOCABULARIES = frozenset(
    {
        "urn:epcglobal:epcis:vtype:BusinessLocation",
        "urn:epcglobal:epcis:vtype:ReadPoint",
    }
)
_OFFSET = re.compile(r"[+-]((0\d|1[0-3]):[0-5]\d|14:00)")
_COUNTRY = re.compile(r"[A-Z]{2}")


class EventInvalid(InvalidInput):
    """One event cannot be captured; the message names the field."""


@dataclass(frozen=True)
class EventError:
    """Why the event at ``index`` (0-based, in document order) was refused."""

    index: int
    message: str
    event_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "message": self.message}
        if self.event_id is not None:
            out["eventID"] = self.event_id
        return out


@dataclass(frozen=True)
class ReadDocument:
    events: list[TraceEvent] = field(default_factory=list)
    errors: list[EventError] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)


def parse_time(value: object, name: str) -> dt.datetime:
    """An RFC 3339 timestamp with its offset (``Z`` or ``±hh:mm``) as an aware datetime."""
    if not isinstance(value, str):
        raise EventInvalid(f"{name} must be a date-time string")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise EventInvalid(f"{name} {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise EventInvalid(f"{name} {value!r} has no time zone offset (add Z or +hh:mm)")
    return moment.astimezone(dt.UTC)


def _key(value: object, name: str) -> str:
    if not isinstance(value, str) or not is_uri(value):
        raise EventInvalid(
            f"{name} must be a URI (an EPC URN or a Digital Link URI), got {value!r}"
        )
    try:
        return identify(value).key
    except GS1SyntaxError as exc:
        raise EventInvalid(f"{name}: {exc}") from None


def _keys(event: Mapping[str, Any], name: str, gtins: set[str]) -> tuple[str, ...]:
    value = event.get(name, [])
    if not isinstance(value, list):
        raise EventInvalid(f"{name} must be a list of URIs")
    keys = []
    for i, item in enumerate(value):
        key = _key(item, f"{name}[{i}]")
        gtin = identify(item).gtin
        if gtin is not None:
            gtins.add(gtin)
        keys.append(key)
    return tuple(keys)


def _term(event: Mapping[str, Any], name: str, vocabulary: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise EventInvalid(f"{name} must be a string")
    return _cbv_term(vocabulary, value, name)


def _cbv_term(vocabulary: str, value: str, name: str) -> str:
    """The bare term, or the partner's own URI; a CBV spelling of no CBV term is refused."""
    term = bare_term(vocabulary, value)
    if term is not None:
        return term
    if is_cbv_form(vocabulary, value):
        raise EventInvalid(f"{name} {value!r} is no term of the CBV")
    if ":" not in value:
        raise EventInvalid(f"{name} {value!r} is neither a CBV 2.0 term nor a URI")
    return value


def _place(event: Mapping[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping) or "id" not in value:
        raise EventInvalid(f'{name} must be an object with an "id"')
    return _key(value["id"], f"{name}.id")


def _parties(event: Mapping[str, Any], list_name: str, field_name: str) -> tuple[Party, ...]:
    value = event.get(list_name, [])
    if not isinstance(value, list):
        raise EventInvalid(f"{list_name} must be a list")
    parties = []
    for i, item in enumerate(value):
        where = f"{list_name}[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
            raise EventInvalid(f'{where} must be an object with "type" and "{field_name}"')
        kind = _cbv_term("sourceDestType", item["type"], f"{where}.type")
        parties.append(Party(kind, _key(item.get(field_name), f"{where}.{field_name}")))
    return tuple(parties)


def _quantity_classes(
    event: Mapping[str, Any], list_names: Sequence[str], gtins: set[str]
) -> tuple[str, ...]:
    keys: list[str] = []
    for list_name in list_names:
        value = event.get(list_name, [])
        if not isinstance(value, list):
            raise EventInvalid(f"{list_name} must be a list")
        for i, item in enumerate(value):
            where = f"{list_name}[{i}]"
            if not isinstance(item, Mapping):
                raise EventInvalid(f'{where} must be an object with "epcClass"')
            quantity = item.get("quantity")
            if quantity is not None and (
                isinstance(quantity, bool) or not isinstance(quantity, int | float)
            ):
                raise EventInvalid(f"{where}.quantity must be a number")
            keys.append(_key(item.get("epcClass"), f"{where}.epcClass"))
            gtin = identify(item["epcClass"]).gtin
            if gtin is not None:
                gtins.add(gtin)
    return tuple(keys)


def _transaction_types(event: Mapping[str, Any]) -> None:
    value = event.get("bizTransactionList", [])
    if not isinstance(value, list):
        raise EventInvalid("bizTransactionList must be a list")
    for i, item in enumerate(value):
        kind = item.get("type") if isinstance(item, Mapping) else None
        if isinstance(kind, str):
            _cbv_term("bizTransactionType", kind, f"bizTransactionList[{i}].type")


def _error_declaration(event: Mapping[str, Any]) -> tuple[dt.datetime | None, str | None]:
    declaration = event.get("errorDeclaration")
    if declaration is None:
        return None, None
    if not isinstance(declaration, Mapping):
        raise EventInvalid("errorDeclaration must be an object")
    declared = parse_time(declaration.get("declarationTime"), "errorDeclaration.declarationTime")
    reason = declaration.get("reason")
    if reason is None:
        return declared, None
    if not isinstance(reason, str) or not reason:
        raise EventInvalid("errorDeclaration.reason must be a string")
    return declared, _cbv_term("errorReason", reason, "errorDeclaration.reason")


def _check_shape(event: Mapping[str, Any], kind: str, action: str | None) -> None:
    if kind == "TransformationEvent":
        if action is not None:
            raise EventInvalid("a TransformationEvent has no action")
    elif action not in ACTIONS:
        raise EventInvalid(f"action must be one of ADD, OBSERVE, DELETE, got {action!r}")
    if kind == "ObjectEvent" and not (event.get("epcList") or event.get("quantityList")):
        raise EventInvalid("an ObjectEvent needs a non-empty epcList or quantityList")
    if kind in ("AggregationEvent", "AssociationEvent"):
        if not (event.get("childEPCs") or event.get("childQuantityList")):
            raise EventInvalid(f"an {kind} needs childEPCs or childQuantityList")
        if action in ("ADD", "DELETE") and event.get("parentID") is None:
            raise EventInvalid(f"an {kind} with action {action} needs a parentID")


def read_event(
    event: object,
    *,
    namespaces: Mapping[str, str] | None = None,
    prefixes: Sequence[str] | None = None,
    known_hash: str | None = None,
) -> TraceEvent:
    """One event, checked; ``prefixes`` (when given) are the only GTINs it may name.

    ``known_hash`` skips hashing for an event read back from the store.
    """
    if not isinstance(event, Mapping):
        raise EventInvalid("an event must be a JSON object")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise EventInvalid(f"type must be one of {', '.join(sorted(EVENT_TYPES))}, got {kind!r}")
    assert isinstance(kind, str)
    event_time = parse_time(event.get("eventTime"), "eventTime")
    offset = event.get("eventTimeZoneOffset")
    if not isinstance(offset, str) or _OFFSET.fullmatch(offset) is None:
        raise EventInvalid(f"eventTimeZoneOffset must look like +02:00, got {offset!r}")
    if "recordTime" in event:
        parse_time(event["recordTime"], "recordTime")
    if "eventID" in event and not is_uri(event["eventID"]):
        raise EventInvalid("eventID must be a URI")
    action = event.get("action")
    _check_shape(event, kind, action if isinstance(action, str) else None)
    _transaction_types(event)
    declared_at, error_reason = _error_declaration(event)
    gtins: set[str] = set()
    parent = event.get("parentID")
    parent_key = None
    if parent is not None:
        parent_key = _key(parent, "parentID")
        parent_gtin = identify(parent).gtin
        if parent_gtin is not None:
            gtins.add(parent_gtin)
    traced = TraceEvent(
        type=kind,
        event_time=event_time,
        event_hash=known_hash or event_hash(event, namespaces),
        action=action if isinstance(action, str) else None,
        biz_step=_term(event, "bizStep", "bizStep"),
        disposition=_term(event, "disposition", "disposition"),
        read_point=_place(event, "readPoint"),
        biz_location=_place(event, "bizLocation"),
        epcs=_keys(event, "epcList", gtins),
        parent=parent_key,
        children=_keys(event, "childEPCs", gtins),
        inputs=_keys(event, "inputEPCList", gtins),
        outputs=_keys(event, "outputEPCList", gtins),
        classes=_quantity_classes(event, ("quantityList", "childQuantityList"), gtins),
        input_classes=_quantity_classes(event, ("inputQuantityList",), gtins),
        output_classes=_quantity_classes(event, ("outputQuantityList",), gtins),
        sources=_parties(event, "sourceList", "source"),
        destinations=_parties(event, "destinationList", "destination"),
        gtins=frozenset(gtins),
        event_id=event.get("eventID"),
        declared_at=declared_at,
        error_reason=error_reason,
        # Stored and exported with every CBV term bare: CBV 1.x URNs are not valid EPCIS 2.0.
        document=normalise_terms(event),
    )
    if prefixes is not None:
        foreign = sorted(g for g in gtins if not gtin_in_prefixes(g, prefixes))
        if foreign:
            raise EventInvalid(
                f"GTIN {', '.join(foreign)} is not under this brand's GS1 company prefixes"
            )
    return traced


def event_list(document: Mapping[str, Any]) -> list[Any]:
    """The events of an EPCISDocument or EPCISQueryDocument; InvalidInput when there is no list."""
    body = document.get("epcisBody")
    if not isinstance(body, Mapping):
        raise InvalidInput('the document has no "epcisBody" object')
    if document.get("type") == "EPCISQueryDocument":
        results = body.get("queryResults")
        results_body = results.get("resultsBody") if isinstance(results, Mapping) else None
        events = results_body.get("eventList") if isinstance(results_body, Mapping) else None
        where = "epcisBody.queryResults.resultsBody.eventList"
    else:
        events = body.get("eventList")
        where = "epcisBody.eventList"
    if not isinstance(events, list):
        raise InvalidInput(f"the document has no {where} array")
    return events


def location_countries(document: Mapping[str, Any]) -> dict[str, str]:
    """Location key -> ISO 3166 alpha-2 country, from the header's master data."""
    header = document.get("epcisHeader")
    master = header.get("epcisMasterData") if isinstance(header, Mapping) else None
    vocabularies = master.get("vocabularyList") if isinstance(master, Mapping) else None
    found: dict[str, str] = {}
    for vocabulary in vocabularies if isinstance(vocabularies, list) else []:
        if (
            not isinstance(vocabulary, Mapping)
            or vocabulary.get("type") not in LOCATION_VOCABULARIES
        ):
            continue
        for element in vocabulary.get("vocabularyElementList") or []:
            if not isinstance(element, Mapping):
                raise InvalidInput("a master data vocabulary element must be an object")
            for attribute in element.get("attributes") or []:
                if (
                    not isinstance(attribute, Mapping)
                    or attribute.get("id") not in COUNTRY_ATTRIBUTES
                ):
                    continue
                country = attribute.get("attribute")
                if not isinstance(country, str) or _COUNTRY.fullmatch(country) is None:
                    raise InvalidInput(
                        f"master data: countryCode of {element.get('id')!r} must be an ISO 3166 "
                        f"alpha-2 code such as 'DE', got {country!r}"
                    )
                try:
                    found[_key(element.get("id"), "master data element id")] = country
                except EventInvalid as exc:
                    raise InvalidInput(str(exc)) from None
    return found


def read_document_shape(document: object) -> list[Any]:
    """The document-level checks alone (type, context, event list); returns the raw events."""
    if not isinstance(document, Mapping):
        raise InvalidInput("an EPCIS document must be a JSON object")
    if document.get("type") not in DOCUMENT_TYPES:
        raise InvalidInput(
            f"type must be EPCISDocument or EPCISQueryDocument, got {document.get('type')!r}"
        )
    if "@context" not in document:
        raise InvalidInput('an EPCIS 2.0 JSON-LD document needs "@context"')
    return event_list(document)


def read_document(document: object, *, prefixes: Sequence[str] | None = None) -> ReadDocument:
    """Every event of the document checked; document-level problems raise InvalidInput."""
    raw_events = read_document_shape(document)
    assert isinstance(document, Mapping)
    if len(raw_events) > MAX_EVENTS:
        raise InvalidInput(f"a document may hold at most {MAX_EVENTS} events; split it")
    namespaces = context_namespaces(document["@context"])
    result = ReadDocument(locations=location_countries(document))
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_events):
        event_id = raw.get("eventID") if isinstance(raw, Mapping) else None
        try:
            event = read_event(raw, namespaces=namespaces, prefixes=prefixes)
        except EventInvalid as exc:
            result.errors.append(EventError(index, str(exc), _text(event_id)))
            continue
        if event.event_hash in seen:
            message = f"the same event as event {seen[event.event_hash]} of this document"
            result.errors.append(EventError(index, message, _text(event_id)))
            continue
        seen[event.event_hash] = index
        result.events.append(event)
    return result


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def gtins_of(events: Iterable[TraceEvent]) -> frozenset[str]:
    return frozenset(g for event in events for g in event.gtins)
