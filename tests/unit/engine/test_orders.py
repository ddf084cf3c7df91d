"""New orders: validation, limit/market matching, priority, TIF, iceberg, post-only, MinQty."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from venue.commands import NewOrder
from venue.events import OrderAccepted, OrderRejected, Trade
from venue.instruments import Instrument
from venue.snapshot import Level
from venue.types import (
    CancelReason,
    OrdStatus,
    OrdType,
    RejectReason,
    Side,
    TimeInForce,
)

CR = CancelReason
H = Any  # the Harness fixture from conftest.py
B, S = Side.BUY, Side.SELL


def test_limit_rests_and_is_acknowledged(h: H) -> None:
    events = h.raw(h.new_cmd("a", B, 10, 100))
    assert len(events) == 1
    acc = events[0]
    assert isinstance(acc, OrderAccepted)
    assert (acc.seq, acc.ts_ns) == (1, 1)
    spec = acc.spec
    assert (spec.order_id, spec.owner, spec.cl_ord_id, spec.symbol) == (1, "A", "a", "AAA")
    assert (spec.side, spec.ord_type, spec.tif, spec.qty, spec.price) == (
        B,
        OrdType.LIMIT,
        TimeInForce.DAY,
        10,
        100,
    )
    assert spec.entered_ns == 1
    assert h.engine.best_bid("AAA") == Level(100, 10, 1)
    assert h.engine.best_ask("AAA") is None
    view = h.engine.order(1)
    assert view is not None
    assert (view.status, view.cum_qty, view.leaves_qty, view.displayed_qty) == (
        OrdStatus.NEW,
        0,
        10,
        10,
    )


def test_full_match_at_resting_price(h: H) -> None:
    h.sell("s", 10, 100, owner="S")
    assert h.buy("b", 10, 105) == [
        ("accepted", 2, 2),
        ("trade", 3, 1, 100, 10, B, (2, 10, 0, 1000), (1, 10, 0, 1000)),
    ]
    assert h.engine.depth("AAA", 5) == ([], [])
    assert h.engine.last_price("AAA") == 100
    assert h.engine.live_orders() == []
    view = h.engine.order(1)
    assert view is not None
    assert view.status is OrdStatus.FILLED


def test_sell_aggressor_sweeps_levels_best_first_and_rests(h: H) -> None:
    h.buy("b1", 5, 100)
    h.buy("b2", 5, 102)
    h.buy("b3", 5, 101)
    assert h.sell("s", 12, 101, owner="S") == [
        ("accepted", 4, 4),
        ("trade", 5, 1, 102, 5, S, (2, 5, 0, 510), (4, 5, 7, 510)),
        ("trade", 6, 2, 101, 5, S, (3, 5, 0, 505), (4, 10, 2, 1015)),
    ]
    bids, asks = h.engine.depth("AAA", 5)
    assert bids == [Level(100, 5, 1)]
    assert asks == [Level(101, 2, 1)]


def test_time_priority_within_a_level(h: H) -> None:
    h.sell("s1", 3, 100, owner="S1")
    h.sell("s2", 3, 100, owner="S2")
    h.sell("s3", 3, 100, owner="S3")
    out = h.buy("b", 7, 100)
    assert [e[7][0] for e in out if e[0] == "trade"] == [1, 2, 3]
    assert out[3] == ("trade", 7, 3, 100, 1, B, (4, 7, 0, 700), (3, 1, 2, 100))
    assert h.engine.best_ask("AAA") == Level(100, 2, 1)


def test_market_order_sweeps_and_cancels_remainder(h: H) -> None:
    h.sell("s1", 5, 100, owner="S")
    h.sell("s2", 5, 101, owner="S")
    assert h.buy("m", 12) == [
        ("accepted", 3, 3),
        ("trade", 4, 1, 100, 5, B, (3, 5, 7, 500), (1, 5, 0, 500)),
        ("trade", 5, 2, 101, 5, B, (3, 10, 2, 1005), (2, 5, 0, 505)),
        ("cancelled", 6, 3, CR.MARKET_NO_LIQUIDITY, 10),
    ]


def test_market_order_on_empty_book(h: H) -> None:
    assert h.sell("m", 5) == [
        ("accepted", 1, 1),
        ("cancelled", 2, 1, CR.MARKET_NO_LIQUIDITY, 0),
    ]


def test_ioc_remainder_cancelled(h: H) -> None:
    h.sell("s", 4, 100, owner="S")
    assert h.buy("i", 10, 100, tif=TimeInForce.IOC) == [
        ("accepted", 2, 2),
        ("trade", 3, 1, 100, 4, B, (2, 4, 6, 400), (1, 4, 0, 400)),
        ("cancelled", 4, 2, CR.IOC_REMAINDER, 4),
    ]
    assert h.engine.best_bid("AAA") is None


def test_fok_unfilled_cancels_without_trading(h: H) -> None:
    h.sell("s", 4, 100, owner="S")
    assert h.buy("f", 10, 100, tif=TimeInForce.FOK) == [
        ("accepted", 2, 2),
        ("cancelled", 3, 2, CR.FOK_UNFILLED, 0),
    ]
    assert h.engine.best_ask("AAA") == Level(100, 4, 1)


def test_fok_fills_completely_across_levels_and_hidden_qty(h: H) -> None:
    h.sell("s1", 10, 100, owner="S", display_qty=2)
    h.sell("s2", 4, 101, owner="S")
    out = h.buy("f", 14, 101, tif=TimeInForce.FOK)
    assert out[-1] == ("trade", 9, 6, 101, 4, B, (3, 14, 0, 1404), (2, 4, 0, 404))
    assert sum(e[4] for e in out if e[0] == "trade") == 14


def test_fok_counts_only_prices_within_limit(h: H) -> None:
    h.sell("s1", 5, 100, owner="S")
    h.sell("s2", 5, 102, owner="S")
    assert h.buy("f", 10, 101, tif=TimeInForce.FOK)[-1] == ("cancelled", 4, 3, CR.FOK_UNFILLED, 0)


def test_min_qty_not_met_cancels_without_trading(h: H) -> None:
    h.sell("s", 4, 100, owner="S")
    assert h.buy("m", 10, 100, min_qty=5) == [
        ("accepted", 2, 2),
        ("cancelled", 3, 2, CR.MIN_QTY_NOT_MET, 0),
    ]


def test_min_qty_met_trades_and_rests_remainder(h: H) -> None:
    h.sell("s", 6, 100, owner="S")
    assert h.buy("m", 10, 100, min_qty=5) == [
        ("accepted", 2, 2),
        ("trade", 3, 1, 100, 6, B, (2, 6, 4, 600), (1, 6, 0, 600)),
    ]
    assert h.engine.best_bid("AAA") == Level(100, 4, 1)


def test_min_qty_on_empty_book_cancels(h: H) -> None:
    assert h.buy("m", 10, 100, min_qty=1)[-1] == ("cancelled", 2, 1, CR.MIN_QTY_NOT_MET, 0)


def test_post_only_rejected_when_it_would_take(h: H) -> None:
    h.sell("s", 4, 100, owner="S")
    assert h.buy("p", 5, 100, post_only=True) == [
        ("rejected", 2, "p", RejectReason.POST_ONLY_WOULD_TAKE)
    ]
    assert h.buy("q", 5, 99, post_only=True) == [("accepted", 3, 2)]


def test_iceberg_shows_slice_and_refills_at_back(h: H) -> None:
    h.sell("ice", 10, 100, owner="S", display_qty=4)
    h.sell("other", 3, 100, owner="T")
    assert h.engine.best_ask("AAA") == Level(100, 7, 2)
    out = h.buy("b", 6, 100)
    # 4 from the iceberg slice, then the refill goes behind "other", which trades next.
    assert out == [
        ("accepted", 3, 3),
        ("trade", 4, 1, 100, 4, B, (3, 4, 2, 400), (1, 4, 6, 400)),
        ("trade", 5, 2, 100, 2, B, (3, 6, 0, 600), (2, 2, 1, 200)),
    ]
    assert h.engine.best_ask("AAA") == Level(100, 5, 2)
    views = h.engine.live_orders()
    assert [(v.spec.order_id, v.leaves_qty, v.displayed_qty) for v in views] == [
        (1, 6, 4),
        (2, 1, 1),
    ]
    snap = h.engine.snapshot()
    assert [v.spec.order_id for v in snap.orders] == [2, 1]  # queue order: refill lost priority


def test_iceberg_alone_is_consumed_by_one_sweep(h: H) -> None:
    h.sell("ice", 10, 100, owner="S", display_qty=3)
    out = h.buy("b", 10, 100)
    assert [e[4] for e in out if e[0] == "trade"] == [3, 3, 3, 1]
    assert out[-1][7] == (1, 10, 0, 1000)


def test_iceberg_last_slice_is_smaller(h: H) -> None:
    h.sell("ice", 5, 100, owner="S", display_qty=3)
    h.buy("b", 3, 100)
    assert h.engine.best_ask("AAA") == Level(100, 2, 1)


def test_average_price_is_exact_from_notional(h: H) -> None:
    h.sell("s1", 1, 100, owner="S")
    h.sell("s2", 2, 101, owner="S")
    events = h.raw(h.new_cmd("b", B, 3, 101))
    last = events[-1]
    assert isinstance(last, Trade)
    assert (last.buy.cum_qty, last.buy.cum_notional) == (3, 302)


@pytest.mark.parametrize(
    ("kwargs", "reason", "text"),
    [
        ({"symbol": "ZZZ"}, RejectReason.UNKNOWN_SYMBOL, "unknown symbol 'ZZZ'"),
        ({"qty": 0}, RejectReason.INVALID_QTY, "quantity 0 must be positive"),
        ({"qty": 15}, RejectReason.INVALID_QTY, "not a multiple of lot size 10"),
        ({"qty": 10, "lot": 20}, RejectReason.INVALID_QTY, "below the minimum 20"),
        ({"qty": 2000}, RejectReason.INVALID_QTY, "above the maximum 1000"),
        ({"price": None}, RejectReason.INVALID_PRICE, "LIMIT order needs a limit price"),
        ({"price": 0}, RejectReason.INVALID_PRICE, "must be positive"),
        ({"price": -5}, RejectReason.INVALID_PRICE, "must be positive"),
        (
            {"ord_type": OrdType.MARKET},
            RejectReason.INVALID_PRICE,
            "MARKET order must not carry a price",
        ),
        ({"ord_type": OrdType.STOP, "price": None}, RejectReason.INVALID_PRICE, "needs a stop"),
        ({"ord_type": OrdType.STOP_LIMIT}, RejectReason.INVALID_PRICE, "needs a stop price"),
        ({"stop_price": 90}, RejectReason.INVALID_PRICE, "must not carry a stop price"),
        ({"tif": TimeInForce.GTD}, RejectReason.INVALID_ORDER, "GTD order needs an expire"),
        (
            {"tif": TimeInForce.GTD, "expire_ns": 1},
            RejectReason.INVALID_ORDER,
            "not in the future",
        ),
        ({"expire_ns": 10**12}, RejectReason.INVALID_ORDER, "only allowed with TimeInForce GTD"),
        ({"display_qty": 0}, RejectReason.INVALID_QTY, "display quantity 0"),
        ({"display_qty": 200}, RejectReason.INVALID_QTY, "at most the quantity 100"),
        ({"display_qty": 15}, RejectReason.INVALID_QTY, "not a multiple of lot size"),
        ({"min_qty": 200}, RejectReason.INVALID_QTY, "minimum quantity 200"),
        (
            {"post_only": True, "tif": TimeInForce.IOC},
            RejectReason.INVALID_ORDER,
            "post-only needs a LIMIT order",
        ),
        ({"price": 111}, RejectReason.PRICE_BAND, "outside the 10% band around 1.00"),
        ({"price": 89}, RejectReason.PRICE_BAND, "outside the 10% band"),
    ],
)
def test_validation_rejects(
    kwargs: dict[str, Any], reason: RejectReason, text: str, make: H
) -> None:
    lot = kwargs.pop("lot", 10)
    h = make(
        Instrument(
            "AAA",
            Decimal("0.01"),
            lot_size=10,
            min_qty=lot,
            max_qty=1000,
            price_band_pct=Decimal(10),
            reference_price=100,  # type: ignore[arg-type]
        )
    )
    fields: dict[str, Any] = {
        "ts_ns": 5,
        "owner": "A",
        "cl_ord_id": "c",
        "symbol": "AAA",
        "side": B,
        "ord_type": OrdType.LIMIT,
        "qty": 100,
        "price": 100,
    }
    fields.update(kwargs)
    events = h.raw(NewOrder(**fields))
    assert len(events) == 1
    rej = events[0]
    assert isinstance(rej, OrderRejected)
    assert rej.reason is reason
    assert text in rej.text
    assert rej.request.cl_ord_id == "c"
    assert h.engine.next_order_id == 1  # no id consumed by a reject


def test_price_band_edges_accepted_and_reference_moves_to_last_trade(make: H) -> None:
    h = make(
        Instrument("AAA", Decimal("0.01"), price_band_pct=Decimal(10), reference_price=100)  # type: ignore[arg-type]
    )
    assert h.buy("hi", 1, 110)[0][0] == "accepted"
    assert h.sell("lo", 1, 90)[0][0] == "accepted"  # trades at 110: reference is now 110
    assert h.engine.last_price("AAA") == 110
    assert h.buy("x", 1, 92)[0] == ("rejected", 4, "x", RejectReason.PRICE_BAND)
    assert h.buy("y", 1, 121)[0][0] == "accepted"


def test_band_off_without_reference(make: H) -> None:
    h = make(Instrument("AAA", Decimal("0.01"), price_band_pct=Decimal(10)))
    assert h.buy("a", 1, 10_000)[0][0] == "accepted"


def test_duplicate_cl_ord_id_of_live_order(h: H) -> None:
    h.buy("a", 1, 100)
    assert h.buy("a", 1, 99) == [("rejected", 2, "a", RejectReason.DUPLICATE_CL_ORD_ID)]
    assert h.buy("a", 1, 99, owner="B")[0][0] == "accepted"  # another owner's id space
    h.sell("s", 1, 100, owner="S")  # fills "a"
    assert h.buy("a", 1, 98)[0][0] == "accepted"  # done orders do not block reuse


def test_halted_rejects_new_orders(h: H) -> None:
    from venue.commands import SetTradingStatus
    from venue.types import TradingStatus

    assert h.do(SetTradingStatus(h.tick(), "AAA", True)) == [
        ("status_changed", 1, "AAA", TradingStatus.HALTED)
    ]
    inst = h.engine.instrument("AAA")
    assert inst is not None
    assert inst.status is TradingStatus.HALTED
    events = h.raw(h.new_cmd("a", B, 1, 100))
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason is RejectReason.HALTED
    assert events[0].text == "AAA is halted"
    h.do(SetTradingStatus(h.tick(), "AAA", False))
    assert h.buy("b", 1, 100)[0][0] == "accepted"


def test_set_status_of_unknown_symbol_is_ignored(h: H) -> None:
    from venue.commands import SetTradingStatus

    assert h.do(SetTradingStatus(h.tick(), "NOPE", True)) == []


def test_add_instrument_lists_and_updates(h: H) -> None:
    from venue.commands import AddInstrument

    bbb = Instrument("BBB", Decimal("0.5"), lot_size=5)
    assert h.do(AddInstrument(h.tick(), bbb)) == [("instrument", 1, "BBB")]
    assert h.engine.instrument("BBB") == bbb
    assert h.buy("a", 3, 1, symbol="BBB")[0][3] is RejectReason.INVALID_QTY
    h.do(AddInstrument(h.tick(), Instrument("BBB", Decimal("0.5"), lot_size=1)))
    assert h.buy("b", 3, 1, symbol="BBB")[0][0] == "accepted"
    assert [i.symbol for i in h.engine.instruments()] == ["AAA", "BBB"]
    with pytest.raises(ValueError, match="tick size"):
        h.do(AddInstrument(h.tick(), Instrument("BBB", Decimal("0.1"))))


def test_multiple_symbols_are_independent(make: H) -> None:
    h = make(Instrument("AAA", Decimal("0.01")), Instrument("BBB", Decimal("0.01")))
    h.sell("s", 5, 100, owner="S", symbol="AAA")
    assert h.buy("b", 5, 100, symbol="BBB") == [("accepted", 2, 2)]
    assert h.engine.depth("AAA", 1) == ([], [Level(100, 5, 1)])
    assert h.engine.depth("BBB", 1) == ([Level(100, 5, 1)], [])
    assert h.engine.depth("CCC", 1) == ([], [])
    assert h.engine.best_bid("CCC") is None
    assert h.engine.last_price("CCC") is None
    assert h.engine.instrument("CCC") is None


def test_depth_aggregates_displayed_quantity(h: H) -> None:
    h.buy("b1", 5, 100)
    h.buy("b2", 7, 100, display_qty=2)
    h.buy("b3", 1, 99)
    h.buy("b4", 1, 98)
    h.sell("s1", 4, 103)
    h.sell("s2", 4, 102)
    bids, asks = h.engine.depth("AAA", 2)
    assert bids == [Level(100, 7, 2), Level(99, 1, 1)]
    assert asks == [Level(102, 4, 1), Level(103, 4, 1)]
    assert h.engine.depth("AAA", 0) == ([], [])


def test_live_orders_filters(make: H) -> None:
    h = make(Instrument("AAA", Decimal("0.01")), Instrument("BBB", Decimal("0.01")))
    h.buy("a", 1, 100, owner="X")
    h.buy("b", 1, 100, owner="Y")
    h.buy("c", 1, 100, owner="X", symbol="BBB")
    assert [v.spec.cl_ord_id for v in h.engine.live_orders()] == ["a", "b", "c"]
    assert [v.spec.cl_ord_id for v in h.engine.live_orders(owner="X")] == ["a", "c"]
    assert [v.spec.cl_ord_id for v in h.engine.live_orders("X", "BBB")] == ["c"]
    assert h.engine.order(99) is None


def test_counters_start_where_told() -> None:
    from venue.engine import MatchingEngine

    e = MatchingEngine(
        [Instrument("AAA", Decimal(1))], next_order_id=50, next_seq=900, next_trade_id=7
    )
    e.handle(NewOrder(1, "A", "s", "AAA", S, OrdType.LIMIT, 1, 10))  # type: ignore[arg-type]
    events = e.handle(NewOrder(2, "B", "b", "AAA", B, OrdType.LIMIT, 1, 10))  # type: ignore[arg-type]
    trade = events[-1]
    assert isinstance(trade, Trade)
    assert (trade.seq, trade.trade_id, trade.buy.spec.order_id) == (902, 7, 51)
    assert (e.next_seq, e.next_order_id, e.next_trade_id) == (903, 52, 8)
