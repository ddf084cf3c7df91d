"""More order-entry flows end to end: order types, time in force, replace, duplicates, expiry.

Every message the venue sends is validated by the QuickFIX clients against the FIX 4.4
dictionary; the assertions check exact tags and values.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
import quickfix as fix

from venue.commands import EndOfDay

pytestmark = pytest.mark.quickfix

BUYER = "FIX.4.4:EXCH->BUYER"
T0 = "20260101-00:00:00"


def _utc(offset_s: float) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_s)
    return moment.strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


async def _ack(client, cl_ord_id: str) -> dict[int, str]:
    er = await client.next_app()
    assert (er[35], er[150], er[39], er[11]) == ("8", "0", "0", cl_ord_id), er
    return er


async def test_market_ioc_and_fok_remainders_are_cancelled(harness) -> None:
    buyer = await harness.client("BUYER")
    seller = await harness.client("SELLER")
    await _market_order_partially_filled(buyer, seller)
    await _ioc_and_fok(buyer, seller)


async def _market_order_partially_filled(buyer, seller) -> None:
    buyer.order("B1", "TEST", "1", 30, "10.00")
    await _ack(buyer, "B1")
    seller.order("M1", "TEST", "2", 50, None, ord_type="1")
    ack = await _ack(seller, "M1")
    assert (ack[40], ack[151], ack[14]) == ("1", "50", "0") and 44 not in ack
    fill = await seller.next_app()
    assert (fill[150], fill[39], fill[32], fill[31], fill[14], fill[151], fill[6], fill[851]) == (
        "F", "1", "30", "10.00", "30", "20", "10.00", "2"
    )
    assert fill[17] == fill[17].rstrip("S") + "S"
    rest = await seller.next_app()
    assert (rest[150], rest[39], rest[11], rest[14], rest[151], rest[6]) == (
        "4", "4", "M1", "30", "0", "10.00"
    )
    assert rest[58] == "market order remainder cancelled: no more liquidity"
    assert 41 not in rest  # not a requested cancel
    maker = await buyer.next_app()
    assert (maker[150], maker[39], maker[14], maker[151], maker[851]) == ("F", "2", "30", "0", "1")
    assert maker[17] == fill[17][:-1] + "B"


async def _ioc_and_fok(buyer, seller) -> None:
    buyer.order("B2", "TEST", "1", 30, "10.00")
    await _ack(buyer, "B2")
    # FOK that cannot be filled completely: accepted, then cancelled without a trade.
    seller.order("F1", "TEST", "2", 50, "10.00", extra=[(59, "4")])
    ack = await _ack(seller, "F1")
    assert ack[59] == "4"
    fok = await seller.next_app()
    assert (fok[150], fok[39], fok[11], fok[14], fok[151], fok[59]) == (
        "4", "4", "F1", "0", "0", "4"
    )
    assert fok[58] == "fill-or-kill order cannot be filled completely"
    await buyer.expect_none(0.3)
    # IOC: trades what it can, the remainder is cancelled.
    seller.order("I1", "TEST", "2", 50, "10.00", extra=[(59, "3")])
    await _ack(seller, "I1")
    fill = await seller.next_app()
    assert (fill[150], fill[39], fill[32], fill[14], fill[151]) == ("F", "1", "30", "30", "20")
    rest = await seller.next_app()
    assert (rest[150], rest[39], rest[14], rest[151], rest[59]) == ("4", "4", "30", "0", "3")
    assert rest[58] == "immediate-or-cancel remainder cancelled"
    maker = await buyer.next_app()
    assert (maker[150], maker[39], maker[14], maker[151]) == ("F", "2", "30", "0")


async def test_post_only_and_iceberg(harness) -> None:
    buyer = await harness.client("BUYER")
    seller = await harness.client("SELLER")
    await _post_only_that_would_cross_is_rejected(buyer, seller)
    await _iceberg_echoes_max_floor_and_the_hidden_part_fills(buyer, seller)


async def _post_only_that_would_cross_is_rejected(buyer, seller) -> None:
    seller.order("S1", "TEST", "2", 10, "10.00")
    await _ack(seller, "S1")
    buyer.order("P1", "TEST", "1", 10, "10.00", extra=[(18, "6")])
    rej = await buyer.next_app()
    assert (rej[150], rej[39], rej[103], rej[37], rej[11], rej[151], rej[14]) == (
        "8", "8", "99", "NONE", "P1", "0", "0"
    )
    assert "post-only" in rej[58]
    # A post-only that does not cross rests and echoes ExecInst 6.
    buyer.order("P2", "TEST", "1", 10, "9.99", extra=[(18, "6")])
    ok = await _ack(buyer, "P2")
    assert ok[18] == "6"
    await seller.expect_none(0.3)
    # clear the book: the post-only bid stays below, the ask at 10.00 is cancelled
    seller.send("F", [(41, "S1"), (11, "S1X"), (55, "TEST"), (54, "2"), (60, T0), (38, "10")])
    assert (await seller.next_app())[150] == "4"


async def _iceberg_echoes_max_floor_and_the_hidden_part_fills(buyer, seller) -> None:
    seller.order("ICE", "TEST", "2", 300, "10.00", extra=[(111, "111")])
    ack = await _ack(seller, "ICE")
    assert (ack[111], ack[38], ack[151]) == ("111", "300", "300")
    buyer.order("B3", "TEST", "1", 300, "10.00")
    await _ack(buyer, "B3")
    fills = [await seller.next_app() for _ in range(3)]
    assert [f[32] for f in fills] == ["111", "111", "78"]
    assert [f[151] for f in fills] == ["189", "78", "0"]
    assert [f[39] for f in fills] == ["1", "1", "2"]
    assert all(f[111] == "111" and f[851] == "1" for f in fills)
    taker = [await buyer.next_app() for _ in range(3)]
    assert [t[14] for t in taker] == ["111", "222", "300"]
    assert taker[-1][39] == "2" and all(t[851] == "2" for t in taker)


async def test_stop_order_triggered_by_a_trade_then_filled(harness) -> None:
    buyer = await harness.client("BUYER")
    seller = await harness.client("SELLER")
    buyer.order("STP", "TEST", "1", 10, None, ord_type="3", extra=[(99, "10.00")])
    ack = await _ack(buyer, "STP")
    assert (ack[40], ack[99], ack[151]) == ("3", "10.00", "10") and 44 not in ack
    seller.order("S1", "TEST", "2", 20, "10.00")
    await _ack(seller, "S1")
    buyer.order("B1", "TEST", "1", 10, "10.00")  # the trade that triggers the stop
    await _ack(buyer, "B1")
    first = await buyer.next_app()
    assert (first[11], first[150], first[39], first[32], first[31]) == (
        "B1", "F", "2", "10", "10.00"
    )
    stop = await buyer.next_app()
    assert (stop[11], stop[150], stop[39], stop[32], stop[31], stop[14], stop[151]) == (
        "STP", "F", "2", "10", "10.00", "10", "0"
    )
    assert stop[851] == "2" and stop[37] == ack[37]
    maker = [await seller.next_app() for _ in range(2)]
    assert [(m[39], m[14], m[151]) for m in maker] == [("1", "10", "10"), ("2", "20", "0")]


async def test_gtd_expire_time_in_the_past_is_rejected_and_future_expires(harness) -> None:
    buyer = await harness.client("BUYER")
    buyer.order("G1", "TEST", "1", 10, "9.00", extra=[(59, "6"), (126, _utc(-60))])
    rej = await buyer.next_app()
    assert (rej[150], rej[39], rej[103], rej[37], rej[59]) == ("8", "8", "11", "NONE", "6")
    assert rej[58] == "GTD expire time is not in the future"
    expire = _utc(1.0)
    buyer.order("G2", "TEST", "1", 10, "9.00", extra=[(59, "6"), (126, expire)])
    ack = await _ack(buyer, "G2")
    assert (ack[59], ack[126]) == ("6", expire)
    gone = await buyer.next_app(timeout=5)
    assert (gone[150], gone[39], gone[11], gone[37], gone[14], gone[151]) == (
        "C", "C", "G2", ack[37], "0", "0"
    )
    assert harness.venue.engine.live_orders(owner=BUYER) == []
    # Side and OrdType values outside 1/2 and 1-4 are refused, never read as a buy limit.
    buyer.order("SS", "TEST", "5", 10, "9.00")  # sell short
    short = await buyer.next_app()
    assert (short[150], short[39], short[103]) == ("8", "8", "11")
    assert short[58] == "Side(54) 5 is not supported"
    buyer.order("PEG", "TEST", "1", 10, "9.00", ord_type="P")
    peg = await buyer.next_app()
    assert (peg[150], peg[103], peg[58]) == ("8", "11", "OrdType(40) P is not supported")
    assert harness.venue.engine.live_orders(owner=BUYER) == []


async def test_replace_with_a_price_change_loses_priority(harness) -> None:
    buyer = await harness.client("BUYER")
    seller = await harness.client("SELLER")
    buyer.order("A1", "TEST", "1", 10, "9.99")  # first in time
    await _ack(buyer, "A1")
    buyer.order("B1", "TEST", "1", 10, "10.00")
    await _ack(buyer, "B1")
    buyer.send("G", [(41, "A1"), (11, "A2"), (55, "TEST"), (54, "1"), (60, T0), (38, "10"),
                     (40, "2"), (44, "10.00")])
    rep = await buyer.next_app()
    assert (rep[150], rep[39], rep[11], rep[41], rep[44], rep[151]) == (
        "5", "0", "A2", "A1", "10.00", "10"
    )
    seller.order("S1", "TEST", "2", 10, "10.00")
    await _ack(seller, "S1")
    fill = await buyer.next_app()
    assert (fill[11], fill[150], fill[39], fill[32]) == ("B1", "F", "2", "10")
    await buyer.expect_none(0.3)
    [live] = harness.venue.engine.live_orders(owner=BUYER)
    assert live.spec.cl_ord_id == "A2"


async def test_replace_to_quantity_at_or_below_filled_completes_the_order(harness) -> None:
    buyer = await harness.client("BUYER")
    seller = await harness.client("SELLER")
    buyer.order("B1", "TEST", "1", 100, "10.00")
    ack = await _ack(buyer, "B1")
    seller.order("S1", "TEST", "2", 40, "10.00")
    partial = await buyer.next_app()
    assert (partial[150], partial[39], partial[14], partial[151]) == ("F", "1", "40", "60")
    buyer.send("G", [(41, "B1"), (11, "B2"), (55, "TEST"), (54, "1"), (60, T0), (38, "40"),
                     (40, "2"), (44, "10.00")])
    done = await buyer.next_app()
    # FIX 4.4 Appendix D: ExecType Replaced, OrdStatus Filled ("filled" takes precedence
    # over "canceled"), OrderQty = CumQty
    assert (done[150], done[39], done[11], done[41], done[37], done[38], done[14],
            done[151]) == ("5", "2", "B2", "B1", ack[37], "40", "40", "0")  # fmt: skip
    assert done[58] == "replaced to quantity 40 <= filled quantity 40"
    assert harness.venue.engine.live_orders(owner=BUYER) == []
    buyer.send("F", [(37, ack[37]), (41, "B2"), (11, "B3"), (55, "TEST"), (54, "1"), (60, T0),
                     (38, "40")])
    late = await buyer.next_app()
    assert (late[35], late[37], late[102], late[434], late[39]) == ("9", ack[37], "0", "1", "2")
    buyer.send("H", [(37, ack[37]), (11, "B2"), (55, "TEST"), (54, "1")])
    status = await buyer.next_app()
    assert (status[150], status[39], status[11], status[38], status[14], status[151]) == (
        "I", "2", "B2", "40", "40", "0"
    )  # OrderQty stays CumQty (it said the original 100)


async def test_poss_resend_duplicate_is_not_executed_twice(harness) -> None:
    buyer = await harness.client("BUYER")
    buyer.order("PR1", "TEST", "1", 10, "9.00")
    ack = await _ack(buyer, "PR1")
    message = fix.Message()
    header = message.getHeader()
    header.setField(fix.MsgType("D"))
    header.setField(fix.PossResend(True))
    for tag, value in [(11, "PR1"), (55, "TEST"), (54, "1"), (60, T0), (38, "10"),
                       (40, "2"), (44, "9.00")]:
        message.setField(fix.StringField(tag, value))
    assert fix.Session.sendToTarget(message, buyer.application.session_id)
    status = await buyer.next_app()
    assert (status[35], status[150], status[39], status[11], status[37], status[151]) == (
        "8", "I", "0", "PR1", ack[37], "10"
    )
    await buyer.expect_none(0.3)
    live = harness.venue.engine.live_orders(owner=BUYER)
    assert [o.spec.cl_ord_id for o in live] == ["PR1"]


async def test_end_of_day_expires_day_orders_and_keeps_gtc(harness) -> None:
    buyer = await harness.client("BUYER")
    copy = await harness.client("COPY")
    buyer.order("DAY1", "TEST", "1", 10, "9.00")
    day = await _ack(buyer, "DAY1")
    assert day[59] == "0"
    buyer.order("GTC1", "TEST", "1", 10, "8.00", extra=[(59, "1")])
    assert (await _ack(buyer, "GTC1"))[59] == "1"
    for _ in range(2):
        await copy.next_app()
    harness.venue.submit(EndOfDay(time.time_ns()))
    gone = await buyer.next_app()
    assert (gone[150], gone[39], gone[11], gone[37], gone[151], gone[14]) == (
        "C", "C", "DAY1", day[37], "0", "0"
    )
    assert (await copy.next_app())[17] == gone[17]
    await buyer.expect_none(0.3)
    assert [o.spec.cl_ord_id for o in harness.venue.engine.live_orders(owner=BUYER)] == ["GTC1"]
    await asyncio.sleep(0)
