"""Helpers for tests, benchmarks and demos: an in-memory :class:`BookSource` and event
builders. Not used by the venue itself."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from venue.events import Fill, OrderAccepted, OrderSpec, Trade, TradingStatusChanged
from venue.instruments import Instrument
from venue.types import (
    OrderId,
    OrdType,
    Price,
    Qty,
    Side,
    StpMode,
    TimeInForce,
    TradingStatus,
)


@dataclass(frozen=True, slots=True)
class FakeLevel:
    price: int
    qty: int
    orders: int


@dataclass
class FakeBook:
    """A BookSource whose levels the test sets directly; counts depth() reads."""

    listed: list[Instrument]
    bids: dict[str, list[FakeLevel]] = field(default_factory=dict)
    asks: dict[str, list[FakeLevel]] = field(default_factory=dict)
    depth_calls: int = 0

    def depth(self, symbol: str, levels: int) -> tuple[list[FakeLevel], list[FakeLevel]]:
        self.depth_calls += 1
        return self.bids.get(symbol, [])[:levels], self.asks.get(symbol, [])[:levels]

    def instrument(self, symbol: str) -> Instrument | None:
        return next((i for i in self.listed if i.symbol == symbol), None)

    def instruments(self) -> list[Instrument]:
        return list(self.listed)

    def set(
        self,
        symbol: str,
        bids: Iterable[tuple[int, int, int]] = (),
        asks: Iterable[tuple[int, int, int]] = (),
    ) -> None:
        """Replace the book of ``symbol``: (price ticks, qty, orders), best first."""
        self.bids[symbol] = [FakeLevel(*lv) for lv in bids]
        self.asks[symbol] = [FakeLevel(*lv) for lv in asks]


class EventFactory:
    """Builds engine events with consecutive ``seq`` and trade ids."""

    def __init__(self, ts_ns: int = 1_700_000_000_000_000_000) -> None:
        self._seq = itertools.count(1)
        self._trade_id = itertools.count(1)
        self._order_id = itertools.count(1)
        self.ts_ns = ts_ns

    def spec(self, symbol: str, side: Side, qty: int, price: int | None) -> OrderSpec:
        oid = next(self._order_id)
        return OrderSpec(
            order_id=OrderId(oid),
            owner="FIX.4.4:CLIENT->VENUE",
            cl_ord_id=f"c{oid}",
            account="",
            symbol=symbol,
            side=side,
            ord_type=OrdType.LIMIT,
            tif=TimeInForce.DAY,
            qty=Qty(qty),
            price=None if price is None else Price(price),
            stop_price=None,
            expire_ns=None,
            display_qty=None,
            post_only=False,
            min_qty=None,
            stp_group="",
            stp_mode=StpMode.NONE,
            entered_ns=self.ts_ns,
        )

    def accepted(self, symbol: str, side: Side, qty: int, price: int) -> OrderAccepted:
        return OrderAccepted(next(self._seq), self.ts_ns, self.spec(symbol, side, qty, price))

    def trade(
        self,
        symbol: str,
        price: int,
        qty: int,
        aggressor: Side = Side.BUY,
        ts_ns: int | None = None,
    ) -> Trade:
        buy = self.spec(symbol, Side.BUY, qty, price)
        sell = self.spec(symbol, Side.SELL, qty, price)
        return Trade(
            seq=next(self._seq),
            ts_ns=self.ts_ns if ts_ns is None else ts_ns,
            trade_id=next(self._trade_id),
            symbol=symbol,
            price=Price(price),
            qty=Qty(qty),
            aggressor=aggressor,
            buy=Fill(buy, Qty(qty), Qty(0), price * qty),
            sell=Fill(sell, Qty(qty), Qty(0), price * qty),
        )

    def halt(self, symbol: str, halted: bool = True) -> TradingStatusChanged:
        status = TradingStatus.HALTED if halted else TradingStatus.OPEN
        return TradingStatusChanged(next(self._seq), self.ts_ns, symbol, status)
