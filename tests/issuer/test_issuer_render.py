"""Label images from issuer.render, read back by real decoders and a real rasteriser."""

from __future__ import annotations

import io
import random
import re
import string
import zlib

import numpy as np
import numpy.typing as npt
import pymupdf
import pytest
import zxingcpp
from PIL import Image

from authn.errors import GS1SyntaxError, InvalidInput
from issuer.render import (
    datamatrix_matrix,
    matrix_to_png,
    matrix_to_svg,
    qr_matrix,
    render_png,
    render_svg,
)

EXAMPLE = (
    "https://id.sealtrace.example/01/04006381333931/10/LOT2026A/21/7KQ2M9XH4R0WT"
    "?17=271231&8030=iGIvkR9g2UCLcvaojDs9QjM6ICXqBG6fGvhhrlntENjTQiY3gP6MRW4d1rNWDQ"
    "_3w3TvpNdNsyRxH5pRt7ocP6-9BA"
)
ELEMENT_STRING = (
    "0104006381333931" "17271231" "10LOT2026A\x1d" "217KQ2M9XH4R0WT\x1d"
    "8030iGIvkR9g2UCLcvaojDs9QjM6ICXqBG6fGvhhrlntENjTQiY3gP6MRW4d1rNWDQ_3w3TvpNdNsyRxH5pRt7ocP6-9BA"
)  # fmt: skip


# The two symbologies of a label. With every format enabled, zxing-cpp now and then
# also "finds" a short linear code inside a QR code's modules.
LABEL_FORMATS = zxingcpp.BarcodeFormats(
    [zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.DataMatrix]
)


def read(image: object) -> list[zxingcpp.Barcode]:
    return list(
        zxingcpp.read_barcodes(image, formats=LABEL_FORMATS, text_mode=zxingcpp.TextMode.Plain)
    )


def png_pixels(png: bytes) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return np.asarray(image.convert("L"))


