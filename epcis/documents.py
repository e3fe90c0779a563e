"""EPCIS 2.0 JSON that sealtrace writes: its own events, and documents for export. Pure.

The event builders are what the verifier's own actions emit (the service
stores them with :func:`epcis.store.record_own_events`):

- issuance registration -> :func:`commissioning_event` (ADD, commissioning, active)
- a status change       -> :func:`status_event` (``vocabulary.STATUS_EVENTS``)
- an officer inspection -> :func:`inspection_event` (OBSERVE, inspecting)
- packing and unpacking -> :func:`aggregation_event`; shipping, receiving -> :func:`object_event`
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from authn.errors import GS1SyntaxError, InvalidInput
from epcis.identifiers import CANONICAL_BASE, identify, is_uri, unit_uri
from epcis.vocabulary import STATUS_EVENTS

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
LOCATION_VOCABULARY = "urn:epcglobal:epcis:vtype:BusinessLocation"
COUNTRY_ATTRIBUTE = "urn:epcglobal:cbv:mda#countryCode"
PRODUCT_VOCABULARY = "urn:epcglobal:epcis:vtype:EPCClass"
# EPCClass attributes: CBV 2.0 names a product's master data with the GS1 Web Vocabulary's
# terms, written here as full IRIs so that a reader needs no JSON-LD context to know them.
# Strength has no Web Vocabulary term; CBV's own EPCClass attribute carries it.
GS1_VOC = "https://gs1.org/voc/"
PRODUCT_NAME = GS1_VOC + "productName"
BRAND_NAME = GS1_VOC + "brandName"
PRODUCT_DESCRIPTION = GS1_VOC + "productDescription"
NET_CONTENT = GS1_VOC + "netContent"
IMAGE = GS1_VOC + "image"
STRENGTH = "urn:epcglobal:cbv:mda#strengthDescription"

# Where an event names identifiers that may be products (EPC lists and quantity classes).
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def _time(at: dt.datetime) -> tuple[str, str]:
    """``eventTime`` in UTC and the ``eventTimeZoneOffset`` of the moment as given."""
    offset = at.utcoffset()
    if offset is None:
        raise InvalidInput("event times must be aware datetimes")
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    utc = at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return utc, f"{sign}{hours:02d}:{rest:02d}"


def _common(kind: str, at: dt.datetime, action: str | None) -> dict[str, Any]:
    event_time, offset = _time(at)
    event: dict[str, Any] = {"type": kind, "eventTime": event_time, "eventTimeZoneOffset": offset}
    if action is not None:
        event["action"] = action
    return event


def _where(
    event: dict[str, Any],
    *,
    biz_step: str | None,
    disposition: str | None,
    read_point: str | None,
    biz_location: str | None,
    sources: Sequence[tuple[str, str]] = (),
    destinations: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    if biz_step is not None:
        event["bizStep"] = biz_step
    if disposition is not None:
        event["disposition"] = disposition
    if read_point is not None:
        event["readPoint"] = {"id": read_point}
    if biz_location is not None:
        event["bizLocation"] = {"id": biz_location}
    if sources:
        event["sourceList"] = [{"type": t, "source": s} for t, s in sources]
    if destinations:
        event["destinationList"] = [{"type": t, "destination": d} for t, d in destinations]
    return event


def object_event(
    epcs: Sequence[str],
    *,
    at: dt.datetime,
    action: str = "OBSERVE",
    biz_step: str | None = None,
    disposition: str | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    sources: Sequence[tuple[str, str]] = (),
    destinations: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """An ObjectEvent about ``epcs`` (EPC or Digital Link URIs); sources/destinations are
    (CBV type, URI) pairs, e.g. ``("location", "urn:epc:id:sgln:...")``."""
    if not epcs:
        raise InvalidInput("an ObjectEvent names at least one EPC")
    event = _common("ObjectEvent", at, action)
    event["epcList"] = list(epcs)
    return _where(
        event,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        sources=sources,
        destinations=destinations,
    )


def aggregation_event(
    parent: str,
    children: Sequence[str],
    *,
    at: dt.datetime,
    action: str = "ADD",
    read_point: str | None = None,
    biz_location: str | None = None,
) -> dict[str, Any]:
    """Packing (ADD, bizStep packing) or unpacking (DELETE, bizStep unpacking) of ``children``."""
    if action not in ("ADD", "DELETE", "OBSERVE"):
        raise InvalidInput("action must be ADD, OBSERVE or DELETE")
    if not children:
        raise InvalidInput("an AggregationEvent names at least one child")
    event = _common("AggregationEvent", at, action)
    event["parentID"] = parent
    event["childEPCs"] = list(children)
    step = {"ADD": "packing", "DELETE": "unpacking"}.get(action)
    disposition = {"ADD": "in_progress"}.get(action)
    return _where(
        event,
        biz_step=step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
    )


def commissioning_event(
    gtin: str, serials: Sequence[str], *, at: dt.datetime, biz_location: str | None = None
) -> dict[str, Any]:
    """What registering issued codes means in EPCIS: the units exist and are active."""
    return object_event(
        [unit_uri(gtin, serial) for serial in serials],
        at=at,
        action="ADD",
        biz_step="commissioning",
        disposition="active",
        biz_location=biz_location,
    )


def status_event(
    gtin: str, serial: str, status: str, *, at: dt.datetime, biz_location: str | None = None
) -> dict[str, Any]:
    """The event that says a unit was sold, destroyed, recalled, stolen, exported, ..."""
    mapped = STATUS_EVENTS.get(status)
    if mapped is None:
        raise InvalidInput(f"no EPCIS event for status {status!r}; known: {sorted(STATUS_EVENTS)}")
    return object_event(
        [unit_uri(gtin, serial)],
        at=at,
        action=mapped.action,
        biz_step=mapped.biz_step,
        disposition=mapped.disposition,
        biz_location=biz_location,
    )


def inspection_event(
    gtin: str,
    serial: str,
    *,
    at: dt.datetime,
    lat: float | None = None,
    lon: float | None = None,
    biz_location: str | None = None,
) -> dict[str, Any]:
    """An officer's inspection; the read point is a ``geo:`` URI when the handheld had a fix."""
    read_point = f"geo:{lat:.5f},{lon:.5f}" if lat is not None and lon is not None else None
    return object_event(
        [unit_uri(gtin, serial)],
        at=at,
        biz_step="inspecting",
        read_point=read_point,
        biz_location=biz_location,
    )


