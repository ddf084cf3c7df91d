"""Every `venue` admin command against a real `venue run` subprocess."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import typer
from support.procs import (
    free_port,
    kill,
    sessions_cfg,
    start_venue,
    venue_cmd,
    venue_run_cmd,
    wait_admin,
)
from typer.testing import CliRunner

from venue.admin import AdminError, call
from venue.cli import _admin, app
from venue.snapshot import EngineSnapshot

runner = CliRunner()
T = TypeVar("T")

VENUE_ID = "ADMX"  # as in conftest.py (test modules cannot import conftest)
CLIENTS = ("CLIA", "CLIB", "CLIC")
VenueProcess = Any  # conftest.VenueProcess: .sock, .proc, .client(), .output()


def admx_sessions_cfg(port: int) -> str:
    return sessions_cfg(VENUE_ID, port, CLIENTS)


def cli(vp: VenueProcess | Path, *args: str, code: int = 0) -> Any:
    sock = vp.sock if not isinstance(vp, Path) else vp
    result = runner.invoke(app, [*args, "--admin-socket", str(sock)])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


def cli_json(vp: VenueProcess, *args: str) -> Any:
    return json.loads(cli(vp, *args, "--json").stdout)


def session_row(vp: VenueProcess, comp_id: str) -> dict[str, Any]:
    rows = cli_json(vp, "sessions", "list")
    return next(r for r in rows if r["session_id"] == f"FIX.4.4:{VENUE_ID}->{comp_id}")


def wait_state(vp: VenueProcess, comp_id: str, state: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        row = session_row(vp, comp_id)
        if row["state"] == state or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


def stderr_of(result: Any) -> str:
    return result.stderr


# -- sessions ---------------------------------------------------------------------------------


@pytest.mark.quickfix
async def test_sessions_list_shows_logged_on_client(venue_proc: VenueProcess) -> None:
    client = venue_proc.client("CLIA")
    await client.start()
    row = wait_state(venue_proc, "CLIA", "logged_on")
    assert row["state"] == "logged_on"
    assert row["enabled"] is True
    assert row["remote_address"].startswith("127.0.0.1")
    assert row["next_sender_seq"] >= 2 and row["next_target_seq"] >= 2
    assert row["logged_on_since_ns"] > 0
    other = session_row(venue_proc, "CLIB")
    assert other["state"] == "disconnected" and other["remote_address"] == ""
    show = cli_json(venue_proc, "sessions", "show", "CLIA")
    assert show["session_id"] == row["session_id"]
    table = cli(venue_proc, "sessions", "list").stdout
    assert "FIX sessions" in table


@pytest.mark.quickfix
async def test_sessions_logout_ends_the_session(venue_proc: VenueProcess) -> None:
    client = venue_proc.client("CLIA")
    await client.start()
    client.application.logged_out.clear()
    out = cli(venue_proc, "sessions", "logout", "CLIA").stdout
    assert "logout done" in out
    await client.wait_logout()
    logout = await client.next_admin("5")
    assert logout[35] == "5"


@pytest.mark.quickfix
async def test_sessions_disable_refuses_logon_and_enable_allows_it(
    venue_proc: VenueProcess,
) -> None:
    client = venue_proc.client("CLIA")
    await client.start()
    cli(venue_proc, "sessions", "disable", "CLIA")
    assert session_row(venue_proc, "CLIA")["enabled"] is False
    assert client.application.logged_on.is_set()  # a live session stays until logout
    await client.close()  # logs out; a new initiator then tries to log on again
    wait_state(venue_proc, "CLIA", "disconnected")
    again = venue_proc.client("CLIA")
    again.begin()
    await asyncio.sleep(3.0)  # reconnects every second and is refused each time
    assert again.application.logons == 0
    refused = await again.next_admin("5", timeout=1.0)
    assert "disabled" in refused.get(58, "")
    # a QuickFIX initiator refused at Logon does not reconnect by itself: use a fresh one
    await again.close()
    cli(venue_proc, "sessions", "enable", "CLIA")
    third = venue_proc.client("CLIA")
    await third.start()
    assert wait_state(venue_proc, "CLIA", "logged_on")["enabled"] is True


@pytest.mark.quickfix
async def test_sessions_set_seq_changes_next_logon(venue_proc: VenueProcess) -> None:
    out = cli(venue_proc, "sessions", "set-seq", "CLIB", "--sender", "50", "--target", "20")
    assert "next sender 50 next target 20" in out.stdout
    row = session_row(venue_proc, "CLIB")
    assert (row["next_sender_seq"], row["next_target_seq"]) == (50, 20)
    client = venue_proc.client("CLIB")
    client.session.setNextSenderMsgSeqNum(20)
    await client.start()
    logon = await client.next_admin("A")
    assert logon[34] == "50"
    row = wait_state(venue_proc, "CLIB", "logged_on")
    assert row["next_target_seq"] >= 21
    assert row["next_sender_seq"] >= 51


async def test_sessions_set_seq_needs_a_number(venue_proc: VenueProcess) -> None:
    result = cli(venue_proc, "sessions", "set-seq", "CLIB", code=1)
    assert "give --sender and/or --target" in stderr_of(result)
    result = cli(venue_proc, "sessions", "set-seq", "CLIB", "--target", str(10**18), code=2)
    assert "less than or equal to" in stderr_of(result)
    assert "999999999999999999" in stderr_of(result)


def _stored_seqs(db: Path, session_id: str) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT next_sender_seq, next_target_seq FROM fix_sessions "
                           "WHERE session_id = ?", (session_id,)).fetchone()
    return row[0], row[1]


async def test_sessions_reset(venue_proc: VenueProcess) -> None:
    cli(venue_proc, "sessions", "set-seq", "CLIC", "--sender", "7", "--target", "9")
    out = cli(venue_proc, "sessions", "reset", "CLIC").stdout
    assert "reset done" in out
    row = session_row(venue_proc, "CLIC")
    assert (row["next_sender_seq"], row["next_target_seq"]) == (1, 1)
    # "done" means stored: a crash now keeps the reset
    assert _stored_seqs(venue_proc.db, f"FIX.4.4:{VENUE_ID}->CLIC") == (1, 1)


def test_an_offline_change_is_refused_while_a_venue_runs_on_the_store(
    venue_proc: VenueProcess, tmp_path: Path
) -> None:
    """The CLI asked at an admin socket where no venue answers (the venue was started with
    another one): it must not change the running venue's store behind its back."""
    cli(venue_proc, "sessions", "set-seq", "CLIC", "--sender", "7", "--target", "9")
    for args in (["reset", "CLIC"], ["set-seq", "CLIC", "--sender", "42"]):
        result = runner.invoke(app, ["sessions", *args, "--config", str(venue_proc.config),
                                     "--db", f"sqlite+aiosqlite:///{venue_proc.db}",
                                     "--admin-socket", str(tmp_path / "elsewhere.sock")])
        assert result.exit_code == 1, result.output
        assert f"another venue is already running on the store {venue_proc.db}" in (
            stderr_of(result))
    assert _stored_seqs(venue_proc.db, f"FIX.4.4:{VENUE_ID}->CLIC") == (7, 9)
    row = session_row(venue_proc, "CLIC")
    assert (row["next_sender_seq"], row["next_target_seq"]) == (7, 9)


