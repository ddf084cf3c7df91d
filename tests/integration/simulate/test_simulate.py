"""`venue simulate` against a real venue subprocess (SQLite store): the flow is answered in
full, trades happen, nothing is rejected at session level, the store holds the orders, and
the simulator stops by itself."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from venue.admin import AdminError, call

VENUE_ID = "SIMV"  # distinct from other suites
CLIENTS = ("SIM1", "SIM2")
WAIT = 15.0

INSTRUMENTS = """\
symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description
TEST,0.01,1,1,100000,,,open,test
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "venue.cli", *args]


class _Venue:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.config = root / "sessions.cfg"
        self.sock = root / "v.sock"
        self.db = root / "v.db"
        (root / "instruments.csv").write_text(INSTRUMENTS)
        sessions = "".join(f"[SESSION]\nTargetCompID={c}\n" for c in CLIENTS)
        self.config.write_text(
            f"[DEFAULT]\nSenderCompID={VENUE_ID}\nSocketAcceptHost=127.0.0.1\n"
            f"SocketAcceptPort={self.port}\nHeartBtInt=30\nInstrumentsFile=instruments.csv\n"
            f"{sessions}[SESSION]\nTargetCompID=SIMCOPY\nSessionRole=DropCopy\n"
        )
        self.log = root / "venue.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                _cli("run", "--config", str(self.config), "--db",
                     f"sqlite+aiosqlite:///{self.db}", "--mqtt", "none",
                     "--admin-socket", str(self.sock)),
                stdout=out, stderr=subprocess.STDOUT, cwd=root,
            )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            with contextlib.suppress(AdminError, OSError):
                call(self.sock, "status", timeout=1.0)
                return
            time.sleep(0.05)
        raise AssertionError(f"venue did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[_Venue]:
    v = _Venue(tmp_path)
    try:
        yield v
    finally:
        v.stop()


def _simulate(venue: _Venue, *args: str, timeout: float = 40.0) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    done = subprocess.run(
        _cli("simulate", "--config", str(venue.config), "--json", *args),
        capture_output=True, text=True, timeout=timeout, cwd=venue.root, check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), elapsed


def test_simulate_orders_are_answered_and_stored(venue: _Venue) -> None:
    summary, _ = _simulate(venue, "--orders", "300", "--in-flight", "10", "--duration", "20",
                           "--seed", "7")
    assert summary["sessions"] == list(CLIENTS)  # the drop copy is not a trading session
    assert summary["orders_sent"] == 300
    sent = summary["sent"]
    reports = summary["exec_reports"]
    assert summary["unanswered"] == 0
    assert summary["new_orders_answered"] == sent["D"]  # every NewOrderSingle got an ER
    # every request got exactly one first answer: an ER or an OrderCancelReject
    assert reports.get("0", 0) + reports.get("8", 0) == sent["D"]
    assert summary["orders_answered"] == 300  # cancels and replaces too (ER or 35=9)
    assert reports.get("5", 0) <= sent["G"]
    assert summary["trades"] > 0
    assert summary["session_rejects"] == 0
    assert summary["business_rejects"] == 0
    assert summary["order_rejects"] == 0
    assert summary["latency_ms"]["new_order"]["p50"] is not None

    venue.stop()  # flush the store, then read it
    with sqlite3.connect(venue.db) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "orders" in tables
        (orders,) = db.execute("SELECT count(*) FROM orders").fetchone()
    assert orders == sent["D"]


def test_simulate_stops_by_itself(venue: _Venue) -> None:
    summary, elapsed = _simulate(venue, "--duration", "1.5", "--rate", "500",
                                 "--sessions", "SIM1,SIM2", "--symbols", "TEST")
    assert summary["mode"] == "open"
    assert 1.4 <= summary["seconds"] <= 3.0
    assert elapsed < 1.5 + 10.0  # sending window + drain + logout + process start
    assert summary["unanswered"] == 0
    assert summary["orders_sent"] >= 500  # ~750 at 500/s over 1.5 s
    assert summary["session_rejects"] == 0


def test_simulate_refuses_a_drop_copy_session(venue: _Venue) -> None:
    done = subprocess.run(
        _cli("simulate", "--config", str(venue.config), "--sessions", "SIMCOPY"),
        capture_output=True, text=True, timeout=30, cwd=venue.root, check=False,
    )
    assert done.returncode == 1
    assert "drop-copy" in done.stderr
