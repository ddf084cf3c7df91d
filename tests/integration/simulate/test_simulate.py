"""`venue simulate` against a real venue subprocess (SQLite store): the flow is answered in
full, trades happen, nothing is rejected at session level, the store holds the orders, and
the simulator stops by itself."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.procs import (
    free_port,
    sessions_cfg,
    start_venue,
    terminate,
    venue_cmd,
    venue_run_cmd,
    wait_admin,
)

VENUE_ID = "SIMV"  # distinct from other suites
CLIENTS = ("SIM1", "SIM2")
WAIT = 15.0

INSTRUMENTS = """\
symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description
TEST,0.01,1,1,100000,,,open,test
"""


class _Venue:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.config = root / "sessions.cfg"
        self.sock = root / "v.sock"
        self.db = root / "v.db"
        (root / "instruments.csv").write_text(INSTRUMENTS)
        self.config.write_text(sessions_cfg(
            VENUE_ID, self.port,
            "".join(f"[SESSION]\nTargetCompID={c}\n" for c in CLIENTS)
            + "[SESSION]\nTargetCompID=SIMCOPY\nSessionRole=DropCopy\n",
            heartbeat=30,
        ))
        self.log = root / "venue.log"
        self.proc = start_venue(
            venue_run_cmd(self.config, f"sqlite+aiosqlite:///{self.db}", self.sock),
            self.log, root,
        )
        wait_admin(self.proc, self.sock, WAIT, self.log.read_text)

    def stop(self) -> None:
        terminate(self.proc, 15)


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
        venue_cmd("simulate", "--config", str(venue.config), "--json", *args),
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
        venue_cmd("simulate", "--config", str(venue.config), "--sessions", "SIMCOPY"),
        capture_output=True, text=True, timeout=30, cwd=venue.root, check=False,
    )
    assert done.returncode == 1
    assert "drop-copy" in done.stderr


def test_simulate_of_a_symbol_the_venue_does_not_list_stops_with_an_error(venue: _Venue) -> None:
    started = time.monotonic()
    done = subprocess.run(
        venue_cmd("simulate", "--config", str(venue.config), "--symbols", "TEST,NOPE",
                  "--duration", "20", "--rate", "200"),
        capture_output=True, text=True, timeout=30, cwd=venue.root, check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        "error: the venue does not list NOPE (its orders were rejected: unknown symbol)")
    assert time.monotonic() - started < 15  # stopped at the first rejection, not after 20 s


def test_a_relative_config_path_names_the_files_beside_it(tmp_path: Path) -> None:
    """`-c conf/sessions.cfg` from the folder above: InstrumentsFile is conf/'s, for the
    venue and for the simulator (which prices its orders on the instruments' ticks)."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "instruments.csv").write_text("symbol,tick_size,lot_size\nWIDE,0.25,10\n")
    (conf / "sessions.cfg").write_text(sessions_cfg(
        VENUE_ID, (port := free_port()), "[SESSION]\nTargetCompID=SIM1\n", heartbeat=30
    ))
    log = tmp_path / "venue.log"
    proc = start_venue(
        venue_cmd("run", "--config", "conf/sessions.cfg", "--db", "none", "--mqtt", "none",
                  "--admin-socket", "v.sock"),
        log, tmp_path,
    )
    try:
        wait_admin(proc, tmp_path / "v.sock", WAIT, log.read_text)
        done = subprocess.run(
            venue_cmd("simulate", "--config", "conf/sessions.cfg", "--json", "--symbols", "WIDE",
                      "--orders", "200", "--in-flight", "10", "--seed", "3",
                      "--port", str(port)),
            capture_output=True, text=True, timeout=40, cwd=tmp_path, check=False,
        )
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["orders_sent"] == 200
        assert summary["order_rejects"] == 0  # on WIDE's tick and lot, not defaults
        assert summary["exec_reports"].get("8", 0) == 0
    finally:
        terminate(proc, 15)


def test_simulate_with_an_unreadable_instruments_file_stops_with_an_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "sessions.cfg").write_text(sessions_cfg(
        VENUE_ID, free_port(), "[SESSION]\nTargetCompID=SIM1\n"
    ))  # InstrumentsFile=instruments.csv, which is missing
    done = subprocess.run(
        venue_cmd("simulate", "--config", "sessions.cfg", "--orders", "10"),
        capture_output=True, text=True, timeout=30, cwd=tmp_path, check=False,
    )
    assert done.returncode == 1
    assert "instruments.csv: cannot read instruments file" in done.stderr


def test_a_session_the_venue_ends_during_the_run_fails_the_run(venue: _Venue) -> None:
    """The summary used to be printed with exit 0 whatever happened to the sessions."""
    sim = subprocess.Popen(
        venue_cmd("simulate", "--config", str(venue.config), "--json", "--duration", "4",
                  "--rate", "200"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=venue.root,
    )
    try:
        deadline = time.monotonic() + WAIT
        while True:  # the admin logout succeeds once SIM1 is logged on
            logout = subprocess.run(
                venue_cmd("sessions", "logout", "SIM1", "--admin-socket", str(venue.sock)),
                capture_output=True, text=True, timeout=30, check=False,
            )
            if logout.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert logout.returncode == 0, logout.stderr
        out, err = sim.communicate(timeout=40)
    finally:
        sim.kill()
    assert sim.returncode == 1, err
    summary = json.loads(out)
    assert summary["sessions_ended"] == 1
    assert summary["problems"][-1] == "sessions ended by the venue before the run's end: 1"
    assert err.strip().splitlines()[-1].startswith("error: the run had problems: ")
    assert "SIM1: venue logged out: Logout by the venue" in summary["notes"]
