"""POST /v1/decode and the scanner page without JavaScript: real zxing-cpp on real images."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from authn.code import ProductCode
from authn.element_string import format_fnc1
from authn.signing import sign_code
from mobile_api.decode import (
    DecoderBusy,
    ImageTooLarge,
    ImageUnusable,
    UnsupportedImage,
    decode_codes,
    sniff,
)
from mobile_api.decode_pool import DecodeGate
from tests.mobile.conftest import ACME_GTIN, Env, label_png, photograph


def upload(env: Env, data: bytes, who: str | None = None, name: str = "photo") -> object:
    files = {name: ("label.jpg", data, "image/jpeg")}
    return env.client.post("/v1/decode", files=files, headers=env.auth(who))


def test_a_photographed_label_decodes_and_verifies(env: Env) -> None:
    env.register(["PHOTO1"])
    uri = env.sign("PHOTO1")
    photo = photograph(label_png(uri), angle=20, scale=0.5, quality=40)
    assert sniff(photo) == "jpeg"
    response = env.client.post("/v1/decode", files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == uri
    assert body["format"] == "QRCode"
    assert body["verify"]["verdict"] == "authentic"
    assert "history" not in body["verify"]  # anonymous: the consumer view
    officer = env.client.post(
        "/v1/decode", files={"photo": ("p.jpg", photo, "image/jpeg")}, headers=env.auth("officer")
    )
    assert "history" in officer.json()["verify"]


def test_a_gs1_datamatrix_decodes(env: Env) -> None:
    env.register(["DM1"])
    code = sign_code(ProductCode(gtin=ACME_GTIN, serial="DM1"), env.world.acme_line)
    element_string = format_fnc1(code.ais())
    png = label_png(element_string, carrier="datamatrix")
    decoded = decode_codes(photograph(png, angle=10, scale=0.7, quality=60), max_pixels=10**7)
    assert decoded[0].format == "DataMatrix"
    assert decoded[0].scan.startswith("]d2")
    response = env.client.post("/v1/decode", content=png, headers={"Content-Type": "image/png"})
    assert response.json()["verify"]["verdict"] == "authentic"


def test_type_is_judged_by_magic_bytes(env: Env) -> None:
    response = env.client.post(
        "/v1/decode", files={"photo": ("fake.jpg", b"GIF89a" + b"\0" * 100, "image/jpeg")}
    )
    assert response.status_code == 415
    with pytest.raises(UnsupportedImage):
        decode_codes(b"%PDF-1.7 not an image", max_pixels=10**7)


def test_no_code_and_broken_images_are_422(env: Env) -> None:
    blank = io.BytesIO()
    Image.new("L", (400, 300), 255).save(blank, format="PNG")
    response = env.client.post("/v1/decode", files={"photo": ("b.png", blank.getvalue(), "x/y")})
    assert response.status_code == 422
    assert response.json()["type"].endswith("no-code-found")
    truncated = label_png("https://id.example.com/01/09506000000428/21/X")[:200]
    with pytest.raises(ImageUnusable):
        decode_codes(truncated, max_pixels=10**7)
    # A QR code that holds no product code is not a product.
    hello = env.client.post("/v1/decode", files={"photo": ("q.png", label_png("hello"), "")})
    assert hello.status_code == 422


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size: the bomb must be refused before pixels are decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bombs_and_oversized_uploads(env: Env) -> None:
    bomb = _png_header_only(60_000, 60_000)
    response = env.client.post("/v1/decode", files={"photo": ("bomb.png", bomb, "image/png")})
    assert response.status_code == 413  # refused from the header, clearly
    assert "too large" in response.json()["detail"]
    big = b"\xff\xd8\xff" + b"\0" * (8 * 1024 * 1024 + 10)
    assert env.client.post("/v1/decode", content=big).status_code == 413


def test_scanner_page_and_its_no_javascript_form(env: Env) -> None:
    page = env.client.get("/scan", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    assert 'capture="environment"' in page.text
    assert 'src="/static/scan.js"' in page.text
    assert "Escanear un código de producto" in page.text
    assert env.client.get("/static/scan.js").status_code == 200
    env.register(["FORM1"])
    photo = photograph(label_png(env.sign("FORM1")))
    result = env.client.post("/scan", files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert result.status_code == 200
    assert "verdict-authentic" in result.text
    nothing = env.client.post("/scan", files={"photo": ("p.jpg", b"\x89PNG\r\n\x1a\nxx", "")})
    assert nothing.status_code == 422
    assert 'role="alert"' in nothing.text


def test_photos_over_the_verify_body_limit_are_accepted(env: Env) -> None:
    env.register(["BIG1"])
    photo = photograph(
        label_png(env.sign("BIG1"), module_px=16), angle=5, scale=1.0, quality=98, canvas=2000
    )
    assert len(photo) > env.services.settings.verify_body_limit  # 64 KiB would refuse it
    response = env.client.post("/v1/decode", files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert response.status_code == 200, response.text
    assert response.json()["verify"]["verdict"] == "authentic"


def test_a_50_mp_jpeg_is_refused_as_too_large_not_unreadable(env: Env) -> None:
    out = io.BytesIO()
    Image.new("L", (8000, 6250), 200).save(out, format="JPEG", quality=50)
    response = env.client.post(
        "/v1/decode", content=out.getvalue(), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 413, response.text
    assert "too large" in response.json()["detail"]
    assert "ImageUnusable" not in response.json()["detail"]


def test_decoded_bytes_are_bounded_from_the_header(env: Env) -> None:
    """Under the pixel cap but over the memory bound (RGBA is 4 bytes a pixel): 413."""
    png = io.BytesIO()
    Image.new("RGBA", (4000, 4000)).save(png, format="PNG")
    with pytest.raises(ImageTooLarge, match="too large to decode"):
        decode_codes(png.getvalue(), max_pixels=40_000_000, max_bytes=48 * 1024 * 1024)
    # The same pixels in grey are a quarter of the bytes: decoded (and hold no code).
    grey = io.BytesIO()
    Image.new("L", (4000, 4000), 255).save(grey, format="PNG")
    with pytest.raises(ImageUnusable, match="no QR code"):
        decode_codes(grey.getvalue(), max_pixels=40_000_000, max_bytes=48 * 1024 * 1024)


def test_a_big_jpeg_is_drafted_down_and_still_decodes(env: Env) -> None:
    env.register(["DRAFT1"])
    photo = photograph(
        label_png(env.sign("DRAFT1"), module_px=40), angle=3, scale=1.0, quality=90, canvas=6000
    )
    assert Image.open(io.BytesIO(photo)).size == (6000, 6000)  # 36 MP, 144 MB as RGBX
    response = env.client.post("/v1/decode", content=photo, headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text


def test_exif_orientation_is_applied(env: Env) -> None:
    env.register(["EXIF1"])
    label = Image.open(io.BytesIO(label_png(env.sign("EXIF1")))).convert("L")
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned: a viewer rotates it back by 90 degrees
    out = io.BytesIO()
    label.rotate(-90, expand=True).save(out, format="JPEG", quality=90, exif=exif.tobytes())
    assert decode_codes(out.getvalue(), max_pixels=10**7)[0].text == env.sign("EXIF1")


def test_decodes_past_the_slots_are_503_with_retry_after(env: Env) -> None:
    gate = DecodeGate(1)
    with gate.slot(), pytest.raises(DecoderBusy):  # noqa: SIM117
        with gate.slot():
            pass
    with gate.slot():  # released: free again
        pass
    env.app.state.decode_gate = DecodeGate(1)
    with env.app.state.decode_gate.slot():
        busy = env.client.post(
            "/v1/decode", content=label_png("x"), headers={"Content-Type": "image/png"}
        )
        page = env.client.post("/scan", files={"photo": ("p.png", label_png("x"), "image/png")})
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "5"
    assert page.status_code == 503
    assert page.headers["retry-after"] == "5"
