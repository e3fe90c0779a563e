"""Scoring verdicts against ground truth, on hand-made cases; the doc section writer."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from authn.errors import InvalidInput
from bench.clone_eval.metrics import Metrics, combine, evaluate
from bench.clone_eval.model import START, CloneInfo, Params, ScanEvent
from bench.clone_eval.report import ScenarioRun, render, target_table, write_into_doc

INFO = CloneInfo("distributor", 2, "fast", "FR")
OK, FLAG = "authentic", "suspect"


def scan(serial: str, label: int, n: int) -> ScanEvent:
    at = START + dt.timedelta(hours=n)
    return ScanEvent(
        scan_id=f"{serial}-{n}", serial=serial, label=label, node="distributor", caller="d",
        role="officer", happened_at=at, scanned_at=at, received_at=at, lat=48.0, lon=2.0,
        accuracy_m=10.0, country="FR", device_id="d1",
    )  # fmt: skip


# serial -> [(label, verdict or None when not sent)], in received order
CASES: dict[str, list[tuple[int, str | None]]] = {
    "A": [(0, OK), (0, OK), (1, OK), (0, FLAG), (1, None)],  # caught one scan after the floor
    "B": [(0, OK)],  # copies never scanned
    "C": [(1, OK), (2, FLAG)],  # two copies, caught at the floor
    "F": [(0, FLAG), (1, OK)],  # flagged before any copy: not a detection
    "D": [(0, OK), (0, FLAG), (0, OK), (0, None)],  # genuine, one false alarm
    "E": [(0, OK), (0, OK)],
}
CLONED = {"A": INFO, "B": INFO, "C": INFO, "F": INFO}


def build() -> tuple[list[ScanEvent], dict[str, tuple[str, tuple[str, ...]]]]:
    scans: list[ScanEvent] = []
    verdicts: dict[str, tuple[str, tuple[str, ...]]] = {}
    for n, (serial, label, verdict) in enumerate(
        (s, label, v) for s, case in CASES.items() for label, v in case
    ):
        event = scan(serial, label, n)
        scans.append(event)
        if verdict is not None:
            verdicts[event.scan_id] = (verdict, ("TOO_MANY_DEVICES",) if verdict == FLAG else ())
    return scans, verdicts


def metrics() -> Metrics:
    scans, verdicts = build()
    return evaluate(list(CASES), CLONED, scans, verdicts)


def test_per_serial_positions() -> None:
    results = {r.serial: r for r in metrics().cloned}
    a = results["A"]
    assert (a.first_copy, a.floor, a.detected_at) == (2, 2, 3)
    assert (a.scans_to_detection, a.floor_scans) == (2, 1)
    assert results["B"].first_copy is None
    assert not results["B"].detected
    c = results["C"]
    assert (c.scans_to_detection, c.floor_scans, c.copy_labels_scanned) == (2, 2, 2)
    assert not c.genuine_scanned
    f = results["F"]
    assert f.flagged_before_copy
    assert not f.detected
    assert f.two_labels


def test_recall_precision_and_false_alarms() -> None:
    m = metrics()
    assert (m.recall_end_to_end.hits, m.recall_end_to_end.total) == (2, 4)
    assert (m.recall_copy_scanned.hits, m.recall_copy_scanned.total) == (2, 3)
    assert (m.recall_two_labels.hits, m.recall_two_labels.total) == (2, 3)
    assert (m.recall_two_copies.hits, m.recall_two_copies.total) == (1, 1)
    assert (m.precision.hits, m.precision.total) == (2, 3)
    assert m.false_positive_serials == 1
    # D's unsent scan does not count: 1 false alarm in 5 genuine scans sent.
    assert (m.false_alarm_scans, m.genuine_scans) == (1, 5)
    assert m.false_alarms_per_million == pytest.approx(200_000)
    assert m.false_alarm_reasons == Counter({"TOO_MANY_DEVICES": 1})
    assert m.detection_reasons == Counter({"TOO_MANY_DEVICES": 2})


def test_floor_and_scans_to_detection() -> None:
    m = metrics()
    assert (m.at_floor.hits, m.at_floor.total) == (1, 2)  # C at its floor, A one scan later
    assert m.median_scans() == (2, 1.5)
    assert str(m.at_floor) == "50.0 % (1/2)"


def test_median_delay_counts_scans_after_the_floor() -> None:
    assert metrics().median_delay() == 0.5  # C at its floor (0), A one scan after (1)
    scans, verdicts = build()
    assert evaluate(["D", "E"], {}, scans, verdicts).median_delay() is None


def test_targets_are_read_per_scenario_and_a_zero_is_not_a_pass() -> None:
    run = ScenarioRun("tiny", Params(serials=10), metrics(), 20, 18, 1.0, Counter())
    run.path_metrics = {"verify": metrics()}
    text = target_table([run])
    assert "missed: 66.7 % (2/3)" in text  # recall once two labels were scanned
    assert "missed: verify 200,000 per million" in text
    assert "missed: 50.0 % (1/2), median delay 0.5" in text
    clean = evaluate(["E"], {}, *build())
    run = ScenarioRun("clean", Params(serials=10), clean, 2, 2, 1.0, Counter())
    run.path_metrics = {"page": clean}
    text = target_table([run])
    assert "not shown: 0 in 2 genuine scans" in text
    assert "n/a (no serial with 2 labels scanned)" in text


def test_mean_and_most_scans_to_detection() -> None:
    assert metrics().detection_tail() == (2, 2)  # A and C, two scans each
    scans, verdicts = build()
    assert evaluate(["D", "E"], {}, scans, verdicts).detection_tail() == (None, None)


def test_combined_scenarios_add_up() -> None:
    one, two = metrics(), metrics()
    both = combine([one, two])
    assert (both.serials, len(both.cloned)) == (2 * one.serials, 2 * len(one.cloned))
    assert (both.false_alarm_scans, both.genuine_scans) == (2, 10)
    assert (both.recall_two_labels.hits, both.recall_two_labels.total) == (4, 6)
    assert both.false_alarm_reasons == Counter({"TOO_MANY_DEVICES": 2})
    assert one.false_alarm_scans == 1  # the parts are left as they were


def test_render_shows_rules_left_out_and_the_larger_population() -> None:
    run = ScenarioRun("tiny", Params(serials=10), metrics(), 20, 18, 1.0, Counter())
    run.replay_metrics = metrics()
    run.ablations = {"out_of_sequence": metrics()}
    run.large_metrics, run.large_params = metrics(), Params(serials=100, seed=94)
    text = render([run], "python -m bench.clone_eval --replay")
    assert "| all rules |" in text
    assert "| without `out_of_sequence` |" in text
    assert "| tiny (100 serials, seed 94) |" in text
    assert "| 2.0 / 2 |" in text  # mean / most scans to detection


def test_no_cloned_serial_gives_no_rate() -> None:
    scans, verdicts = build()
    m = evaluate(["D", "E"], {}, scans, verdicts)
    assert m.recall_end_to_end.value is None
    assert str(m.recall_end_to_end) == "n/a (0)"
    assert m.median_scans() == (None, None)


def test_render_and_write_into_the_evaluation_section(tmp_path: Path) -> None:
    run = ScenarioRun("tiny", Params(serials=10), metrics(), 20, 18, 1.0, Counter())
    text = render([run], "python -m bench.clone_eval --quick")
    assert "`python -m bench.clone_eval --quick`" in text
    assert "66.7 % (2/3)" in text  # precision
    assert "200,000 (1/5)" in text  # false alarms per million
    doc = tmp_path / "detection.md"
    doc.write_text(
        "# D\n\n## Rules\n\nkeep\n\n## Evaluation\n\nplaceholder\n\n"
        "### What the numbers say\n\nhand-written\n\n## After\n\nkeep too\n"
    )
    write_into_doc(doc, text)
    write_into_doc(doc, text)  # twice: the section is replaced, not appended
    written = doc.read_text()
    assert "placeholder" not in written
    assert written.count("### Parameters") == 1
    assert "## Rules\n\nkeep\n" in written
    assert "### What the numbers say\n\nhand-written" in written
    assert written.endswith("## After\n\nkeep too\n")


def test_a_doc_without_the_heading_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "other.md"
    doc.write_text("# Other\n")
    with pytest.raises(InvalidInput):
        write_into_doc(doc, "tables")


def test_scans_after_detection_and_after_a_first_false_alarm_are_counted_apart() -> None:
    # P is cloned and caught at its second scan; its later scans were all sent.
    # Q is never cloned: two false alarms, the second after the first.
    history = {
        "P": [(0, OK), (1, FLAG), (1, FLAG), (0, FLAG), (1, OK), (0, OK)],
        "Q": [(0, FLAG), (0, FLAG), (0, OK)],
    }
    scans: list[ScanEvent] = []
    verdicts: dict[str, tuple[str, tuple[str, ...]]] = {}
    for n, (serial, label, verdict) in enumerate(
        (s, label, v) for s, case in history.items() for label, v in case
    ):
        scans.append(scan(serial, label, n))
        verdicts[scans[-1].scan_id] = (verdict, ("X",))
    m = evaluate(["P", "Q"], {"P": INFO}, scans, verdicts)
    (p,) = m.cloned
    assert p.detected_at == 1
    assert (p.copies_after, p.genuine_after) == ((1, 2), (1, 2))
    assert str(m.copies_flagged_after_detection) == "50.0 % (1/2)"
    assert str(m.genuine_flagged_after_detection) == "50.0 % (1/2)"
    # The genuine unit's flagged scans of a cloned serial are not false alarms.
    assert (m.false_alarm_scans, m.genuine_scans, m.false_alarms_after_first) == (2, 3, 1)
    assert combine([m, m]).false_alarms_after_first == 2
