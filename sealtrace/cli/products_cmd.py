"""`sealtrace brand products`: the brand's product master data per GTIN (name, strength, pack
size, image, markets), shown to consumers, officers and the console beside the code.

Over the verifier's HTTP API like every `sealtrace brand` command; the field names are the
API's (GS1 Web Vocabulary): productName, brandName, productDescription, availableStrength,
netContent, image, targetMarket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sealtrace.cli.api_call import ConfigOption, JsonOption, UrlOption, call, report_items, show

app = typer.Typer(
    no_args_is_help=True,
    help="Product master data per GTIN: import a CSV/JSON file, list, show, set, delete, and "
    "upload the pack's image.",
)
GtinArgument = Annotated[str, typer.Argument(help="GTIN (14 digits).")]
FIELDS = (
    ("productName", "name"), ("brandName", "brand"), ("availableStrength", "strength"),
    ("netContent", "pack size"), ("productDescription", "description"), ("image", "image"),
    ("uploadedImage", "uploaded image"),
)  # fmt: skip


def _label(product: dict[str, Any]) -> str:
    parts = (product["productName"], product.get("availableStrength"), product.get("netContent"))
    return " · ".join(p for p in parts if p)


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(help="A JSON list of products, or a CSV with a header row: gtin and "
                       "the field names (targetMarket as countries separated by spaces).",
                       exists=True, dir_okay=False),
    ],
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Create or replace the products of a file; each bad line is printed with its reason and
    the others are stored. Sending the same file again changes nothing. Exit 1 when any failed."""
    kind = "text/csv" if file.suffix.lower() == ".csv" else "application/json"
    answer = call(
        url, config, "POST", "/v1/products:import", content=file.read_bytes(),
        headers={"Content-Type": kind},
    )  # fmt: skip
    report_items(answer["results"], noun="products", name=lambda r: r["gtin"] or "(no gtin)",
                 as_json=as_json, answer=answer)  # fmt: skip


@app.command("list")
def list_products(
    url: UrlOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """The brand's products by GTIN (officers and admins: every brand's)."""
    answer = call(url, config, "GET", "/v1/products")
    lines = [f"{p['gtin']}\t{_label(p)}\t{p['brand_id']}" for p in answer]
    show(answer, as_json, "\n".join(lines) if lines else "no products")


@app.command("show")
def show_product(
    gtin: GtinArgument, url: UrlOption = None, config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """One GTIN's product data."""
    answer = call(url, config, "GET", f"/v1/products/{gtin}")
    lines = [f"gtin: {answer['gtin']}"]
    lines += [f"{label}: {answer[key]}" for key, label in FIELDS if answer.get(key)]
    lines.append(f"markets: {', '.join(answer['targetMarket']) or 'any'}")
    lines.append(f"updated: {answer['updated_at']}")
    show(answer, as_json, "\n".join(lines))


@app.command("set")
def set_product(
    gtin: GtinArgument,
    name: Annotated[str, typer.Option("--name", help="productName, as on the pack.")],
    brand_name: Annotated[str | None, typer.Option(help="brandName, as on the pack.")] = None,
    strength: Annotated[str | None, typer.Option(help="e.g. '500 mg'.")] = None,
    pack_size: Annotated[str | None, typer.Option(help="netContent, e.g. '20 tablets'.")] = None,
    description: Annotated[str | None, typer.Option(help="productDescription.")] = None,
    image: Annotated[str | None, typer.Option(help="https URL of the pack's picture.")] = None,
    markets: Annotated[str, typer.Option(help="targetMarket countries, e.g. DE,FR.")] = "",
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create or replace one GTIN's product data."""
    body = {
        "productName": name, "brandName": brand_name, "availableStrength": strength,
        "netContent": pack_size, "productDescription": description, "image": image,
        "targetMarket": [m.strip().upper() for m in markets.split(",") if m.strip()],
    }  # fmt: skip
    answer = call(url, config, "PUT", f"/v1/products/{gtin}", json=body)
    show(answer, as_json, f"{gtin}: {_label(answer)}")


@app.command("delete")
def delete_product(gtin: GtinArgument, url: UrlOption = None, config: ConfigOption = None) -> None:
    """Remove one GTIN's product data (pages show the GTIN alone again)."""
    call(url, config, "DELETE", f"/v1/products/{gtin}")
    typer.echo(f"{gtin}: product data removed")


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".webp": "image/webp"}  # fmt: skip


@app.command("image")
def product_image(
    gtin: GtinArgument,
    file: Annotated[
        Path | None,
        typer.Argument(help="A PNG, JPEG or WebP picture of the pack.", exists=True,
                       dir_okay=False),
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the uploaded image.")] = False,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Upload the pack's picture for GTIN (or --remove it). The service keeps the pixels only
    (no metadata) and serves them to consumers' and officers' pages at the printed URL."""
    if remove == (file is not None):
        typer.echo("error: give the image FILE, or --remove", err=True)
        raise typer.Exit(2)
    if file is None:
        call(url, config, "DELETE", f"/v1/products/{gtin}/image")
        typer.echo(f"{gtin}: image removed")
        return
    kind = IMAGE_TYPES.get(file.suffix.lower(), "application/octet-stream")
    answer = call(
        url, config, "PUT", f"/v1/products/{gtin}/image", content=file.read_bytes(),
        headers={"Content-Type": kind},
    )  # fmt: skip
    line = f"{gtin}: {answer['mediaType']} {answer['width']}x{answer['height']}, {answer['bytes']}"
    show(answer, as_json, f"{line} bytes at {answer['url']}")
