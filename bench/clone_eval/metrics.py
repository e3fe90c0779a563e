"""Scoring the service's verdicts against the simulation's ground truth. Pure.

Per cloned serial, walking its scans in the order the service received them:

- the first copy scan: from here a copy is in view;
- the floor: the first scan at which two labels (the genuine one and a copy,
  or two copies) have been scanned, the earliest any history-based rule
  could know; counted, like detection, in scans from the first copy scan;
- detection: the first scan from the first copy scan on whose verdict is
  suspect or counterfeit.

Every scan is sent, also after detection, so that a flagged state that sticks
(or fails to) shows: after detection, the share of copy scans still flagged,
and the share of the genuine unit's own scans flagged. The latter are reported
apart and are not false alarms: the code is cloned, and the genuine holder is
told the truth about the code, if not about the unit in hand.

A never-cloned serial with any flagged scan is a false positive; each such
scan is a false alarm. Those that come after the serial's first false alarm
(a wrong flag that stuck) are counted in the rate and also shown apart.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.clone_eval.model import INJECTIONS, CloneInfo, ScanEvent

FLAGGED = frozenset({"suspect", "counterfeit"})
GROUP_ORDER: dict[str, int] = {"fast": 0, "medium": 1, "late": 2}
GROUP_ORDER.update((name, i) for i, name in enumerate(INJECTIONS))
COPY_BUCKETS = ((1, "1 copy"), (9, "2-9 copies"), (99, "10-99 copies"), (10**9, "100-1,000 copies"))


@dataclass(frozen=True)
class SerialResult:
    serial: str
    info: CloneInfo
    scans: int  # scans of the serial in the simulation (sent or not)
    copy_labels_scanned: int
    genuine_scanned: bool
    first_copy: int | None  # positions in the serial's received order
    floor: int | None
    detected_at: int | None
    flagged_before_copy: bool
    # After detection: (flagged, sent) scans of the copies, and of the genuine unit.
    copies_after: tuple[int, int] = (0, 0)
    genuine_after: tuple[int, int] = (0, 0)

    @property
    def detected(self) -> bool:
        return self.detected_at is not None

    @property
    def two_labels(self) -> bool:
        return self.floor is not None

    @property
    def scans_to_detection(self) -> int | None:
        if self.detected_at is None or self.first_copy is None:
            return None
        return self.detected_at - self.first_copy + 1

    @property
    def floor_scans(self) -> int | None:
        if self.floor is None or self.first_copy is None:
            return None
        return self.floor - self.first_copy + 1


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def __str__(self) -> str:
        value = self.value
        return "n/a (0)" if value is None else f"{100 * value:.1f} % ({self.hits}/{self.total})"


@dataclass
class Metrics:
    serials: int
    cloned: list[SerialResult]
    genuine_scans: int  # scans of never-cloned serials
    false_alarm_scans: int
    false_positive_serials: int
    # False alarms on a never-cloned serial after its first one: a wrong flag that stuck.
    false_alarms_after_first: int = 0
    false_alarm_reasons: Counter[str] = field(default_factory=Counter)
    detection_reasons: Counter[str] = field(default_factory=Counter)

    def recall(self, results: Iterable[SerialResult] | None = None) -> Rate:
        chosen = list(self.cloned if results is None else results)
        return Rate(sum(r.detected for r in chosen), len(chosen))

    @property
    def recall_end_to_end(self) -> Rate:
        return self.recall()

    @property
    def recall_copy_scanned(self) -> Rate:
        return self.recall(r for r in self.cloned if r.first_copy is not None)

    @property
    def recall_two_labels(self) -> Rate:
        return self.recall(r for r in self.cloned if r.two_labels)

    @property
    def recall_two_copies(self) -> Rate:
        return self.recall(r for r in self.cloned if r.copy_labels_scanned >= 2)

    @property
    def precision(self) -> Rate:
        detected = sum(r.detected for r in self.cloned)
        return Rate(detected, detected + self.false_positive_serials)

    @property
    def false_alarms_per_million(self) -> float:
        return 1e6 * self.false_alarm_scans / self.genuine_scans if self.genuine_scans else 0.0

    @property
    def at_floor(self) -> Rate:
        """Detected no later than the floor, among detected serials that reached a floor."""
        hits = total = 0
        for r in self.cloned:
            if r.detected_at is not None and r.floor is not None:
                total += 1
                hits += r.detected_at <= r.floor
        return Rate(hits, total)

    @property
    def copies_flagged_after_detection(self) -> Rate:
        """Copy scans after detection that were flagged: how well the catch sticks."""
        return Rate(sum(r.copies_after[0] for r in self.cloned),
                    sum(r.copies_after[1] for r in self.cloned))  # fmt: skip

    @property
    def genuine_flagged_after_detection(self) -> Rate:
        """The genuine unit's own scans after its serial was detected that were flagged."""
        return Rate(sum(r.genuine_after[0] for r in self.cloned),
                    sum(r.genuine_after[1] for r in self.cloned))  # fmt: skip

    def median_scans(self) -> tuple[float | None, float | None]:
        """Median scans to detection and median floor, over detected serials with a floor."""
        pairs = [
            (r.scans_to_detection, r.floor_scans)
            for r in self.cloned
            if r.scans_to_detection is not None and r.floor_scans is not None
        ]
        if not pairs:
            return None, None
        return (
            statistics.median(p[0] for p in pairs if p[0] is not None),
            statistics.median(p[1] for p in pairs if p[1] is not None),
        )

    def median_delay(self) -> float | None:
        """Median scans from the floor to detection (0 = at the floor), over detected
        serials with a floor; the target is 0."""
        delays = [
            max(0, r.detected_at - r.floor)
            for r in self.cloned
            if r.detected_at is not None and r.floor is not None
        ]
        return statistics.median(delays) if delays else None

    def detection_tail(self) -> tuple[float | None, int | None]:
        """Mean and largest scans to detection: how many copy scans slip through at worst."""
        counts = [r.scans_to_detection for r in self.cloned if r.scans_to_detection is not None]
        if not counts:
            return None, None
        return statistics.mean(counts), max(counts)

    def by(self, key: str) -> dict[str, list[SerialResult]]:
        """The cloned serials grouped by an attribute of their copies, in a fixed order."""
        groups: dict[str, list[SerialResult]] = {}
        for result in sorted(self.cloned, key=lambda r: _group(r, key)):
            groups.setdefault(_group(result, key)[1], []).append(result)
        return groups


