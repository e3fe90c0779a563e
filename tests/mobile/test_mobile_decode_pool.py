"""Photo decodes run in separate, lower-priority, memory-capped processes: a decode that is
killed or runs out of memory fails only its own request, and the next decode works."""

from __future__ import annotations

import os
import resource
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mobile_api.decode import DecoderBusy, DecoderFailed, ImageTooLarge
from mobile_api.decode_pool import DecodePool, HostDecodeGate
from tests.mobile.conftest import Env, label_png
from tests.production.test_prod_decode_attack import flat_png

MB = 1024 * 1024
CAPS = {"max_pixels": 40_000_000, "max_bytes": 48 * MB}


@pytest.fixture
def pool() -> Iterator[DecodePool]:
    pool = DecodePool(niceness=15, memory_bytes=384 * MB, timeout=60)
    yield pool
    pool.close()


def wait_for(condition: object, what: str) -> None:
    """Poll until ``condition()`` holds: a synchronisation point, not a timed assertion."""
    assert callable(condition)
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def idle_pid(pool: DecodePool) -> int:
    (child,) = pool._idle  # one decode ran, so one child waits for the next
    return child.pid


def test_decodes_run_in_a_lower_priority_process_with_a_memory_cap(pool: DecodePool) -> None:
    found = pool.decode(label_png("https://id.example.com/01/09506000134352/21/A1"), **CAPS)
    assert found[0].text == "https://id.example.com/01/09506000134352/21/A1"
    pid = idle_pid(pool)
    assert pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, pid) >= 15
    assert resource.prlimit(pid, resource.RLIMIT_AS) == (384 * MB, 384 * MB)
    pool.decode(label_png("second"), **CAPS)
    assert idle_pid(pool) == pid  # kept for the next photo, not started per decode


def test_a_decode_killed_in_the_pool_fails_alone_and_the_next_decode_works(
    pool: DecodePool,
) -> None:
    pool.decode(label_png("warm"), **CAPS)
    first = idle_pid(pool)
    os.kill(first, signal.SIGSTOP)  # hold it, so the request is surely in flight when killed
    outcome: list[BaseException | None] = []

    def decode() -> None:
        try:
            pool.decode(label_png("in flight"), **CAPS)
            outcome.append(None)
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=decode)
    thread.start()
    wait_for(lambda: pool.busy_pids() == [first], "the decode reached the child")
    os.kill(first, signal.SIGKILL)
    thread.join()
    assert isinstance(outcome[0], DecoderFailed)
    assert "stopped" in str(outcome[0])
    assert pool.busy_pids() == []
    # The next decode gets a fresh process and works.
    assert pool.decode(label_png("after"), **CAPS)[0].text == "after"
    assert idle_pid(pool) != first


def test_a_child_dead_between_photos_is_replaced_without_an_error(pool: DecodePool) -> None:
    pool.decode(label_png("warm"), **CAPS)
    first = idle_pid(pool)
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: pool._idle[0].process.poll() is not None, "the child ended")
    assert pool.decode(label_png("next"), **CAPS)[0].text == "next"
    assert idle_pid(pool) != first


def test_a_decode_over_the_memory_cap_is_413_and_its_process_replaced() -> None:
    pool = DecodePool(niceness=15, memory_bytes=80 * MB, timeout=60)
    try:
        heavy = flat_png(3400, 3400, rgba=False)  # 46 MB of pixels: over an 80 MB address space
        with pytest.raises(ImageTooLarge, match="more memory"):
            pool.decode(heavy, **CAPS)
        assert pool._idle == []  # the process that ran out is not reused
        assert pool.decode(label_png("small"), **CAPS)[0].text == "small"
    finally:
        pool.close()


def test_a_decode_over_its_time_is_stopped() -> None:
    pool = DecodePool(niceness=15, memory_bytes=384 * MB, timeout=60)
    try:
        pool.decode(label_png("warm"), **CAPS)
        pool.timeout = 0.05
        os.kill(idle_pid(pool), signal.SIGSTOP)  # a decode that never finishes
        with pytest.raises(DecoderFailed, match="too long"):
            pool.decode(label_png("stuck"), **CAPS)
        pool.timeout = 60
        assert pool.decode(label_png("next"), **CAPS)[0].text == "next"
    finally:
        pool.close()


def test_host_slots_are_shared_by_every_worker(tmp_path: Path) -> None:
    one, other = HostDecodeGate(1, tmp_path), HostDecodeGate(1, tmp_path)  # two workers
    with one.slot(), pytest.raises(DecoderBusy):  # noqa: SIM117
        with other.slot():
            pass
    with other.slot():  # released when the holder is done
        pass
    two = HostDecodeGate(2, tmp_path)
    with two.slot(), two.slot(), pytest.raises(DecoderBusy), one.slot():
        pass


def test_the_route_survives_a_killed_decode_and_answers_503(env: Env) -> None:
    photo = {"photo": ("p.png", label_png("x"), "image/png")}
    assert env.client.post("/v1/decode", files=photo).status_code == 422  # not a product code
    pool = env.app.state.decode_pool
    first = idle_pid(pool)
    os.kill(first, signal.SIGSTOP)
    answers: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(env.client.post("/v1/decode", files=photo))
    )
    thread.start()
    wait_for(lambda: pool.busy_pids() == [first], "the decode reached the child")
    os.kill(first, signal.SIGKILL)
    thread.join()
    assert [a.status_code for a in answers] == [503]
    assert answers[0].headers["retry-after"] == "5"
    assert "stopped" in answers[0].json()["detail"]
    again = env.client.post("/v1/decode", files=photo)
    assert again.status_code == 422, again.text
    assert "not a product code" in again.json()["detail"]
