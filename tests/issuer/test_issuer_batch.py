"""Batches: every format is written completely, every label scans to its exact payload,
every code verifies, and a finished batch is never redone."""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import io
import json
import re
from pathlib import Path
from typing import Any

import pymupdf
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from PIL import Image

from authn.code import ProductCode
from authn.digital_link import parse_digital_link
from authn.element_string import parse_element_string
from authn.errors import Conflict
from authn.signing import check_signature, key_id
from issuer.batch import INCOMPLETE_MARKER, BatchResult, build_spec, create_batch, run_batch
from issuer.journal import BatchJournal

GTIN = "09506000134352"
NOW = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC)


def issue(
    tmp_path: Path,
    key: Ed25519PrivateKey,
    fmt: str,
    count: int,
    *,
    jobs: int = 2,
    carrier: str = "qr",
    paper: str = "a4",
    chunk_size: int | None = None,
) -> BatchResult:
    spec = build_spec(
        gtin=GTIN, count=count, fmt=fmt, key_spec="test", key_id=key_id(key.public_key()),
        registry=tmp_path / "registry.sqlite", now=NOW, resolver="https://id.example.com",
        carrier=carrier, lot="LOT(7)/A", expiry="281200", paper=paper, chunk_size=chunk_size,
    )  # fmt: skip
    journal = create_batch(tmp_path / f"batch-{fmt}-{carrier}", spec)
    try:
        return run_batch(journal, key, jobs=jobs)
    finally:
        journal.close()