async def test_unknown_session_is_one_line_error(venue_proc: VenueProcess) -> None:
    for args in (["sessions", "logout", "NOPE"], ["sessions", "show", "NOPE"]):
        result = cli(venue_proc, *args, code=1)
        err = stderr_of(result)
        assert "unknown session 'NOPE'" in err
        assert len(err.strip().splitlines()) == 1, err


async def test_logout_or_disconnect_of_a_session_not_connected_is_an_error(
    venue_proc: VenueProcess,
) -> None:
    """Both used to print "done" (and exit 0) for a session with nothing to end."""
    result = cli(venue_proc, "sessions", "logout", "CLIB", code=1)
    assert stderr_of(result).strip() == (
        f"error: FIX.4.4:{VENUE_ID}->CLIB is not logged on (disconnected)"
    )
    result = cli(venue_proc, "sessions", "disconnect", "CLIB", code=1)
    assert stderr_of(result).strip() == f"error: FIX.4.4:{VENUE_ID}->CLIB is not connected"


# -- instruments ------------------------------------------------------------------------------


async def test_text_that_cannot_be_stored_is_refused_and_the_store_goes_on(
    venue_proc: VenueProcess,
) -> None:
    # json.dumps writes the lone surrogate as the escape \udc80: valid JSON, but no UTF-8
    # text can hold it, so the journal could not store the instrument's description
    with pytest.raises(AdminError, match="malformed admin request"):
        call(venue_proc.sock, "instruments.add", symbol="ODD", tick_size="0.01",
             description="caf\udc80")
    out = cli(venue_proc, "instruments", "add", "ODD", "--tick-size", "0.01").stdout
    assert "ODD listed" in out  # committed: the store took the next command
    stats = call(venue_proc.sock, "status", timeout=2.0)["store_stats"]
    assert stats["failed_commits"] == 0


