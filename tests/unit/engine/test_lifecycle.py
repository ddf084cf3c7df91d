"""Cancel, replace, mass cancel, status, stops, self-trade prevention, EOD/GTD expiry."""

from __future__ import annotations

from typing import Any

from venue.commands import AdvanceTime, EndOfDay, MassCancel, SetTradingStatus, StatusQuery
from venue.events import (
    CancelRejected,
    OrderAccepted,
    OrderCancelled,
    OrderReplaced,
    OrderRestated,
    OrderStatusReport,
    OrderTriggered,
    Trade,
)
from venue.snapshot import Level
from venue.types import (
    CancelReason,
    CxlRejReason,
    CxlRejResponseTo,
    OrdStatus,
    OrdType,
    Price,
    Qty,
    Side,
    StpMode,
    TimeInForce,
)

CR = CancelReason
H = Any
B, S = Side.BUY, Side.SELL
CXL, RPL = CxlRejResponseTo.CANCEL, CxlRejResponseTo.REPLACE

# ---------------------------------------------------------------- cancel


def test_cancel_by_cl_ord_id(h: H) -> None:
    h.buy("a", 5, 100)
    events = h.raw(
        __import__("venue.commands", fromlist=["CancelOrder"]).CancelOrder(
            ts_ns=h.tick(), owner="A", cl_ord_id="c1", orig_cl_ord_id="a"
        )
    )
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, OrderCancelled)
    assert (ev.seq, ev.reason, ev.cl_ord_id, ev.cum_qty, ev.spec.order_id) == (
        2,
        CR.REQUESTED,
        "c1",
        0,
        1,
    )
    assert ev.text == "cancelled on request"
    assert h.engine.best_bid("AAA") is None


def test_cancel_by_order_id_takes_precedence(h: H) -> None:
    h.buy("a", 5, 100)
    h.buy("b", 5, 100)
    assert h.cancel("a", order_id=2) == [("cancelled", 3, 2, CR.REQUESTED, 0)]
    assert h.engine.best_bid("AAA") == Level(100, 5, 1)


def test_cancel_partially_filled_reports_cum(h: H) -> None:
    h.buy("a", 5, 100)
    h.sell("s", 2, 100, owner="S")
    assert h.cancel("a") == [("cancelled", 4, 1, CR.REQUESTED, 2)]


def test_cancel_unknown_and_other_owner_are_unknown(h: H) -> None:
    h.buy("a", 5, 100)
    assert h.cancel("zz") == [("cxl_rejected", 2, "x", CXL, CxlRejReason.UNKNOWN_ORDER)]
    assert h.cancel("a", owner="B") == [("cxl_rejected", 3, "x", CXL, CxlRejReason.UNKNOWN_ORDER)]
    rej = h.raw(
        __import__("venue.commands", fromlist=["CancelOrder"]).CancelOrder(
            ts_ns=h.tick(), owner="B", cl_ord_id="q", orig_cl_ord_id="a", order_id=1
        )
    )[0]
    assert isinstance(rej, CancelRejected)
    assert (rej.reason, rej.spec, rej.ord_status) == (CxlRejReason.UNKNOWN_ORDER, None, None)
    assert rej.text == "unknown order: order id 1"
    assert h.cancel("a", symbol="BBB")[0][4] is CxlRejReason.UNKNOWN_ORDER
    assert h.cancel("a", side=S)[0][4] is CxlRejReason.UNKNOWN_ORDER


def test_cancel_done_order_is_too_late(h: H) -> None:
    h.buy("a", 5, 100)
    h.sell("s", 5, 100, owner="S")
    events = h.raw(
        __import__("venue.commands", fromlist=["CancelOrder"]).CancelOrder(
            ts_ns=h.tick(), owner="A", cl_ord_id="c", orig_cl_ord_id="a"
        )
    )
    rej = events[0]
    assert isinstance(rej, CancelRejected)
    assert (rej.reason, rej.ord_status, rej.response_to) == (
        CxlRejReason.TOO_LATE,
        OrdStatus.FILLED,
        CXL,
    )
    assert rej.spec is not None
    assert rej.spec.order_id == 1
    assert rej.text == "order 1 is already filled"
    h.buy("b", 5, 100)
    h.cancel("b")
    assert h.cancel("b")[0][4] is CxlRejReason.TOO_LATE


