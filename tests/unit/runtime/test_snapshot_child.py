"""SnapshotChild: the engine's snapshot built in a forked child, as it was at the fork."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from venue.commands import NewOrder
from venue.engine import MatchingEngine
from venue.instruments import Instrument
from venue.snapshot import EngineSnapshot
from venue.snapshot_child import SnapshotChild, SnapshotChildError
from venue.types import OrdType, Price, Qty, Side

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def order(cl: str, price: int, ts: int) -> NewOrder:
    return NewOrder(
        ts_ns=ts, owner="A", cl_ord_id=cl, symbol="AAA", side=Side.BUY,
        ord_type=OrdType.LIMIT, qty=Qty(5), price=Price(price),
    )


@pytest.fixture
def engine() -> MatchingEngine:
    engine = MatchingEngine([Instrument("AAA", Decimal("0.01"))])
    engine.handle(order("b1", 100, 1))
    engine.handle(order("b2", 101, 2))
    return engine


@pytest.fixture
def slow_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child builds for 30 s (and is killed long before)."""

    def slow(self: MatchingEngine) -> EngineSnapshot:
        time.sleep(30)
        raise AssertionError("not reached")

    monkeypatch.setattr(MatchingEngine, "snapshot", slow)


def assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


async def test_the_child_delivers_the_engine_as_it_was_when_it_was_made(
    engine: MatchingEngine,
) -> None:
    expected = engine.snapshot()
    child = SnapshotChild(engine)
    engine.handle(order("b3", 102, 3))  # after the fork: not in the child's engine
    text = await child.text()
    snapshot = EngineSnapshot.from_json(text)
    assert snapshot == expected
    assert sorted(v.spec.cl_ord_id for v in snapshot.orders) == ["b1", "b2"]
    assert engine.live_order_count() == 3
    assert_reaped(child.pid)


async def test_a_child_that_fails_is_an_error_and_is_reaped(
    engine: MatchingEngine, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(self: MatchingEngine) -> EngineSnapshot:
        raise RuntimeError("no snapshot today")

    monkeypatch.setattr(MatchingEngine, "snapshot", broken)
    child = SnapshotChild(engine)
    with pytest.raises(SnapshotChildError, match=rf"snapshot child {child.pid} exited with code 1"):
        await child.text()
    assert_reaped(child.pid)
    assert "snapshot child failed: RuntimeError('no snapshot today')" in capfd.readouterr().err


@pytest.mark.usefixtures("slow_snapshot")
async def test_a_killed_child_is_an_error(engine: MatchingEngine) -> None:
    child = SnapshotChild(engine)
    os.kill(child.pid, 9)
    with pytest.raises(SnapshotChildError, match=r"exited with code -9"):
        await asyncio.wait_for(child.text(), 5)
    assert_reaped(child.pid)


@pytest.mark.usefixtures("slow_snapshot")
async def test_cancelling_the_wait_kills_the_child(engine: MatchingEngine) -> None:
    child = SnapshotChild(engine)
    waiting = asyncio.get_running_loop().create_task(child.text())
    await asyncio.sleep(0.1)
    waiting.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert time.monotonic() - started < 5
    assert_reaped(child.pid)
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)


@pytest.mark.usefixtures("slow_snapshot")
async def test_the_child_keeps_no_socket_of_the_venue_open(engine: MatchingEngine) -> None:
    """A connection the venue closes while a child lives is closed for its peer at once."""

    ours, peer = socket.socketpair()
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    child = SnapshotChild(engine)
    try:
        time.sleep(0.2)  # the child is past its start, building
        ours.close()
        listening.close()
        peer.settimeout(2)
        assert peer.recv(1) == b""  # end of file: no copy of `ours` left in the child
        socket.create_server(("127.0.0.1", port)).close()  # the port is free again
        assert os.waitpid(child.pid, os.WNOHANG) == (0, 0)  # the child was still alive
    finally:
        peer.close()
        child.kill()
    assert_reaped(child.pid)


CHILD_OF_A_DYING_VENUE = """
import sys, time
from venue.engine import MatchingEngine
from venue.snapshot_child import SnapshotChild
MatchingEngine.snapshot = lambda self: time.sleep(60)
child = SnapshotChild(MatchingEngine())
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_with_the_venue() -> None:
    venue = subprocess.Popen(
        [sys.executable, "-c", CHILD_OF_A_DYING_VENUE], stdout=subprocess.PIPE, text=True
    )
    try:
        assert venue.stdout is not None
        pid = int(venue.stdout.readline())
        time.sleep(0.2)
        os.kill(pid, 0)  # alive, building
    finally:
        venue.kill()
        venue.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        assert time.monotonic() < deadline, "the snapshot child outlived the venue"
        time.sleep(0.02)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"