async def test_instruments_list_and_add(venue_proc: VenueProcess) -> None:
    rows = cli_json(venue_proc, "instruments", "list")
    assert {r["symbol"] for r in rows} == {"TEST", "OTHER"}
    test = next(r for r in rows if r["symbol"] == "TEST")
    assert test["tick_size"] == "0.01" and test["status"] == "open"
    out = cli(venue_proc, "instruments", "add", "NEWSYM", "--tick-size", "0.05").stdout
    assert "NEWSYM listed" in out
    rows = cli_json(venue_proc, "instruments", "list")
    new = next(r for r in rows if r["symbol"] == "NEWSYM")
    assert new["tick_size"] == "0.05" and new["lot_size"] == 1 and new["status"] == "open"
    result = cli(venue_proc, "instruments", "halt", "NOSUCH", code=1)
    assert "unknown symbol 'NOSUCH'" in stderr_of(result)


def _instrument(vp: VenueProcess, symbol: str) -> dict[str, Any]:
    return next(r for r in cli_json(vp, "instruments", "list") if r["symbol"] == symbol)


def test_instruments_add_on_a_listed_symbol_changes_only_the_rules_given(
    venue_proc: VenueProcess,
) -> None:
    cli(venue_proc, "instruments", "add", "BANDED", "--tick-size", "0.01",
        "--price-band-pct", "10", "--lot-size", "5")  # fmt: skip
    cli(venue_proc, "instruments", "halt", "BANDED")
    out = cli(venue_proc, "instruments", "add", "BANDED", "--max-qty", "500").stdout
    assert "BANDED changed" in out
    row = _instrument(venue_proc, "BANDED")
    assert (row["status"], row["price_band_pct"], row["lot_size"], row["max_qty"]) == (
        "halted", "10", 5, 500)
    assert "BANDED unchanged" in cli(venue_proc, "instruments", "add", "BANDED").stdout


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["NEWX", "--tick-size", "inf"], "invalid instrument: NEWX: tick_size must be a finite"),
        (["NEWX", "--tick-size", "abc"], "invalid instrument: tick_size 'abc' is not a number"),
        (["NEWX"], "invalid instrument: a new listing needs its tick size"),
        (["NEWX", "--tick-size", "0.01", "--price-band-pct", "nan"],
         "invalid instrument: NEWX: price_band_pct must be a finite number"),
        # beyond any order, and beyond 64 bits (the store would refuse it on every commit)
        (["NEWX", "--tick-size", "0.01", "--max-qty", "99999999999999999999999"],
         "invalid instrument: NEWX: max_qty must be <= 1000000000"),
        (["NEWX", "--tick-size", "0.01", "--min-qty", "9223372036854775808"],
         "invalid instrument: NEWX: min_qty must be <= 1000000000"),
    ],
)
def test_instruments_add_with_bad_values_is_a_one_line_error_and_lists_nothing(
    venue_proc: VenueProcess, args: list[str], error: str
) -> None:
    result = cli(venue_proc, "instruments", "add", *args, code=1)
    assert error in stderr_of(result), stderr_of(result)
    assert len(stderr_of(result).strip().splitlines()) == 1
    assert "NEWX" not in {r["symbol"] for r in cli_json(venue_proc, "instruments", "list")}


