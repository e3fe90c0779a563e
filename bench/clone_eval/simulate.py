"""The supply-chain simulator: genuine units and their copies, as the verifier would see them.

Genuine unit: factory (brand) -> border post or air cargo customs (officer)
-> distributor in its market -> retailer -> sale -> perhaps a consumer's
phone, perhaps a return and resale, perhaps a lot recall. Copies of a code
enter at an import port's customs, at a distributor, or go straight to
consumers in another country by post. Every node scans only some units;
every device has its own clock error and GPS accuracy; customs handhelds
often upload hours late. ``Params.family`` swaps in one of the hard scenario
families (``families``): how copies are made and sold, or what a genuine unit's
buyers do after the sale. Pure: one seed, one result.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid

from bench.clone_eval import families
from bench.clone_eval import geography as geo
from bench.clone_eval.model import (
    GENUINE_ONLY,
    INJECTIONS,
    START,
    TIMING_DELAY_DAYS,
    CallerRole,
    CloneInfo,
    Params,
    ScanEvent,
    Simulation,
    StatusEvent,
    Timing,
)

H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
HOME_RADIUS_KM = geo.HOME_RADIUS_KM


def _account_role(caller: str) -> CallerRole:
    """Customs posts use officer accounts; distributors and shops use trade accounts."""
    return "officer" if caller.startswith("customs-") else "trade"


def _hours(rng: random.Random, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(hours=rng.uniform(low, high))


class _Chain:
    """Builds the events; one random stream so that a seed fixes everything."""

    def __init__(self, params: Params) -> None:
        self.p = params
        self.rng = random.Random(params.seed)
        self.events: list[ScanEvent | StatusEvent] = []
        self.accounts: dict[str, CallerRole] = {"brand": "brand"}
        self.clock_offset: dict[str, dt.timedelta] = {}
        self.reports_sales: dict[str, bool] = {}
        # The genuine unit's shop, and when it reached the shelf and was sold (or pulled).
        self.shop_of: dict[str, geo.Place] = {}
        self.shelf_of: dict[str, tuple[dt.datetime, dt.datetime]] = {}
        # What the buyer of a genuine unit does after the sale, for the hard families.
        self.after_sale = families.AFTER_SALE.get(params.family)

    # Scans ---------------------------------------------------------------------------------

    def _offset(self, device: str, consumer: bool) -> dt.timedelta:
        if device not in self.clock_offset:
            minutes = self.rng.gauss(0.0, 3.0 if consumer else 1.0)
            if consumer and self.rng.random() < 0.05:  # a phone whose clock is set by hand
                minutes = self.rng.choice((-1, 1)) * self.rng.uniform(5.0, 20.0)
            self.clock_offset[device] = dt.timedelta(minutes=minutes)
        return self.clock_offset[device]

    def _fix(self, lat: float, lon: float, consumer: bool) -> tuple[float, float, float]:
        """A reported position and stated accuracy around the true one."""
        r = self.rng.random()
        if consumer:
            accuracy = (
                self.rng.uniform(5, 50) if r < 0.6
                else self.rng.uniform(50, 500) if r < 0.85
                else self.rng.uniform(1_000, 5_000)  # coarse: cell tower or IP
            )  # fmt: skip
        else:
            accuracy = self.rng.uniform(5, 30) if r < 0.7 else self.rng.uniform(30, 300)
        error_km = abs(self.rng.gauss(0.0, accuracy / 2_000))
        if consumer and self.rng.random() < self.p.bad_fix_rate:
            error_km = self.rng.uniform(20.0, 150.0)  # a stale or wrong fix claiming GPS accuracy
        bearing = self.rng.uniform(0, 2 * math.pi)
        lat2 = lat + error_km * math.cos(bearing) / 111.32
        lon2 = lon + error_km * math.sin(bearing) / (111.32 * math.cos(math.radians(lat)))
        return max(-90.0, min(90.0, lat2)), (lon2 + 180.0) % 360.0 - 180.0, accuracy

    def scan(
        self, serial: str, label: int, node: str, caller: str, at: dt.datetime, *,
        lat: float, lon: float, country: str, device: str | None, offline: bool = False,
        network: str | None = None, network_country: str | None = None,
    ) -> None:  # fmt: skip
        consumer = caller == ""
        role: CallerRole = (
            "anonymous" if consumer else self.accounts.setdefault(caller, _account_role(caller))
        )
        offset = self._offset(device or f"browser-{serial}-{label}", consumer)
        latency = (
            _hours(self.rng, 1, 12) if offline else dt.timedelta(seconds=self.rng.uniform(1, 30))
        )
        fix_lat, fix_lon, accuracy = self._fix(lat, lon, consumer)
        self.events.append(
            ScanEvent(
                scan_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                serial=serial, label=label, node=node, caller=caller, role=role,
                happened_at=at, scanned_at=at + offset, received_at=at + latency,
                lat=fix_lat, lon=fix_lon, accuracy_m=round(accuracy, 1), country=country,
                device_id=device, network=network, network_country=network_country,
            )
        )  # fmt: skip

    def pro_scan(
        self, serial: str, label: int, node: str, caller: str, place: geo.Place, at: dt.datetime
    ) -> None:
        if self.rng.random() >= self.p.pro_coverage:
            return
        offline = node == "customs" and self.rng.random() < self.p.customs_offline_rate
        device = f"{caller}-hh{self.rng.randint(1, 3)}"
        self.scan(serial, label, node, caller, at, lat=place.lat, lon=place.lon,
                  country=place.country, device=device, offline=offline)  # fmt: skip

    def consumer_scans(self, serial: str, label: int, home: geo.Place, bought: dt.datetime) -> None:
        """A buyer who scans: once or a few times, from one phone (or a browser session)."""
        if self.rng.random() >= self.p.consumer_coverage:
            return
        lat, lon = geo.offset(home, HOME_RADIUS_KM, self.rng)
        device = None if self.rng.random() < 0.2 else f"phone-{self.rng.getrandbits(48):012x}"
        at = bought + _hours(self.rng, 0.2, 72)
        for _ in range(1 + (self.rng.random() < 0.3) + (self.rng.random() < 0.1)):
            self.scan(serial, label, "consumer", "", at, lat=lat, lon=lon,
                      country=home.country, device=device)  # fmt: skip
            at += _hours(self.rng, 1, 240)

    # Paths ---------------------------------------------------------------------------------

    def retail(
        self, serial: str, label: int, market: str, at: dt.datetime, lot_recall: dt.datetime | None
    ) -> dt.datetime:
        """Distributor in ``market`` from ``at`` to a sale or recall return; returns its time."""
        if label == 0 and self.p.family == "online_far":
            return families.online_retail(self, serial, market, at, lot_recall)
        hub = geo.DISTRIBUTORS[market]
        dist = f"dist-{market.lower()}"
        self.pro_scan(serial, label, "distributor", dist, hub, at)
        at += _hours(self.rng, 24, 14 * 24)
        self.pro_scan(serial, label, "distributor", dist, hub, at)
        shop = self.rng.choice(geo.RETAILERS[market])
        at += geo.truck_time(hub, shop, self.rng) + _hours(self.rng, 1, 12)
        till = f"shop-{market.lower()}-{shop.name.lower().replace(' ', '')[:8]}"
        self.pro_scan(serial, label, "retailer", till, shop, at)
        sale = at + _hours(self.rng, 24, 30 * 24)
        if label == 0:
            self.shop_of[serial], self.shelf_of[serial] = shop, (at, sale)
        if lot_recall is not None and sale > lot_recall:
            # Pulled from the shelf and sent back: the shop and the distributor scan it.
            back = max(at, lot_recall) + _hours(self.rng, 12, 5 * 24)
            self.pro_scan(serial, label, "return", till, shop, back)
            back += geo.truck_time(shop, hub, self.rng) + _hours(self.rng, 1, 24)
            self.pro_scan(serial, label, "return", dist, hub, back)
            return back
        self.sell(serial, label, shop, till, sale)
        return sale

    def sell(self, serial: str, label: int, shop: geo.Place, till: str, sale: dt.datetime) -> None:
        self.pro_scan(serial, label, "sale", till, shop, sale)
        reports = self.reports_sales.setdefault(till, self.rng.random() < self.p.sale_reporting)
        if reports:
            self.events.append(StatusEvent("sold", sale + H / 60, serial=serial))
        if label == 0 and self.after_sale is not None:
            self.after_sale(self, serial, shop, sale)
        else:
            self.consumer_scans(serial, label, shop, sale)
        if label == 0 and self.rng.random() < self.p.return_rate:
            back = sale + _hours(self.rng, 24, 9 * 24)  # within the 10-day undo window
            self.pro_scan(serial, label, "return", till, shop, back)
            if reports:
                self.events.append(StatusEvent("undo", back + H / 60, serial=serial))
            self.sell(serial, label, shop, till, back + _hours(self.rng, 24, 20 * 24))

    def genuine(
        self, serial: str, made: dt.datetime, market: str, recall: dt.datetime | None
    ) -> dt.datetime:
        """One genuine unit's life; returns when its code could be photographed in a shop."""
        f = geo.FACTORY
        self.pro_scan(serial, 0, "factory", "brand", f, made + _hours(self.rng, 0.5, 4))
        at = made + _hours(self.rng, 6, 48)
        if market in geo.AIR_FREIGHT_MARKETS:
            at += geo.truck_time(f, geo.FRANKFURT_AIRPORT, self.rng)
            at += geo.air_time(geo.FRANKFURT_AIRPORT, geo.BORDER_POSTS[market], self.rng)
        elif market in geo.BORDER_POSTS:
            at += geo.truck_time(f, geo.BORDER_POSTS[market], self.rng)
        if market in geo.BORDER_POSTS:
            post = geo.BORDER_POSTS[market]
            self.pro_scan(serial, 0, "customs", f"customs-{market.lower()}", post, at)
            at += _hours(self.rng, 0.5, 3) + geo.truck_time(
                post, geo.DISTRIBUTORS[market], self.rng
            )
        else:
            at += geo.truck_time(f, geo.DISTRIBUTORS[market], self.rng)
        on_shelf = at + _hours(self.rng, 48, 16 * 24)
        self.retail(serial, 0, market, at, recall)
        return on_shelf

    def copies(self, serial: str, info: CloneInfo, start: dt.datetime) -> None:
        market = info.market
        if info.injection == "online_consumer":
            for label in range(1, info.copies + 1):
                home = self.rng.choice(geo.RETAILERS[market])
                self.consumer_scans(serial, label, home, start + _hours(self.rng, 48, 14 * 24))
            return
        at = start
        if info.injection == "import_customs":
            port = self.rng.choice(geo.IMPORT_PORTS)
            for label in range(1, info.copies + 1):  # one container, opened and sampled
                opened = start + _hours(self.rng, 0, 6)
                post = f"customs-{port.country.lower()}-port"
                self.pro_scan(serial, label, "customs", post, port, opened)
            at = (
                start
                + _hours(self.rng, 24, 72)
                + geo.truck_time(port, geo.DISTRIBUTORS[market], self.rng)
            )
        for label in range(1, info.copies + 1):
            self.retail(serial, label, market, at + _hours(self.rng, 0, 6), None)


