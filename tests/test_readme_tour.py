"""The README's tour, run literally against `make run`'s demo on a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SERVING = "The verifier is serving on"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tour_block() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## A five-minute tour") : readme.index("## Documentation")]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the tour has exactly one sh block"
    return blocks[0]


def start_demo(cwd: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SEALTRACE_DEMO_PORT": str(port)}
    env.pop("SEALTRACE_RESOLVER", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sealtrace.demo", "--labels", "3"], cwd=cwd, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def wait_serving(process: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if SERVING in text and "README tour" in text:
            return
        if process.poll() is not None:
            raise AssertionError(f"the demo stopped (exit {process.returncode}):\n{text[-3000:]}")
        time.sleep(0.3)
    raise AssertionError(f"the demo did not serve:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    port = free_port()
    demo = start_demo(tmp_path, port, tmp_path / "demo.log")
    try:
        wait_serving(demo, tmp_path / "demo.log")
        tokens = (tmp_path / "demo" / "tokens.env").stat()
        assert tokens.st_mode & 0o077 == 0, "the token file is private"
        tour = subprocess.run(
            ["bash", "-e", "-c", tour_block()], cwd=tmp_path, capture_output=True, text=True,
            timeout=600, check=False, env={k: v for k, v in os.environ.items()
                                          if not k.startswith("SEALTRACE_")},
        )  # fmt: skip
        assert tour.returncode == 0, tour.stdout[-3000:] + tour.stderr[-3000:]
        out = tour.stdout
        assert "verdict: authentic (status active)" in out  # officer check, online
        assert "right holder: " in out
        assert "name: Tour tablets\n" in out
        assert '"valid": true' in out
        assert "200 of 200 serials confirmed" in out
        assert "200 units: 200 changed, 0 unchanged, 0 failed" in out
        assert "recalled (changed)" in out

        # A second demo while the port is taken: refused, no tokens, nothing registered.
        second_log = tmp_path / "second.log"
        second = start_demo(tmp_path, port, second_log)
        assert second.wait(timeout=120) == 2
        text = second_log.read_text()
        assert "is taken" in text
        assert "st_" not in text
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)
