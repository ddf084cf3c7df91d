"""A small harness for engine unit tests: numbered timestamps and compact event summaries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from venue.commands import CancelOrder, Command, NewOrder, ReplaceOrder
from venue.engine import MatchingEngine
from venue.events import (
    CancelRejected,
    Event,
    InstrumentAdded,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderStatusReport,
    OrderTriggered,
    Trade,
    TradingStatusChanged,
)
from venue.instruments import Instrument
from venue.types import OrderId, OrdType, Price, Qty, Side


def summary(event: Event) -> tuple[Any, ...]:
    """The fields that matter, as a tuple; exact and readable in assertions."""
    if isinstance(event, OrderAccepted):
        return ("accepted", event.seq, event.spec.order_id)
    if isinstance(event, OrderRejected):
        return ("rejected", event.seq, event.request.cl_ord_id, event.reason)
    if isinstance(event, OrderTriggered):
        return ("triggered", event.seq, event.spec.order_id, event.trigger_price)
    if isinstance(event, Trade):
        b, s = event.buy, event.sell
        return (
            "trade",
            event.seq,
            event.trade_id,
            event.price,
            event.qty,
            event.aggressor,
            (b.spec.order_id, b.cum_qty, b.leaves_qty, b.cum_notional),
            (s.spec.order_id, s.cum_qty, s.leaves_qty, s.cum_notional),
        )
    if isinstance(event, OrderCancelled):
        return ("cancelled", event.seq, event.spec.order_id, event.reason, event.cum_qty)
    if isinstance(event, OrderReplaced):
        return (
            "replaced",
            event.seq,
            event.spec.order_id,
            event.spec.cl_ord_id,
            event.orig_cl_ord_id,
            event.cum_qty,
            event.leaves_qty,
            event.priority_kept,
        )
    if isinstance(event, OrderRestated):
        return ("restated", event.seq, event.spec.order_id, event.spec.qty, event.leaves_qty)
    if isinstance(event, OrderExpired):
        return ("expired", event.seq, event.spec.order_id, event.cum_qty)
    if isinstance(event, CancelRejected):
        return ("cxl_rejected", event.seq, event.cl_ord_id, event.response_to, event.reason)
    if isinstance(event, OrderStatusReport):
        oid = None if event.spec is None else event.spec.order_id
        return ("status", event.seq, oid, event.status, event.cum_qty, event.leaves_qty)
    if isinstance(event, MassCancelDone):
        return ("mass_done", event.seq, event.cancelled)
    if isinstance(event, TradingStatusChanged):
        return ("status_changed", event.seq, event.symbol, event.status)
    if isinstance(event, InstrumentAdded):
        return ("instrument", event.seq, event.instrument.symbol)
    raise AssertionError(f"unexpected event {event!r}")


class Harness:
    """Drives an engine with increasing timestamps (1, 2, 3 ...)."""

    def __init__(self, *instruments: Instrument) -> None:
        self.engine = MatchingEngine(instruments or (Instrument("AAA", Decimal("0.01")),))
        self.ts = 0
        self.events: list[Event] = []

    def tick(self) -> int:
        self.ts += 1
        return self.ts

    def do(self, cmd: Command) -> list[tuple[Any, ...]]:
        events = self.engine.handle(cmd)
        self.events.extend(events)
        return [summary(e) for e in events]

    def raw(self, cmd: Command) -> list[Event]:
        events = self.engine.handle(cmd)
        self.events.extend(events)
        return events

    def new_cmd(
        self,
        cl: str,
        side: Side,
        qty: int,
        price: int | None = None,
        *,
        owner: str = "A",
        ord_type: OrdType | None = None,
        symbol: str = "AAA",
        **kw: Any,
    ) -> NewOrder:
        if ord_type is None:
            ord_type = OrdType.LIMIT if price is not None else OrdType.MARKET
        return NewOrder(
            ts_ns=self.tick(),
            owner=owner,
            cl_ord_id=cl,
            symbol=symbol,
            side=side,
            ord_type=ord_type,
            qty=Qty(qty),
            price=None if price is None else Price(price),
            **kw,
        )

    def new(
        self, cl: str, side: Side, qty: int, price: int | None = None, **kw: Any
    ) -> list[tuple[Any, ...]]:
        return self.do(self.new_cmd(cl, side, qty, price, **kw))

    def buy(self, cl: str, qty: int, price: int | None = None, **kw: Any) -> list[tuple[Any, ...]]:
        return self.new(cl, Side.BUY, qty, price, **kw)

    def sell(self, cl: str, qty: int, price: int | None = None, **kw: Any) -> list[tuple[Any, ...]]:
        return self.new(cl, Side.SELL, qty, price, **kw)

    def cancel(
        self, orig: str, *, owner: str = "A", cl: str = "x", order_id: int | None = None, **kw: Any
    ) -> list[tuple[Any, ...]]:
        return self.do(
            CancelOrder(
                ts_ns=self.tick(),
                owner=owner,
                cl_ord_id=cl,
                orig_cl_ord_id=orig,
                order_id=None if order_id is None else OrderId(order_id),
                **kw,
            )
        )

    def replace(
        self, orig: str, cl: str, qty: int, price: int | None = None, *, owner: str = "A", **kw: Any
    ) -> list[tuple[Any, ...]]:
        return self.do(
            ReplaceOrder(
                ts_ns=self.tick(),
                owner=owner,
                cl_ord_id=cl,
                orig_cl_ord_id=orig,
                qty=Qty(qty),
                price=None if price is None else Price(price),
                **kw,
            )
        )


@pytest.fixture
def h() -> Harness:
    return Harness()


@pytest.fixture
def make() -> type[Harness]:
    """The Harness class, for tests that need their own instruments."""
    return Harness