def test_cancel_allowed_while_halted_and_admin_reason(h: H) -> None:
    h.buy("a", 5, 100)
    h.do(SetTradingStatus(h.tick(), "AAA", True))
    assert h.cancel("a", reason=CR.ADMIN) == [("cancelled", 3, 1, CR.ADMIN, 0)]


# ---------------------------------------------------------------- replace


def test_replace_qty_down_keeps_priority(h: H) -> None:
    h.buy("a", 5, 100)
    h.buy("b", 5, 100, owner="B")
    assert h.replace("a", "a2", 3) == [("replaced", 3, 1, "a2", "a", 0, 3, True)]
    assert h.engine.best_bid("AAA") == Level(100, 8, 2)
    out = h.sell("s", 3, 100, owner="S")
    assert out[1][6][0] == 1  # "a2" still first


def test_replace_qty_up_loses_priority(h: H) -> None:
    h.buy("a", 5, 100)
    h.buy("b", 5, 100, owner="B")
    assert h.replace("a", "a2", 6) == [("replaced", 3, 1, "a2", "a", 0, 6, False)]
    out = h.sell("s", 3, 100, owner="S")
    assert out[1][6][0] == 2


def test_replace_price_loses_priority_and_may_trade(h: H) -> None:
    h.sell("s", 4, 101, owner="S")
    h.buy("a", 5, 100)
    events = h.replace("a", "a2", 5, 101)
    assert events == [
        ("replaced", 3, 2, "a2", "a", 0, 5, False),
        ("trade", 4, 1, 101, 4, B, (2, 4, 1, 404), (1, 4, 0, 404)),
    ]
    assert h.engine.best_bid("AAA") == Level(101, 1, 1)
    view = h.engine.order(2)
    assert view is not None
    assert (view.spec.cl_ord_id, view.spec.price, view.status) == (
        "a2",
        101,
        OrdStatus.PARTIALLY_FILLED,
    )


def test_replace_to_filled_quantity_completes_the_order(h: H) -> None:
    h.buy("a", 10, 100)
    h.sell("s", 4, 100, owner="S")
    events = h.raw(
        __import__("venue.commands", fromlist=["ReplaceOrder"]).ReplaceOrder(
            ts_ns=h.tick(), owner="A", cl_ord_id="a2", orig_cl_ord_id="a", qty=4
        )
    )
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, OrderCancelled)
    assert (ev.reason, ev.cl_ord_id, ev.cum_qty, ev.cum_notional) == (
        CR.REPLACED_TO_FILLED,
        "a2",
        4,
        400,
    )
    assert h.engine.best_bid("AAA") is None
    assert h.cancel("a")[0][4] is CxlRejReason.TOO_LATE
    from venue.commands import StatusQuery

    [status] = h.raw(StatusQuery(h.tick(), "A", "a2"))
    assert (status.spec.qty, status.status, status.cum_qty, status.leaves_qty) == (  # type: ignore[union-attr]
        4, OrdStatus.FILLED, 4, 0)  # OrderQty = CumQty: it said the original 10