def test_a_tick_size_change_keeps_the_reference_price(venue_proc: VenueProcess) -> None:
    """It kept the reference in ticks: 19,000 ticks of 0.05 made the band's reference 950."""
    venue_proc.kill()
    csv = venue_proc.root / "instruments.csv"
    csv.write_text(csv.read_text() + "REF,0.01,1,1,100000,10,190.00,open,banded\n")
    venue_proc.start()
    assert _instrument(venue_proc, "REF")["reference_price"] == "190.00"
    cli(venue_proc, "instruments", "add", "REF", "--tick-size", "0.05")
    row = _instrument(venue_proc, "REF")
    assert (row["tick_size"], row["reference_price"]) == ("0.05", "190.00")
    result = cli(venue_proc, "instruments", "add", "REF", "--tick-size", "0.3", code=1)
    assert stderr_of(result).strip() == (
        "error: REF: the reference price 190.00 is not a multiple of the tick size 0.3")
    assert _instrument(venue_proc, "REF")["tick_size"] == "0.05"


@pytest.mark.quickfix
async def test_tick_size_of_an_instrument_with_orders_cannot_change(
    venue_proc: VenueProcess,
) -> None:
    assert "OTHER changed" in cli(
        venue_proc, "instruments", "add", "OTHER", "--tick-size", "0.25").stdout  # no history
    client = venue_proc.client("CLIA")
    await client.start()
    client.order("T1", "TEST", "1", 5, "99.00")
    ack = await client.next_app()
    assert ack[150] == "0"
    result = cli(venue_proc, "instruments", "add", "TEST", "--tick-size", "0.05", code=1)
    assert ("TEST: the tick size cannot change from 0.01 to 0.05: TEST has traded or has "
            "had orders") in stderr_of(result)
    # no live order left and no trade: the day's stored prices are still ticks of 0.01
    cli(venue_proc, "orders", "cancel", ack[37])
    assert (await client.next_app())[150] == "4"
    result = cli(venue_proc, "instruments", "add", "TEST", "--tick-size", "0.05", code=1)
    assert "TEST has traded or has had orders" in stderr_of(result)
    assert _instrument(venue_proc, "TEST")["tick_size"] == "0.01"


@pytest.mark.quickfix
async def test_halt_rejects_orders_and_resume_accepts(venue_proc: VenueProcess) -> None:
    client = venue_proc.client("CLIA")
    await client.start()
    assert "TEST halted" in cli(venue_proc, "instruments", "halt", "TEST").stdout
    status = {r["symbol"]: r["status"] for r in cli_json(venue_proc, "instruments", "list")}
    assert status["TEST"] == "halted"
    journaled = _commands(venue_proc.db)
    # halting it again changes nothing: nothing journaled, no market data status republished
    assert "TEST already halted" in cli(venue_proc, "instruments", "halt", "TEST").stdout
    assert _commands(venue_proc.db) == journaled
    client.order("H1", "TEST", "1", 10, "100.00")
    rej = await client.next_app()
    assert (rej[35], rej[150], rej[39], rej[103]) == ("8", "8", "8", "2")
    assert "TEST open" in cli(venue_proc, "instruments", "resume", "TEST").stdout
    client.order("H2", "TEST", "1", 10, "100.00")
    ack = await client.next_app()
    assert (ack[35], ack[11], ack[150], ack[39]) == ("8", "H2", "0", "0")


# -- orders -----------------------------------------------------------------------------------


