"""The order book's data structures: live orders, price levels, book sides, per-symbol books.

These are the engine's private, mutable working state; nothing outside ``venue.engine``
mutates them, and nothing outside the engine sees them (queries return the immutable views
of ``venue.snapshot``).

Layout, chosen for the hot path (see specs/matching-engine.md, "Implementation"):

* A side is ``levels: dict[key, PriceLevel]`` plus ``keys``, a sorted list of the keys of
  its non-empty levels, best first. The key is the price for asks and minus the price for
  bids, so on both sides the best level is ``keys[0]`` and "crosses limit L" is
  ``key <= bound`` with ``bound = L`` for a buy aggressor and ``-L`` for a sell.
  Levels are few compared with orders, so ``bisect.insort``/``del`` on the list are
  cheap C memmoves.
* A level is a ``deque`` of orders in time priority (the front trades first; appending is
  sending to the back of the queue) plus ``count``, the number of its live entries. An
  order that finishes while resting (cancel, expiry) is retired lazily: it gets
  ``level = None`` and its entry stays as a stale one, skipped wherever the queue is read
  and popped when it reaches the front; a level compacts its queue when stale entries
  outnumber live ones by more than 32. An order taken off to be re-queued (a replace)
  is removed at once (O(its place in the queue)), since it may come back to the same
  level. A deque costs 8 bytes an order, against about 50 for a dict keyed by order id,
  and its front is O(1).
* Untriggered stops wait in two heaps per book with lazy deletion (an entry is stale when
  its order is done, triggered, or its stop price changed).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections import deque
from decimal import Decimal

from venue.events import OrderSpec
from venue.instruments import Instrument
from venue.types import OrdStatus, Side, TradingStatus

MAX_KEY = 1 << 62
"""A bound no price key reaches: market orders cross every level."""


class LiveOrder:
    """The mutable state of one order, from acceptance until it is done.

    ``leaves`` is what is left to fill (``spec.qty - cum``); it keeps its last value once
    the order is done (a cancelled order's unfilled quantity). ``visible`` is the displayed
    part of ``leaves`` (the iceberg slice; ``leaves`` itself for a plain order). ``level``
    is the price level it rests at (None when not resting). ``status`` is set when the
    order is ``done``: its final status.

    There is no ``__init__``: :meth:`accept` builds one, and the engine's hot path sets the
    same slots inline (calling a class without ``__init__`` and setting its slots is the
    cheapest way CPython 3.11 has to build an object). Derived values are properties
    (``cum``, ``is_buy``), so that a new order stores as little as possible.
    """

    __slots__ = ("done", "leaves", "level", "notional", "spec", "status", "triggered", "visible")

    spec: OrderSpec
    leaves: int
    notional: int
    visible: int
    level: PriceLevel | None
    done: bool
    status: OrdStatus  # set once done
    triggered: bool

    @classmethod
    def accept(cls, spec: OrderSpec) -> LiveOrder:
        """A just-accepted order: nothing filled, not resting yet."""
        order = cls()
        order.spec = spec
        order.leaves = spec.qty
        order.notional = 0
        order.visible = 0
        order.level = None
        order.done = False
        order.triggered = False
        return order

    @property
    def cum(self) -> int:
        """The filled quantity."""
        return self.spec.qty - self.leaves

    @property
    def is_buy(self) -> bool:
        return self.spec.side is Side.BUY

    @property
    def live_status(self) -> OrdStatus:
        if self.done:
            return self.status
        return OrdStatus.PARTIALLY_FILLED if self.leaves < self.spec.qty else OrdStatus.NEW


class PriceLevel:
    """All resting orders at one price, in time priority. ``qty`` is the displayed total.

    ``orders`` may hold stale entries (orders whose ``level`` is no longer this level);
    ``count`` is the number of live ones. Use :meth:`live` to read the queue.
    """

    __slots__ = ("count", "key", "orders", "price", "qty", "side")

    def __init__(self, side: BookSide, key: int) -> None:
        self.side = side
        self.price = -key if side.is_buy else key
        self.key = key
        self.orders: deque[LiveOrder] = deque()
        self.count = 0
        self.qty = 0

    def live(self) -> list[LiveOrder]:
        """The level's live orders, in time priority."""
        return [order for order in self.orders if order.level is self]

    def compact(self) -> None:
        """Drop the stale entries (in place: the matcher may hold the queue)."""
        live = self.live()
        self.orders.clear()
        self.orders.extend(live)


class BookSide:
    """One side of a book: price levels by key, and their keys sorted best first."""

    __slots__ = ("is_buy", "keys", "levels")

    def __init__(self, is_buy: bool) -> None:
        self.is_buy = is_buy
        self.levels: dict[int, PriceLevel] = {}
        self.keys: list[int] = []

    def add(self, order: LiveOrder, key: int) -> None:
        """Put ``order`` at the back of the queue at ``key`` (its limit price, signed)."""
        level = self.levels.get(key)
        if level is None:
            level = self.new_level(key)
        level.orders.append(order)
        level.count += 1
        level.qty += order.visible
        order.level = level

    def new_level(self, key: int) -> PriceLevel:
        """Create the empty level for ``key`` (which has none yet)."""
        level = PriceLevel(self, key)
        self.levels[key] = level
        insort(self.keys, key)
        return level

    def remove(self, order: LiveOrder) -> None:
        """Take a resting ``order`` off the book, to re-queue it (its entry goes at once)."""
        level = order.level
        assert level is not None
        level.orders.remove(order)
        self._detach(level, order)

    def retire(self, order: LiveOrder) -> None:
        """Take a resting ``order`` that is finishing off the book (its entry goes stale)."""
        level = order.level
        assert level is not None
        self._detach(level, order)
        if len(level.orders) > 2 * level.count + 32:
            level.compact()

    def _detach(self, level: PriceLevel, order: LiveOrder) -> None:
        level.count -= 1
        level.qty -= order.visible
        order.level = None
        if not level.count:
            self.drop_level(level.key)

    def drop_level(self, key: int) -> None:
        del self.levels[key]
        keys = self.keys
        del keys[bisect_left(keys, key)]

    def best(self) -> PriceLevel | None:
        return self.levels[self.keys[0]] if self.keys else None

    def orders_in_priority(self) -> list[LiveOrder]:
        return [o for key in self.keys for o in self.levels[key].live()]


class OrderBook:
    """Everything the engine keeps for one symbol: its rules, both sides, stops."""

    __slots__ = (
        "asks",
        "band_den",
        "band_num",
        "bids",
        "buy_stops",
        "halted",
        "instrument",
        "last_price",
        "lot",
        "max_qty",
        "min_qty",
        "qty_hi",
        "sell_stops",
        "symbol",
    )

    def __init__(self, instrument: Instrument) -> None:
        self.symbol = instrument.symbol
        self.bids = BookSide(True)
        self.asks = BookSide(False)
        self.last_price: int | None = None
        # (stop price, order id, order), min-heap: lowest buy stop is reached first.
        self.buy_stops: list[tuple[int, int, LiveOrder]] = []
        # (-stop price, order id, order): highest sell stop is reached first.
        self.sell_stops: list[tuple[int, int, LiveOrder]] = []
        self.set_instrument(instrument)

    def set_instrument(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.halted = instrument.status is TradingStatus.HALTED
        self.lot = instrument.lot_size
        self.min_qty = instrument.min_qty
        self.max_qty = instrument.max_qty
        self.qty_hi = MAX_KEY if instrument.max_qty is None else instrument.max_qty  # bound
        pct: Decimal | None = instrument.price_band_pct
        if pct is None:
            self.band_num, self.band_den = 0, 0
        else:
            self.band_num, self.band_den = pct.as_integer_ratio()

    def reference_price(self) -> int | None:
        """The price band's reference: the last trade, else the instrument's reference."""
        if self.last_price is not None:
            return self.last_price
        return self.instrument.reference_price

    def outside_band(self, price: int) -> int | None:
        """Return the band's reference price when ``price`` is outside the band, else None.

        Outside means ``|price - ref| / ref > price_band_pct / 100``, in exact integers.
        """
        if not self.band_den:
            return None
        ref = self.reference_price()
        if ref is None or ref <= 0:
            return None
        if abs(price - ref) * 100 * self.band_den > self.band_num * ref:
            return ref
        return None

    def push_stop(self, order: LiveOrder) -> None:
        stop = order.spec.stop_price
        assert stop is not None
        if order.is_buy:
            heapq.heappush(self.buy_stops, (stop, order.spec.order_id, order))
        else:
            heapq.heappush(self.sell_stops, (-stop, order.spec.order_id, order))

    def stops_in_trigger_order(self) -> list[LiveOrder]:
        """Untriggered stops, buys then sells, each side in the order they would trigger."""
        result: list[LiveOrder] = []
        for heap, sign in ((self.buy_stops, 1), (self.sell_stops, -1)):
            seen: set[int] = set()
            for key, oid, order in sorted(heap):
                if oid in seen or not stop_entry_valid(key * sign, order):
                    continue
                seen.add(oid)
                result.append(order)
        return result


def stop_entry_valid(stop_price: int, order: LiveOrder) -> bool:
    """A stop heap entry is live when its order waits untriggered at that stop price."""
    return not order.done and not order.triggered and order.spec.stop_price == stop_price