def test_replace_rejections(h: H) -> None:
    h.buy("a", 10, 100)
    h.buy("b", 10, 99)
    assert h.replace("zz", "n", 5) == [("cxl_rejected", 3, "n", RPL, CxlRejReason.UNKNOWN_ORDER)]
    assert h.replace("a", "b", 5) == [
        ("cxl_rejected", 4, "b", RPL, CxlRejReason.DUPLICATE_CL_ORD_ID)
    ]
    assert h.replace("a", "a", 5)[0][4] is CxlRejReason.DUPLICATE_CL_ORD_ID
    assert h.replace("a", "n", 0)[0][4] is CxlRejReason.BROKER_OPTION
    assert h.replace("a", "n", 5, 0)[0][4] is CxlRejReason.BROKER_OPTION
    assert h.replace("a", "n", 5, tif=TimeInForce.IOC)[0][4] is CxlRejReason.BROKER_OPTION
    assert h.replace("a", "n", 5, tif=TimeInForce.GTD)[0][4] is CxlRejReason.BROKER_OPTION
    assert h.replace("a", "n", 5, stop_price=90)[0][4] is CxlRejReason.BROKER_OPTION
    assert h.replace("a", "n", 5, display_qty=6)[0][4] is CxlRejReason.BROKER_OPTION
    events = h.raw(
        __import__("venue.commands", fromlist=["ReplaceOrder"]).ReplaceOrder(
            ts_ns=h.tick(), owner="A", cl_ord_id="n", orig_cl_ord_id="a", qty=5, price=0
        )
    )
    rej = events[0]
    assert isinstance(rej, CancelRejected)
    assert rej.request is not None
    assert rej.request.cl_ord_id == "n"
    assert rej.ord_status is OrdStatus.NEW
    assert "must be positive" in rej.text
    h.do(SetTradingStatus(h.tick(), "AAA", True))
    assert h.replace("a", "n", 5)[0][4] is CxlRejReason.BROKER_OPTION
    assert h.engine.best_bid("AAA") == Level(100, 10, 1)  # nothing changed


def test_replace_post_only_that_would_take_is_refused(h: H) -> None:
    h.sell("s", 5, 101, owner="S")
    h.buy("p", 5, 100, post_only=True)
    assert h.replace("p", "p2", 5, 101)[0][4] is CxlRejReason.BROKER_OPTION


def test_replace_to_gtd_then_expires(h: H) -> None:
    h.buy("a", 5, 100)
    assert h.replace("a", "a2", 5, tif=TimeInForce.GTD, expire_ns=100)[0][0] == "replaced"
    assert h.do(AdvanceTime(99)) == []
    assert h.do(AdvanceTime(100)) == [("expired", 3, 1, 0)]


def test_replace_iceberg_display(h: H) -> None:
    h.sell("i", 10, 100, display_qty=4)
    assert h.replace("i", "i2", 3) == [("replaced", 2, 1, "i2", "i", 0, 3, True)]
    assert h.engine.best_ask("AAA") == Level(100, 3, 1)
    assert h.replace("i2", "i3", 3, display_qty=1)[0][7] is False
    assert h.engine.best_ask("AAA") == Level(100, 1, 1)


# ---------------------------------------------------------------- mass cancel, status


def test_mass_cancel_by_owner_symbol_side(h: H) -> None:
    h.buy("a", 1, 100)
    h.sell("b", 1, 105)
    h.buy("c", 1, 99, owner="Z")
    h.buy("d", 1, 98)
    h.sell("stop", 1, ord_type=OrdType.STOP, stop_price=90)
    assert h.do(MassCancel(h.tick(), "A", "m1", side=B)) == [
        ("cancelled", 6, 1, CR.MASS_CANCEL, 0),
        ("cancelled", 7, 4, CR.MASS_CANCEL, 0),
        ("mass_done", 8, 2),
    ]
    assert h.do(MassCancel(h.tick(), "A", "m2", symbol="AAA")) == [
        ("cancelled", 9, 2, CR.MASS_CANCEL, 0),
        ("cancelled", 10, 5, CR.MASS_CANCEL, 0),
        ("mass_done", 11, 2),
    ]
    assert h.do(MassCancel(h.tick(), "A", "m3")) == [("mass_done", 12, 0)]
    ev = h.events[-3]
    assert isinstance(ev, OrderCancelled)
    assert ev.cl_ord_id == "m2"
    assert [v.spec.cl_ord_id for v in h.engine.live_orders()] == ["c"]


