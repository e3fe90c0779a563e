"""The GS1 Core Business Vocabulary (CBV 2.0) terms sealtrace understands, and how it uses them.

EPCIS 2.0 JSON writes a standard term bare (``"bizStep": "shipping"``); the
same term may come as the web URI (``https://ref.gs1.org/cbv/BizStep-shipping``)
or as the CBV 1.x URN (``urn:epcglobal:cbv:bizstep:shipping``). Every form is
reduced to the bare term for storage and rules; a partner's own URI that is
no CBV term is kept as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CBV_WEB = "https://ref.gs1.org/cbv/"

BIZ_STEPS: frozenset[str] = frozenset(
    [
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    ]
)

DISPOSITIONS: frozenset[str] = frozenset(
    [
        "active",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    ]
)

SOURCE_DEST_TYPES: frozenset[str] = frozenset({"owning_party", "possessing_party", "location"})

BIZ_TRANSACTION_TYPES: frozenset[str] = frozenset(
    [
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    ]
)

ERROR_REASONS: frozenset[str] = frozenset({"did_not_occur", "incorrect_data"})

# Field -> (prefix of the web URI, the CBV 1.x URN prefix, known bare terms).
_VOCABULARIES: dict[str, tuple[str, str, frozenset[str]]] = {
    "bizStep": ("BizStep-", "urn:epcglobal:cbv:bizstep:", BIZ_STEPS),
    "disposition": ("Disp-", "urn:epcglobal:cbv:disp:", DISPOSITIONS),
    "sourceDestType": ("SDT-", "urn:epcglobal:cbv:sdt:", SOURCE_DEST_TYPES),
    "bizTransactionType": ("BTT-", "urn:epcglobal:cbv:btt:", BIZ_TRANSACTION_TYPES),
    "errorReason": ("ER-", "urn:epcglobal:cbv:er:", ERROR_REASONS),
}


def bare_term(vocabulary: str, value: str) -> str | None:
    """The bare CBV term for any of its three spellings; None when ``value`` is no CBV term."""
    web, urn, known = _VOCABULARIES[vocabulary]
    for prefix in (CBV_WEB + web, urn):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    return value if value in known else None


def is_cbv_form(vocabulary: str, value: str) -> bool:
    """True when ``value`` is written in a CBV namespace (web URI or 1.x URN), known term or not."""
    web, urn, _ = _VOCABULARIES[vocabulary]
    return value.startswith((CBV_WEB + web, urn))


# Where the CBV terms sit in an event: (field, vocabulary) at the top, and the lists of
# objects whose "type" (or the error declaration's "reason") holds one.
_TOP_TERMS = (("bizStep", "bizStep"), ("disposition", "disposition"))
_LIST_TYPES = (
    ("sourceList", "sourceDestType"),
    ("destinationList", "sourceDestType"),
    ("bizTransactionList", "bizTransactionType"),
)


def _bare(vocabulary: str, value: object) -> object:
    if isinstance(value, str):
        return bare_term(vocabulary, value) or value
    return value


def normalise_terms(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` with every CBV term bare, as EPCIS 2.0 JSON writes it.

    CBV 1.x URNs (``urn:epcglobal:cbv:bizstep:shipping``) and CBV 2.0 web URIs
    (``https://ref.gs1.org/cbv/BizStep-shipping``) become ``shipping``; the JSON-LD
    context maps the bare term to the CBV 2.0 web vocabulary, and the EPCIS 2.0
    schema accepts no other spelling of a standard term. The event hash is the
    same before and after (the hash reads every spelling as the web URI).
    """
    out = dict(event)
    for name, vocabulary in _TOP_TERMS:
        if name in out:
            out[name] = _bare(vocabulary, out[name])
    for name, vocabulary in _LIST_TYPES:
        items = out.get(name)
        if isinstance(items, list):
            out[name] = [
                {**item, "type": _bare(vocabulary, item.get("type"))}
                if isinstance(item, Mapping) and "type" in item
                else item
                for item in items
            ]
    persistent = out.get("persistentDisposition")
    if isinstance(persistent, Mapping):
        out["persistentDisposition"] = {
            key: [_bare("disposition", v) for v in value] if isinstance(value, list) else value
            for key, value in persistent.items()
        }
    declaration = out.get("errorDeclaration")
    if isinstance(declaration, Mapping) and "reason" in declaration:
        out["errorDeclaration"] = {
            **declaration,
            "reason": _bare("errorReason", declaration["reason"]),
        }
    return out


def web_uri(vocabulary: str, term: str) -> str:
    """The CBV 2.0 web URI of a bare term."""
    return CBV_WEB + _VOCABULARIES[vocabulary][0] + term


@dataclass(frozen=True)
class StatusEvent:
    """What an EPCIS event says about a status sealtrace sets on a code."""

    biz_step: str
    disposition: str
    action: str = "OBSERVE"


# The status names of the verifier (sold, destroyed, ...) mapped onto CBV 2.0.
# "exported" has no CBV step of its own: the unit leaves the market it was made
# for, which CBV writes as shipping with the unit no longer sellable here.
# "locked" is sealtrace's own hold: CBV's holding / non_sellable_other.
STATUS_EVENTS: dict[str, StatusEvent] = {
    "active": StatusEvent("commissioning", "active", "ADD"),
    "sold": StatusEvent("retail_selling", "retail_sold"),
    "dispensed": StatusEvent("dispensing", "dispensed"),
    "destroyed": StatusEvent("destroying", "destroyed", "DELETE"),
    "stolen": StatusEvent("other", "stolen"),
    "recalled": StatusEvent("holding", "recalled"),
    "exported": StatusEvent("shipping", "in_transit"),
    "sample": StatusEvent("sampling", "non_sellable_other"),
    "locked": StatusEvent("holding", "non_sellable_other"),
    "decommissioned": StatusEvent("decommissioning", "inactive", "DELETE"),
}

# After one of these, a unit is out of the supply chain: it may travel with
# its buyer, so route rules stop applying.
END_OF_CHAIN_STEPS: frozenset[str] = frozenset(
    {"retail_selling", "dispensing", "destroying", "decommissioning"}
)
END_OF_CHAIN_DISPOSITIONS: frozenset[str] = frozenset(
    {"retail_sold", "dispensed", "partially_dispensed", "destroyed", "disposed", "inactive"}
)