def product_class_id(gtin: str) -> str:
    """The EPCClass of a GTIN: its class-level Digital Link on GS1's canonical domain."""
    return f"{CANONICAL_BASE}/01/{gtin}"


def product_attributes(
    *,
    name: str,
    brand_name: str | None = None,
    description: str | None = None,
    strength: str | None = None,
    net_content: str | None = None,
    image: str | None = None,
) -> tuple[tuple[str, str], ...]:
    """A product's EPCClass master data attributes (attribute id, value); empty ones left out."""
    pairs = (
        (PRODUCT_NAME, name), (BRAND_NAME, brand_name), (PRODUCT_DESCRIPTION, description),
        (STRENGTH, strength), (NET_CONTENT, net_content), (IMAGE, image),
    )  # fmt: skip
    return tuple((key, value) for key, value in pairs if value)


def gtins_named(events: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The GTINs the events name (units, lots and classes, in any list or as the parent)."""
    found: set[str] = set()

    def add(value: object) -> None:
        if not is_uri(value):
            return
        assert isinstance(value, str)
        try:
            gtin = identify(value).gtin
        except GS1SyntaxError:
            return  # a stored event was validated; a partner's own URN names no product
        if gtin is not None:
            found.add(gtin)

    for event in events:
        add(event.get("parentID"))
        for name in _EPC_LISTS:
            for item in event.get(name) or ():
                add(item)
        for name in _QUANTITY_LISTS:
            for item in event.get(name) or ():
                if isinstance(item, Mapping):
                    add(item.get("epcClass"))
    return frozenset(found)


def master_data(
    locations: Mapping[str, str],
    products: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> dict[str, Any]:
    """``epcisHeader`` as EPCIS 2.0 master data: each location's country code, and each
    product's attributes (``products``: GTIN -> :func:`product_attributes`)."""
    vocabularies = []
    if locations:
        elements = [
            {"id": location, "attributes": [{"id": COUNTRY_ATTRIBUTE, "attribute": country}]}
            for location, country in sorted(locations.items())
        ]
        vocabularies.append({"type": LOCATION_VOCABULARY, "vocabularyElementList": elements})
    if products:
        classes = [
            {
                "id": product_class_id(gtin),
                "attributes": [{"id": key, "attribute": value} for key, value in attributes],
            }
            for gtin, attributes in sorted(products.items())
        ]
        vocabularies.append({"type": PRODUCT_VOCABULARY, "vocabularyElementList": classes})
    return {"epcisMasterData": {"vocabularyList": vocabularies}}


def _context(namespaces: Mapping[str, str]) -> list[Any]:
    context: list[Any] = [EPCIS_CONTEXT]
    if namespaces:
        context.append(dict(sorted(namespaces.items())))
    return context


def epcis_document(
    events: Sequence[Mapping[str, Any]],
    *,
    created: dt.datetime,
    namespaces: Mapping[str, str] | None = None,
    locations: Mapping[str, str] | None = None,
    products: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> dict[str, Any]:
    """An EPCISDocument holding ``events``, with the master data of ``locations`` (URI ->
    country) and ``products`` (GTIN -> attributes) in its header."""
    document: dict[str, Any] = {
        "@context": _context(namespaces or {}),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(created)[0],
    }
    if locations or products:
        document["epcisHeader"] = master_data(locations or {}, products)
    document["epcisBody"] = {"eventList": [dict(e) for e in events]}
    return document


def query_document(
    events: Sequence[Mapping[str, Any]],
    *,
    created: dt.datetime,
    namespaces: Mapping[str, str] | None = None,
    query_name: str = "SimpleEventQuery",
) -> dict[str, Any]:
    """An EPCISQueryDocument: the answer to an event query."""
    return {
        "@context": _context(namespaces or {}),
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(created)[0],
        "epcisBody": {
            "queryResults": {
                "queryName": query_name,
                "resultsBody": {"eventList": [dict(e) for e in events]},
            }
        },
    }
