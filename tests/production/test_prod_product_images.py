"""Uploaded product images against a real `sealtrace serve`, on SQLite and PostgreSQL:
upload (API and CLI), anonymous serving, wrong type, too big, truncated, another brand,
metadata stripped, and the verify answer pointing at the image only for a genuine code."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner

from sealtrace.cli import app
from tests.production.conftest import (
    ACME_GTIN,
    OTHER_GTIN,
    ServerFactory,
    World,
    create_accounts,
    registration,
    signed_uri,
)

MAX_BYTES = 64 * 1024
MAX_PIXELS = 640 * 480
ANON_LIMIT = 12


def picture(fmt: str, size: tuple[int, int] = (32, 24), **save: Any) -> bytes:
    image = Image.new("RGB", size, (200, 30, 40))
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


class Site:
    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base, self.tokens = base, tokens

    def put(self, data: bytes, who: str = "acme", gtin: str = ACME_GTIN) -> httpx.Response:
        return httpx.put(
            f"{self.base}/v1/products/{gtin}/image", content=data, timeout=30,
            headers={"Authorization": f"Bearer {self.tokens[who]}",
                     "Content-Type": "image/png"},
        )  # fmt: skip

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(self.base + path, headers=headers, timeout=30)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def site(database_url: str, serve: ServerFactory) -> Site:
    tokens = create_accounts(database_url)
    server = serve(
        database_url,
        SEALTRACE_PRODUCT_IMAGE_MAX_BYTES=str(MAX_BYTES),
        SEALTRACE_PRODUCT_IMAGE_MAX_PIXELS=str(MAX_PIXELS),
        SEALTRACE_ANONYMOUS_VERIFY_LIMIT=str(ANON_LIMIT),
    )
    return Site(server.base, tokens)


def test_upload_serve_and_strip_metadata(site: Site) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:01:01 10:00:00"  # DateTime
    original = picture("JPEG", exif=exif.tobytes(), comment=b"secret note")
    assert b"PhoneMaker" in original
    answer = site.put(original)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["mediaType"], body["width"], body["height"]) == ("image/jpeg", 32, 24)
    assert body["url"].startswith("/v1/product-images/")
    assert body["url"].endswith(".jpg")

    served = site.get(body["url"])  # anonymous
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in served.headers["cache-control"]
    assert b"PhoneMaker" not in served.content
    assert b"secret note" not in served.content
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.format == "JPEG"
        assert image.size == (32, 24)
        assert dict(image.getexif()) == {}
    again = site.get(body["url"], **{"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304
    assert site.get(body["url"].replace(".jpg", ".png")).status_code == 404
    assert site.get("/v1/product-images/" + "0" * 64 + ".png").status_code == 404

    # The GTIN's info is for its brand, officers and admins; a new image gets a new URL.
    info = httpx.get(f"{site.base}/v1/products/{ACME_GTIN}/image", headers=site.auth("officer"))
    assert info.json()["url"] == body["url"]
    replaced = site.put(picture("PNG"))
    assert replaced.status_code == 200
    assert replaced.json()["url"].endswith(".png")
    assert replaced.json()["url"] != body["url"]
    assert site.get(body["url"]).status_code == 404
    assert site.get(replaced.json()["url"]).headers["content-type"] == "image/png"
    webp = site.put(picture("WEBP"))
    assert webp.status_code == 200
    assert webp.json()["mediaType"] == "image/webp"


BAD_UPLOADS = {
    "gif": (b"GIF89a" + b"\0" * 40, 415),
    "svg": (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", 415),
    "pdf": (b"%PDF-1.7 not an image", 415),
    "png-truncated": (picture("PNG")[:-40], 400),  # the end of the pixel data is missing
    "jpeg-truncated": (picture("JPEG")[:200], 400),
    "png-garbage": (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, 400),  # a signature, nothing usable
    "pixels": (picture("PNG", size=(1000, 1000)), 413),  # over the pixel cap
    "bytes": (b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_BYTES + 1), 413),  # over the byte cap
}


def test_refused_uploads_say_why_and_store_nothing(site: Site) -> None:
    # One server for every case: each answer is independent of the others.
    answers = {name: site.put(data) for name, (data, _) in BAD_UPLOADS.items()}
    assert {n: a.status_code for n, a in answers.items()} == {
        n: status for n, (_, status) in BAD_UPLOADS.items()
    }
    for answer in answers.values():
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"]
    assert "PNG, JPEG or WebP" in answers["gif"].json()["detail"]
    assert "truncated or damaged" in answers["png-truncated"].json()["detail"]
    info = httpx.get(f"{site.base}/v1/products/{ACME_GTIN}/image", headers=site.auth("acme"))
    assert info.status_code == 404


def test_another_brand_can_neither_upload_read_nor_remove(site: Site) -> None:
    assert site.put(picture("PNG")).status_code == 200
    assert site.put(picture("PNG"), who="other").status_code == 404  # not told it exists
    path = f"{site.base}/v1/products/{ACME_GTIN}/image"
    assert httpx.get(path, headers=site.auth("other")).status_code == 404
    assert httpx.delete(path, headers=site.auth("other")).status_code == 404
    assert site.put(picture("PNG"), who="officer").status_code == 403
    assert httpx.put(path, content=picture("PNG")).status_code == 401
    # The other brand uploads for its own GTIN; admins may write any brand's.
    assert site.put(picture("PNG", size=(8, 8)), who="other", gtin=OTHER_GTIN).status_code == 200
    assert site.put(picture("PNG", size=(9, 9)), who="admin").status_code == 200
    assert httpx.delete(path, headers=site.auth("acme")).status_code == 204
    assert httpx.get(path, headers=site.auth("acme")).status_code == 404


def test_the_verify_answer_points_at_the_image_only_for_a_genuine_code(
    site: Site, world: World
) -> None:
    registered = httpx.post(
        f"{site.base}/v1/registrations", json=registration(world, ["IMG1"]),
        headers=site.auth("acme"), timeout=30,
    )  # fmt: skip
    assert registered.status_code == 200, registered.text
    product = {"productName": "Acmedol tablets", "image": "https://acme.example/a.png"}
    httpx.put(f"{site.base}/v1/products/{ACME_GTIN}", json=product, headers=site.auth("acme"))
    verify = f"{site.base}/v1/verify"
    code = signed_uri(world, "IMG1")
    before = httpx.post(verify, json={"code": code}).json()
    assert before["product"]["image"] == "https://acme.example/a.png"
    uploaded = site.put(picture("PNG")).json()["url"]
    after = httpx.post(verify, json={"code": code}).json()
    assert after["product"]["image"] == uploaded
    forged = signed_uri(world, "IMG2", brand="other").replace(OTHER_GTIN, ACME_GTIN)
    answer = httpx.post(verify, json={"code": forged}).json()
    assert answer["verdict"] != "authentic"
    assert answer["product"].get("image") is None


def test_the_cli_uploads_and_removes(site: Site, tmp_path: Any) -> None:
    file = tmp_path / "pack.png"
    file.write_bytes(picture("PNG"))
    env = {"SEALTRACE_URL": site.base, "SEALTRACE_TOKEN": site.tokens["acme"],
           "SEALTRACE_CONFIG": "/nonexistent/client.toml"}  # fmt: skip
    done = CliRunner().invoke(app, ["brand", "products", "image", ACME_GTIN, str(file)], env=env)
    assert done.exit_code == 0, done.output
    assert "image/png 32x24" in done.stdout
    assert "/v1/product-images/" in done.stdout
    url = done.stdout.split(" at ")[-1].strip()
    assert site.get(url).status_code == 200
    runner = CliRunner()
    runner.invoke(app, ["brand", "products", "set", ACME_GTIN, "--name", "Acmedol"], env=env)
    shown = runner.invoke(app, ["brand", "products", "show", ACME_GTIN], env=env)
    assert f"uploaded image: {url}\n" in shown.stdout
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    refused = CliRunner().invoke(app, ["brand", "products", "image", ACME_GTIN, str(bad)], env=env)
    assert refused.exit_code == 2
    assert "PNG, JPEG or WebP" in refused.stderr
    removed = CliRunner().invoke(
        app, ["brand", "products", "image", ACME_GTIN, "--remove"], env=env
    )
    assert removed.exit_code == 0, removed.output
    assert site.get(url).status_code == 404


def test_serving_is_rate_limited_for_anonymous_callers(site: Site) -> None:
    url = site.put(picture("PNG")).json()["url"]
    # Twice the budget and one: even if a window ends midway, one of the two overflows.
    statuses = [site.get(url).status_code for _ in range(2 * ANON_LIMIT + 1)]
    assert statuses[0] == 200
    assert 429 in statuses
    # A token holder is not limited.
    assert site.get(url, Authorization=f"Bearer {site.tokens['officer']}").status_code == 200
