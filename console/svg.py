"""Server-rendered SVG: the journey map, a map of scan places, and bar charts.

Every picture has a ``viewBox`` (it scales to a phone and to paper), a
``<title>`` and text labels (colour is never the only signal: offending legs
are also dashed, and explained in the list beside the map under the same
numbers), and no external reference of any kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from console.journey import Journey, Leg, Stop, position, speed_words
from console.world import OUTLINES

WIDTH = 800.0
HEIGHT = 480.0
ASPECT = WIDTH / HEIGHT
BAR_WIDTH = 420.0
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


CLUSTER_GAP_PX = 6.0
CHAR_PX = 7.0  # an 11px bold digit, a little generous, so that estimated boxes never undercount


@dataclass(frozen=True)
class Marker:
    """One drawn point: the stops that lie too close together to be told apart at this scale."""

    x: float
    y: float
    stops: tuple[Stop, ...]

    @property
    def label(self) -> str:
        return number_ranges([s.number for s in self.stops])

    @property
    def half_width(self) -> float:
        return max(10.0, CHAR_PX * len(self.label) / 2 + 5)


def number_ranges(numbers: Sequence[int]) -> str:
    """[1, 2, 3, 7] -> '1–3, 7'; long lists keep their first and last run: '1–3…198–200'."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    words = [f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs]
    return ", ".join(words) if len(words) <= 3 else f"{words[0]}…{words[-1]}"


def _overlap(a: Marker, b: Marker) -> bool:
    return (
        abs(a.x - b.x) < a.half_width + b.half_width + CLUSTER_GAP_PX
        and abs(a.y - b.y) < 20 + CLUSTER_GAP_PX
    )


def cluster(projection: Projection, stops: Sequence[Stop]) -> list[Marker]:
    """Merge markers whose labels would touch until none do (their boxes are estimated)."""
    markers = []
    for stop in stops:
        lat, lon = position(stop.scan)
        x, y = projection.xy(lon, lat)
        markers.append(Marker(x, y, (stop,)))
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(markers):
            for b in markers[i + 1 :]:
                if _overlap(a, b):
                    n = len(a.stops) + len(b.stops)
                    x = round((a.x * len(a.stops) + b.x * len(b.stops)) / n, 1)
                    y = round((a.y * len(a.stops) + b.y * len(b.stops)) / n, 1)
                    markers.remove(a)
                    markers.remove(b)
                    markers.append(Marker(x, y, a.stops + b.stops))
                    merged = True
                    break
            if merged:
                break
    # Keep a marker's box inside the picture.
    return [
        Marker(
            min(max(m.x, m.half_width + 1), WIDTH - m.half_width - 1),
            min(max(m.y, 12.0), HEIGHT - 12.0),
            tuple(sorted(m.stops, key=lambda s: s.number)),
        )
        for m in markers
    ]


def path_legs(journey: Journey) -> list[Leg]:
    """The one path through the stops in time order; other offending pairs are listed, not drawn."""
    return [leg for leg in journey.legs if leg.end.number == leg.start.number + 1]


def journey_svg(journey: Journey) -> str:
    """Numbered markers on one path in time order; offending legs red and dashed, without words.

    The explanations are in the list beside the picture, keyed by the same numbers, so that
    nothing written on the map can overlap or run off its edges.
    """
    projection = Projection.around(
        (lon, lat) for lat, lon in map(position, (s.scan for s in journey.stops))
    )
    markers = cluster(projection, journey.stops)
    where = {s.scan.scan_id: (m.x, m.y) for m in markers for s in m.stops}
    parts = [base_map(projection)]
    for leg in sorted(path_legs(journey), key=lambda leg: leg.offending):  # offending on top
        parts.append(_leg_svg(where, leg))
    last_ok = journey.last_legitimate.scan_id if journey.last_legitimate else None
    bad_id = journey.first_offending.scan_id if journey.first_offending else None
    for marker in markers:
        ids = [s.scan.scan_id for s in marker.stops]
        classes = "stop" + (" last-legitimate" if last_ok in ids else "")
        classes += " cluster" if len(ids) > 1 else ""
        fill = RED if bad_id in ids else "#1f3b57"
        w, x, y = marker.half_width, marker.x, marker.y
        ring = (
            f'<rect x="{x - w - 4:.1f}" y="{y - 14}" width="{2 * w + 8:.1f}" height="28" rx="14" '
            f'fill="none" stroke="{GREEN}" stroke-width="3"/>'
            if last_ok in ids
            else ""
        )
        parts.append(
            f'<g class="{classes}" data-scan-id="{escape(ids[0])}" '
            f'data-scan-ids="{escape(" ".join(ids))}">{ring}'
            f'<rect x="{x - w:.1f}" y="{y - 10}" width="{2 * w:.1f}" height="20" rx="10" '
            f'fill="{fill}" stroke="#fff" stroke-width="2"/>'
            f'<text x="{x}" y="{y + 4}" text-anchor="middle" class="stop-number" fill="#fff">'
            f"{escape(marker.label)}</text></g>"
        )
    return _svg("The code's journey: its scans in time order", "".join(parts), ident="journey")


def _leg_svg(where: dict[str, tuple[float, float]], leg: Leg) -> str:
    a, b = leg.start.scan, leg.end.scan
    (x1, y1), (x2, y2) = where[a.scan_id], where[b.scan_id]
    ids = f'data-from="{escape(a.scan_id)}" data-to="{escape(b.scan_id)}"'
    if leg.offending:
        return (
            f'<g class="leg offending" {ids}><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" '
            f'class="leg-line offending" stroke="{RED}" stroke-width="4" stroke-dasharray="12 7">'
            f"<title>{escape(' + '.join(leg.reasons) + ': ' + speed_words(leg))}</title>"
            "</line></g>"
        )
    return (
        f'<g class="leg" {ids}><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" class="leg-line" '
        f'stroke="{GREY}" stroke-width="2"/></g>'
    )


def timeline_svg(journey: Journey) -> str:
    """A strip under the map: every located scan as a tick at its time, offending ones red."""
    stops = journey.stops
    first, last = stops[0].scan.effective_at, stops[-1].scan.effective_at
    span = max((last - first).total_seconds(), 1.0)
    bad = {leg.end.scan.scan_id for leg in journey.legs if leg.offending}
    ticks = []
    for stop in stops:
        x = round(20 + (stop.scan.effective_at - first).total_seconds() / span * (WIDTH - 40), 1)
        colour = RED if stop.scan.scan_id in bad else "#1f3b57"
        ticks.append(
            f'<line class="tick" x1="{x}" y1="12" x2="{x}" y2="36" stroke="{colour}" '
            f'stroke-width="2"><title>{stop.number}: {stop.scan.effective_at:%Y-%m-%d %H:%M} '
            "UTC</title></line>"
        )
    body = (
        f'<line x1="20" y1="24" x2="{WIDTH - 20:.0f}" y2="24" stroke="{GREY}"/>'
        + "".join(ticks)
        + f'<text x="20" y="54" class="grid-label">{first:%Y-%m-%d %H:%M}</text>'
        + f'<text x="{WIDTH - 20:.0f}" y="54" text-anchor="end" class="grid-label">'
        f"{last:%Y-%m-%d %H:%M} UTC</text>"
    )
    return _svg("The scans on a time line", body, ident="timeline", height=62)


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
