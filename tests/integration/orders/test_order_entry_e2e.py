"""Order entry end to end: QuickFIX initiators trade with each other through the venue.

Every message the venue sends is validated by the clients against the FIX 4.4 dictionary;
the assertions check exact tags and values.
"""

from __future__ import annotations

import asyncio

import pytest

from venue.store import Store

pytestmark = pytest.mark.quickfix


async def test_orders_trade_replace_cancel_and_drop_copy(harness) -> None:
    buyer = await harness.client("BUYER")
    seller = await harness.client("SELLER")
    copy = await harness.client("COPY")

    buyer.order("B1", "TEST", "1", 100, "10.00")
    new = await buyer.next_app()
    assert new[35] == "8" and new[150] == "0" and new[39] == "0"
    assert (new[11], new[55], new[54], new[38], new[44], new[151], new[14]) == (
        "B1", "TEST", "1", "100", "10.00", "100", "0"
    )
    assert new[1] == "ACC-B"
    order_id = new[37]
    copied = await copy.next_app()
    assert copied[17] == new[17] and copied[150] == "0"

    seller.order("S1", "TEST", "2", 60, "9.99")
    ack = await seller.next_app()
    assert (ack[150], ack[39], ack[151]) == ("0", "0", "60")
    taker = await seller.next_app()
    assert (taker[150], taker[39], taker[32], taker[31], taker[14], taker[151], taker[6]) == (
        "F", "2", "60", "10.00", "60", "0", "10.00"
    )
    assert taker[851] == "2"  # removed liquidity
    maker = await buyer.next_app()
    assert (maker[150], maker[39], maker[32], maker[31], maker[14], maker[151]) == (
        "F", "1", "60", "10.00", "60", "40"
    )
    assert maker[851] == "1" and maker[37] == order_id

    # Quantity down keeps priority; the ER says Replaced with the new ClOrdID.
    buyer.send("G", [(41, "B1"), (11, "B2"), (55, "TEST"), (54, "1"), (60, "20260101-00:00:00"),
                     (38, "80"), (40, "2"), (44, "10.00")])
    rep = await buyer.next_app()
    assert (rep[150], rep[39], rep[11], rep[41], rep[38], rep[151], rep[14]) == (
        "5", "1", "B2", "B1", "80", "20", "60"
    )

    # Another session cannot touch it: the order is unknown to it.
    seller.send("F", [(41, "B2"), (11, "X1"), (55, "TEST"), (54, "1"),
                      (60, "20260101-00:00:00"), (38, "80")])
    rej = await seller.next_app()
    assert (rej[35], rej[37], rej[434], rej[102]) == ("9", "NONE", "1", "1")

    buyer.send("H", [(11, "B2"), (55, "TEST"), (54, "1")])
    status = await buyer.next_app()
    assert (status[150], status[39], status[151], status[14]) == ("I", "1", "20", "60")

    buyer.send("F", [(41, "B2"), (11, "B3"), (55, "TEST"), (54, "1"),
                     (60, "20260101-00:00:00"), (38, "80")])
    cxl = await buyer.next_app()
    assert (cxl[150], cxl[39], cxl[11], cxl[41], cxl[151], cxl[14]) == (
        "4", "4", "B3", "B2", "0", "60"
    )
    # Cancelling it again is too late.
    buyer.send("F", [(41, "B2"), (11, "B4"), (55, "TEST"), (54, "1"),
                     (60, "20260101-00:00:00"), (38, "80")])
    late = await buyer.next_app()
    assert (late[35], late[434], late[39], late[102], late[37]) == ("9", "1", "4", "0", order_id)

    # The drop copy saw every ExecutionReport (2 news, 2 fills, replace, cancel).
    kinds = [copied[150]]
    for _ in range(5):
        kinds.append((await copy.next_app())[150])
    assert sorted(kinds) == sorted(["0", "0", "F", "F", "5", "4"])

    # Journal before acknowledge: everything acknowledged is in the store.
    store = harness.venue.store
    assert isinstance(store, Store)
    rows = {r.cl_ord_id: r for r in await store.orders(live_only=False)}
    assert rows["B2"].status == "4" and rows["B2"].cum_qty == 60 and rows["B2"].qty == 80
    assert rows["S1"].status == "2" and rows["S1"].cum_notional == 60 * 1000
    trades = await store.trades()
    assert [(t["qty"], t["price"]) for t in trades] == [(60, 1000)]