@pytest.mark.quickfix
async def test_orders_list_and_cancel(venue_proc: VenueProcess) -> None:
    client = venue_proc.client("CLIA")
    await client.start()
    assert cli_json(venue_proc, "orders", "list") == []
    client.order("R1", "TEST", "1", 25, "99.50")
    ack = await client.next_app()
    assert ack[150] == "0"
    rows = cli_json(venue_proc, "orders", "list")
    assert len(rows) == 1
    row = rows[0]
    assert row["cl_ord_id"] == "R1" and row["symbol"] == "TEST" and row["side"] == "buy"
    assert row["price"] == "99.50" and row["qty"] == 25 and row["leaves_qty"] == 25
    assert row["session"].endswith("CLIA")
    assert str(row["order_id"]) == ack[37]
    assert cli_json(venue_proc, "orders", "list", "--session", "CLIA") == rows
    assert cli_json(venue_proc, "orders", "list", "--symbol", "OTHER") == []
    result = cli(venue_proc, "orders", "list", "--symbol", "NOPE", code=1)
    assert stderr_of(result).strip() == "error: unknown symbol 'NOPE'"
    out = cli(venue_proc, "orders", "cancel", str(row["order_id"])).stdout
    assert f"order {row['order_id']} cancelled" in out
    cancel = await client.next_app()
    assert (cancel[35], cancel[150], cancel[39]) == ("8", "4", "4")
    assert cancel[37] == ack[37]
    assert cli_json(venue_proc, "orders", "list") == []
    result = cli(venue_proc, "orders", "cancel", str(row["order_id"]), code=1)
    assert f"no live order {row['order_id']}" in stderr_of(result)


@pytest.mark.quickfix
async def test_text_from_clients_is_printed_as_it_is(venue_proc: VenueProcess) -> None:
    """ClOrdIDs are the clients' text: "[/x]" once stopped `orders list` with a markup
    error, and "[red]R[/red]" showed as "R"."""
    client = venue_proc.client("CLIA")
    await client.start()
    for cl_ord_id in ("[/x]", "[red]R[/red]"):
        client.order(cl_ord_id, "TEST", "1", 5, "99.00")
        assert (await client.next_app())[150] == "0"
    out = cli(venue_proc, "orders", "list").stdout
    assert "[/x]" in out and "[red]R[/red]" in out
    assert "..." not in out and "\u2026" not in out  # a pipe gets whole columns
    result = cli(venue_proc, "sessions", "logout", "[/x]", code=1)
    assert stderr_of(result).strip() == "error: unknown session '[/x]'"


@pytest.mark.quickfix
async def test_status_counts_the_group_commits(venue_proc: VenueProcess) -> None:
    before = call(venue_proc.sock, "status", timeout=2.0)["store_stats"]
    client = venue_proc.client("CLIA")
    await client.start()
    client.order("S1", "TEST", "1", 5, "99.00")
    ack = await client.next_app()
    assert (ack[35], ack[150]) == ("8", "0")
    after = call(venue_proc.sock, "status", timeout=2.0)["store_stats"]
    assert after["commands"] == before["commands"] + 1  # the NewOrderSingle
    assert after["events"] == before["events"] + 1  # its acceptance
    assert after["fix_messages"] >= before["fix_messages"] + 2  # Logon answer, ER
    assert after["transactions"] > before["transactions"]
    assert after["commit_seconds"] > before["commit_seconds"]
    assert after["failed_commits"] == before["failed_commits"] == 0


# -- db ---------------------------------------------------------------------------------------