def _clone_info(rng: random.Random, params: Params, genuine_market: str) -> CloneInfo:
    counts, weights = zip(*params.copy_counts, strict=True)
    injection = rng.choice(INJECTIONS)
    others = [m for m in geo.MARKETS if m != genuine_market]
    market = (
        rng.choice(others)
        if injection == "online_consumer" or rng.random() < 0.5
        else genuine_market
    )
    timing: Timing = rng.choice(("fast", "medium", "late"))
    return CloneInfo(injection, rng.choices(counts, weights)[0], timing, market)


def simulate(params: Params) -> Simulation:
    """The whole chain for ``params``; events sorted in the order the service receives them."""
    chain = _Chain(params)
    rng = chain.rng
    width = len(str(params.serials))
    lots: dict[str, list[str]] = {}
    clones: dict[str, CloneInfo] = {}
    weeks = max(1, math.ceil(params.production_days / 7))
    recalled = set(rng.sample(range(weeks), min(params.recalled_lots, weeks)))
    recall_at = {w: START + dt.timedelta(days=7 * w + 21) for w in recalled}
    for lot_week in sorted(recall_at):
        chain.events.append(
            StatusEvent("lot_recall", recall_at[lot_week], lot=f"L{lot_week + 1:02d}")
        )
    for index in range(params.serials):
        serial = f"S{params.seed:03d}{index:0{width}d}"
        made = START + dt.timedelta(days=rng.uniform(0, params.production_days))
        week = min(weeks - 1, int((made - START) / dt.timedelta(days=7)))
        lots.setdefault(f"L{week + 1:02d}", []).append(serial)
        market = rng.choices(geo.MARKETS, (0.35, 0.25, 0.2, 0.2))[0]
        on_shelf = chain.genuine(serial, made, market, recall_at.get(week))
        if params.family in GENUINE_ONLY:
            continue
        if params.family != "standard":
            if rng.random() < params.clone_fraction:
                clones[serial] = families.copy_hard(chain, serial, market)
            continue
        if rng.random() < params.clone_fraction:
            info = _clone_info(rng, params, market)
            clones[serial] = info
            # Most codes are photographed in a shop; some leak from the factory's print files.
            harvested = made if rng.random() < 0.2 else on_shelf
            delay = dt.timedelta(days=rng.uniform(*TIMING_DELAY_DAYS[info.timing]))
            chain.copies(serial, info, harvested + delay)
    order = {id(e): i for i, e in enumerate(chain.events)}
    chain.events.sort(key=lambda e: (e.received_at, order[id(e)]))
    return Simulation(params, lots, clones, chain.events, chain.accounts)
