"""The pure aggregation: average-cost positions, replayed top of book, candles, counts."""

from __future__ import annotations

from fractions import Fraction

from reports.aggregate import DayAggregator, Position, TopOfBook

S = 1_000_000_000


def test_average_cost_long_then_partial_close() -> None:
    pos = Position()
    pos.fill("1", 100, 10)  # long 10 @ 100
    pos.fill("1", 110, 10)  # long 20 @ 105
    assert pos.average == 105
    pos.fill("2", 120, 5)  # sell 5: realise (120 - 105) x 5
    assert pos.qty == 15
    assert pos.realised == 75
    assert pos.average == 105  # unchanged by a reduction
    assert pos.unrealised(100) == (100 - 105) * 15


def test_average_cost_flip_through_zero() -> None:
    pos = Position()
    pos.fill("1", 100, 3)
    pos.fill("2", 90, 5)  # closes 3 at a loss of 30, opens short 2 @ 90
    assert pos.realised == -30
    assert pos.qty == -2
    assert pos.average == 90
    pos.fill("1", 80, 2)  # covers the short: +20
    assert pos.realised == -10
    assert pos.qty == 0
    assert pos.average is None
    assert pos.unrealised(1234) == 0


def test_average_cost_with_fractional_average() -> None:
    pos = Position()
    pos.fill("2", 100, 1)
    pos.fill("2", 101, 2)  # short 3 @ 302/3
    assert pos.average == Fraction(302, 3)
    pos.fill("1", 100, 1)  # cover 1: (302/3 - 100) = 2/3
    assert pos.realised == Fraction(2, 3)
    # Realised + unrealised is always the cash flow plus the marked position.
    close = 99
    assert pos.realised + pos.unrealised(close) == (100 + 202 - 100) + (-2) * close


def test_top_of_book_replay() -> None:
    book = TopOfBook()
    book.set(1, "1", 100, 5)
    book.set(2, "1", 101, 5)
    book.set(3, "2", 105, 5)
    book.sample(1)
    book.fill(2, 0)  # best bid filled away
    book.sample(2)
    book.set(3, "2", 104, 3)  # replaced to a better price
    book.sample(3)
    book.sample(4)  # unchanged: not kept
    book.remove(1)
    book.remove(99)  # unknown: ignored
    book.sample(5)
    assert book.samples == [(1, 101, 105), (2, 100, 105), (3, 100, 104), (5, None, 104)]


def _agg() -> DayAggregator:
    return DayAggregator(start_ns=0, interval_ns=60 * S, sample_ns=10 * S)


def test_candles_and_day_ohlc() -> None:
    agg = _agg()
    for ts, px, qty in ((1, 100, 1), (30 * S, 105, 2), (59 * S, 99, 1), (61 * S, 101, 4)):
        agg.trade(ts, "X", px, qty, buy_owner="A", buy_account="a", sell_owner="B",
                  sell_account="b")  # fmt: skip
    stats = agg.symbols["X"]
    assert stats.day is not None
    assert (stats.day.open, stats.day.high, stats.day.low, stats.day.close) == (100, 105, 99, 101)
    assert stats.day.volume == 8
    assert stats.day.notional == 100 + 210 + 99 + 404
    first, second = stats.candles[0], stats.candles[1]
    assert (first.open, first.high, first.low, first.close, first.volume) == (100, 105, 99, 99, 4)
    assert (second.open, second.close, second.volume) == (101, 101, 4)
    assert agg.participants["A", "a", "X"].bought_qty == 8
    assert agg.participants["B", "b", "X"].fills == 4
    assert agg.positions["B", "b", "X"].qty == -8


def test_order_events_count_and_sample_the_book() -> None:
    agg = _agg()
    agg.accepted(1 * S, 1, "A", "a", "X", side="1", ord_type="2", qty=10, price=100)
    agg.accepted(2 * S, 2, "B", "b", "X", side="2", ord_type="2", qty=10, price=102)
    agg.accepted(3 * S, 3, "B", "b", "X", side="2", ord_type="1", qty=5, price=None)  # market
    agg.trade_event(3 * S)
    agg.fill_event(3 * S, "X", 1, side="1", ord_type="2", price=100, leaves=5)
    agg.fill_event(3 * S, "X", 3, side="2", ord_type="1", price=None, leaves=0)
    agg.rejected(4 * S, "B", "b", "X", "invalid_qty")
    agg.replaced(12 * S, 2, "B", "b", "X", side="2", ord_type="2", leaves=10, price=101)
    agg.cancelled(25 * S, 1, "A", "a", "X")
    agg.cancel_rejected(26 * S, "X", "unknown_order (1)")
    agg.finish(27 * S)
    stats = agg.symbols["X"]
    assert (stats.orders, stats.rejects, stats.replaces, stats.cancels) == (3, 1, 1, 1)
    assert stats.cancel_rejects == 1
    # Sampled at the first grid point after each change; the last at the end of the replay.
    assert agg.books["X"].samples == [(10 * S, 100, 102), (20 * S, 100, 101), (27 * S, None, 101)]
    assert agg.reject_reasons == {
        ("order", "invalid_qty"): 1,
        ("cancel/replace", "unknown_order (1)"): 1,
    }
    b = agg.participants["B", "b", "X"]
    assert (b.orders, b.ordered_qty, b.rejects, b.replaces, b.order_events) == (2, 15, 1, 1, 4)


def test_session_health() -> None:
    agg = _agg()
    agg.session_event("S1", 5, "logon", "")
    agg.session_event("S1", 9, "reject", "Invalid MsgType")
    agg.session_event("S1", 7, "disconnect", "reset")
    health = agg.sessions["S1"]
    assert (health.first_ns, health.last_ns) == (5, 9)
    assert health.kinds == {"logon": 1, "reject": 1, "disconnect": 1}
    assert agg.reject_reasons == {("FIX session", "Invalid MsgType"): 1}


def test_a_replace_to_the_filled_quantity_counts_as_a_replace_not_a_cancel() -> None:
    """The client got ExecType 5 (replaced); the report counted a cancel."""
    from decimal import Decimal

    from reports.source import apply_event
    from venue.commands import AddInstrument, NewOrder, ReplaceOrder
    from venue.engine import MatchingEngine
    from venue.instruments import Instrument
    from venue.store.codec import encode_event, event_kind
    from venue.types import OrdType, Price, Qty, Side

    engine = MatchingEngine()
    commands = [
        AddInstrument(1 * S, Instrument("X", Decimal("0.01"))),
        NewOrder(2 * S, "A", "a1", "X", Side.BUY, OrdType.LIMIT, Qty(10), price=Price(100)),
        NewOrder(3 * S, "B", "b1", "X", Side.SELL, OrdType.LIMIT, Qty(4), price=Price(100)),
        ReplaceOrder(4 * S, "A", "a2", "a1", Qty(3), price=Price(100)),  # 3 <= 4 filled
    ]
    agg = _agg()
    for cmd in commands:
        for ev in engine.handle(cmd):
            apply_event(agg, (ev.ts_ns, event_kind(ev), None, None, "X", encode_event(ev)))
    agg.finish(5 * S)
    x = agg.symbols["X"]
    assert (x.orders, x.replaces, x.cancels) == (2, 1, 0)
    assert agg.participants["A", "", "X"].replaces == 1
    assert agg.books["X"].samples[-1] == (5 * S, None, None)  # the order left the book