def test_status_query(h: H) -> None:
    h.buy("a", 5, 100)
    h.sell("s", 2, 100, owner="S")
    assert h.do(StatusQuery(h.tick(), "A", "a")) == [
        ("status", 4, 1, OrdStatus.PARTIALLY_FILLED, 2, 3)
    ]
    assert h.do(StatusQuery(h.tick(), "A", "", order_id=1))[0][2] == 1  # type: ignore[arg-type]
    assert h.do(StatusQuery(h.tick(), "B", "a")) == [("status", 6, None, OrdStatus.REJECTED, 0, 0)]
    h.cancel("a")
    assert h.do(StatusQuery(h.tick(), "A", "a")) == [("status", 8, 1, OrdStatus.CANCELED, 2, 0)]
    assert h.do(StatusQuery(h.tick(), "S", "s"))[0][3] is OrdStatus.FILLED



def test_status_query_names_the_orders_current_cl_ord_id(h: H) -> None:
    def cl_ord_id(query: str) -> str:
        [ev] = h.raw(StatusQuery(h.tick(), "A", query))
        assert isinstance(ev, OrderStatusReport) and ev.spec is not None
        return ev.cl_ord_id

    h.buy("a", 5, 100)
    h.replace("a", "r1", 5, 99)  # live under its new ClOrdID
    assert cl_ord_id("r1") == "r1"
    h.sell("s", 2, 99, owner="S")
    h.replace("r1", "r2", 2, 99)  # replaced to its filled quantity: finished by r2
    assert (cl_ord_id("r1"), cl_ord_id("r2")) == ("r2", "r2")
    h.buy("b", 5, 90)
    h.cancel("b", cl="x")
    assert (cl_ord_id("b"), cl_ord_id("x")) == ("x", "x")
    h.buy("c", 1, 90)
    h.sell("t", 1, 90, owner="S")  # filled: no request finished it
    assert cl_ord_id("c") == "c"


# ---------------------------------------------------------------- stops


def test_buy_stop_triggers_on_last_trade_and_trades_as_market(h: H) -> None:
    h.sell("s1", 1, 100, owner="S")
    h.sell("s2", 5, 102, owner="S")
    assert h.buy("stop", 3, ord_type=OrdType.STOP, stop_price=100) == [("accepted", 3, 3)]
    assert h.engine.best_bid("AAA") is None  # untriggered stops are off the book
    views = h.engine.live_orders()
    assert [(v.spec.order_id, v.triggered, v.displayed_qty) for v in views][-1] == (3, False, 0)
    out = h.buy("b", 1, 100, owner="B")
    assert out == [
        ("accepted", 4, 4),
        ("trade", 5, 1, 100, 1, B, (4, 1, 0, 100), (1, 1, 0, 100)),
        ("triggered", 6, 3, 100),
        ("trade", 7, 2, 102, 3, B, (3, 3, 0, 306), (2, 3, 2, 306)),
    ]
    trig = h.events[-2]
    assert isinstance(trig, OrderTriggered)


def test_sell_stop_limit_triggers_and_rests(h: H) -> None:
    h.buy("b1", 1, 100, owner="B")
    h.sell("sl", 5, 99, ord_type=OrdType.STOP_LIMIT, stop_price=100)
    out = h.sell("s", 1, 100, owner="S")
    assert out == [
        ("accepted", 3, 3),
        ("trade", 4, 1, 100, 1, S, (1, 1, 0, 100), (3, 1, 0, 100)),
        ("triggered", 5, 2, 100),
    ]
    assert h.engine.best_ask("AAA") == Level(99, 5, 1)
    view = h.engine.order(2)
    assert view is not None
    assert view.triggered


