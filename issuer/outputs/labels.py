"""One image file per label (PNG or SVG), named by serial."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from issuer.outputs.payload import SignedUnit
from issuer.render import Carrier, render_png, render_svg

IMAGE_FORMATS = ("png", "svg")
PNG_MODULE_PX = 8
SVG_MODULE_MM = 0.4


def label_file_name(serial: str, fmt: str) -> str:
    return f"{serial}.{fmt}"


def write_label_images(
    directory: Path, units: Sequence[SignedUnit], fmt: str, carrier: Carrier, ec: str
) -> list[str]:
    """Render and write one image per unit into ``directory``; the file names, in order.

    Each file is written under a temporary name and renamed, so a label file
    that exists is whole (a resumed batch simply writes it again).
    """
    names = []
    for unit in units:
        payload = unit.payload(carrier)
        if fmt == "png":
            data = render_png(payload, carrier=carrier, ec=ec, module_px=PNG_MODULE_PX)
        else:
            data = render_svg(payload, carrier=carrier, ec=ec, module_mm=SVG_MODULE_MM)
        name = label_file_name(unit.serial, fmt)
        temporary = directory / (name + ".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, directory / name)
        names.append(name)
    return names