@pytest.mark.quickfix
async def test_db_snapshot_is_where_a_restart_after_a_crash_starts(
    venue_proc: VenueProcess,
) -> None:
    client = venue_proc.client("CLIA")
    await client.start()
    client.order("N1", "TEST", "1", 7, "98.00")
    ack = await client.next_app()
    assert ack[150] == "0"

    out = cli(venue_proc, "db", "snapshot").stdout
    found = re.search(r"engine snapshot after command ([\d,]+): 1 live orders, [\d.]+ s", out)
    assert found, out
    cmd_no = int(found[1].replace(",", ""))
    stored = latest_snapshot(venue_proc)
    assert stored is not None
    stored_no, payload = stored
    with sqlite3.connect(venue_proc.db) as db:
        journaled = db.execute("SELECT max(cmd_no) FROM commands").fetchone()[0]
    assert stored_no == cmd_no == journaled  # after every command, all of them committed
    orders = EngineSnapshot.from_json(payload).orders
    assert [(v.spec.cl_ord_id, v.spec.price, v.leaves_qty) for v in orders] == [("N1", 9800, 7)]

    client.order("N2", "TEST", "1", 3, "97.00")  # after the snapshot: replayed at restart
    assert (await client.next_app())[150] == "0"
    venue_proc.kill()
    venue_proc.start()
    assert "recovered 2 live orders (1 commands replayed" in venue_proc.output()
    rows = cli_json(venue_proc, "orders", "list")
    assert sorted((r["cl_ord_id"], r["leaves_qty"]) for r in rows) == [("N1", 7), ("N2", 3)]


def latest_snapshot(vp: VenueProcess) -> tuple[int, str] | None:
    """The newest stored snapshot, as the store orders them: ``(cmd_no, text)``."""
    with sqlite3.connect(vp.db) as db:
        row = db.execute(
            "SELECT id, cmd_no FROM snapshots WHERE parts IS NOT NULL "
            "ORDER BY cmd_no DESC, id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        parts = db.execute(
            "SELECT text FROM snapshot_parts WHERE snapshot_id = ? ORDER BY part", (row[0],)
        ).fetchall()
    return row[1], "".join(text for (text,) in parts)


def poll(check: Callable[[], T | None], timeout: float, failure: Callable[[], str]) -> T:
    """``check()``'s first value that is not None, asked every 50 ms until ``timeout``."""
    deadline = time.monotonic() + timeout
    while (found := check()) is None:
        assert time.monotonic() < deadline, failure()
        time.sleep(0.05)
    return found


def wait_snapshot(vp: VenueProcess, cmd_no: int, timeout: float = 10.0) -> str:
    def text() -> str | None:
        found = latest_snapshot(vp)
        return found[1] if found is not None and found[0] == cmd_no else None

    return poll(text, timeout, lambda: f"no snapshot after command {cmd_no}: "
                                       f"latest {latest_snapshot(vp)}")


def wait_output(vp: VenueProcess, text: str, timeout: float = 5.0) -> None:
    poll(lambda: True if text in vp.output() else None, timeout,
         lambda: f"{text!r} not in the venue's log:\n{vp.output()}")