def test_stop_whose_condition_holds_on_arrival_triggers_immediately(h: H) -> None:
    h.sell("s1", 1, 100, owner="S")
    h.buy("b1", 1, 100, owner="B")  # last = 100
    h.sell("s2", 2, 101, owner="S")
    assert h.buy("st", 2, ord_type=OrdType.STOP, stop_price=99) == [
        ("accepted", 5, 4),
        ("triggered", 6, 4, 100),
        ("trade", 7, 2, 101, 2, B, (4, 2, 0, 202), (3, 2, 0, 202)),
    ]


def test_stop_without_last_price_waits(h: H) -> None:
    assert h.buy("st", 2, ord_type=OrdType.STOP, stop_price=1) == [("accepted", 1, 1)]


def test_stops_trigger_in_price_order_then_arrival_and_cascade(h: H) -> None:
    # Book: asks at 100 (1), 101 (1), 102 (1), 103 (5).
    for i, p in enumerate((100, 101, 102, 103)):
        h.sell(f"s{i}", 5 if p == 103 else 1, p, owner="S")
    h.buy("st_b", 1, ord_type=OrdType.STOP, stop_price=101, owner="X")  # oid 5
    h.buy("st_a", 1, ord_type=OrdType.STOP, stop_price=101, owner="Y")  # oid 6
    h.buy("st_c", 1, ord_type=OrdType.STOP, stop_price=100, owner="Z")  # oid 7
    out = h.buy("go", 1, 100, owner="B")
    trig = [e[2] for e in out if e[0] == "triggered"]
    # 100 reached first: oid 7 (stop 100) trades at 101 -> stops at 101 by arrival: 5 then 6.
    assert trig == [7, 5, 6]
    prices = [e[3] for e in out if e[0] == "trade"]
    assert prices == [100, 101, 102, 103]
    assert h.engine.last_price("AAA") == 103


def test_stop_replace_and_cancel(h: H) -> None:
    h.sell("s1", 1, 100, owner="S")
    h.sell("s2", 1, 100, owner="S")
    h.buy("st", 1, ord_type=OrdType.STOP, stop_price=105)
    assert h.replace("st", "st2", 2, stop_price=104) == [
        ("replaced", 4, 3, "st2", "st", 0, 2, False)
    ]
    h.buy("b", 1, 100, owner="B")  # last 100, below 104: no trigger
    assert h.replace("st2", "st3", 2, stop_price=100)[1:] == [
        ("triggered", 8, 3, 100),
        ("trade", 9, 2, 100, 1, B, (3, 1, 1, 100), (2, 1, 0, 100)),
        ("cancelled", 10, 3, CR.MARKET_NO_LIQUIDITY, 1),
    ]
    h.sell("st4", 1, ord_type=OrdType.STOP, stop_price=50)
    assert h.cancel("st4") == [("cancelled", 12, 5, CR.REQUESTED, 0)]
    h.sell("s5", 1, 100, owner="S")
    assert h.buy("b5", 1, 100, owner="B")[-1][0] == "trade"  # cancelled stop never fires


# ---------------------------------------------------------------- self-trade prevention


def _stp_setup(h: H) -> None:
    h.sell("r", 5, 100, owner="A", stp_group="G")


def test_stp_cancel_resting(h: H) -> None:
    _stp_setup(h)
    h.sell("o", 2, 100, owner="O")
    assert h.buy("b", 3, 100, owner="A2", stp_group="G", stp_mode=StpMode.CANCEL_RESTING) == [
        ("accepted", 3, 3),
        ("cancelled", 4, 1, CR.SELF_TRADE, 0),
        ("trade", 5, 1, 100, 2, B, (3, 2, 1, 200), (2, 2, 0, 200)),
    ]
    assert h.engine.best_bid("AAA") == Level(100, 1, 1)


def test_stp_cancel_aggressor(h: H) -> None:
    h.sell("o", 2, 100, owner="O")
    _stp_setup(h)
    assert h.buy("b", 4, 100, stp_group="G", stp_mode=StpMode.CANCEL_AGGRESSOR) == [
        ("accepted", 3, 3),
        ("trade", 4, 1, 100, 2, B, (3, 2, 2, 200), (1, 2, 0, 200)),
        ("cancelled", 5, 3, CR.SELF_TRADE, 2),
    ]
    assert h.engine.best_ask("AAA") == Level(100, 5, 1)


