"""Server-rendered SVG: the journey map, a map of scan places, and bar charts.

Every picture has a ``viewBox`` (it scales to a phone and to paper), a
``<title>`` and text labels (colour is never the only signal: offending legs
are also dashed and labelled), and no external reference of any kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from console.journey import Journey, Leg, position, speed_words
from console.world import OUTLINES

WIDTH = 800.0
HEIGHT = 480.0
ASPECT = WIDTH / HEIGHT
BAR_WIDTH = 420.0
MIN_LABELLED_PX = 160.0
RED = "#b3261e"
GREY = "#5f6368"
GREEN = "#1b7f3b"


@dataclass(frozen=True)
class Projection:
    """Equirectangular around the middle latitude of a box of (lon, lat) degrees."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def around(cls, points: Iterable[tuple[float, float]], *, margin: float = 0.25) -> Projection:
        pts = list(points) or [(0.0, 20.0)]
        lons, lats = [p[0] for p in pts], [p[1] for p in pts]
        lon_span = max(max(lons) - min(lons), 8.0) * (1 + 2 * margin)
        lat_span = max(max(lats) - min(lats), 5.0) * (1 + 2 * margin)
        mid_lon, mid_lat = (max(lons) + min(lons)) / 2, (max(lats) + min(lats)) / 2
        squash = math.cos(math.radians(max(-70.0, min(70.0, mid_lat))))
        # Widen one span so that the box has the picture's aspect ratio.
        if lon_span * squash / lat_span < ASPECT:
            lon_span = ASPECT * lat_span / squash
        else:
            lat_span = lon_span * squash / ASPECT
        return cls(
            mid_lon - lon_span / 2, mid_lat - lat_span / 2, mid_lon + lon_span / 2,
            mid_lat + lat_span / 2,
        )  # fmt: skip

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x = (lon - self.west) / (self.east - self.west) * WIDTH
        y = (self.north - lat) / (self.north - self.south) * HEIGHT
        return round(x, 1), round(y, 1)


def _graticule_step(span: float) -> int:
    for step in (1, 2, 5, 10, 20, 30):
        if span / step <= 8:
            return step
    return 60


def base_map(projection: Projection) -> str:
    """Land outline and a labelled graticule."""
    parts = ['<rect class="sea" width="800" height="480" fill="#eaf2f8"/>']
    for polygon in OUTLINES:
        points = " ".join(f"{x},{y}" for x, y in (projection.xy(lon, lat) for lon, lat in polygon))
        parts.append(f'<polygon class="land" points="{points}" fill="#f4f1e8" stroke="#b9b2a0"/>')
    step = _graticule_step(projection.east - projection.west)
    lon = math.ceil(projection.west / step) * step
    while lon < projection.east:
        x, _ = projection.xy(lon, 0)
        parts.append(
            f'<line class="grid" x1="{x}" y1="0" x2="{x}" y2="480" stroke="#c9d6e0" '
            f'stroke-width="0.6"/><text x="{x + 2}" y="474" class="grid-label">{lon}°</text>'
        )
        lon += step
    lat = math.ceil(projection.south / step) * step
    while lat < projection.north:
        _, y = projection.xy(0, lat)
        parts.append(
            f'<line class="grid" x1="0" y1="{y}" x2="800" y2="{y}" stroke="#c9d6e0" '
            f'stroke-width="0.6"/><text x="2" y="{y - 2}" class="grid-label">{lat}°</text>'
        )
        lat += step
    return "".join(parts)


def _svg(title: str, body: str, *, ident: str, height: float = HEIGHT, width: float = WIDTH) -> str:
    return (
        f'<svg id="{escape(ident)}" class="chart" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-labelledby="{escape(ident)}-title" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet"><title id="{escape(ident)}-title">{escape(title)}'
        f"</title>{body}</svg>"
    )