def manifest_rows(batch: Path) -> list[dict[str, str]]:
    if (batch / "manifest.jsonl").exists():
        lines = (batch / "manifest.jsonl").read_text().splitlines()
        return [{k: "" if v is None else str(v) for k, v in json.loads(x).items()} for x in lines]
    with (batch / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def assert_rows_signed(rows: list[dict[str, str]], key: Ed25519PrivateKey) -> None:
    for row in rows:
        from_link = ProductCode.from_ais(parse_digital_link(row["digital_link"]).ais)
        from_fnc1 = ProductCode.from_ais(parse_element_string(row["element_string"]))
        assert from_link == from_fnc1
        assert (from_link.gtin, from_link.serial) == (row["gtin"], row["serial"])
        assert (from_link.lot, from_link.expiry) == ("LOT(7)/A", "281200")
        assert check_signature(from_link, [key.public_key()]).valid


def decode(image: Image.Image, carrier: str) -> list[str]:
    # Plain text mode keeps the GS separators of a GS1 DataMatrix, so the
    # result can be compared with the element string byte for byte.
    # Only the carrier's symbology is looked for, as a configured scanner does.
    if carrier == "datamatrix":
        mode, symbology = zxingcpp.TextMode.Plain, zxingcpp.BarcodeFormat.DataMatrix
    else:
        mode, symbology = zxingcpp.TextMode.HRI, zxingcpp.BarcodeFormat.QRCode
    results = zxingcpp.read_barcodes(image, formats=symbology, text_mode=mode)  # type: ignore[arg-type]
    return [r.text for r in results]


def open_pdf(data: Path | bytes, filetype: str = "pdf") -> Any:
    """A pymupdf document (typed Any: pymupdf's own hints are incomplete)."""
    opener: Any = pymupdf.open
    if isinstance(data, Path):
        return opener(data)
    return opener(stream=data, filetype=filetype)


def rasterise(document: Any, page: int, dpi: int) -> Image.Image:
    pixmap = document[page].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    return Image.open(io.BytesIO(pixmap.tobytes("png")))


def payload_of(row: dict[str, str], carrier: str) -> str:
    return row["digital_link"] if carrier == "qr" else row["element_string"]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.mark.parametrize(("fmt", "count"), [("csv", 10_000), ("jsonl", 10_000)])
def test_manifest_batch_is_complete_distinct_and_signed(
    tmp_path: Path, key: Ed25519PrivateKey, fmt: str, count: int
) -> None:
    result = issue(tmp_path, key, fmt, count)
    batch = result.directory
    rows = manifest_rows(batch)
    assert [int(r["seq"]) for r in rows] == list(range(count))
    assert len({r["serial"] for r in rows}) == count
    assert not (batch / INCOMPLETE_MARKER).exists()
    assert result.outputs == (batch / f"manifest.{fmt}",)
    assert_rows_signed(rows[:: count // 500], key)  # a spread sample of 500
    journal = BatchJournal.open(batch)
    assert journal.serials(0, count) == [r["serial"] for r in rows]
    journal.close()


@pytest.mark.parametrize(("fmt", "carrier"), [("png", "qr"), ("svg", "qr"), ("png", "datamatrix")])
def test_every_label_image_scans_to_its_payload(
    tmp_path: Path, key: Ed25519PrivateKey, fmt: str, carrier: str
) -> None:
    count = 200 if carrier == "qr" else 60
    result = issue(tmp_path, key, fmt, count, carrier=carrier, chunk_size=50)
    batch = result.directory
    rows = manifest_rows(batch)
    assert len(rows) == count
    assert sorted(p.name for p in (batch / "labels").iterdir()) == sorted(
        f"{r['serial']}.{fmt}" for r in rows
    )
    assert not list(batch.glob("*.partial"))
    for row in rows:
        path = batch / row["file"]
        image: Image.Image = (
            Image.open(path)
            if fmt == "png"
            else rasterise(open_pdf(path.read_bytes(), "svg"), 0, 300)
        )
        assert decode(image, carrier) == [payload_of(row, carrier)], row["serial"]
    assert_rows_signed(rows[:20], key)


@pytest.mark.parametrize(
    ("carrier", "paper"), [("qr", "a4"), ("qr", "letter"), ("datamatrix", "a4")]
)
def test_every_label_on_the_pdf_sheets_scans(
    tmp_path: Path, key: Ed25519PrivateKey, carrier: str, paper: str
) -> None:
    count = 130 if carrier == "qr" else 70
    result = issue(tmp_path, key, "pdf", count, carrier=carrier, paper=paper)
    batch = result.directory
    rows = manifest_rows(batch)
    assert len(rows) == count
    decoded: set[str] = set()
    for part in sorted((batch / "sheets").glob("part-*.pdf")):
        document = open_pdf(part)
        width_mm = document[0].rect.width / 72 * 25.4
        assert width_mm == pytest.approx(210.0 if paper == "a4" else 215.9, abs=0.1)
        for page in range(len(document)):
            assert not document[page].get_images(), "labels must be vector, not raster"
            decoded.update(decode(rasterise(document, page, 300), carrier))
            text = document[page].get_text()
            assert f"(01){GTIN}" in text  # GS1 human-readable form
            assert re.search(r"batch \S+  page \d+ of \d+", text), "batch id and page number"
    assert decoded == {payload_of(r, carrier) for r in rows}
    first_page_text = open_pdf(batch / "sheets" / "part-00001.pdf")[0].get_text()
    assert f"(21){rows[0]['serial']}" in first_page_text
    assert "(10)LOT(7)/A" in first_page_text


def test_one_core_and_two_cores_write_the_same_kind_of_batch(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    one = issue(tmp_path / "one", key, "jsonl", 3000, jobs=1, chunk_size=500)
    two = issue(tmp_path / "two", key, "jsonl", 3000, jobs=2, chunk_size=500)
    rows_one, rows_two = manifest_rows(one.directory), manifest_rows(two.directory)
    assert len(rows_one) == len(rows_two) == 3000
    assert_rows_signed(rows_one[::100] + rows_two[::100], key)


def test_running_a_complete_batch_again_changes_nothing(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    result = issue(tmp_path, key, "csv", 500)
    before = (result.directory / "manifest.csv").read_bytes()
    journal = BatchJournal.open(result.directory)
    again = run_batch(journal, key, jobs=2)
    journal.close()
    assert again.written_now == 0
    assert (result.directory / "manifest.csv").read_bytes() == before


def test_resume_with_another_key_is_refused(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    result = issue(tmp_path, key, "csv", 10)
    journal = BatchJournal.open(result.directory)
    with pytest.raises(ValueError, match="key"):
        run_batch(journal, Ed25519PrivateKey.generate())
    journal.close()


class Crash(Exception):
    """Stands for the process dying right after a checkpoint."""


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_an_interrupted_image_batch_resumes_to_exactly_n_labels(
    tmp_path: Path, key: Ed25519PrivateKey, fmt: str
) -> None:
    count = 120
    spec = build_spec(
        gtin=GTIN, count=count, fmt=fmt, key_spec="test", key_id=key_id(key.public_key()),
        registry=tmp_path / "registry.sqlite", now=NOW, resolver="https://id.example.com",
        chunk_size=25,
    )  # fmt: skip
    batch = tmp_path / "batch"
    journal = create_batch(batch, spec)

    def crash_after_first_chunk(done: int, total: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        run_batch(journal, key, jobs=2, progress=crash_after_first_chunk)
    journal.close()
    images = "labels" if fmt == "png" else "sheets"
    assert (batch / INCOMPLETE_MARKER).exists()
    assert not (batch / images).exists()
    assert (batch / f"{images}.partial").is_dir()

    journal = BatchJournal.open(batch)
    first_done = journal.done
    assert 0 < first_done < count
    result = run_batch(journal, key, jobs=2)
    journal.close()
    assert result.written_now == count - first_done
    rows = manifest_rows(batch)
    assert len({r["serial"] for r in rows}) == len(rows) == count
    if fmt == "png":
        names = sorted(p.name for p in (batch / "labels").iterdir())
        assert names == sorted(f"{r['serial']}.png" for r in rows)
    else:
        parts = sorted(p.name for p in (batch / "sheets").iterdir())
        assert parts == sorted({r["file"].split("/")[1].split("#")[0] for r in rows})
    assert not (batch / INCOMPLETE_MARKER).exists()


def test_two_processes_never_write_one_batch(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    spec = build_spec(
        gtin=GTIN, count=10, fmt="csv", key_spec="test", key_id=key_id(key.public_key()),
        registry=tmp_path / "registry.sqlite", now=NOW, resolver="https://id.example.com",
    )  # fmt: skip
    journal = create_batch(tmp_path / "batch", spec)
    # Another process holds the batch (flock is per open file, so a second
    # open file in this process stands in for it).
    with (tmp_path / "batch" / "journal.sqlite").open("rb") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(Conflict, match="another process"):
            run_batch(journal, key)
    assert run_batch(journal, key).written_now == 10
    journal.close()


class DelegatingSigner:
    """A signer that is not a pyca key object, as an HSM session is: the parent signs."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.calls = 0

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self._key.sign(data)


def test_a_signer_that_cannot_be_forked_signs_in_the_parent(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    signer = DelegatingSigner(key)
    spec = build_spec(
        gtin=GTIN, count=200, fmt="png", key_spec="hsm", key_id=key_id(key.public_key()),
        registry=tmp_path / "registry.sqlite", now=NOW, resolver="https://id.example.com",
        chunk_size=50, lot="LOT(7)/A", expiry="281200",
    )  # fmt: skip
    journal = create_batch(tmp_path / "batch", spec)
    run_batch(journal, signer, jobs=2)
    journal.close()
    # Every signature was made here, in this process, by this object.
    assert signer.calls == 200
    rows = manifest_rows(tmp_path / "batch")
    assert len(rows) == 200
    assert_rows_signed(rows[::10], key)


def test_impossible_dates_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    from authn.errors import GS1SyntaxError

    for expiry in ("250229", "230229", "260431"):
        with pytest.raises(GS1SyntaxError, match=r"does not exist"):
            build_spec(
                gtin=GTIN, count=3, fmt="csv", key_spec="test", key_id="AAAA",
                registry=tmp_path / "registry.sqlite", now=NOW, resolver="https://id.example.com",
                expiry=expiry,
            )  # fmt: skip
    assert not (tmp_path / "registry.sqlite").exists()


def test_a_journal_with_data_gs1_refuses_is_not_finished(tmp_path: Path) -> None:
    # A batch begun by an older release that accepted 29 February 2025.
    from dataclasses import replace

    from authn.errors import GS1SyntaxError

    key = Ed25519PrivateKey.generate()
    spec = build_spec(
        gtin=GTIN, count=3, fmt="csv", key_spec="test", key_id=key_id(key.public_key()),
        registry=tmp_path / "registry.sqlite", now=NOW, resolver="https://id.example.com",
        expiry="250228",
    )  # fmt: skip
    journal = create_batch(tmp_path / "old", replace(spec, expiry="250229"))
    try:
        with pytest.raises(GS1SyntaxError, match="day 29"):
            run_batch(journal, key)
    finally:
        journal.close()
    assert not (tmp_path / "old" / "manifest.csv").exists()
    assert not (tmp_path / "old" / "manifest.csv.part").exists()
    assert (tmp_path / "old" / INCOMPLETE_MARKER).exists()
