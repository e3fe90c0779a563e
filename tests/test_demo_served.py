"""`make run` as a user meets it: the served demo, its labels scanned and verified over HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image

SERVING = "The verifier is serving on"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(log: Path, marker: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if marker in text and "Brand token:" in text:
            return text
        if process.poll() is not None:
            raise AssertionError(f"the demo stopped (exit {process.returncode}):\n{text[-3000:]}")
        time.sleep(0.3)
    raise AssertionError(
        f"the demo did not start serving in {timeout} s:\n{log.read_text()[-3000:]}"
    )


def printed(text: str, label: str) -> str:
    match = re.search(rf"{label}:\s+(\S+)", text)
    assert match, f"{label!r} not printed"
    return match.group(1)


@pytest.mark.slow
def test_make_run_serves_labels_that_verify(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    env = {**os.environ, "SEALTRACE_KEY_PASSPHRASE": "demo test passphrase"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sealtrace.demo", "--port", str(port), "--labels", "3"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        text = wait_for(log, SERVING, process, timeout=120)
        genuine = printed(text, "Open a genuine label")
        destroyed = printed(text, "A label marked destroyed")
        fake = printed(text, "A counterfeit label")
        officer = {"Authorization": f"Bearer {printed(text, 'Officer token')}"}
        base = f"http://127.0.0.1:{port}"

        # The genuine label as a scanner reads it off the printed PNG.
        serial = re.search(r"/21/([0-9A-Z]+)", genuine)
        assert serial
        [png] = (tmp_path / "demo" / "batches").glob(f"*/labels/{serial.group(1)}.png")
        [read] = zxingcpp.read_barcodes(Image.open(png))
        assert read.text == genuine

        with httpx.Client(base_url=base, timeout=30) as client:
            answer = client.post("/v1/verify", json={"code": read.text, "country": "DE"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["verdict"] == "authentic"

            answer = client.post(
                "/v1/verify", json={"code": destroyed, "country": "DE"}, headers=officer
            ).json()
            assert (answer["verdict"], answer["status"]) == ("suspect", "destroyed")
            assert "SCANNED_AFTER_DECOMMISSION" in [r["code"] for r in answer["reasons"]]

            answer = client.post("/v1/verify", json={"code": fake}).json()
            assert answer["verdict"] == "counterfeit"

            page = client.get(genuine.replace(f"http://127.0.0.1:{port}", ""),
                              headers={"Accept": "text/html"})  # fmt: skip
            assert page.status_code == 200
            assert "Authentic product" in page.text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