BAD_ORDERS = [
    # (description, symbol, qty, price, extra fields, OrdRejReason, text fragment)
    ("unknown symbol", "NOPE", "10", "1.00", [], "1", "unknown symbol"),
    ("off tick", "TEST", "10", "10.001", [], "99", "tick size"),
    ("zero quantity", "TEST", "0", "10.00", [], "13", "positive"),
    ("fractional quantity", "TEST", "1.5", "10.00", [], "13", "whole number"),
    ("not a lot multiple", "LOTS", "15", "10.0", [], "13", "lot size"),
    ("above instrument max", "LOTS", "2000", "10.0", [], "13", "maximum"),
    ("outside price band", "BAND", "10", "150.00", [], "99", "band"),
    ("halted", "HALT", "10", "1.00", [], "2", "halted"),
    ("session max qty", "TEST", "6000", "1.00", [], "3", "session limit"),
    ("session max notional", "TEST", "2000", "60.00", [], "3", "notional"),
    ("GTD without expiry", "TEST", "10", "1.00", [(59, "6")], "11", "ExpireTime"),
    ("another firm's account", "TEST", "10", "1.00", [(1, "ACC-S")], "15",
     "Account(1) 'ACC-S' is not permitted for this session (ACC-B, ACC-B2)"),
]


async def test_bad_orders_are_rejected_and_the_session_stays_up(harness) -> None:
    buyer = await harness.client("BUYER")
    for n, (what, symbol, qty, price, extra, reason, text) in enumerate(BAD_ORDERS):
        buyer.order(f"R{n}", symbol, "1", qty, price, extra=extra)
        er = await buyer.next_app()
        assert er[35] == "8", what
        got = (er[150], er[39], er[103], er[11], er[37])
        assert got == ("8", "8", reason, f"R{n}", "NONE"), what
        assert text in er[58], (what, er[58])
        assert er.get(1) == dict(extra).get(1, "ACC-B"), what  # echoed as sent, else default
    # Missing price on a limit order
    buyer.send("D", [(11, "NP"), (55, "TEST"), (54, "1"), (60, "20260101-00:00:00"), (38, "5"),
                     (40, "2")])
    er = await buyer.next_app()
    assert (er[150], er[103]) == ("8", "99") and "Price(44) is required" in er[58]
    # Duplicate ClOrdID of a live order
    buyer.order("D1", "TEST", "1", 5, "1.00")
    assert (await buyer.next_app())[150] == "0"
    buyer.order("D1", "TEST", "1", 5, "1.00")
    dup = await buyer.next_app()
    assert (dup[150], dup[103]) == ("8", "6")
    # Unsupported message type: BusinessMessageReject
    buyer.send("R", [(131, "Q1"), (146, "1"), (55, "TEST")])
    bmr = await buyer.next_app()
    assert (bmr[35], bmr[372], bmr[380]) == ("j", "R", "3")
    # Still logged on and trading, for its second permitted account too.
    buyer.order("OK", "TEST", "1", 5, "1.00", extra=[(1, "ACC-B2")])
    ok = await buyer.next_app()
    assert (ok[150], ok[1]) == ("0", "ACC-B2")
    assert buyer.application.logged_on.is_set()


async def test_mass_cancel_and_drop_copy_may_not_trade(harness) -> None:
    seller = await harness.client("SELLER")
    copy = await harness.client("COPY")
    for n, price in enumerate(("11.00", "12.00", "13.00")):
        seller.order(f"S{n}", "TEST", "2", 10, price)
        assert (await seller.next_app())[150] == "0"
    seller.send("q", [(11, "MC1"), (530, "1"), (55, "TEST"), (60, "20260101-00:00:00")])
    msgs = [await seller.next_app() for _ in range(4)]
    report = next(m for m in msgs if m[35] == "r")
    assert (report[530], report[531], report[533]) == ("1", "1", "3")
    assert sorted(m[41] for m in msgs if m[35] == "8") == ["S0", "S1", "S2"]
    assert {m[11] for m in msgs if m[35] == "8"} == {"MC1"}
    assert all(m[150] == "4" for m in msgs if m[35] == "8")
    # the drop copy may not send orders
    for _ in range(6):  # 3 news, 3 cancels
        await copy.next_app()
    copy.order("X", "TEST", "1", 1, "1.00")
    bmr = await copy.next_app()
    assert (bmr[35], bmr[380]) == ("j", "6")


async def test_throttle_rejects_excess_messages(harness) -> None:
    slow = await harness.client("SLOW")
    for n in range(5):
        slow.order(f"T{n}", "TEST", "1", 1, "1.00")
    answers = [await slow.next_app() for _ in range(5)]
    assert [a[150] for a in answers[:2]] == ["0", "0"]
    throttled = [a for a in answers if a[150] == "8"]
    assert len(throttled) >= 2
    assert all("throttle" in a[58] for a in throttled)


async def test_cancel_on_disconnect_is_reported_after_logon(harness) -> None:
    buyer = await harness.client("BUYER")
    buyer.order("COD1", "TEST", "1", 10, "5.00")
    assert (await buyer.next_app())[150] == "0"
    await buyer.stop()
    await asyncio.sleep(0.5)
    assert harness.venue.engine.live_orders(owner="FIX.4.4:EXCH->BUYER") == []
    await buyer.start()  # the cancel comes by resend after the new Logon
    cxl = await buyer.next_app()
    assert (cxl[150], cxl[39], cxl[11]) == ("4", "4", "COD1")
    assert cxl.get(43) == "Y"
