"""The hard scenario families: what real buyers and counterfeiters do that the standard
chain leaves out (docs/detection.md, "The hard scenarios", gives the reasoning).

Two families copy codes:

- ``same_city``: a local seller copies a code harvested in a shop and sells the
  copies in that same city (market stalls, social-media sales handed over in person,
  now and then an independent shop that bought from a grey supplier);
- ``shelf_photo``: a code photographed off a shelf before the unit is sold; the
  genuine unit is sold and used as usual, copies appear weeks later in another
  country, sold by post or through a distributor there.

Four are ordinary life after a sale, with no copy at all (a false alarm is the only
thing they can show):

- ``resale``: the first owner scans, sells the unit second-hand months later, and
  the second owner, in another city and often another country, scans it on arrival;
- ``family_phones``: a household checks one pack over days, some people sharing one
  phone, others on their own; at home on one Wi-Fi line, now and then on mobile data;
- ``travellers``: the owner scans at home, flies abroad days later and scans there
  (hotel Wi-Fi in that country, or roaming mobile data that leaves from home), and
  perhaps again back home;
- ``online_far``: an online shop's fulfilment centre (a trade account) scans the unit
  at receiving and dispatch; a consumer in another country scans it days later.

Every function draws from the chain's one random stream, so a seed fixes everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.clone_eval import geography as geo
from bench.clone_eval.model import TIMING_DELAY_DAYS, CloneInfo, Family, Injection, Timing

if TYPE_CHECKING:
    from bench.clone_eval.simulate import _Chain

AT_HOME_KM = 0.05  # where in the flat a pack is scanned
LOCAL_SHOP_SHARE = 0.3  # copies sold by an independent shop of the city that scans them
SHELF_COPIES_BY_POST = 0.6  # shelf-photo copies sold online by post (else a distributor)


def _hours(chain: _Chain, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(hours=chain.rng.uniform(low, high))


def _phone(chain: _Chain) -> str:
    return f"phone-{chain.rng.getrandbits(48):012x}"


def _line(chain: _Chain, kind: str) -> str:
    return f"{kind}-{chain.rng.getrandbits(48):012x}"


def _home(chain: _Chain, city: geo.Place) -> geo.Place:
    lat, lon = geo.offset(city, geo.HOME_RADIUS_KM, chain.rng)
    return geo.Place(f"a home in {city.name}", city.country, lat, lon)


def _scan_at(
    chain: _Chain, serial: str, place: geo.Place, at: dt.datetime, *, device: str | None,
    network: str | None = None, network_country: str | None = None, label: int = 0,
) -> None:  # fmt: skip
    lat, lon = geo.offset(place, AT_HOME_KM, chain.rng)
    chain.scan(serial, label, "consumer", "", at, lat=lat, lon=lon, country=place.country,
               device=device, network=network, network_country=network_country)  # fmt: skip


# After the sale of a genuine unit -----------------------------------------------------------


def resale(chain: _Chain, serial: str, shop: geo.Place, sold: dt.datetime) -> None:
    """First owner, then a second-hand buyer far away in time and often in place."""
    rng, coverage = chain.rng, chain.p.consumer_coverage
    first = _home(chain, shop)
    phone = None if rng.random() < 0.2 else _phone(chain)
    line = _line(chain, "home")
    at = sold + _hours(chain, 0.2, 72)
    if rng.random() < coverage:
        for _ in range(1 + (rng.random() < 0.3)):
            _scan_at(chain, serial, first, at, device=phone, network=line)
            at += _hours(chain, 1, 240)
    listed = sold + dt.timedelta(days=rng.uniform(30, 300))
    if rng.random() < 0.3:  # the seller checks again for the listing's photos
        _scan_at(chain, serial, first, listed, device=phone, network=line)
    cities = [c for cs in geo.RETAILERS.values() for c in cs if c != shop]
    city = rng.choice(cities if rng.random() < 0.7 else list(geo.ABROAD_NEAR))
    arrived = listed + dt.timedelta(days=rng.uniform(3, 21))  # sold, posted, delivered
    if rng.random() < coverage:
        buyer, line2 = _home(chain, city), _line(chain, "home")
        phone2 = None if rng.random() < 0.2 else _phone(chain)
        for _ in range(1 + (rng.random() < 0.4)):
            _scan_at(chain, serial, buyer, arrived, device=phone2, network=line2)
            arrived += _hours(chain, 0.1, 72)


def family_phones(chain: _Chain, serial: str, shop: geo.Place, sold: dt.datetime) -> None:
    """A household: 2-5 people, 1 to 4 phones among them, over days to weeks."""
    rng = chain.rng
    if rng.random() >= chain.p.consumer_coverage:
        return
    home = _home(chain, shop)
    wifi = _line(chain, "home")
    people = rng.randint(2, 5)
    # 15 % of phones keep no cookie (private browsing): one fresh session per view.
    count = rng.randint(1, min(4, people))
    phones = [None if rng.random() < 0.15 else _phone(chain) for _ in range(count)]
    at = sold + _hours(chain, 0.2, 24)
    for _ in range(rng.randint(2, 8)):
        on_wifi = rng.random() < 0.8
        _scan_at(chain, serial, home, at, device=rng.choice(phones),
                 network=wifi if on_wifi else None)  # fmt: skip
        at += _hours(chain, 0.5, 5 * 24)


def travellers(chain: _Chain, serial: str, shop: geo.Place, sold: dt.datetime) -> None:
    """At home, abroad days later (hotel Wi-Fi or roaming data), perhaps home again."""
    rng = chain.rng
    if rng.random() >= chain.p.consumer_coverage:
        return
    home = _home(chain, shop)
    phone, wifi = _phone(chain), _line(chain, "home")
    at = sold + _hours(chain, 0.2, 48)
    _scan_at(chain, serial, home, at, device=phone, network=wifi if rng.random() < 0.7 else None)
    destinations = [
        c for c in (*geo.ABROAD, *(cs[0] for cs in geo.RETAILERS.values()))
        if c.country != shop.country
    ]  # fmt: skip
    city = rng.choice(destinations)
    # To the airport, the flight, to the hotel: never faster than an aircraft.
    at += dt.timedelta(days=rng.uniform(1, 14)) + _hours(chain, 2, 5)
    at += geo.air_time(shop, city, rng)
    hotel = geo.Place(f"a hotel in {city.name}", city.country, city.lat, city.lon)
    hotel_wifi = _line(chain, "hotel")
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.5:
            _scan_at(chain, serial, hotel, at, device=phone, network=hotel_wifi)
        else:  # EU roaming is home-routed: the address is the home carrier's
            _scan_at(chain, serial, hotel, at, device=phone, network_country=shop.country)
        at += _hours(chain, 6, 4 * 24)
    if rng.random() < 0.5:
        at += geo.air_time(city, shop, rng) + _hours(chain, 2, 5 * 24)
        _scan_at(chain, serial, home, at, device=phone, network=wifi)


AfterSale = Callable[["_Chain", str, geo.Place, dt.datetime], None]
AFTER_SALE: dict[Family, AfterSale] = {
    "resale": resale,
    "family_phones": family_phones,
    "travellers": travellers,
}


# An online order delivered to another country ----------------------------------------------


def online_retail(
    chain: _Chain, serial: str, market: str, at: dt.datetime, lot_recall: dt.datetime | None
) -> dt.datetime:
    """Distributor, the online shop's fulfilment centre, a parcel abroad; returns the
    dispatch (or recall return) time."""
    rng = chain.rng
    hub, centre = geo.DISTRIBUTORS[market], geo.FULFILMENT_CENTRES[market]
    dist, fc = f"dist-{market.lower()}", f"fc-{market.lower()}"
    chain.pro_scan(serial, 0, "distributor", dist, hub, at)
    at += _hours(chain, 24, 10 * 24)
    chain.pro_scan(serial, 0, "distributor", dist, hub, at)
    at += geo.truck_time(hub, centre, rng) + _hours(chain, 1, 12)
    chain.pro_scan(serial, 0, "retailer", fc, centre, at)  # received into stock
    dispatch = at + _hours(chain, 12, 30 * 24)
    chain.shop_of[serial], chain.shelf_of[serial] = centre, (at, dispatch)
    if lot_recall is not None and dispatch > lot_recall:
        back = max(at, lot_recall) + _hours(chain, 12, 5 * 24)
        chain.pro_scan(serial, 0, "return", fc, centre, back)
        return back
    chain.sell(serial, 0, centre, fc, dispatch)  # picked and dispatched: the sale
    return dispatch


def parcel_abroad(chain: _Chain, serial: str, centre: geo.Place, dispatched: dt.datetime) -> None:
    """The buyer lives in another country; the parcel takes 2-7 days."""
    rng = chain.rng
    abroad = [c for cs in geo.RETAILERS.values() for c in cs if c.country != centre.country]
    city = rng.choice(abroad if rng.random() < 0.7 else list(geo.ABROAD_NEAR))
    chain.consumer_scans(serial, 0, city, dispatched + dt.timedelta(days=rng.uniform(2, 7)))


AFTER_SALE["online_far"] = parcel_abroad


# Copies -------------------------------------------------------------------------------------


def copy_hard(chain: _Chain, serial: str, market: str) -> CloneInfo:
    """The copies of one serial in the chain's copy family; returns what was copied."""
    rng, p = chain.rng, chain.p
    counts, weights = zip(*p.copy_counts, strict=True)
    copies = rng.choices(counts, weights)[0]
    shelved, sold = chain.shelf_of[serial]
    if p.family == "same_city":
        timing: Timing = rng.choice(("fast", "medium", "late"))
        info = CloneInfo("local_seller", copies, timing, market)
        harvested = shelved + (sold - shelved) * rng.random()
        _same_city_copies(chain, serial, info, harvested + _delay(chain, timing))
        return info
    # shelf_photo: photographed on the shelf before the sale, sold weeks later elsewhere.
    timing = rng.choice(("medium", "late"))
    other = rng.choice([m for m in geo.MARKETS if m != market])
    how: Injection = "online_consumer" if rng.random() < SHELF_COPIES_BY_POST else "distributor"
    info = CloneInfo(how, copies, timing, other)
    harvested = shelved + (sold - shelved) * rng.random()
    chain.copies(serial, info, harvested + _delay(chain, timing))
    return info


def _delay(chain: _Chain, timing: Timing) -> dt.timedelta:
    return dt.timedelta(days=chain.rng.uniform(*TIMING_DELAY_DAYS[timing]))


def _same_city_copies(chain: _Chain, serial: str, info: CloneInfo, start: dt.datetime) -> None:
    """Copies sold over weeks in the genuine unit's own city."""
    rng = chain.rng
    city = chain.shop_of[serial]
    lat, lon = geo.offset(city, 5.0, rng)
    corner = geo.Place(f"an independent shop in {city.name}", city.country, lat, lon)
    till = f"shop-{info.market.lower()}-indep-{city.name.lower().replace(' ', '')[:8]}"
    for label in range(1, info.copies + 1):
        at = start + _hours(chain, 0, 20 * 24)
        if rng.random() < LOCAL_SHOP_SHARE:
            chain.pro_scan(serial, label, "retailer", till, corner, at)
            at += _hours(chain, 24, 14 * 24)
            chain.pro_scan(serial, label, "sale", till, corner, at)
        chain.consumer_scans(serial, label, city, at)
