"""Where a page view comes from, coarsely: its country and its network, from the
client address alone, with the offline database geoip2fast ships in its package.

Loaded once per process on first use and never a network call. A country is all an
address honestly says (docs/detection.md), so no point or radius is invented here.
The network (the address's ASN block, else its /24 or /48) stands in for the device
of a view that brings no cookie of its own: one network cannot pose as many phones.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

from detection.common import NETWORK_DEVICE_PREFIX, NETWORK_SEPARATOR


@dataclass(frozen=True)
class NetPlace:
    country: str | None
    network: str


@functools.cache
def _database() -> Any:
    from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]

    # The ASN file carries the country data too; loading it once costs about a second.
    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn.dat.gz", verbose=False)


def _prefix(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    bits = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def locate(ip: str) -> NetPlace:
    """The country (None for private or unknown addresses) and network of ``ip``."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        # A peer that is no address (an in-process test client): its own network.
        return NetPlace(None, "peer:" + ip)
    if address.is_private or address.is_loopback:
        return NetPlace(None, _prefix(address))
    found = _database().lookup(str(address))
    country = getattr(found, "country_code", "") or ""
    asn_cidr = getattr(found, "asn_cidr", "") or ""
    network = asn_cidr if "/" in asn_cidr else _prefix(address)
    return NetPlace(country if len(country) == 2 and country.isalpha() else None, network)


def network_device_id(place: NetPlace, browser: str | None) -> str:
    """The device id of an anonymous view: its network, then its browser session if any.
    Device-count rules count the network; a shared location is matched on the browser."""
    digest = hashlib.sha256(place.network.encode("utf-8")).hexdigest()[:16]
    return NETWORK_DEVICE_PREFIX + digest + NETWORK_SEPARATOR + (browser or "none")