def journey_svg(journey: Journey) -> str:
    """The scans as numbered points, legs between them, offending legs red, dashed, labelled."""
    projection = Projection.around(
        (lon, lat) for lat, lon in map(position, (s.scan for s in journey.stops))
    )
    parts = [base_map(projection)]
    for leg in sorted(journey.legs, key=lambda leg: leg.offending):  # offending legs on top
        parts.append(_leg_svg(projection, leg))
    last_ok = journey.last_legitimate.scan_id if journey.last_legitimate else None
    for stop in journey.stops:
        scan = stop.scan
        lat, lon = position(scan)
        x, y = projection.xy(lon, lat)
        classes = "stop"
        if last_ok == scan.scan_id:
            classes += " last-legitimate"
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="15" fill="none" stroke="{GREEN}" stroke-width="3"/>'
                f'<text x="{x - 16}" y="{y - 18}" text-anchor="end" class="note" fill="{GREEN}">'
                "last seen legitimately</text>"
            )
        bad = (
            journey.first_offending is not None and journey.first_offending.scan_id == scan.scan_id
        )
        fill = RED if bad else "#1f3b57"
        parts.append(
            f'<g class="{classes}" data-scan-id="{escape(scan.scan_id)}">'
            f'<circle cx="{x}" cy="{y}" r="10" fill="{fill}" stroke="#fff" stroke-width="2"/>'
            f'<text x="{x}" y="{y + 4}" text-anchor="middle" class="stop-number" fill="#fff">'
            f"{stop.number}</text>"
            f'<text x="{x + 13}" y="{y - 10}" class="stop-label">{escape(scan.country or "")}'
            "</text></g>"
        )
    return _svg("The code's journey: its scans in time order", "".join(parts), ident="journey")


def _leg_svg(projection: Projection, leg: Leg) -> str:
    a, b = leg.start.scan, leg.end.scan
    (lat1, lon1), (lat2, lon2) = position(a), position(b)
    x1, y1 = projection.xy(lon1, lat1)
    x2, y2 = projection.xy(lon2, lat2)
    mx, my = round((x1 + x2) / 2, 1), round((y1 + y2) / 2, 1)
    ids = f'data-from="{escape(a.scan_id)}" data-to="{escape(b.scan_id)}"'
    if leg.offending:
        words = escape(" + ".join(leg.reasons) + ": " + speed_words(leg))
        return (
            f'<g class="leg offending" {ids}><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" '
            f'class="leg-line offending" stroke="{RED}" stroke-width="4" stroke-dasharray="12 7"/>'
            f'<text x="{mx}" y="{my - 8}" text-anchor="middle" class="leg-label offending" '
            f'fill="{RED}">{words}</text></g>'
        )
    # A short leg has no room for words on the map; the legs table under it has them.
    label = (
        f'<text x="{mx}" y="{my + 16}" text-anchor="middle" class="leg-label">'
        f"{escape(speed_words(leg))}</text>"
        if math.hypot(x2 - x1, y2 - y1) >= MIN_LABELLED_PX
        else ""
    )
    return (
        f'<g class="leg" {ids}><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" class="leg-line" '
        f'stroke="{GREY}" stroke-width="2"/>{label}</g>'
    )


def places_svg(places: Sequence[tuple[float, float, int]], *, title: str) -> str:
    """Scan places as circles whose area grows with the number of scans there."""
    projection = Projection.around((lon, lat) for lat, lon, _ in places)
    parts = [base_map(projection)]
    biggest = max((count for _, _, count in places), default=1)
    for lat, lon, count in places:
        x, y = projection.xy(lon, lat)
        radius = round(4 + 16 * math.sqrt(count / biggest), 1)
        parts.append(
            f'<circle class="place" cx="{x}" cy="{y}" r="{radius}" fill="#1f3b57" '
            f'fill-opacity="0.55" stroke="#1f3b57"><title>{count} scans near '
            f"{lat:.0f}°, {lon:.0f}°</title></circle>"
            f'<text x="{x + radius + 2}" y="{y + 4}" class="stop-label">{count}</text>'
        )
    return _svg(title, "".join(parts), ident="places")


def bar_chart(title: str, items: Sequence[tuple[str, int]], *, ident: str) -> str:
    """Horizontal bars, one row per item, the value written at the end of each bar.

    Narrower than the maps, so that its text stays legible when a phone scales it down.
    """
    row, label_w, top, width = 26.0, 90.0, 8.0, BAR_WIDTH
    height = top * 2 + row * max(1, len(items))
    biggest = max((value for _, value in items), default=0) or 1
    parts: list[str] = []
    if not items:
        parts.append('<text x="10" y="28" class="empty">Nothing in this period.</text>')
    for index, (label, value) in enumerate(items):
        y = top + index * row
        length = round((width - label_w - 50) * value / biggest, 1)
        parts.append(
            f'<g class="bar"><text x="{label_w - 8}" y="{y + 18}" text-anchor="end" '
            f'class="bar-label">{escape(label)}</text><rect x="{label_w}" y="{y + 4}" '
            f'width="{length}" height="{row - 8}" fill="#1f3b57"/>'
            f'<text x="{label_w + length + 6}" y="{y + 18}" class="bar-value">{value:,}</text></g>'
        )
    return _svg(title, "".join(parts), ident=ident, height=height, width=width)
