"""Phone addresses for the simulated page views, picked from geoip2fast's own data.

A page view is placed by the service from its client address alone, so the
address a simulated phone calls from must be one the service's database puts
in the phone's country, on a network a consumer line really uses. This module
reads the networks of each country's consumer carriers from geoip2fast's ASN
table (the same database file the service loads), picks one network weighted
by its size (a carrier's customers are spread over its address space) and an
address inside it, and keeps the address only if ``lookup()`` puts it in the
intended country: an ASN's networks can be registered in several countries.

Every choice is a hash of the line's key, so a simulation sends the same
addresses every time; nothing here is random and nothing is fetched.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

from authn.errors import InvalidInput

# The consumer fixed and mobile carriers of each country the simulator sends phones
# from, spelled as geoip2fast's ASN table spells them. Business, hosting and transit
# networks are left out: a person checking a pack at home or abroad is on one of these.
CARRIERS: dict[str, tuple[str, ...]] = {
    "DE": ("Deutsche Telekom AG", "Vodafone GmbH", "Telefonica Germany",
           "1&1 Versatel Deutschland GmbH"),
    "FR": ("Orange", "Societe Francaise Du Radiotelephone - SFR SA", "Bouygues Telecom SA",
           "Free SAS"),
    "PL": ("Orange Polska Spolka Akcyjna", "Polkomtel Sp. z o.o.", "T-Mobile Polska S.A.",
           "Netia SA"),
    "ES": ("Telefonica De Espana S.a.u.", "Vodafone Spain", "Orange Espagne SA",
           "XFERA Moviles S.A."),
    "IT": ("Telecom Italia", "Vodafone Italia S.p.A.", "Wind Tre S.p.A."),
    "PT": ("Vodafone Portugal - Communicacoes Pessoais S.A.", "Nos Comunicacoes, S.A."),
    "NL": ("KPN B.V.", "Vodafone Libertel B.V."),
    "AT": ("T-Mobile Austria GmbH", "Hutchison Drei Austria GmbH"),
    "BE": ("Proximus NV", "Telenet BV", "Orange Belgium SA"),
    "GB": ("British Telecommunications PLC", "EE Limited", "Sky UK Limited",
           "Telefonica O2 UK"),
    "US": ("COMCAST-7922", "T-MOBILE-AS21928"),
}  # fmt: skip
TRIES = 64  # addresses tried per line before giving up (a few are ever needed)


@dataclass(frozen=True)
class Networks:
    """A country's carrier networks: first addresses, sizes and cumulative sizes."""

    firsts: tuple[int, ...]
    sizes: tuple[int, ...]
    cumulative: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0


@functools.cache
def _database() -> Any:
    from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]

    # The file the service loads (mobile_api/netplace.py): country and ASN together.
    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn.dat.gz", verbose=False)


def _asn_table() -> tuple[list[str], list[list[int]], list[list[int]], list[list[int]]]:
    """geoip2fast's ASN table as it loaded it: names, and per chunk the networks' first
    addresses, name ids and prefix lengths."""
    _database()
    import geoip2fast.geoip2fast as tables  # type: ignore[import-untyped]

    return (
        tables.mainListNamesASN,
        tables.mainListFirstIPASN,
        tables.mainListIDASN,
        tables.mainListNetlengthASN,
    )


@functools.cache
def networks(country: str) -> Networks:
    """The IPv4 networks of ``country``'s carriers whose first address looks up there."""
    if country not in CARRIERS:
        raise InvalidInput(f"no consumer carriers listed for {country!r}")
    names, firsts, ids, lengths = _asn_table()
    wanted = {i for i, name in enumerate(names) if name in CARRIERS[country]}
    found: list[tuple[int, int]] = []
    for chunk_firsts, chunk_ids, chunk_lengths in zip(firsts, ids, lengths, strict=True):
        for first, name_id, length in zip(chunk_firsts, chunk_ids, chunk_lengths, strict=True):
            if name_id in wanted and first < 2**32 and 8 <= length <= 30:
                found.append((first, 2 ** (32 - length)))
    found.sort()
    lookup = _database().lookup
    kept = [
        (first, size)
        for first, size in found
        if lookup(str(ipaddress.IPv4Address(first))).country_code == country
    ]
    if not kept:
        raise InvalidInput(f"geoip2fast lists no carrier network in {country!r}")
    cumulative: list[int] = []
    running = 0
    for _, size in kept:
        running += size
        cumulative.append(running)
    return Networks(tuple(f for f, _ in kept), tuple(s for _, s in kept), tuple(cumulative))


def _draw(key: str, salt: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{key}".encode()).digest()[:8], "big")


def address_for(key: str, country: str) -> str:
    """A stable public IPv4 address for the line ``key`` in ``country``: on one of its
    carriers' networks, chosen by size, and one that ``lookup()`` places in ``country``."""
    table = networks(country)
    lookup = _database().lookup
    for salt in range(TRIES):
        draw = _draw(key, salt)
        index = bisect.bisect_right(table.cumulative, draw % table.total)
        first, size = table.firsts[index], table.sizes[index]
        # Not the network's own address nor its broadcast address.
        address = str(ipaddress.IPv4Address(first + 1 + (draw >> 20) % max(1, size - 2)))
        if lookup(address).country_code == country:
            return address
    raise InvalidInput(f"no address of {country!r} found for {key!r} in {TRIES} tries")


def country_of(address: str) -> str:
    """What geoip2fast says of ``address`` (the service's own lookup)."""
    return str(_database().lookup(address).country_code)


def network_of(address: str) -> str:
    """The ASN network geoip2fast puts ``address`` in ('' when none)."""
    return str(getattr(_database().lookup(address), "asn_cidr", "") or "")
