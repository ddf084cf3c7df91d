"""Incremental aggregation of one trading day: pure, synchronous, no I/O.

The report reads the store in chunks and feeds every row to a :class:`DayAggregator`
exactly once, so memory is bounded by the number of symbols, participants, candles
and resting orders, not by the number of orders or trades. All arithmetic is integer
(prices in ticks, notionals in ticks x quantity) or :class:`fractions.Fraction`
(average cost); rounding happens only when a table is formatted.

Positions use the average-cost method (specs/reports.md):

* a fill that opens or increases a position adds ``price x qty`` to its cost;
* a fill that reduces it realises ``(price - average cost) x closed qty`` (long) or
  ``(average cost - price) x closed qty`` (short); the average cost of what is left does
  not change;
* a fill larger than the position closes it and opens the rest on the other side at the
  fill price;
* unrealised P&L is ``(close - average cost) x position``, marked at the symbol's last
  trade price of the day.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from venue.types import OrdType, Side

BUY = Side.BUY.value
SELL = Side.SELL.value


@dataclass(slots=True)
class Candle:
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    notional: int = 0
    trades: int = 0

    def add(self, price: int, qty: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.notional += price * qty
        self.trades += 1


@dataclass(slots=True)
class SymbolStats:
    """Per-symbol day statistics. Prices in ticks; ``notional`` in ticks x quantity."""

    symbol: str
    day: Candle | None = None
    candles: dict[int, Candle] = field(default_factory=dict)  # bucket index -> candle
    orders: int = 0
    ordered_qty: int = 0
    replaces: int = 0
    cancels: int = 0
    expired: int = 0
    rejects: int = 0
    cancel_rejects: int = 0

    def add_trade(self, bucket: int, price: int, qty: int) -> None:
        if self.day is None:
            self.day = Candle(price, price, price, price)
        self.day.add(price, qty)
        candle = self.candles.get(bucket)
        if candle is None:
            candle = self.candles[bucket] = Candle(price, price, price, price)
        candle.add(price, qty)


@dataclass(slots=True)
class ParticipantStats:
    """One participant (owner session, account) in one symbol."""

    owner: str
    account: str
    symbol: str
    orders: int = 0
    ordered_qty: int = 0
    rejects: int = 0
    replaces: int = 0
    cancels: int = 0
    expired: int = 0
    fills: int = 0
    bought_qty: int = 0
    sold_qty: int = 0
    buy_notional: int = 0
    sell_notional: int = 0

    @property
    def traded_qty(self) -> int:
        return self.bought_qty + self.sold_qty

    @property
    def notional(self) -> int:
        return self.buy_notional + self.sell_notional

    @property
    def order_events(self) -> int:
        """Orders entered (accepted or rejected), replaced and cancelled: the numerator of
        the order-to-trade ratio."""
        return self.orders + self.rejects + self.replaces + self.cancels


@dataclass(slots=True)
class Position:
    """A participant's position in one symbol, average-cost method (module docstring).

    Only what the method needs is kept: the signed quantity, the average price of the
    open position (ticks; an int while exact, else a Fraction; unchanged by reductions)
    and the cash flow ``sells - buys`` (ticks x quantity). Realised P&L follows from them:
    every close realised the difference to the average, so the P&L of the position if
    closed at its average, ``cash + qty x average``, is exactly the realised part.
    """

    qty: int = 0
    avg: int | Fraction = 0
    cash: int = 0

    def fill(self, side: str, price: int, qty: int) -> None:
        sign = 1 if side == BUY else -1
        self.cash -= sign * price * qty
        held = abs(self.qty)
        if self.qty == 0 or (self.qty > 0) == (sign > 0):
            new = held + qty
            total = self.avg * held + price * qty
            if isinstance(total, int):
                self.avg = total // new if total % new == 0 else Fraction(total, new)
            else:
                self.avg = total / new
            self.qty += sign * qty
        elif qty < held:
            self.qty += sign * qty  # a reduction: the average does not change
        else:
            rest = qty - held  # closed, and the rest opens the other side at the fill price
            self.qty = sign * rest
            self.avg = price if rest else 0

    @property
    def realised(self) -> Fraction:
        return Fraction(self.cash + self.qty * self.avg)

    @property
    def average(self) -> Fraction | None:
        """Average price of the open position in ticks, None when flat."""
        return Fraction(self.avg) if self.qty else None

    def unrealised(self, close: int) -> Fraction:
        return Fraction((close - self.avg) * self.qty)


class _Side:
    """One side of a replayed book: quantity per price level and a lazy heap of levels."""

    __slots__ = ("_heap", "_levels", "_sign")

    def __init__(self, sign: int) -> None:
        self._sign = sign  # -1 for bids (max-heap through negation), +1 for asks
        self._levels: dict[int, int] = {}
        self._heap: list[int] = []

    def add(self, price: int, qty: int) -> None:
        level = self._levels.get(price, 0)
        if level == 0:
            heapq.heappush(self._heap, self._sign * price)
        self._levels[price] = level + qty

    def remove(self, price: int, qty: int) -> None:
        left = self._levels.get(price, 0) - qty
        if left > 0:
            self._levels[price] = left
        else:
            self._levels.pop(price, None)

    def best(self) -> int | None:
        heap = self._heap
        while heap:
            price = self._sign * heap[0]
            if price in self._levels:
                return price
            heapq.heappop(heap)
        return None


class TopOfBook:
    """Best bid and ask of one symbol over the day, replayed from the order events.

    Limit orders join the book when accepted (or, for stop-limit orders, when triggered),
    change with replaces and fills, and leave it when filled, cancelled or expired.
    Orders that rested from a previous day join when they first show up in the day's
    events. The book is sampled on a fixed time grid: each sample is the top of book
    after every event before the sample time, and only changes are kept.
    """

    __slots__ = ("_asks", "_bids", "_orders", "samples")

    def __init__(self) -> None:
        self._bids = _Side(-1)
        self._asks = _Side(1)
        self._orders: dict[int, tuple[str, int, int]] = {}  # order id -> side, price, leaves
        self.samples: list[tuple[int, int | None, int | None]] = []  # ts, bid, ask

    def _side(self, side: str) -> _Side:
        return self._bids if side == BUY else self._asks

    def set(self, order_id: int, side: str, price: int | None, leaves: int) -> None:
        """The order now rests at ``price`` with ``leaves`` (0 or no price: off the book)."""
        old = self._orders.pop(order_id, None)
        if old is not None:
            self._side(old[0]).remove(old[1], old[2])
        if price is not None and leaves > 0:
            self._orders[order_id] = (side, price, leaves)
            self._side(side).add(price, leaves)

    def fill(self, order_id: int, leaves: int) -> None:
        """A fill left the order with ``leaves``; ignored for orders not on the book."""
        old = self._orders.get(order_id)
        if old is not None:
            self.set(order_id, old[0], old[1], leaves)

    def remove(self, order_id: int) -> None:
        old = self._orders.pop(order_id, None)
        if old is not None:
            self._side(old[0]).remove(old[1], old[2])

    def knows(self, order_id: int) -> bool:
        return order_id in self._orders

    def sample(self, ts_ns: int) -> None:
        top = (self._bids.best(), self._asks.best())
        if not self.samples or self.samples[-1][1:] != top:
            self.samples.append((ts_ns, *top))


@dataclass(slots=True)
class SessionHealth:
    session_id: str
    first_ns: int
    last_ns: int
    kinds: Counter[str] = field(default_factory=Counter)


class DayAggregator:
    """Everything the report needs from one trading day, fed row by row.

    Args:
        start_ns: start of the trading day.
        interval_ns: candle interval.
        sample_ns: top-of-book sampling step.
    """

    def __init__(self, start_ns: int, interval_ns: int, sample_ns: int) -> None:
        self.start_ns = start_ns
        self.interval_ns = interval_ns
        self.sample_ns = sample_ns
        self.symbols: dict[str, SymbolStats] = {}
        self.participants: dict[tuple[str, str, str], ParticipantStats] = {}
        self.positions: dict[tuple[str, str, str], Position] = {}
        self.books: dict[str, TopOfBook] = {}
        self.sessions: dict[str, SessionHealth] = {}
        self.reject_reasons: Counter[tuple[str, str]] = Counter()  # (source, reason)
        self.trade_count = 0
        self.event_count = 0
        self._next_sample_ns = start_ns + sample_ns
        self._dirty: set[str] = set()

    # -- lookup helpers --------------------------------------------------------------

    def symbol(self, symbol: str) -> SymbolStats:
        stats = self.symbols.get(symbol)
        if stats is None:
            stats = self.symbols[symbol] = SymbolStats(symbol)
        return stats

    def participant(self, owner: str, account: str, symbol: str) -> ParticipantStats:
        key = (owner, account, symbol)
        stats = self.participants.get(key)
        if stats is None:
            stats = self.participants[key] = ParticipantStats(owner, account, symbol)
        return stats

    def book(self, symbol: str) -> TopOfBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = TopOfBook()
        return book

    # -- trades (trades table, in time order) -------------------------------------

    def trade(
        self,
        ts_ns: int,
        symbol: str,
        price: int,
        qty: int,
        *,
        buy_owner: str,
        buy_account: str,
        sell_owner: str,
        sell_account: str,
    ) -> None:
        self.trade_count += 1
        bucket = (ts_ns - self.start_ns) // self.interval_ns
        self.symbol(symbol).add_trade(bucket, price, qty)
        notional = price * qty
        buyer = self.participant(buy_owner, buy_account, symbol)
        buyer.fills += 1
        buyer.bought_qty += qty
        buyer.buy_notional += notional
        seller = self.participant(sell_owner, sell_account, symbol)
        seller.fills += 1
        seller.sold_qty += qty
        seller.sell_notional += notional
        self._position(buy_owner, buy_account, symbol).fill(BUY, price, qty)
        self._position(sell_owner, sell_account, symbol).fill(SELL, price, qty)

    def _position(self, owner: str, account: str, symbol: str) -> Position:
        key = (owner, account, symbol)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = Position()
        return position

    # -- order events (events table, in sequence order) ---------------------------

    def _tick(self, ts_ns: int) -> None:
        """Take the top-of-book samples due before ``ts_ns``."""
        self.event_count += 1
        if ts_ns < self._next_sample_ns:
            return
        boundary = self._next_sample_ns + (ts_ns - self._next_sample_ns) // self.sample_ns * (
            self.sample_ns
        )
        for symbol in self._dirty:
            self.books[symbol].sample(self._next_sample_ns)
        self._dirty.clear()
        self._next_sample_ns = boundary + self.sample_ns

    def finish(self, end_ns: int) -> None:
        """Take the last top-of-book samples at the end of the replayed events."""
        for symbol in self._dirty:
            self.books[symbol].sample(min(self._next_sample_ns, end_ns))
        self._dirty.clear()

    def _touch(self, symbol: str) -> TopOfBook:
        self._dirty.add(symbol)
        return self.book(symbol)

    def accepted(
        self,
        ts_ns: int,
        order_id: int,
        owner: str,
        account: str,
        symbol: str,
        *,
        side: str,
        ord_type: str,
        qty: int,
        price: int | None,
    ) -> None:
        self._tick(ts_ns)
        stats = self.symbol(symbol)
        stats.orders += 1
        stats.ordered_qty += qty
        part = self.participant(owner, account, symbol)
        part.orders += 1
        part.ordered_qty += qty
        if ord_type == OrdType.LIMIT.value:
            self._touch(symbol).set(order_id, side, price, qty)

    def triggered(
        self,
        ts_ns: int,
        order_id: int,
        symbol: str,
        *,
        side: str,
        ord_type: str,
        leaves: int,
        price: int | None,
    ) -> None:
        self._tick(ts_ns)
        if ord_type == OrdType.STOP_LIMIT.value:
            self._touch(symbol).set(order_id, side, price, leaves)

    def rejected(self, ts_ns: int, owner: str, account: str, symbol: str, reason: str) -> None:
        self._tick(ts_ns)
        self.symbol(symbol).rejects += 1
        self.participant(owner, account, symbol).rejects += 1
        self.reject_reasons["order", reason] += 1

    def replaced(
        self,
        ts_ns: int,
        order_id: int,
        owner: str,
        account: str,
        symbol: str,
        *,
        side: str,
        ord_type: str,
        leaves: int,
        price: int | None,
    ) -> None:
        self._tick(ts_ns)
        self.symbol(symbol).replaces += 1
        self.participant(owner, account, symbol).replaces += 1
        book = self._touch(symbol)
        if ord_type == OrdType.LIMIT.value or book.knows(order_id):
            book.set(order_id, side, price, leaves)

    def restated(self, ts_ns: int, order_id: int, symbol: str, *, leaves: int) -> None:
        """The venue reduced the order's quantity (self-trade prevention)."""
        self._tick(ts_ns)
        book = self._touch(symbol)
        if book.knows(order_id):
            book.fill(order_id, leaves)

    def cancelled(self, ts_ns: int, order_id: int, owner: str, account: str, symbol: str) -> None:
        self._tick(ts_ns)
        self.symbol(symbol).cancels += 1
        self.participant(owner, account, symbol).cancels += 1
        self._touch(symbol).remove(order_id)

    def replaced_to_filled(
        self, ts_ns: int, order_id: int, owner: str, account: str, symbol: str
    ) -> None:
        """A replace to a quantity at or below the filled one: a replace that ends the order."""
        self._tick(ts_ns)
        self.symbol(symbol).replaces += 1
        self.participant(owner, account, symbol).replaces += 1
        self._touch(symbol).remove(order_id)

    def expired(self, ts_ns: int, order_id: int, owner: str, account: str, symbol: str) -> None:
        self._tick(ts_ns)
        self.symbol(symbol).expired += 1
        self.participant(owner, account, symbol).expired += 1
        self._touch(symbol).remove(order_id)

    def cancel_rejected(self, ts_ns: int, symbol: str, reason: str) -> None:
        self._tick(ts_ns)
        if symbol:
            self.symbol(symbol).cancel_rejects += 1
        self.reject_reasons["cancel/replace", reason] += 1

    def fill_event(
        self,
        ts_ns: int,
        symbol: str,
        order_id: int,
        *,
        side: str,
        ord_type: str,
        price: int | None,
        leaves: int,
    ) -> None:
        """One side of a trade event: keeps the replayed book in step."""
        book = self._touch(symbol)
        if book.knows(order_id):
            book.fill(order_id, leaves)
        elif ord_type in (OrdType.LIMIT.value, OrdType.STOP_LIMIT.value) and leaves > 0:
            # Rested from a previous day (GTC/GTD) or a triggered stop-limit now resting.
            book.set(order_id, side, price, leaves)

    def trade_event(self, ts_ns: int) -> None:
        self._tick(ts_ns)

    def other_event(self, ts_ns: int) -> None:
        self._tick(ts_ns)

    # -- FIX session events -----------------------------------------------------------

    def session_event(self, session_id: str, ts_ns: int, kind: str, detail: str) -> None:
        health = self.sessions.get(session_id)
        if health is None:
            health = self.sessions[session_id] = SessionHealth(session_id, ts_ns, ts_ns)
        health.first_ns = min(health.first_ns, ts_ns)
        health.last_ns = max(health.last_ns, ts_ns)
        health.kinds[kind] += 1
        if "reject" in kind:
            self.reject_reasons["FIX session", detail or kind] += 1
