"""Queries that start-up and the admin status use on big books: no views built."""

from __future__ import annotations

from decimal import Decimal

from venue.commands import CancelOrder, NewOrder
from venue.engine import MatchingEngine
from venue.instruments import Instrument
from venue.types import OrderId, OrdType, Price, Qty, Side, TimeInForce

T0 = 1_000


def test_count_known_clordids_and_gtd_expiries_follow_the_orders() -> None:
    engine = MatchingEngine([Instrument("TEST", Decimal("0.01"))])
    engine.handle(NewOrder(T0, "A", "a1", "TEST", Side.BUY, OrdType.LIMIT, Qty(10), Price(100)))
    engine.handle(
        NewOrder(T0, "A", "a2", "TEST", Side.BUY, OrdType.LIMIT, Qty(10), Price(99),
                 tif=TimeInForce.GTD, expire_ns=T0 + 500)
    )  # fmt: skip
    engine.handle(
        NewOrder(T0, "B", "b1", "TEST", Side.SELL, OrdType.LIMIT, Qty(10), Price(110),
                 tif=TimeInForce.GTD, expire_ns=T0 + 900)
    )  # fmt: skip
    engine.handle(NewOrder(T0, "B", "b2", "TEST", Side.SELL, OrdType.LIMIT, Qty(10), Price(100)))
    # b2 filled a1: both done
    assert engine.live_order_count() == 2 == len(engine.live_orders())
    known = [
        (o, c) for o in "AB" for c in ("a1", "a2", "b1", "b2", "zz") if engine.knows_cl_ord_id(o, c)
    ]
    assert known == [("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "b2")]  # live and finished
    assert sorted(engine.gtd_expiries()) == [T0 + 500, T0 + 900]

    engine.handle(CancelOrder(T0 + 1, "B", "x", "b1", order_id=OrderId(3)))
    assert engine.live_order_count() == 1
    assert engine.knows_cl_ord_id("B", "x") and engine.knows_cl_ord_id("B", "b1")  # cancelled
    assert not engine.knows_cl_ord_id("A", "x")  # per owner
    assert engine.gtd_expiries() == [T0 + 500]