def child_pids(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.quickfix
async def test_the_venue_snapshots_itself_every_snapshot_command_interval(
    venue_proc: VenueProcess,
) -> None:
    venue_proc.kill()  # the first start journaled 2 commands (the instruments) after snapshot 0
    text = venue_proc.config.read_text()
    interval = "[DEFAULT]\nSnapshotCommandInterval=3\n"
    venue_proc.config.write_text(text.replace("[DEFAULT]\n", interval))
    venue_proc.start()
    assert venue_proc.proc is not None
    client = venue_proc.client("CLIA")
    await client.start()

    async def order(cl: str) -> None:
        client.order(cl, "TEST", "1", 2, "98.00")
        assert (await client.next_app())[150] == "0"

    await order("N1")  # command 3: the interval since snapshot 0 is reached
    orders = EngineSnapshot.from_json(wait_snapshot(venue_proc, 3)).orders
    assert [v.spec.cl_ord_id for v in orders] == ["N1"]
    await order("N2")
    await order("N3")
    await asyncio.sleep(0.75)  # three timer ticks: no snapshot before command 6
    assert latest_snapshot(venue_proc) is not None
    assert latest_snapshot(venue_proc)[0] == 3  # type: ignore[index]
    await order("N4")  # command 6
    orders = EngineSnapshot.from_json(wait_snapshot(venue_proc, 6)).orders
    assert sorted(v.spec.cl_ord_id for v in orders) == ["N1", "N2", "N3", "N4"]
    wait_output(venue_proc, "engine snapshot after command 3: 1 live orders")
    wait_output(venue_proc, "engine snapshot after command 6: 4 live orders")
    assert len(child_pids(venue_proc.proc.pid)) == 1  # the SQLite writer: the others reaped

    await order("N5")  # after the last snapshot: the only command a crash restart replays
    venue_proc.kill()
    venue_proc.start()
    assert "recovered 5 live orders (1 commands replayed" in venue_proc.output()
    rows = cli_json(venue_proc, "orders", "list")
    assert sorted(r["cl_ord_id"] for r in rows) == ["N1", "N2", "N3", "N4", "N5"]


@pytest.mark.quickfix
async def test_db_snapshot_of_a_venue_started_with_sigchld_ignored(
    venue_proc: VenueProcess,
) -> None:
    venue_proc.kill()
    assert venue_proc.proc is not None
    ignoring = (  # SIGCHLD ignored, inherited through exec
        "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); "
        "os.execvp(sys.argv[1], sys.argv[1:])"
    )
    with venue_proc.log.open("ab") as log:
        venue_proc.proc = subprocess.Popen(
            [sys.executable, "-c", ignoring, *venue_proc.proc.args],
            stdout=log, stderr=subprocess.STDOUT, cwd=venue_proc.root,
        )
    wait_admin(venue_proc.proc, venue_proc.sock, 30, venue_proc.output)
    out = cli(venue_proc, "db", "snapshot").stdout
    assert re.search(r"engine snapshot after command [\d,]+: 0 live orders", out), out


def test_db_snapshot_without_a_store_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "instruments.csv").write_text("symbol,tick_size\nTEST,0.01\n")
    (tmp_path / "sessions.cfg").write_text(admx_sessions_cfg(free_port()))
    sock, log = tmp_path / "v.sock", tmp_path / "venue.log"
    proc = start_venue(
        venue_cmd("run", "--config", str(tmp_path / "sessions.cfg"), "--db", "none",
                  "--mqtt", "none", "--admin-socket", str(sock)),
        log, tmp_path,
    )
    try:
        wait_admin(proc, sock, 20.0, lambda: log.read_text(errors="replace"))
        result = cli(sock, "db", "snapshot", code=1)
    finally:
        kill(proc)
    assert "runs without a store" in stderr_of(result)
    assert len(stderr_of(result).strip().splitlines()) == 1


# -- no venue / broken startup ----------------------------------------------------------------


def test_no_running_venue(tmp_path: Path) -> None:
    for args in (["sessions", "list"], ["instruments", "list"], ["orders", "cancel", "1"]):
        result = cli(tmp_path / "missing.sock", *args, code=1)
        err = stderr_of(result)
        assert "no venue is running" in err and "venue run" in err
        assert len(err.strip().splitlines()) == 1, err


def test_a_venue_that_does_not_answer_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mute.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mute:
        mute.bind(str(path))
        mute.listen()  # accepts (the kernel's backlog) and never answers
        with pytest.raises(typer.Exit):
            _admin(tmp_path / "sessions.cfg", path, "db.snapshot", timeout=0.2)
    err = capsys.readouterr().err
    assert "the venue did not answer db.snapshot within 0.2 s" in err
    assert len(err.strip().splitlines()) == 1, err


def _run_venue(root: Path, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        venue_run_cmd(root / "sessions.cfg", f"sqlite+aiosqlite:///{root / 'v.db'}",
                      root / "v.sock"),
        check=False, capture_output=True, text=True, timeout=timeout, cwd=root,
    )