def _group(result: SerialResult, key: str) -> tuple[int, str]:
    info = result.info
    if key == "copies":
        return next((i, name) for i, (top, name) in enumerate(COPY_BUCKETS) if info.copies <= top)
    value = str(getattr(info, key))
    return GROUP_ORDER.get(value, 99), value


def serial_result(
    serial: str, info: CloneInfo, scans: Sequence[ScanEvent], flagged: Mapping[str, bool]
) -> SerialResult:
    """One cloned serial's result; ``scans`` in received order, ``flagged`` by scan id.

    Scans missing from ``flagged`` were not sent (not answered); they still count
    for the ground truth.
    """
    labels: set[int] = set()
    first_copy = floor = detected_at = None
    flagged_before_copy = False
    after = {True: [0, 0], False: [0, 0]}  # is a copy -> [flagged, sent]
    for position, scan in enumerate(scans):
        if detected_at is not None and scan.scan_id in flagged:
            tally = after[scan.label > 0]
            tally[0] += flagged[scan.scan_id]
            tally[1] += 1
        labels.add(scan.label)
        if scan.label > 0 and first_copy is None:
            first_copy = position
        if floor is None and len(labels) >= 2:
            floor = position
        hit = flagged.get(scan.scan_id, False)
        if hit and first_copy is None:
            flagged_before_copy = True
        elif hit and detected_at is None:
            detected_at = position
    return SerialResult(
        serial=serial, info=info, scans=len(scans), copy_labels_scanned=len(labels - {0}),
        genuine_scanned=0 in labels, first_copy=first_copy, floor=floor,
        detected_at=detected_at, flagged_before_copy=flagged_before_copy,
        copies_after=(after[True][0], after[True][1]),
        genuine_after=(after[False][0], after[False][1]),
    )  # fmt: skip


