"""An EPCIS event as the rules see it: canonical keys, bare CBV terms, an aware event time.

:class:`TraceEvent` is built only by :func:`epcis.validation.read_event`
(from a partner's JSON, checked) or from a stored row (checked when it was
captured). The original JSON travels with it, so an export gives back what
was captured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["epc", "parent", "child", "input", "output", "class", "inclass", "outclass"]

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransformationEvent",
        "TransactionEvent",
        "AssociationEvent",
    }
)
ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})


@dataclass(frozen=True)
class Party:
    """One entry of a source or destination list: its CBV type and the party's or place's key."""

    type: str
    key: str


@dataclass(frozen=True)
class TraceEvent:
    """One event, reduced to what storage, queries and rules need."""

    type: str
    event_time: dt.datetime
    event_hash: str
    action: str | None = None
    biz_step: str | None = None
    disposition: str | None = None
    read_point: str | None = None
    biz_location: str | None = None
    epcs: tuple[str, ...] = ()
    parent: str | None = None
    children: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()  # quantityList and childQuantityList
    input_classes: tuple[str, ...] = ()
    output_classes: tuple[str, ...] = ()
    sources: tuple[Party, ...] = ()
    destinations: tuple[Party, ...] = ()
    gtins: frozenset[str] = frozenset()
    event_id: str | None = None  # the partner's eventID, if it gave one
    declared_at: dt.datetime | None = None  # errorDeclaration.declarationTime
    error_reason: str | None = None  # errorDeclaration.reason, bare when a CBV term
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    sequence: int = 0

    def mentions(self) -> list[tuple[str, Role]]:
        """Every identifier the event names, with the role it has there (for the index)."""
        found: list[tuple[str, Role]] = [(key, "epc") for key in self.epcs]
        if self.parent is not None:
            found.append((self.parent, "parent"))
        found += [(key, "child") for key in self.children]
        found += [(key, "input") for key in self.inputs]
        found += [(key, "output") for key in self.outputs]
        found += [(key, "class") for key in self.classes]
        found += [(key, "inclass") for key in self.input_classes]
        found += [(key, "outclass") for key in self.output_classes]
        return list(dict.fromkeys(found))

    @property
    def order_key(self) -> tuple[dt.datetime, int, str]:
        """Events in the order they happened; ties in the order they were captured."""
        return (self.event_time, self.sequence, self.event_hash)
