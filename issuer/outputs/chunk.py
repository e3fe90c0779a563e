"""One chunk of a batch, as a worker process produces it: sign, format, render, write.

The parent process (:mod:`issuer.batch`) decides which serials a chunk has and
journals them first; a worker turns them into signed units, writes the label
files or the PDF part, and hands back the chunk's manifest rows. Workers are
forked, and find what they need in :data:`_CONTEXT`, set by the parent just
before the fork, so the signing key is inherited, never pickled.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from authn.code import AI_SIGNATURE, ProductCode
from authn.signing import DIGSIG_CHARS, Signer
from issuer.journal import BatchSpec
from issuer.outputs.labels import IMAGE_FORMATS, write_label_images
from issuer.outputs.manifest import MANIFEST_FORMATS, RowFormatter, format_rows, manifest_name
from issuer.outputs.payload import SignedUnit, UnitFormatter, digital_link, element_string
from issuer.outputs.pdf import SheetLayout, write_sheets
from issuer.render import Carrier
from issuer.serials import SERIAL_CHARS


@dataclass(frozen=True)
class Job:
    first_seq: int
    serials: list[str]
    signatures: list[str] | None  # None: the worker signs


@dataclass(frozen=True)
class ChunkOutput:
    first_seq: int
    end_seq: int
    manifest_text: str


@dataclass(frozen=True)
class WorkerContext:
    spec: BatchSpec
    formatter: UnitFormatter
    signer: Signer | None
    kid: bytes
    images_dir: Path
    layout: SheetLayout | None
    rows: RowFormatter | None  # set for manifest-only batches


# Set in the parent before the worker pool forks, so workers inherit the
# signer without it ever being pickled or written anywhere.
_CONTEXT: WorkerContext | None = None


def set_context(context: WorkerContext | None) -> None:
    """Install (or clear) what :func:`process_chunk` works with, before forking workers."""
    global _CONTEXT  # see _CONTEXT
    _CONTEXT = context


def output_names(spec: BatchSpec) -> tuple[str, str | None]:
    """(manifest file, images directory or None) under their final names."""
    manifest_fmt = spec.fmt if spec.fmt in MANIFEST_FORMATS else "csv"
    images = "sheets" if spec.fmt == "pdf" else "labels" if spec.fmt in IMAGE_FORMATS else None
    return manifest_name(manifest_fmt), images


def sample_payload(spec: BatchSpec) -> str:
    """A payload as long as every real one, for sizing PDF cells before any serial exists."""
    ais = template_code(spec).ais(with_signature=False)
    ais = [(ai, "Z" * SERIAL_CHARS if ai == "21" else v) for ai, v in ais]
    ais.append((AI_SIGNATURE, "A" * DIGSIG_CHARS))
    return digital_link(ais, spec.resolver) if spec.carrier == "qr" else element_string(ais)


def template_code(spec: BatchSpec) -> ProductCode:
    return ProductCode(gtin=spec.gtin, serial="0" * SERIAL_CHARS, lot=spec.lot, expiry=spec.expiry)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_unit(formatter: UnitFormatter, serial: str, signer: Signer, kid: bytes) -> str:
    """The AI 8030 value for the unit with ``serial``, as authn.signing.sign_code makes it."""
    return b64(kid + signer.sign(formatter.signed_message(serial, kid)))


def _units(ctx: WorkerContext, job: Job) -> list[SignedUnit]:
    spec, formatter = ctx.spec, ctx.formatter
    return [
        SignedUnit(
            seq=job.first_seq + index,
            gtin=spec.gtin,
            serial=serial,
            lot=spec.lot,
            expiry=spec.expiry,
            signature=signature,
            digital_link=formatter.digital_link(serial, signature),
            element_string=formatter.element_string(serial, signature),
        )
        for index, (serial, signature) in enumerate(
            zip(job.serials, _signatures(ctx, job), strict=True)
        )
    ]


def _signatures(ctx: WorkerContext, job: Job) -> list[str]:
    if job.signatures is not None:
        return job.signatures
    assert ctx.signer is not None
    signer, formatter, kid = ctx.signer, ctx.formatter, ctx.kid
    return [sign_unit(formatter, serial, signer, kid) for serial in job.serials]


def process_chunk(job: Job) -> ChunkOutput:
    """Sign the chunk's units, write its label files, return its manifest rows."""
    ctx = _CONTEXT
    assert ctx is not None, "worker context not set"
    spec = ctx.spec
    end = job.first_seq + len(job.serials)
    if ctx.rows is not None:  # a manifest-only batch: the fast path
        signatures = _signatures(ctx, job)
        rows = ctx.rows.row
        text = "".join(
            rows(job.first_seq + index, serial, signatures[index])
            for index, serial in enumerate(job.serials)
        )
        return ChunkOutput(job.first_seq, end, text)
    units = _units(ctx, job)
    carrier = carrier_of(spec)
    _, images = output_names(spec)
    if spec.fmt in IMAGE_FORMATS:
        names = write_label_images(ctx.images_dir, units, spec.fmt, carrier, spec.ec)
        files = [f"{images}/{name}" for name in names]
    else:
        assert ctx.layout is not None
        part = f"part-{job.first_seq // spec.chunk_size + 1:05d}.pdf"
        per_page = ctx.layout.per_page
        write_sheets(
            ctx.images_dir / part, units, ctx.layout, carrier, spec.ec, batch_id=spec.batch_id,
            first_page=job.first_seq // per_page + 1, total_pages=-(-spec.count // per_page),
        )  # fmt: skip
        files = [f"{images}/{part}#page={i // ctx.layout.per_page + 1}" for i in range(len(units))]
    return ChunkOutput(job.first_seq, end, format_rows("csv", units, files))


def carrier_of(spec: BatchSpec) -> Carrier:
    return "qr" if spec.carrier == "qr" else "datamatrix"
