"""The simulated map: real places with their coordinates, and how long goods take between them.

Road distance is the great-circle distance times a detour factor; trucks
average 60-80 km/h including stops, breaks and traffic; air freight adds
hours of handling at both ends to a flight at cruise speed.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from detection import haversine_km

ROAD_DETOUR = 1.25  # road km per great-circle km on European motorways
TRUCK_KMH = (60.0, 80.0)  # average speed including stops
FLIGHT_KMH = 800.0  # block speed of a freighter, taxi and climb included
AIR_HANDLING_H = (4.0, 10.0)  # build-up, loading, unloading, release at both ends
HOME_RADIUS_KM = 25.0  # a buyer's home: within this of the city where they shop


@dataclass(frozen=True)
class Place:
    name: str
    country: str
    lat: float
    lon: float


def _p(name: str, country: str, lat: float, lon: float) -> Place:
    return Place(name, country, lat, lon)


FACTORY = _p("Frankfurt am Main", "DE", 50.1109, 8.6821)
FRANKFURT_AIRPORT = _p("Frankfurt Airport", "DE", 50.0379, 8.5622)

# One distributor per market, the border post (or airport) its goods clear, and how they travel.
DISTRIBUTORS: dict[str, Place] = {
    "DE": _p("Cologne", "DE", 50.9375, 6.9603),
    "FR": _p("Paris", "FR", 48.8566, 2.3522),
    "PL": _p("Warsaw", "PL", 52.2297, 21.0122),
    "ES": _p("Madrid", "ES", 40.4168, -3.7038),
}
BORDER_POSTS: dict[str, Place] = {
    "FR": _p("Kehl/Strasbourg crossing", "FR", 48.5734, 7.7521),
    "PL": _p("Świecko/Frankfurt (Oder) crossing", "PL", 52.3470, 14.5506),
    "ES": _p("Madrid-Barajas air cargo", "ES", 40.4936, -3.5668),
}
AIR_FREIGHT_MARKETS = frozenset({"ES"})
RETAILERS: dict[str, tuple[Place, ...]] = {
    "DE": (
        _p("Berlin", "DE", 52.5200, 13.4050),
        _p("Munich", "DE", 48.1351, 11.5820),
        _p("Hamburg", "DE", 53.5511, 9.9937),
    ),
    "FR": (
        _p("Lyon", "FR", 45.7640, 4.8357),
        _p("Marseille", "FR", 43.2965, 5.3698),
        _p("Lille", "FR", 50.6292, 3.0573),
    ),
    "PL": (
        _p("Kraków", "PL", 50.0647, 19.9450),
        _p("Gdańsk", "PL", 54.3520, 18.6466),
        _p("Poznań", "PL", 52.4064, 16.9252),
    ),
    "ES": (
        _p("Barcelona", "ES", 41.3874, 2.1686),
        _p("Seville", "ES", 37.3891, -5.9845),
        _p("Valencia", "ES", 39.4699, -0.3763),
    ),
}
MARKETS: tuple[str, ...] = tuple(DISTRIBUTORS)
# Where a counterfeiter's sea container is opened by customs.
IMPORT_PORTS: tuple[Place, ...] = (
    _p("Port of Antwerp", "BE", 51.2637, 4.3998),
    _p("Port of Gdańsk", "PL", 54.4017, 18.6714),
    _p("Port of Valencia", "ES", 39.4444, -0.3167),
)

# Where the simulated online shops pick and dispatch orders: one fulfilment centre per market.
FULFILMENT_CENTRES: dict[str, Place] = {
    "DE": _p("Leipzig", "DE", 51.3397, 12.3731),
    "FR": _p("Brétigny-sur-Orge", "FR", 48.6110, 2.3056),
    "PL": _p("Sady near Poznań", "PL", 52.4400, 16.7800),
    "ES": _p("San Fernando de Henares", "ES", 40.4260, -3.5300),
}
# Cities of countries where none of the brand's shops are: holidays, business trips,
# parcels ordered from abroad. Each has consumer carriers in ``addresses.CARRIERS``.
ABROAD: tuple[Place, ...] = (
    _p("Rome", "IT", 41.9028, 12.4964),
    _p("Lisbon", "PT", 38.7223, -9.1393),
    _p("Amsterdam", "NL", 52.3676, 4.9041),
    _p("Vienna", "AT", 48.2082, 16.3738),
    _p("Brussels", "BE", 50.8503, 4.3517),
    _p("London", "GB", 51.5072, -0.1276),
    _p("New York", "US", 40.7128, -74.0060),
)
ABROAD_NEAR = ABROAD[:5]  # within the EU: where cross-border parcels go


def distance_km(a: Place, b: Place) -> float:
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


def truck_time(a: Place, b: Place, rng: random.Random) -> dt.timedelta:
    """Door to door by road, at a random average speed of 60-80 km/h."""
    hours = distance_km(a, b) * ROAD_DETOUR / rng.uniform(*TRUCK_KMH)
    return dt.timedelta(hours=hours)


def air_time(a: Place, b: Place, rng: random.Random) -> dt.timedelta:
    """Airport to airport: flight at block speed plus handling at both ends."""
    hours = distance_km(a, b) / FLIGHT_KMH + rng.uniform(*AIR_HANDLING_H)
    return dt.timedelta(hours=hours)


def offset(place: Place, radius_km: float, rng: random.Random) -> tuple[float, float]:
    """A point uniformly spread within ``radius_km`` of ``place`` (a home in its city)."""
    r = radius_km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = r * math.cos(bearing) / 111.32
    dlon = r * math.sin(bearing) / (111.32 * math.cos(math.radians(place.lat)))
    return place.lat + dlat, place.lon + dlon