def test_stp_cancel_both(h: H) -> None:
    _stp_setup(h)
    assert h.buy("b", 4, 100, stp_group="G", stp_mode=StpMode.CANCEL_BOTH) == [
        ("accepted", 2, 2),
        ("cancelled", 3, 1, CR.SELF_TRADE, 0),
        ("cancelled", 4, 2, CR.SELF_TRADE, 0),
    ]
    assert h.engine.depth("AAA", 1) == ([], [])


def test_stp_decrement_and_cancel(h: H) -> None:
    _stp_setup(h)
    h.sell("o", 2, 101, owner="O")
    # aggressor 3 < resting 5: resting decremented to 2, aggressor cancelled; no trade.
    assert h.buy("b", 3, 101, stp_group="G", stp_mode=StpMode.DECREMENT_AND_CANCEL) == [
        ("accepted", 3, 3),
        ("restated", 4, 1, 2, 2),
        ("cancelled", 5, 3, CR.SELF_TRADE, 0),
    ]
    assert h.engine.best_ask("AAA") == Level(100, 2, 1)
    # aggressor 4 > resting 2: resting cancelled, aggressor reduced to 2, trades at 101.
    assert h.buy("c", 4, 101, stp_group="G", stp_mode=StpMode.DECREMENT_AND_CANCEL) == [
        ("accepted", 6, 4),
        ("cancelled", 7, 1, CR.SELF_TRADE, 0),
        ("restated", 8, 4, 2, 2),
        ("trade", 9, 1, 101, 2, B, (4, 2, 0, 202), (2, 2, 0, 202)),
    ]
    restated, trade = h.events[-2:]
    assert isinstance(restated, OrderRestated)
    assert isinstance(trade, Trade)
    assert trade.buy.spec == restated.spec  # the fill carries the aggressor's current spec


def test_stp_off_without_group_or_mode(h: H) -> None:
    h.sell("r", 1, 100, stp_group="G")
    assert h.buy("b", 1, 100, stp_group="G")[-1][0] == "trade"  # mode NONE
    h.sell("r2", 1, 100)
    assert h.buy("b2", 1, 100, stp_mode=StpMode.CANCEL_BOTH)[-1][0] == "trade"  # group ""


def test_fok_with_stp_counts_conservatively(h: H) -> None:
    _stp_setup(h)
    h.sell("o", 5, 100, owner="O")
    # CancelAggressor: the walk stops at the own order -> nothing certain -> FOK cancelled.
    assert h.buy(
        "f", 5, 100, tif=TimeInForce.FOK, stp_group="G", stp_mode=StpMode.CANCEL_AGGRESSOR
    )[-1] == ("cancelled", 4, 3, CR.FOK_UNFILLED, 0)
    # CancelResting: own orders are skipped -> 5 available behind it.
    out = h.buy("g", 5, 100, tif=TimeInForce.FOK, stp_group="G", stp_mode=StpMode.CANCEL_RESTING)
    assert [e[0] for e in out] == ["accepted", "cancelled", "trade"]


# ---------------------------------------------------------------- EOD and GTD


def test_end_of_day_expires_day_orders_and_stops_not_gtc(h: H) -> None:
    h.buy("day", 1, 100)
    h.buy("gtc", 1, 99, tif=TimeInForce.GTC)
    h.sell("stop", 1, ord_type=OrdType.STOP, stop_price=90)
    h.buy("gtd", 1, 98, tif=TimeInForce.GTD, expire_ns=1000)
    h.buy("gtd2", 1, 97, tif=TimeInForce.GTD, expire_ns=10_000)
    assert h.do(EndOfDay(5000)) == [
        ("expired", 6, 4, 0),  # GTD due first
        ("expired", 7, 1, 0),
        ("expired", 8, 3, 0),
    ]
    assert [v.spec.cl_ord_id for v in h.engine.live_orders()] == ["gtc", "gtd2"]
    assert h.cancel("day")[0][4] is CxlRejReason.UNKNOWN_ORDER  # done orders forgotten at EOD


