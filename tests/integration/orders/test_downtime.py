"""What a restart owes for the time the venue was down: Day orders of a trading day that
ended meanwhile expire, and the live orders of CancelOnDisconnect sessions (which a crash
never logged out) are cancelled, each with an ExecutionReport stored for resend."""

from __future__ import annotations

import time
from pathlib import Path

from support.procs import sessions_cfg, write_venue_files

from fix_gateway.config import parse_config
from venue.commands import NewOrder
from venue.runtime import RuntimeOptions, Venue
from venue.types import OrdType, Price, Qty, Side, TimeInForce

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


async def started(root: Path) -> Venue:
    cfg = write_venue_files(root, "symbol,tick_size\nTEST,0.01\n", SESSIONS)
    venue = Venue(parse_config(cfg.read_text(), cfg), RuntimeOptions(
        store_url=f"sqlite+aiosqlite:///{root / 'v.db'}", mqtt_url=None, admin_socket=None))
    await venue.start()
    return venue


def order(owner: str, cl_ord_id: str, tif: TimeInForce, ts_ns: int, price: int) -> NewOrder:
    return NewOrder(ts_ns, owner, cl_ord_id, "TEST", Side.BUY, OrdType.LIMIT, Qty(5),
                    Price(price), tif=tif)


def live(venue: Venue) -> list[tuple[str, str]]:
    return [(v.spec.owner, v.spec.cl_ord_id) for v in venue.engine.live_orders()]


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