def test_run_with_broken_config(tmp_path: Path) -> None:
    cfg = tmp_path / "sessions.cfg"
    (tmp_path / "instruments.csv").write_text("symbol,tick_size\nTEST,0.01\n")
    cfg.write_text(admx_sessions_cfg(free_port()) + "HeartBtInt=abc\n")
    result = _run_venue(tmp_path)
    assert result.returncode == 1, result
    line = cfg.read_text().splitlines().index("HeartBtInt=abc") + 1
    assert f"sessions.cfg:{line}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_port_in_use(tmp_path: Path) -> None:
    (tmp_path / "instruments.csv").write_text(
        "symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,"
        "description\nTEST,0.01,1,1,100000,,,open,test\n"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "sessions.cfg").write_text(admx_sessions_cfg(port))
        result = _run_venue(tmp_path)
    assert result.returncode == 1, result
    assert "cannot listen for FIX connections" in result.stderr, result.stderr
    assert "in use" in result.stderr.lower()
    assert "Traceback" not in result.stderr


@pytest.mark.mqtt
async def test_a_venue_that_fails_to_start_publishes_no_market_data(tmp_path: Path) -> None:
    """It would overwrite the retained topics of the venue running on that port."""
    import uuid

    import aiomqtt
    from support.services import mqtt_broker_address

    host, port = mqtt_broker_address()
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    (tmp_path / "instruments.csv").write_text("symbol,tick_size\nTEST,0.01\n")
    received: list[str] = []
    async with aiomqtt.Client(host, port) as sub:
        await sub.subscribe(f"{prefix}/#", qos=1)

        async def collect() -> None:
            async for message in sub.messages:
                received.append(message.topic.value)

        collector = asyncio.create_task(collect())
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            (tmp_path / "sessions.cfg").write_text(admx_sessions_cfg(busy.getsockname()[1]))
            cmd = [*venue_run_cmd(tmp_path / "sessions.cfg", f"sqlite+aiosqlite:///{tmp_path}/v.db",
                                  tmp_path / "v.sock"), "--mqtt", f"mqtt://{host}:{port}?prefix={prefix}"]
            result = await asyncio.to_thread(
                subprocess.run, cmd, check=False, capture_output=True, text=True, timeout=30,
                cwd=tmp_path)
        await asyncio.sleep(1.0)  # a Last Will or a late publish would arrive by now
        collector.cancel()
    assert result.returncode == 1 and "cannot listen for FIX connections" in result.stderr
    assert received == []


def _commands(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT cmd_no, kind FROM commands ORDER BY cmd_no").fetchall()


@pytest.mark.parametrize("same_admin_socket", [True, False])
def test_a_second_venue_on_the_same_store_is_refused_before_touching_it(
    venue_proc: VenueProcess, same_admin_socket: bool
) -> None:
    # The second venue's instruments differ: were it to open the store, it would journal them.
    (venue_proc.root / "instruments.csv").write_text("symbol,tick_size\nTEST,0.05\n")
    before = _commands(venue_proc.db)
    sock = venue_proc.sock if same_admin_socket else venue_proc.root / "other.sock"
    result = subprocess.run(
        venue_run_cmd(venue_proc.config, f"sqlite+aiosqlite:///{venue_proc.db}", sock),
        check=False, capture_output=True, text=True, timeout=15, cwd=venue_proc.root,
    )
    assert result.returncode == 1, result
    expected = (f"another venue is already running (admin socket {venue_proc.sock})"
                if same_admin_socket else
                f"another venue is already running on the store {venue_proc.db}")
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _commands(venue_proc.db) == before
    assert call(venue_proc.sock, "status", timeout=2.0)["store_stats"]["failed_commits"] == 0


@pytest.mark.quickfix
async def test_sigterm_logs_out_and_exits_zero(venue_proc: VenueProcess) -> None:
    client = venue_proc.client("CLIA")
    await client.start()
    client.application.logged_out.clear()
    assert venue_proc.proc is not None
    venue_proc.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(venue_proc.proc.wait, 5)
    assert code == 0, venue_proc.output()
    await client.wait_logout()
    logout = await client.next_admin("5")
    assert logout[35] == "5"
    assert not venue_proc.sock.exists()