def rasterise_svg(svg: bytes, dpi: int = 300) -> npt.NDArray[np.uint8]:
    with pymupdf.open(stream=svg, filetype="svg") as document:  # type: ignore[no-untyped-call]
        pixmap = document[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        return np.frombuffer(pixmap.samples, np.uint8).reshape(pixmap.height, pixmap.width)


@pytest.mark.parametrize("ec", ["L", "M", "Q", "H"])
def test_qr_png_decodes_to_the_payload(ec: str) -> None:
    png = render_png(EXAMPLE, ec=ec)
    results = read(Image.open(io.BytesIO(png)))
    assert [(r.text, r.symbology_identifier, r.ec_level) for r in results] == [(EXAMPLE, "]Q1", ec)]


def test_qr_png_geometry_and_format() -> None:
    matrix = qr_matrix(EXAMPLE)
    assert matrix.dtype == np.bool_
    assert matrix.shape == (53, 53)  # version 9
    png = render_png(EXAMPLE, module_px=3)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "1"
        assert image.size == ((53 + 8) * 3, (53 + 8) * 3)
    pixels = png_pixels(png)
    assert (pixels[:12, :] == 255).all()  # 4 quiet modules of 3 px
    # Downsampled back to modules, the image is the matrix.
    modules = pixels[12:-12:3, 12:-12:3] == 0
    assert np.array_equal(modules, matrix)


def test_quiet_zone_and_module_size_options() -> None:
    png = render_png("hello", module_px=1, quiet_modules=0)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (21, 21)
    pixels = png_pixels(render_png("hello", module_px=2, quiet_modules=10))
    assert pixels.shape == ((21 + 20) * 2,) * 2
    assert read(pixels)[0].text == "hello"


def test_qr_svg_is_sized_in_mm_and_decodes_after_rasterising() -> None:
    svg = render_svg(EXAMPLE, module_mm=0.4)
    text = svg.decode("ascii")
    assert 'width="24.4mm" height="24.4mm"' in text  # (53 + 8) modules x 0.4 mm
    assert 'viewBox="0 0 61 61"' in text
    assert 'shape-rendering="crispEdges"' in text
    assert text.count("<path") == 1
    results = read(rasterise_svg(svg))
    assert [(r.text, r.symbology_identifier) for r in results] == [(EXAMPLE, "]Q1")]


def test_svg_path_covers_exactly_the_dark_modules() -> None:
    matrix = qr_matrix("svg check", "H")
    svg = matrix_to_svg(matrix, 1.0, 0).decode("ascii")
    drawn = np.zeros_like(matrix)
    for x, y, n in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\d+z", svg):
        drawn[int(y), int(x) : int(x) + int(n)] = True
    assert np.array_equal(drawn, matrix)


def test_datamatrix_is_gs1_with_fnc1_first() -> None:
    matrix = datamatrix_matrix(ELEMENT_STRING)
    assert matrix.dtype == np.bool_
    assert matrix.ndim == 2
    # ECC 200 finder: solid left column and bottom row.
    assert matrix[:, 0].all()
    assert matrix[-1, :].all()
    results = read(Image.open(io.BytesIO(render_png(ELEMENT_STRING, carrier="datamatrix"))))
    assert [(r.text, r.symbology_identifier, r.content_type) for r in results] == [
        (ELEMENT_STRING, "]d2", zxingcpp.ContentType.GS1)
    ]


def test_datamatrix_svg_decodes_after_rasterising() -> None:
    svg = render_svg(ELEMENT_STRING, carrier="datamatrix", module_mm=0.5)
    assert text_has_mm_size(
        svg.decode("ascii"), (datamatrix_matrix(ELEMENT_STRING).shape[1] + 4) * 0.5
    )
    results = read(rasterise_svg(svg, dpi=400))
    assert [(r.text, r.symbology_identifier) for r in results] == [(ELEMENT_STRING, "]d2")]


def text_has_mm_size(svg: str, width_mm: float) -> bool:
    match = re.search(r'width="([\d.]+)mm"', svg)
    return match is not None and abs(float(match.group(1)) - width_mm) < 1e-6


def test_datamatrix_default_quiet_zone_is_two_modules() -> None:
    matrix = datamatrix_matrix(ELEMENT_STRING)
    pixels = png_pixels(render_png(ELEMENT_STRING, carrier="datamatrix", module_px=1))
    assert pixels.shape == (matrix.shape[0] + 4, matrix.shape[1] + 4)
    assert np.array_equal(pixels[2:-2, 2:-2] == 0, matrix)


def test_datamatrix_accepts_a_leading_fnc1_or_symbology_prefix() -> None:
    expected = datamatrix_matrix(ELEMENT_STRING)
    assert np.array_equal(datamatrix_matrix("\x1d" + ELEMENT_STRING), expected)
    assert np.array_equal(datamatrix_matrix("]d2" + ELEMENT_STRING), expected)


@pytest.mark.parametrize(
    ("element_string", "message"),
    [
        ("", "empty"),
        ("01ABC", "too short"),  # GTIN must be 14 digits
        ("01040063813339", "too short"),  # cut short
        ("x10LOT", "expected an AI"),
        ("10LOT\x1d\x1d21X", "expected an AI"),
        ("10", "empty"),
        ("10AB[21]X", "not allowed"),
        ("1²LOT", "expected an AI"),
    ],
)
def test_bad_element_strings_are_gs1_syntax_errors(element_string: str, message: str) -> None:
    with pytest.raises(GS1SyntaxError, match=message):
        datamatrix_matrix(element_string)


def test_element_string_error_names_the_ai_and_position_in_the_input() -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        datamatrix_matrix("]d20104006381333931\x1d10\x1d21X")
    assert caught.value.ai == "10"
    assert caught.value.position == 22  # just after "10", counting the "]d2" and GS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"payload": ""}, "non-empty"),
        ({"payload": "x" * 3000}, "too long"),
        ({"payload": "x" * 1300, "ec": "H"}, "too long for any QR version"),
        ({"payload": "x", "ec": "Z"}, "unknown error correction level"),
        ({"payload": "x", "module_px": 0}, "module size"),
        ({"payload": "x", "module_px": -3}, "module size"),
        ({"payload": "x", "quiet_modules": -1}, "quiet zone"),
        ({"payload": "x", "carrier": "aztec"}, "unknown carrier"),
    ],
)
def test_bad_png_requests_are_invalid_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        render_png(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("module_mm", [0, -0.4, float("nan")])
def test_bad_svg_module_size_is_invalid_input(module_mm: float) -> None:
    with pytest.raises(InvalidInput, match="module size"):
        render_svg("x", module_mm=module_mm)


def test_matrix_helpers_reject_non_matrices() -> None:
    with pytest.raises(InvalidInput, match="2-D"):
        matrix_to_png(np.zeros(5, np.bool_), 1, 0)
    with pytest.raises(InvalidInput, match="2-D"):
        matrix_to_svg(np.zeros((0, 3), np.bool_), 1.0, 0)


def test_png_is_a_valid_zlib_stream_with_correct_crcs() -> None:
    png = render_png("crc", module_px=2)
    pos = 8
    kinds = []
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind = png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        crc = int.from_bytes(png[pos + 8 + length : pos + 12 + length], "big")
        assert zlib.crc32(kind + body) == crc
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]


def test_png_states_its_print_size_so_each_module_prints_at_the_stated_size() -> None:
    import io

    from PIL import Image

    # 4 pixels a module at 0.4 mm a module: 10 px/mm, 254 dpi.
    image = Image.open(io.BytesIO(render_png("dpi", module_px=4)))
    dpi_x, dpi_y = image.info["dpi"]
    assert round(dpi_x) == round(dpi_y) == 254


def test_random_element_strings_give_square_symbols_read_as_d2() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "-_"
    for _ in range(15):
        serial = "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(13))
        signature = "".join(rng.choice(alphabet) for _ in range(90))
        lot = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))
        element_string = f"010400638133393117{rng.randint(26, 30)}0615" + (
            f"10{lot}\x1d21{serial}\x1d8030{signature}"
        )
        matrix = datamatrix_matrix(element_string)
        assert matrix.shape[0] == matrix.shape[1]
        pixels = np.pad(~matrix, 2, constant_values=True).repeat(3, 0).repeat(3, 1)
        results = read(pixels.astype(np.uint8) * 255)
        assert [(r.text, r.symbology_identifier) for r in results] == [(element_string, "]d2")]


@pytest.mark.parametrize("ec", ["L", "M", "Q", "H"])
def test_realistic_labels_all_decode(ec: str) -> None:
    rng = random.Random(ec)
    base64url = string.ascii_letters + string.digits + "-_"
    for _ in range(25):
        serial = "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(13))
        lot = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))
        signature = "".join(rng.choice(base64url) for _ in range(90))
        uri = (
            f"https://id.sealtrace.example/01/04006381333931/10/{lot}/21/{serial}"
            f"?17=2{rng.randint(60000, 91231)}&8030={signature}"
        )
        assert [r.text for r in read(png_pixels(render_png(uri, ec=ec, module_px=2)))] == [uri]
