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
* A level is an insertion-ordered ``dict[order_id, LiveOrder]``: the first item has time
  priority, appending is sending to the back of the queue, deleting is O(1).
* Untriggered stops wait in two heaps per book with lazy deletion (an entry is stale when
  its order is done, triggered, or its stop price changed).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from decimal import Decimal

from venue.events import OrderSpec
from venue.instruments import Instrument
from venue.types import OrdStatus, TradingStatus

MAX_KEY = 1 << 62
"""A bound no price key reaches: market orders cross every level."""


class LiveOrder:
    """The mutable state of one order, from acceptance until it is done.

    ``leaves`` is ``spec.qty - cum`` while live. ``visible`` is the displayed part of
    ``leaves`` (the iceberg slice; ``leaves`` itself for a plain order). ``key`` is the
    book key of its limit price (0 for market orders and untriggered stops).
    """

    __slots__ = (
        "book",
        "cum",
        "display",
        "done",
        "is_buy",
        "key",
        "leaves",
        "level",
        "notional",
        "spec",
        "status",
        "triggered",
        "visible",
    )

    def __init__(self, spec: OrderSpec, book: OrderBook, is_buy: bool) -> None:
        self.spec = spec
        self.book = book
        self.is_buy = is_buy
        self.cum = 0
        self.leaves: int = spec.qty
        self.notional = 0
        self.display: int = spec.display_qty or 0
        self.visible = 0
        self.key = 0
        self.level: PriceLevel | None = None
        self.done = False
        self.status = OrdStatus.NEW  # final status once done
        self.triggered = False

    @property
    def live_status(self) -> OrdStatus:
        if self.done:
            return self.status
        return OrdStatus.PARTIALLY_FILLED if self.cum else OrdStatus.NEW


class PriceLevel:
    """All resting orders at one price, in time priority. ``qty`` is the displayed total."""

    __slots__ = ("key", "orders", "price", "qty")

    def __init__(self, price: int, key: int) -> None:
        self.price = price
        self.key = key
        self.orders: dict[int, LiveOrder] = {}
        self.qty = 0


class BookSide:
    """One side of a book: price levels by key, and their keys sorted best first."""

    __slots__ = ("is_buy", "keys", "levels")

    def __init__(self, is_buy: bool) -> None:
        self.is_buy = is_buy
        self.levels: dict[int, PriceLevel] = {}
        self.keys: list[int] = []

    def add(self, order: LiveOrder) -> None:
        """Put ``order`` at the back of the queue at its price (``order.key``)."""
        key = order.key
        level = self.levels.get(key)
        if level is None:
            level = PriceLevel(-key if self.is_buy else key, key)
            self.levels[key] = level
            insort(self.keys, key)
        level.orders[order.spec.order_id] = order
        level.qty += order.visible
        order.level = level

    def remove(self, order: LiveOrder) -> None:
        """Take a resting ``order`` off the book."""
        level = order.level
        assert level is not None
        del level.orders[order.spec.order_id]
        level.qty -= order.visible
        order.level = None
        if not level.orders:
            self.drop_level(level.key)

    def drop_level(self, key: int) -> None:
        del self.levels[key]
        keys = self.keys
        del keys[bisect_left(keys, key)]

    def best(self) -> PriceLevel | None:
        return self.levels[self.keys[0]] if self.keys else None

    def orders_in_priority(self) -> list[LiveOrder]:
        return [o for key in self.keys for o in self.levels[key].orders.values()]


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