def evaluate(
    serials: Iterable[str],
    clones: Mapping[str, CloneInfo],
    scans: Sequence[ScanEvent],
    verdicts: Mapping[str, tuple[str, tuple[str, ...]]],
) -> Metrics:
    """Score ``verdicts`` (scan id -> verdict, reasons) for ``scans`` in received order."""
    all_serials = list(serials)
    by_serial: dict[str, list[ScanEvent]] = {}
    for scan in scans:
        by_serial.setdefault(scan.serial, []).append(scan)
    flagged = {scan_id: verdict in FLAGGED for scan_id, (verdict, _) in verdicts.items()}
    cloned = [
        serial_result(serial, clones[serial], by_serial.get(serial, []), flagged)
        for serial in all_serials
        if serial in clones
    ]
    genuine_scans = false_alarms = after_first = 0
    reasons: Counter[str] = Counter()
    false_serials: set[str] = set()
    for serial in all_serials:
        if serial in clones:
            continue
        for scan in by_serial.get(serial, []):
            if scan.scan_id not in verdicts:
                continue
            genuine_scans += 1
            verdict, why = verdicts[scan.scan_id]
            if verdict in FLAGGED:
                false_alarms += 1
                after_first += serial in false_serials
                false_serials.add(serial)
                reasons.update(why or ("(none shown)",))
    detecting: Counter[str] = Counter()
    for result in cloned:
        if result.detected_at is not None:
            scan_id = by_serial[result.serial][result.detected_at].scan_id
            detecting.update(verdicts[scan_id][1] or ("(none shown)",))
    return Metrics(
        len(all_serials), cloned, genuine_scans, false_alarms, len(false_serials), after_first,
        reasons, detecting,
    )  # fmt: skip


def combine(parts: Sequence[Metrics]) -> Metrics:
    """Several scenarios' metrics as one population (their serials are distinct)."""
    combined = Metrics(0, [], 0, 0, 0)
    for m in parts:
        combined.serials += m.serials
        combined.cloned.extend(m.cloned)
        combined.genuine_scans += m.genuine_scans
        combined.false_alarm_scans += m.false_alarm_scans
        combined.false_positive_serials += m.false_positive_serials
        combined.false_alarms_after_first += m.false_alarms_after_first
        combined.false_alarm_reasons.update(m.false_alarm_reasons)
        combined.detection_reasons.update(m.detection_reasons)
    return combined


def by_path(
    serials: Iterable[str],
    clones: Mapping[str, CloneInfo],
    scans: Sequence[ScanEvent],
    verdicts: Mapping[str, tuple[str, tuple[str, ...]]],
    paths: Mapping[str, str],
) -> dict[str, Metrics]:
    """The metrics of each path alone: its scans' verdicts; the ground truth stays whole.

    A clone counts as detected on a path when a scan through that path flagged it;
    false alarms of a path are its flagged scans of never-cloned serials, per million
    of its scans of them.
    """
    chosen = list(serials)
    return {
        path: evaluate(
            chosen, clones, scans, {k: v for k, v in verdicts.items() if paths.get(k) == path}
        )
        for path in sorted(set(paths.values()))
    }


def upper_per_million(hits: int, total: int, z: float = 1.96) -> float | None:
    """Upper end of the Wilson 95 % interval of ``hits/total``, per million.

    So that 0 false alarms in 5,000 scans reads as "at most about 770 per million",
    not as zero.
    """
    if total == 0:
        return None
    p = hits / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return 1e6 * (centre + spread) / (1 + z * z / total)