def test_gtd_expires_lazily_before_any_command(h: H) -> None:
    h.buy("g1", 1, 100, tif=TimeInForce.GTD, expire_ns=50)
    h.buy("g2", 1, 101, tif=TimeInForce.GTD, expire_ns=40)
    h.ts = 60
    assert h.sell("s", 1, 100, owner="S") == [
        ("expired", 3, 2, 0),
        ("expired", 4, 1, 0),
        ("accepted", 5, 3),
    ]
    assert h.engine.best_ask("AAA") == Level(100, 1, 1)


def test_gtd_cancelled_order_does_not_expire(h: H) -> None:
    h.buy("g", 1, 100, tif=TimeInForce.GTD, expire_ns=50)
    h.cancel("g")
    assert h.do(AdvanceTime(100)) == []


def test_replace_event_fields(h: H) -> None:
    h.buy("a", 5, 100)
    events = h.raw(
        __import__("venue.commands", fromlist=["ReplaceOrder"]).ReplaceOrder(
            ts_ns=h.tick(), owner="A", cl_ord_id="a2", orig_cl_ord_id="a", qty=7, price=99
        )
    )
    ev = events[0]
    assert isinstance(ev, OrderReplaced)
    assert (ev.spec.qty, ev.spec.price, ev.spec.entered_ns, ev.spec.order_id) == (7, 99, 1, 1)
    assert (ev.cum_qty, ev.leaves_qty, ev.cum_notional, ev.priority_kept) == (0, 7, 0, False)


def test_a_replace_changes_exactly_the_requested_fields(h: H) -> None:
    """The new spec is built positionally (the engine's fast constructor): every field of
    the old one carried over, the replaced ones changed, nothing else moved."""
    from dataclasses import replace

    from venue.commands import NewOrder, ReplaceOrder

    new = NewOrder(
        ts_ns=h.tick(), owner="A", cl_ord_id="o1", symbol="AAA", side=Side.SELL,
        ord_type=OrdType.LIMIT, qty=Qty(40), price=Price(120), tif=TimeInForce.GTD,
        expire_ns=10**12, account="ACC7", display_qty=Qty(10), stp_group="G7",
        stp_mode=StpMode.CANCEL_RESTING,
    )  # fmt: skip
    (accepted,) = h.raw(new)
    assert isinstance(accepted, OrderAccepted)
    replace_cmd = ReplaceOrder(
        ts_ns=h.tick(), owner="A", cl_ord_id="o2", orig_cl_ord_id="o1", qty=Qty(30),
        price=Price(121), display_qty=Qty(5), tif=TimeInForce.GTD, expire_ns=2 * 10**12,
    )  # fmt: skip
    events = h.raw(replace_cmd)
    (replaced,) = events
    assert isinstance(replaced, OrderReplaced)
    assert replaced.spec == replace(
        accepted.spec, cl_ord_id="o2", qty=30, price=121, display_qty=5, expire_ns=2 * 10**12
    )


def test_an_untriggered_stop_cannot_be_replaced_below_its_min_qty(h: H) -> None:
    """It meets its MinQty when it triggers: a quantity below it could never fill, and a
    new order like it would be rejected."""
    h.sell("stop", 10, ord_type=OrdType.STOP, stop_price=100, min_qty=5)
    rejected = h.replace("stop", "stop2", 2)
    assert rejected[0][:5] == ("cxl_rejected", rejected[0][1], "stop2", RPL,
                               CxlRejReason.BROKER_OPTION)
    assert h.events[-1].text == "minimum quantity 5 is above the new quantity 2"
    assert h.replace("stop", "stop3", 5)[0][0] == "replaced"
