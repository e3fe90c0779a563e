"""`make run`: a demo registry, brand, line key and labels, and the verifier serving them.

Everything lives under ``demo/`` (git-ignored) and is reused on the next run:
the keys stay, so printed labels keep verifying; each run publishes a fresh
trust list version and issues a few more labels.

    python -m sealtrace.demo              # prepare and serve on 127.0.0.1:8000
    python -m sealtrace.demo --no-serve   # prepare only (labels, keys, trust list)
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from authn.scan import parse_scan
from authn.signing import key_id, sign_code
from issuer.batch import build_spec, create_batch, run_batch
from issuer.register import register_batch
from issuer.render import render_png
from issuer.serials import draw_serials
from keys.filestore import generate_key_files, key_paths, load_private_key
from keys.home import KeyHome
from keys.model import Contact
from verifier.accounts import Role, create_account, issue_token
from verifier.db.engine import make_engine
from verifier.db.migrate import upgrade
from verifier.settings import Settings

DEMO_DIR = Path("demo")
# The demo's keys are encrypted like any other; this passphrase is for the demo
# only and is printed so the reader can repeat the commands by hand.
DEMO_PASSPHRASE = "demo-passphrase-not-for-production"  # noqa: S105 - demo only, printed
BRAND = "demo-pharma"
PREFIX = "4006381"
DEMO_GTIN = "04006381333931"
DEMO_LOT = "DEMO2026"
DEMO_EXPIRY = "281200"
LINE = "line-1"


@dataclass(frozen=True)
class DemoLabel:
    uri: str
    png: Path
    code: ProductCode


@dataclass(frozen=True)
class Demo:
    root: Path
    home: KeyHome
    line_key: Ed25519PrivateKey
    database_url: str
    resolver: str

    @property
    def trust_list(self) -> Path:
        return self.home.lists_dir / "current.json"

    @property
    def registry_public_key(self) -> Path:
        return self.home.keys_dir / "registry.pub.pem"

    @property
    def line_public_key(self) -> Path:
        return key_paths(self.home.keys_dir, f"line-{BRAND}-{LINE}")[1]


def now_utc() -> datetime:
    return datetime.now(UTC)


def prepare(root: Path, resolver: str, passphrase: bytes) -> Demo:
    """Registry, brand, line key and a fresh trust list version, created or reused."""
    home = KeyHome(root / "registry", passphrase)
    now = now_utc()
    if not home.state.get("registry_key"):
        home.init_registry()
    if BRAND not in home.state["applications"]:
        contact = Contact(email="brand-protection@demo-pharma.example", phone="+49 30 0000 0000")
        home.init_brand(BRAND, "Demo Pharma GmbH", [PREFIX], contact)
    if BRAND not in home.state["brands"]:
        home.register_brand(BRAND, registered_by="demo registry operator", now=now)
    if not any(c.brand_id == BRAND and c.name == LINE for c in home.certificates()):
        home.new_line(BRAND, name=LINE, prefixes=[PREFIX], valid_days=365, now=now)
    home.build_trust_list(now=now, valid_days=30)
    private_path, _ = key_paths(home.keys_dir, f"line-{BRAND}-{LINE}")
    database_url = f"sqlite:///{(root / 'sealtrace.db').resolve()}"
    upgrade(database_url)
    return Demo(root, home, load_private_key(private_path, passphrase), database_url, resolver)


def issue_labels(demo: Demo, count: int) -> tuple[Path, list[DemoLabel]]:
    """A batch of PNG labels issued exactly as `sealtrace issue` does (journaled, signed)."""
    now = now_utc()
    line_private = key_paths(demo.home.keys_dir, f"line-{BRAND}-{LINE}")[0]
    spec = build_spec(
        gtin=DEMO_GTIN,
        count=count,
        fmt="png",
        key_spec=str(line_private.resolve()),
        key_id=key_id(demo.line_key.public_key()),
        registry=demo.root / "serials.sqlite",
        now=now,
        resolver=demo.resolver,
        lot=DEMO_LOT,
        expiry=DEMO_EXPIRY,
        markets=("DE", "FR"),
        batch_id=f"demo-{now:%Y%m%d-%H%M%S}",
    )
    directory = demo.root / "batches" / spec.batch_id
    result = run_batch(create_batch(directory, spec), demo.line_key)
    labels = []
    with (result.directory / "manifest.csv").open(newline="") as manifest:
        for row in csv.DictReader(manifest):
            code = ProductCode.from_ais(parse_scan(row["digital_link"]).ais)
            labels.append(
                DemoLabel(uri=row["digital_link"], png=directory / row["file"], code=code)
            )
    return directory, labels


def counterfeit_label(demo: Demo) -> DemoLabel:
    """A code signed by a key nobody certified: what a forger without the line key makes."""
    forger = Ed25519PrivateKey.generate()
    code = sign_code(
        ProductCode(gtin=DEMO_GTIN, serial=draw_serials(1)[0], lot=DEMO_LOT, expiry=DEMO_EXPIRY),
        forger,
    )
    uri = format_digital_link(code.ais(), base=demo.resolver)
    png = demo.root / f"counterfeit-{code.serial}.png"
    png.write_bytes(render_png(uri))
    return DemoLabel(uri=uri, png=png, code=code)


def accounts(demo: Demo, settings: Settings) -> dict[str, str]:
    """An officer and a brand account, each with a fresh token (tokens are shown once)."""
    engine = make_engine(demo.database_url)
    pepper = settings.token_pepper.get_secret_value().encode()
    tokens = {}
    try:
        with Session(engine) as session:
            for name, role, brand in (
                ("demo-officer", Role.OFFICER, None),
                ("demo-brand", Role.BRAND, BRAND),
            ):
                try:
                    create_account(session, name=name, role=role, now=now_utc(), brand_id=brand)
                except Exception:
                    session.rollback()
                tokens[name] = issue_token(session, name, pepper=pepper, now=now_utc())
    finally:
        engine.dispose()
    return tokens


def bundle_key(demo: Demo, passphrase: bytes) -> Path:
    """The offline-bundle signing key, made once and kept, so every worker signs with it."""
    path, _ = key_paths(demo.root, "bundle")
    if not path.exists():
        generate_key_files(demo.root, passphrase, "bundle")
    return path


def server_env(demo: Demo, passphrase: bytes) -> dict[str, str]:
    return {
        **os.environ,
        "SEALTRACE_DATABASE_URL": demo.database_url,
        "SEALTRACE_TRUST_LIST": str(demo.trust_list.resolve()),
        "SEALTRACE_REGISTRY_PUBLIC_KEY": str(demo.registry_public_key.resolve()),
        "SEALTRACE_MOBILE_BUNDLE_KEY": str(bundle_key(demo, passphrase).resolve()),
        "SEALTRACE_MOBILE_BUNDLE_KEY_PASSPHRASE": passphrase.decode(),
    }


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` yet (checked before anything is made)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def write_tokens(demo: Demo, base: str, tokens: dict[str, str], passphrase: bytes) -> Path:
    """demo/tokens.env: what the README tour sources (mode 0600: it holds tokens)."""
    line_private = key_paths(demo.home.keys_dir, f"line-{BRAND}-{LINE}")[0]
    values = {
        "SEALTRACE_URL": base,
        "OFFICER_TOKEN": tokens["demo-officer"],
        "BRAND_TOKEN": tokens["demo-brand"],
        "SEALTRACE_TOKEN": tokens["demo-brand"],
        "SEALTRACE_KEY_PASSPHRASE": passphrase.decode(),
        "SEALTRACE_TRUST_LIST": str(demo.trust_list.resolve()),
        "SEALTRACE_REGISTRY_PUBLIC_KEY": str(demo.registry_public_key.resolve()),
        "SEALTRACE_SERIAL_REGISTRY": str((demo.root / "serials.sqlite").resolve()),
        "DEMO_LINE_KEY": str(line_private.resolve()),
        "DEMO_LINE_PUBLIC_KEY": str(demo.line_public_key.resolve()),
        "DEMO_GTIN": DEMO_GTIN,
        "DEMO_RESOLVER": demo.resolver,
    }
    path = demo.root / "tokens.env"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())
    return path


def wait_until_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the verifier stopped at start (exit {server.returncode})")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the verifier did not become ready at {base}")


def register_and_destroy(base: str, brand_token: str, batch: Path, destroyed: ProductCode) -> None:
    """Register the batch with the issuer's client, as a producer would; mark one destroyed."""
    report = register_batch(batch, base, brand_token)
    if not report.complete:
        raise SystemExit(report.summary())
    answer = httpx.post(
        f"{base}/v1/codes/{destroyed.gtin}/{destroyed.serial}/status",
        headers={"Authorization": f"Bearer {brand_token}"},
        json={"status": "destroyed", "comment": "demo: destroyed at the plant"},
        timeout=30,
    )
    answer.raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the demo brand, keys and labels; serve.")
    parser.add_argument("--no-serve", action="store_true", help="prepare only; do not serve")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SEALTRACE_DEMO_PORT", "8000"))
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("SEALTRACE_DEMO_HOST", "127.0.0.1"),
        help="address to listen on (0.0.0.0: reachable from a phone on the same network; "
        "then set SEALTRACE_RESOLVER=http://<this machine's address>:<port>)",
    )
    parser.add_argument("--labels", type=int, default=5, help="labels to issue this run")
    args = parser.parse_args(argv)

    local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    base = f"http://{local}:{args.port}"
    if not args.no_serve and not port_free(args.host, args.port):
        print(
            f"error: port {args.port} on {args.host} is taken (another `make run`?); stop it "
            "or choose another with SEALTRACE_DEMO_PORT",
            file=sys.stderr,
        )
        return 2
    passphrase = os.environ.get("SEALTRACE_KEY_PASSPHRASE", DEMO_PASSPHRASE).encode()
    demo = prepare(DEMO_DIR, os.environ.get("SEALTRACE_RESOLVER", base), passphrase)
    batch, labels = issue_labels(demo, args.labels)
    fake = counterfeit_label(demo)
    print(
        f"Demo brand {BRAND!r}, line key {key_id(demo.line_key.public_key())}; keys encrypted in "
        f"{demo.home.keys_dir} (passphrase {DEMO_PASSPHRASE!r} unless SEALTRACE_KEY_PASSPHRASE "
        "is set)"
    )
    print(f"{len(labels)} signed labels in {batch / 'labels'}:")
    for label in labels:
        print(f"  {label.png.name}  {label.uri}")
    if args.no_serve:
        print("\nVerify one offline:")
        print(f"  .venv/bin/sealtrace code verify '{labels[0].uri}' \\")
        print(f"      --public-key {demo.line_public_key}")
        return 0

    tokens = accounts(demo, Settings(database_url=demo.database_url))
    server = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "sealtrace", "serve", "--host", args.host, "--port",
         str(args.port), "--no-migrate"],
        env=server_env(demo, passphrase),
    )  # fmt: skip
    try:
        wait_until_ready(base, server)
        register_and_destroy(base, tokens["demo-brand"], batch, labels[-1].code)
        token_file = write_tokens(demo, base, tokens, passphrase)
        print(
            f"""
The verifier is serving on {base}  (Ctrl-C to stop)

  Open a genuine label:      {labels[0].uri}
  A label marked destroyed:  {labels[-1].uri}
  A counterfeit label:       {fake.uri}
  The phone scanner page:    {base}/scan
  API documentation:         {base}/docs

  Officer token: {tokens["demo-officer"]}
  Brand token:   {tokens["demo-brand"]}
  Tokens, keys and settings for the README tour: . {token_file}

  curl -s {base}/v1/verify -H 'Authorization: Bearer {tokens["demo-officer"]}' \\
       -H 'Content-Type: application/json' -d '{{"code": "{labels[0].uri}", "country": "DE"}}'
""",
            flush=True,
        )
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
