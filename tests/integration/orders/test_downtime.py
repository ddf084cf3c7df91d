"""The end of a trading day, live and across downtime: Day orders expire and the live orders
of CancelOnDisconnect sessions are cancelled, with ExecutionReports the clients get. Live,
they go out before the schedule's Logout; after a restart that missed the day's end (or a
crash that logged no one out), they are stored for resend."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from pathlib import Path

import pytest
from support.procs import sessions_cfg, write_venue_files
from support.rawclient import RawClient

from fix_gateway.config import parse_config
from venue.commands import NewOrder, SetTradingStatus
from venue.runtime import RuntimeOptions, Venue
from venue.types import OrdType, Price, Qty, Side, TimeInForce, TradingStatus

SESSIONS = sessions_cfg("DOWN", 0, """\
StartTime=00:00:00
EndTime=00:00:00
TimeZone=UTC
[SESSION]
TargetCompID=KEEP
[SESSION]
TargetCompID=COD
CancelOnDisconnect=Y
""")
KEEP, COD = "FIX.4.4:DOWN->KEEP", "FIX.4.4:DOWN->COD"
HOUR = 3600 * 1_000_000_000


async def started(
    root: Path, sessions: str = SESSIONS, instruments: str = "symbol,tick_size\nTEST,0.01\n"
) -> Venue:
    cfg = write_venue_files(root, instruments, sessions)
    venue = Venue(parse_config(cfg.read_text(), cfg), RuntimeOptions(
        store_url=f"sqlite+aiosqlite:///{root / 'v.db'}", mqtt_url=None, admin_socket=None))
    await venue.start()
    return venue


def order(owner: str, cl_ord_id: str, tif: TimeInForce, ts_ns: int, price: int) -> NewOrder:
    return NewOrder(ts_ns, owner, cl_ord_id, "TEST", Side.BUY, OrdType.LIMIT, Qty(5),
                    Price(price), tif=tif)


def live(venue: Venue) -> list[tuple[str, str]]:
    return [(v.spec.owner, v.spec.cl_ord_id) for v in venue.engine.live_orders()]


async def logged_on(venue: Venue, name: str) -> RawClient:
    """A raw FIX client logged on as ``name``."""
    assert venue.acceptor is not None
    client = RawClient(venue.acceptor.port, name, "DOWN")
    await client.connect()
    client.send([(35, "A"), (98, 0), (108, 30)])
    assert (await client.receive(1))[0].msg_type == "A"
    return client


def nos(cl_ord_id: str, tif: str) -> list[tuple[int, object]]:
    """A NewOrderSingle: buy 5 TEST at 1.00 with TimeInForce(59) ``tif``."""
    now = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())
    return [(35, "D"), (11, cl_ord_id), (55, "TEST"), (54, "1"), (60, now), (38, 5),
            (40, "2"), (44, "1.00"), (59, tif)]


async def sent_reports(venue: Venue, session_id: str) -> list[str]:
    assert venue.store is not None
    return [raw.decode().replace("\x01", "|")
            for _, raw in await venue.store.load_fix_messages(session_id, 1, 0)
            if b"\x0135=8\x01" in raw]


async def test_day_orders_of_a_day_that_ended_while_down_expire_at_the_restart(
    tmp_path: Path,
) -> None:
    venue = await started(tmp_path)
    now = time.time_ns()
    venue.submit(order(KEEP, "OLD-DAY", TimeInForce.DAY, now - 25 * HOUR, 100))
    venue.submit(order(KEEP, "OLD-GTC", TimeInForce.GTC, now - 25 * HOUR, 101))
    await venue.stop()

    venue = await started(tmp_path)
    try:
        assert live(venue) == [(KEEP, "OLD-GTC")]
        [report] = [r for r in await sent_reports(venue, KEEP) if "|11=OLD-DAY|" in r
                    and "|150=C|" in r]
        assert "|39=C|" in report and "|151=0|" in report
        # a Day order of today survives the next restart: nothing is owed any more
        venue.submit(order(KEEP, "TODAY", TimeInForce.DAY, time.time_ns(), 99))
    finally:
        await venue.stop()
    venue = await started(tmp_path)
    try:
        assert live(venue) == [(KEEP, "OLD-GTC"), (KEEP, "TODAY")]
    finally:
        await venue.stop()


async def test_orders_of_a_cancel_on_disconnect_session_are_cancelled_at_the_restart(
    tmp_path: Path,
) -> None:
    venue = await started(tmp_path)
    now = time.time_ns()
    # As after a crash: the sessions are not logged on, no logout cancelled anything.
    venue.submit(order(COD, "C1", TimeInForce.GTC, now, 100))
    venue.submit(order(KEEP, "K1", TimeInForce.GTC, now, 100))
    await venue.stop()
    assert {o for o, _ in live(venue)} == {COD, KEEP}

    venue = await started(tmp_path)
    try:
        assert live(venue) == [(KEEP, "K1")]
        [report] = [r for r in await sent_reports(venue, COD) if "|150=4|" in r]
        assert "|11=C1|" in report and "|41=" not in report  # the venue's own cancel
        assert "|39=4|" in report and "|58=cancelled on disconnect|" in report
    finally:
        await venue.stop()


async def test_at_the_days_end_its_reports_go_out_before_the_schedules_logout(
    tmp_path: Path,
) -> None:
    # a daily session period that ends two seconds from now
    end = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).strftime("%H:%M:%S")
    venue = await started(tmp_path, SESSIONS.replace("=00:00:00", f"={end}"))
    try:
        clients = {}
        for name in ("KEEP", "COD"):
            client = clients[name] = await logged_on(venue, name)
            client.send(nos(f"{name}-DAY", tif="0"))
            client.send(nos(f"{name}-GTC", tif="1"))
            assert [m.get(150) for m in await client.receive(2)] == ["0", "0"]

        async def until_logout(client: RawClient) -> list[tuple[str, str | None, str | None]]:
            got = []
            while not got or got[-1][0] != "5":
                [m] = await client.receive(1, wait=10)
                if m.msg_type != "0":
                    got.append((m.msg_type, m.get(11), m.get(150)))
            return got

        keep, cod = await asyncio.gather(until_logout(clients["KEEP"]),
                                         until_logout(clients["COD"]))
        assert keep == [("8", "KEEP-DAY", "C"), ("5", None, None)]
        assert cod == [("8", "COD-DAY", "C"), ("8", "COD-GTC", "4"), ("5", None, None)]
        assert live(venue) == [(KEEP, "KEEP-GTC")]
        for client in clients.values():
            await client.close()
    finally:
        await venue.stop()


async def test_a_restart_with_a_changed_instruments_row_keeps_an_operators_halt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    venue = await started(tmp_path)
    venue.submit(SetTradingStatus(time.time_ns(), "TEST", True))  # venue instruments halt
    await venue.stop()
    venue = await started(tmp_path, instruments="symbol,tick_size,max_qty\nTEST,0.01,500\n")
    try:
        instrument = venue.engine.instrument("TEST")
        assert instrument is not None
        assert (instrument.max_qty, instrument.status) == (500, TradingStatus.HALTED)
        # the file's rules win over the venue's (a run-time `instruments add` too), said once
        [replaced] = [r.getMessage() for r in caplog.records if "replace the venue's" in
                      r.getMessage()]
        assert replaced.endswith("the rules of TEST in the instruments file replace the "
                                 "venue's: max_qty None -> 500")
    finally:
        await venue.stop()


async def test_a_disconnects_cancels_are_committed_while_the_venue_is_otherwise_idle(
    tmp_path: Path,
) -> None:
    venue = await started(tmp_path)
    try:
        client = await logged_on(venue, "COD")
        client.send(nos("C1", tif="1"))
        assert (await client.receive(1))[0].get(150) == "0"
        await client.close()  # no logout, and no other traffic after it

        def stored() -> tuple[tuple[str, ...], list[str]]:
            with sqlite3.connect(tmp_path / "v.db") as db:
                [status] = db.execute("SELECT status FROM orders WHERE cl_ord_id = 'C1'")
                kinds = [k for (k,) in db.execute(
                    "SELECT kind FROM fix_session_events WHERE session_id = ? ORDER BY id",
                    (COD,))]
            return status, kinds

        deadline = time.monotonic() + 3
        while stored() != (("4",), ["logon", "disconnect"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert stored() == (("4",), ["logon", "disconnect"])
    finally:
        await venue.stop()


async def test_a_command_after_the_days_end_is_handled_in_the_new_day(tmp_path: Path) -> None:
    """The day closed when the venue's timer noticed it (up to a tick late, and later under
    load): a Day order entered just after the end expired with the old day's orders, and a
    trade just after it counted in the old day's statistics, which a restart then recounted
    from the store. The first command of each second now checks the day first."""
    from support.procs import free_port

    boundary_time = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)  # a 24-hour period
    hhmmss = boundary_time.strftime("%H:%M:%S")
    cfg = write_venue_files(tmp_path, "symbol,tick_size\nTEST,0.01\n",
                            SESSIONS.replace("=00:00:00", f"={hhmmss}"))
    venue = Venue(parse_config(cfg.read_text(), cfg), RuntimeOptions(
        store_url=f"sqlite+aiosqlite:///{tmp_path / 'v.db'}", admin_socket=None,
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}"))  # no broker: the statistics still count
    await venue.start()
    try:
        boundary = int(boundary_time.replace(microsecond=0).timestamp()) * 1_000_000_000
        ms = 1_000_000

        def sell(cl_ord_id: str, ts_ns: int) -> NewOrder:
            return NewOrder(ts_ns, KEEP, cl_ord_id, "TEST", Side.SELL, OrdType.LIMIT, Qty(1),
                            Price(100), tif=TimeInForce.GTC)

        venue.submit(order(KEEP, "OLD-DAY", TimeInForce.DAY, boundary - 3 * ms, 100))
        venue.submit(sell("S-OLD", boundary - 2 * ms))  # trades 1 of OLD-DAY's 5: old day
        venue.submit(order(COD, "NEW-DAY", TimeInForce.DAY, boundary + 1 * ms, 90))
        venue.submit(order(KEEP, "NEW-BUY", TimeInForce.GTC, boundary + 2 * ms, 100))
        venue.submit(sell("S-NEW", boundary + 3 * ms))  # trades with NEW-BUY: the new day
        await venue.commit()
        # OLD-DAY expired at the day's end; NEW-DAY (of a CancelOnDisconnect session, whose
        # orders the end cancels too) and NEW-BUY (4 of 5 left) are the new day's
        assert sorted(live(venue)) == [(COD, "NEW-DAY"), (KEEP, "NEW-BUY")]
        assert venue.publisher is not None
        stats = venue.publisher._feeds["TEST"].stats
        assert (stats.count, stats.volume, stats.trade_seq) == (1, 1, 2)
    finally:
        await venue.stop()


async def test_day_orders_expire_at_a_restart_outside_the_sessions_times(tmp_path: Path) -> None:
    """A venue stopped during the day and started after its end kept the Day orders: no
    period at the restart, so nothing was owed, and they traded the next day."""
    now = dt.datetime.now(dt.UTC)
    times = {"StartTime": now - dt.timedelta(hours=3), "EndTime": now - dt.timedelta(hours=1)}
    sessions = SESSIONS.replace("StartTime=00:00:00", "StartTime=" + times["StartTime"].strftime(
        "%H:%M:%S")).replace("EndTime=00:00:00", "EndTime=" + times["EndTime"].strftime(
        "%H:%M:%S"))
    venue = await started(tmp_path, sessions)
    in_the_day = time.time_ns() - 2 * HOUR
    venue.submit(order(KEEP, "DAY", TimeInForce.DAY, in_the_day, 100))
    venue.submit(order(KEEP, "GTC", TimeInForce.GTC, in_the_day, 101))
    await venue.stop()
    venue = await started(tmp_path, sessions)
    try:
        assert live(venue) == [(KEEP, "GTC")]
        [report] = [r for r in await sent_reports(venue, KEEP) if "|150=C|" in r]
        assert "|11=DAY|" in report and "|39=C|" in report
    finally:
        await venue.stop()
