"""The matching engine: price-time priority books, one per symbol; commands in, events out.

The engine is pure and synchronous: no I/O, no clock (time comes in ``cmd.ts_ns``), no
floats. ``MatchingEngine.handle`` is the only way its state changes, and the same command
sequence always yields the same events, so the journal of commands replays to the same
result and the engine can be property-tested. The rules are in specs/matching-engine.md.

Performance notes (benchmarks/engine.py; CPython 3.11 pays per bytecode and per object, so
the hot paths are written to execute few of both). ``handle`` tests for the two common
commands before dispatching on ``type(cmd)`` through a dict. Mutable order state lives in a
``__slots__`` class without ``__init__`` (:class:`venue.book.LiveOrder`), storing nothing it
can derive. The frozen event dataclasses are built from a mutable twin whose ``__class__``
is switched once filled (:func:`venue.drafts.draft_class`), several times faster than a frozen
dataclass ``__init__`` (which pays an ``object.__setattr__`` call per field); the hottest
sites (OrderSpec, OrderAccepted, Fill, Trade, OrderCancelled) do it inline rather than
through a constructor function (:func:`venue.drafts.fast_constructor`), which saves a call each.
The common shapes take fast paths that skip work the general path needs: a plain limit or
market order skips :meth:`MatchingEngine._validate_new` (whose rules it is known to pass),
a plain limit order rests, or trades and rests, without :meth:`MatchingEngine._activate`,
a cancel by order id of a live or finished order skips the lookup rules, and resting orders
leave their level's queue lazily (see :mod:`venue.book`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import replace as dc_replace
from typing import Any

from venue.book import MAX_KEY, BookSide, LiveOrder, OrderBook, stop_entry_valid
from venue.commands import (
    AddInstrument,
    AdvanceTime,
    CancelOrder,
    Command,
    EndOfDay,
    MassCancel,
    NewOrder,
    RejectOrder,
    ReplaceOrder,
    SetTradingStatus,
    StatusQuery,
)
from venue.drafts import draft_class as _draft_class
from venue.drafts import fast_constructor as _fast_constructor
from venue.events import (
    CancelRejected,
    Event,
    Fill,
    InstrumentAdded,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderSpec,
    OrderStatusReport,
    OrderTriggered,
    Trade,
    TradingStatusChanged,
    filled_spec,
)
from venue.instruments import Instrument
from venue.snapshot import EngineSnapshot, Level, OrderView
from venue.types import (
    CancelReason,
    CxlRejReason,
    CxlRejResponseTo,
    OrderId,
    OrdStatus,
    OrdType,
    Price,
    Qty,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    TradingStatus,
)

__all__ = ["MatchingEngine"]


_SpecDraft = _draft_class(OrderSpec)
_AcceptedDraft = _draft_class(OrderAccepted)
_FillDraft = _draft_class(Fill)
_TradeDraft = _draft_class(Trade)
_CancelledDraft = _draft_class(OrderCancelled)
_rejected = _fast_constructor(OrderRejected)
_new_spec = _fast_constructor(OrderSpec)  # positional, in OrderSpec's field order
_new_view = _fast_constructor(OrderView)  # snapshots of 1,000,000 orders
_cancel_rejected = _fast_constructor(CancelRejected)

_BUY = Side.BUY
_SELL = Side.SELL
_MARKET = OrdType.MARKET
_LIMIT = OrdType.LIMIT
_STOP = OrdType.STOP
_STOP_LIMIT = OrdType.STOP_LIMIT
_DAY = TimeInForce.DAY
_GTD = TimeInForce.GTD
_IOC = TimeInForce.IOC
_FOK = TimeInForce.FOK
_STP_NONE = StpMode.NONE
_FILLED = OrdStatus.FILLED
_CANCELED = OrdStatus.CANCELED
_EXPIRED = OrdStatus.EXPIRED
_R_REQUESTED = CancelReason.REQUESTED
_R_SELF_TRADE = CancelReason.SELF_TRADE
_TO_CANCEL = CxlRejResponseTo.CANCEL
_TOO_LATE = CxlRejReason.TOO_LATE
_STATUS_WORD = {status: status.name.lower() for status in OrdStatus}
_CANCEL_TEXTS = {
    CancelReason.DISCONNECT: "cancelled on disconnect",
    CancelReason.ADMIN: "cancelled by the venue operator",
}


def _cancel_text(reason: CancelReason) -> str:
    """The Text of a cancel by command (OrderCancelRequest, cancel-on-disconnect, operator)."""
    return _CANCEL_TEXTS.get(reason, "cancelled on request")

DONE_ORDERS_KEPT = 100_000
"""Finished orders the engine remembers (newest first) to answer ``TOO_LATE`` and status
queries; older ones are forgotten in chunks (and all at EndOfDay), so memory stays flat
under a steady flow. Forgetting is part of the deterministic state: replay forgets the
same orders at the same command."""

_DONE_HIGH = DONE_ORDERS_KEPT + DONE_ORDERS_KEPT // 4


class MatchingEngine:
    """Price-time priority matching for every listed instrument.

    Args:
        instruments: the instruments listed at start.
        next_order_id: the first order id to assign.
        next_seq: the first event sequence number.
        next_trade_id: the first trade id.
    """

    def __init__(
        self,
        instruments: Iterable[Instrument] = (),
        *,
        next_order_id: int = 1,
        next_seq: int = 1,
        next_trade_id: int = 1,
    ) -> None:
        self._books: dict[str, OrderBook] = {}
        for instrument in instruments:
            self._books[instrument.symbol] = OrderBook(instrument)
        self._next_oid = next_order_id
        self._seq = next_seq
        self._next_trade = next_trade_id
        self._live: dict[int, LiveOrder] = {}  # order id -> order, in order id order
        self._by_clid: dict[str, dict[str, LiveOrder]] = {}  # owner -> ClOrdID -> live order
        self._done: dict[int, LiveOrder] = {}  # finished since EndOfDay, in finishing order
        self._done_by_clid: dict[str, dict[str, LiveOrder]] = {}
        self._done_alias: dict[int, str] = {}  # finished order id -> its cancel's ClOrdID
        self._gtd: list[tuple[int, int, LiveOrder]] = []  # (expire_ns, order id, order)
        self._dispatch: dict[type, Callable[[Any, list[Event]], None]] = {
            NewOrder: self._on_new_order,
            CancelOrder: self._on_cancel,
            ReplaceOrder: self._on_replace,
            MassCancel: self._on_mass_cancel,
            StatusQuery: self._on_status,
            AdvanceTime: self._on_advance_time,
            EndOfDay: self._on_end_of_day,
            SetTradingStatus: self._on_set_status,
            AddInstrument: self._on_add_instrument,
            RejectOrder: self._on_reject_order,
        }

    # ------------------------------------------------------------------ public API

    def handle(self, cmd: Command) -> list[Event]:
        """Apply one command; return the events it caused, in order (seq ascending).

        GTD orders due by ``cmd.ts_ns`` expire first (their OrderExpired events come
        before the command's own events).
        """
        out: list[Event] = []
        if self._gtd and self._gtd[0][0] <= cmd.ts_ns:
            self._expire_gtd(cmd.ts_ns, out)
        if type(cmd) is NewOrder:
            self._on_new_order(cmd, out)
        elif type(cmd) is CancelOrder:
            self._on_cancel(cmd, out)
        else:
            self._dispatch[type(cmd)](cmd, out)
        if len(self._done) > _DONE_HIGH:
            self._forget_oldest_done()
        return out

    @property
    def next_seq(self) -> int:
        return self._seq

    @property
    def next_order_id(self) -> int:
        return self._next_oid

    @property
    def next_trade_id(self) -> int:
        return self._next_trade

    def instrument(self, symbol: str) -> Instrument | None:
        """The instrument with its current trading status, or None when not listed."""
        book = self._books.get(symbol)
        return None if book is None else book.instrument

    def instruments(self) -> list[Instrument]:
        return [book.instrument for book in self._books.values()]

    def last_price(self, symbol: str) -> Price | None:
        book = self._books.get(symbol)
        return None if book is None or book.last_price is None else Price(book.last_price)

    def best_bid(self, symbol: str) -> Level | None:
        book = self._books.get(symbol)
        return None if book is None else _level_view(book.bids)

    def best_ask(self, symbol: str) -> Level | None:
        book = self._books.get(symbol)
        return None if book is None else _level_view(book.asks)

    def depth(self, symbol: str, levels: int) -> tuple[list[Level], list[Level]]:
        """Up to ``levels`` aggregated levels per side, best first: (bids, asks)."""
        book = self._books.get(symbol)
        if book is None or levels <= 0:
            return [], []
        return _depth(book.bids, levels), _depth(book.asks, levels)

    def live_orders(self, owner: str | None = None, symbol: str | None = None) -> list[OrderView]:
        """Resting orders and untriggered stops, in order id order."""
        return [
            _view(order)
            for order in self._live.values()
            if (owner is None or order.spec.owner == owner)
            and (symbol is None or order.spec.symbol == symbol)
        ]

    def has_orders(self, symbol: str) -> bool:
        """True when ``symbol`` has a live order, or a finished one the engine still keeps
        (see DONE_ORDERS_KEPT). A scan: for operator actions, not the order path."""
        return any(o.spec.symbol == symbol for o in self._live.values()) or any(
            o.spec.symbol == symbol for o in self._done.values()
        )

    def live_order_count(self) -> int:
        """How many orders are live (resting or untriggered stops): no views built."""
        return len(self._live)

    def knows_cl_ord_id(self, owner: str, cl_ord_id: str) -> bool:
        """True when ``cl_ord_id`` is the owner's live order's, or a remembered finished
        one's (see DONE_ORDERS_KEPT)."""
        owned = self._by_clid.get(owner)
        if owned is not None and cl_ord_id in owned:
            return True
        done = self._done_by_clid.get(owner)
        return done is not None and cl_ord_id in done

    def has_day_orders_entered_before(self, ts_ns: int) -> bool:
        """True when a live Day order was entered before ``ts_ns``: an EndOfDay is owed
        (the venue was down when its trading day ended)."""
        return any(
            order.spec.tif is _DAY and order.spec.entered_ns < ts_ns
            for order in self._live.values()
        )

    def gtd_expiries(self) -> list[int]:
        """Expire times of the live GTD orders, unordered."""
        return [expire for expire, _oid, order in self._gtd if not order.done]

    def find_order(
        self, owner: str, order_id: OrderId | None, cl_ord_id: str
    ) -> OrderView | None:
        """The owner's order named by order id (else ClOrdID) as a cancel or replace finds
        it, live or finished since the last EndOfDay; None when unknown (or another's)."""
        order = self._find(owner, order_id, cl_ord_id, "", None)
        return None if order is None else _view(order)

    def order(self, order_id: OrderId) -> OrderView | None:
        """The order's current view, live or finished since the last EndOfDay."""
        order = self._live.get(order_id) or self._done.get(order_id)
        return None if order is None else _view(order)

    def snapshot(self) -> EngineSnapshot:
        """The whole state, immutable, for :meth:`restore`."""
        views: list[OrderView] = []
        for book in self._books.values():
            for side in (book.bids, book.asks):
                views.extend(_view(order) for order in side.orders_in_priority())
            views.extend(_view(order) for order in book.stops_in_trigger_order())
        return EngineSnapshot(
            instruments=tuple(book.instrument for book in self._books.values()),
            last_prices={
                sym: book.last_price
                for sym, book in self._books.items()
                if book.last_price is not None
            },
            orders=tuple(views),
            next_order_id=self._next_oid,
            next_trade_id=self._next_trade,
            next_seq=self._seq,
            done_orders=tuple(_view(order) for order in self._done.values()),
            done_aliases=tuple(
                (owner, cl_ord_id, order.spec.order_id)
                for owner, owned in self._done_by_clid.items()
                for cl_ord_id, order in owned.items()
                if cl_ord_id != order.spec.cl_ord_id
            ),
            finished_by=tuple(sorted(self._done_alias.items())),
        )

    @classmethod
    def restore(cls, snapshot: EngineSnapshot) -> MatchingEngine:
        """Rebuild an engine from :meth:`snapshot`: same books, same priority, same counters."""
        engine = cls(
            snapshot.instruments,
            next_order_id=snapshot.next_order_id,
            next_seq=snapshot.next_seq,
            next_trade_id=snapshot.next_trade_id,
        )
        for symbol, price in snapshot.last_prices.items():
            engine._books[symbol].last_price = price
        restored: list[LiveOrder] = []
        for view in snapshot.orders:
            spec = view.spec
            book = engine._books[spec.symbol]
            order = _order_from_view(view)
            restored.append(order)
            if spec.ord_type in (_STOP, _STOP_LIMIT) and not view.triggered:
                book.push_stop(order)
            else:
                limit = spec.price
                assert limit is not None
                if order.is_buy:
                    book.bids.add(order, -limit)
                else:
                    book.asks.add(order, limit)
            if spec.tif is _GTD and spec.expire_ns is not None:
                heapq.heappush(engine._gtd, (spec.expire_ns, spec.order_id, order))
        for order in sorted(restored, key=lambda o: o.spec.order_id):
            engine._live[order.spec.order_id] = order
            engine._by_clid.setdefault(order.spec.owner, {})[order.spec.cl_ord_id] = order
        for view in snapshot.done_orders:
            order = _order_from_view(view)
            order.done = True
            order.status = view.status
            engine._done[view.spec.order_id] = order
            engine._done_by_clid.setdefault(view.spec.owner, {})[view.spec.cl_ord_id] = order
        for owner, cl_ord_id, order_id in snapshot.done_aliases:
            engine._done_by_clid.setdefault(owner, {})[cl_ord_id] = engine._done[order_id]
            engine._done_alias[order_id] = cl_ord_id  # all a snapshot before finished_by has
        engine._done_alias.update(snapshot.finished_by)
        return engine

    # ------------------------------------------------------------------ new orders

    def _reject(self, cmd: NewOrder, reason: RejectReason, text: str, out: list[Event]) -> None:
        seq = self._seq
        self._seq = seq + 1
        out.append(_rejected(seq, cmd.ts_ns, cmd, reason, text))

    def _on_reject_order(self, cmd: RejectOrder, out: list[Event]) -> None:
        self._reject(cmd.request, cmd.reason, cmd.text, out)

    def _validate_new(self, cmd: NewOrder, book: OrderBook) -> tuple[RejectReason, str] | None:
        """Field rules of a new order, in a fixed order; None when acceptable."""
        qty = cmd.qty
        if qty <= 0:
            return RejectReason.INVALID_QTY, f"quantity {qty} must be positive"
        if qty % book.lot:
            return (
                RejectReason.INVALID_QTY,
                f"quantity {qty} is not a multiple of lot size {book.lot}",
            )
        if qty < book.min_qty:
            return RejectReason.INVALID_QTY, f"quantity {qty} is below the minimum {book.min_qty}"
        if book.max_qty is not None and qty > book.max_qty:
            return RejectReason.INVALID_QTY, f"quantity {qty} is above the maximum {book.max_qty}"
        ord_type = cmd.ord_type
        price = cmd.price
        if ord_type is _LIMIT or ord_type is _STOP_LIMIT:
            if price is None:
                return RejectReason.INVALID_PRICE, f"{ord_type.name} order needs a limit price"
            if price <= 0:
                return RejectReason.INVALID_PRICE, f"limit price {price} ticks must be positive"
        elif price is not None:
            return RejectReason.INVALID_PRICE, f"{ord_type.name} order must not carry a price"
        stop = cmd.stop_price
        if ord_type is _STOP or ord_type is _STOP_LIMIT:
            if stop is None:
                return RejectReason.INVALID_PRICE, f"{ord_type.name} order needs a stop price"
            if stop <= 0:
                return RejectReason.INVALID_PRICE, f"stop price {stop} ticks must be positive"
        elif stop is not None:
            return RejectReason.INVALID_PRICE, f"{ord_type.name} order must not carry a stop price"
        tif = cmd.tif
        if tif is _GTD:
            if cmd.expire_ns is None:
                return RejectReason.INVALID_ORDER, "GTD order needs an expire time"
            if cmd.expire_ns <= cmd.ts_ns:
                return RejectReason.INVALID_ORDER, "GTD expire time is not in the future"
        elif cmd.expire_ns is not None:
            return RejectReason.INVALID_ORDER, "expire time is only allowed with TimeInForce GTD"
        display = cmd.display_qty
        if display is not None:
            if ord_type is _MARKET or ord_type is _STOP:
                return RejectReason.INVALID_ORDER, "market orders cannot be icebergs"
            if display <= 0 or display > qty:
                return RejectReason.INVALID_QTY, (
                    f"display quantity {display} must be positive and at most the quantity {qty}"
                )
            if display % book.lot:
                return RejectReason.INVALID_QTY, (
                    f"display quantity {display} is not a multiple of lot size {book.lot}"
                )
        if cmd.post_only and (ord_type is not _LIMIT or tif is _IOC or tif is _FOK):
            return RejectReason.INVALID_ORDER, "post-only needs a LIMIT order that can rest"
        min_qty = cmd.min_qty
        if min_qty is not None and (min_qty <= 0 or min_qty > qty):
            return RejectReason.INVALID_QTY, (
                f"minimum quantity {min_qty} must be positive and at most the quantity {qty}"
            )
        return None

    def _on_new_order(self, cmd: NewOrder, out: list[Event]) -> None:
        symbol = cmd.symbol
        try:
            book = self._books[symbol]  # cheaper than .get() when it is there
        except KeyError:
            self._reject(cmd, RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}", out)
            return
        if book.halted:
            self._reject(cmd, RejectReason.HALTED, f"{symbol} is halted", out)
            return
        qty = cmd.qty
        ord_type = cmd.ord_type
        price = cmd.price
        tif = cmd.tif
        stop = cmd.stop_price
        expire = cmd.expire_ns
        display = cmd.display_qty
        min_qty = cmd.min_qty
        post_only = cmd.post_only
        # Fast acceptance test for the common shapes (plain LIMIT or MARKET, no extras);
        # anything else goes through the full rules, which also word the rejection.
        if not (
            stop is None
            and expire is None
            and display is None
            and min_qty is None
            and not post_only
            and tif is not _GTD
            and book.min_qty <= qty <= book.qty_hi  # min_qty >= 1 (Instrument checks)
            and not qty % book.lot
            and (
                (ord_type is _LIMIT and price is not None and price > 0)
                or (ord_type is _MARKET and price is None)
            )
        ):
            problem = self._validate_new(cmd, book)
            if problem is not None:
                self._reject(cmd, problem[0], problem[1], out)
                return
        owner = cmd.owner
        cl_ord_id = cmd.cl_ord_id
        try:
            owned = self._by_clid[owner]
        except KeyError:
            owned = self._by_clid[owner] = {}
        if cl_ord_id in owned:
            self._reject(
                cmd,
                RejectReason.DUPLICATE_CL_ORD_ID,
                f"ClOrdID {cl_ord_id!r} is already used by a live order",
                out,
            )
            return
        side = cmd.side
        is_buy = side is _BUY
        if price is not None:
            if book.band_den:
                ref = book.outside_band(price)
                if ref is not None:
                    inst = book.instrument
                    self._reject(
                        cmd,
                        RejectReason.PRICE_BAND,
                        f"limit price {inst.format_price(price)} is outside the "
                        f"{inst.price_band_pct}% band around {inst.format_price(ref)}",
                        out,
                    )
                    return
            if post_only:
                opp = book.asks if is_buy else book.bids
                if opp.keys and opp.keys[0] <= (price if is_buy else -price):
                    self._reject(
                        cmd,
                        RejectReason.POST_ONLY_WOULD_TAKE,
                        "post-only order would take liquidity on arrival",
                        out,
                    )
                    return
        oid = self._next_oid
        self._next_oid = oid + 1
        ts = cmd.ts_ns
        # The OrderSpec, OrderAccepted and LiveOrder are built inline (see _draft_class and
        # LiveOrder.accept): this is the hottest path of the venue.
        spec = _SpecDraft()
        spec.order_id = oid
        spec.owner = owner
        spec.cl_ord_id = cl_ord_id
        spec.account = cmd.account
        spec.symbol = symbol
        spec.side = side
        spec.ord_type = ord_type
        spec.tif = tif
        spec.qty = qty
        spec.price = price
        spec.stop_price = stop
        spec.expire_ns = expire
        spec.display_qty = display
        spec.post_only = post_only
        spec.min_qty = min_qty
        spec.stp_group = cmd.stp_group
        spec.stp_mode = cmd.stp_mode
        spec.entered_ns = ts
        spec.__class__ = OrderSpec
        order = LiveOrder()
        order.spec = spec
        order.leaves = qty
        order.notional = 0
        order.level = None
        order.done = False
        order.triggered = False
        self._live[oid] = order
        owned[cl_ord_id] = order
        seq = self._seq
        self._seq = seq + 1
        accepted = _AcceptedDraft()
        accepted.seq = seq
        accepted.ts_ns = ts
        accepted.spec = spec
        accepted.__class__ = OrderAccepted
        out.append(accepted)
        if tif is _GTD:
            assert expire is not None
            heapq.heappush(self._gtd, (expire, oid, order))
        if ord_type is _LIMIT:
            if min_qty is None and tif is not _IOC and tif is not _FOK:
                # Fast path: a plain limit order that does not cross rests at once.
                assert price is not None
                if is_buy:
                    key = -price
                    opp_keys = book.asks.keys
                    own = book.bids
                else:
                    key = price
                    opp_keys = book.bids.keys
                    own = book.asks
                if not opp_keys or opp_keys[0] > -key:
                    visible = display if display and display < qty else qty
                    order.visible = visible
                    level = own.levels.get(key)
                    if level is None:
                        level = own.new_level(key)
                    level.orders.append(order)
                    level.count += 1
                    level.qty += visible
                    order.level = level
                    return
                # It crosses: trade, then rest the remainder (_activate without the rules
                # that do not apply to a plain limit order).
                order.visible = 0
                last = book.last_price
                self._match(order, book, book.asks if is_buy else book.bids, -key, ts, out)
                if not order.done:
                    leaves = order.leaves
                    order.visible = display if display and display < leaves else leaves
                    own.add(order, key)
                if book.last_price != last and (book.buy_stops or book.sell_stops):
                    self._run_stops(book, ts, out)
                return
        elif ord_type is _STOP or ord_type is _STOP_LIMIT:
            order.visible = 0
            book.push_stop(order)
            self._run_stops(book, ts, out)
            return
        order.visible = 0
        last = book.last_price
        self._activate(order, book, ts, out, True)
        if book.last_price != last and (book.buy_stops or book.sell_stops):
            self._run_stops(book, ts, out)

    def _activate(
        self, order: LiveOrder, book: OrderBook, ts: int, out: list[Event], arrival: bool
    ) -> None:
        """Trade an active order against the book, then rest, or cancel its remainder.

        ``arrival`` applies the arrival-only rules (FOK, MinQty); a repriced order (replace)
        is not arriving.
        """
        spec = order.spec
        is_buy = spec.side is _BUY
        price = spec.price
        if spec.ord_type is _MARKET or spec.ord_type is _STOP:
            bound = MAX_KEY
        else:
            assert price is not None
            bound = price if is_buy else -price
        opp = book.asks if is_buy else book.bids
        tif = spec.tif
        if arrival:
            need = 0
            reason = _R_REQUESTED
            if tif is _FOK:
                need, reason = order.leaves, CancelReason.FOK_UNFILLED
            elif spec.min_qty is not None:
                need, reason = spec.min_qty, CancelReason.MIN_QTY_NOT_MET
            if need and _fillable(opp, order, bound, need) < need:
                text = (
                    "fill-or-kill order cannot be filled completely"
                    if tif is _FOK
                    else f"minimum quantity {need} not available"
                )
                self._cancel_order(order, reason, spec.cl_ord_id, text, ts, out)
                return
        if opp.keys and opp.keys[0] <= bound:
            self._match(order, book, opp, bound, ts, out)
            if order.done:
                return
        if spec.ord_type is _MARKET or spec.ord_type is _STOP:
            self._cancel_order(
                order,
                CancelReason.MARKET_NO_LIQUIDITY,
                spec.cl_ord_id,
                "market order remainder cancelled: no more liquidity",
                ts,
                out,
            )
        elif tif is _IOC or tif is _FOK:
            self._cancel_order(
                order,
                CancelReason.IOC_REMAINDER,
                spec.cl_ord_id,
                "immediate-or-cancel remainder cancelled",
                ts,
                out,
            )
        else:
            display = spec.display_qty
            order.visible = display if display and display < order.leaves else order.leaves
            (book.bids if is_buy else book.asks).add(order, -bound)  # own-side key of the limit

    def _match(
        self,
        order: LiveOrder,
        book: OrderBook,
        opp: BookSide,
        bound: int,
        ts: int,
        out: list[Event],
    ) -> None:
        """Sweep ``opp`` with ``order`` while it crosses ``bound``; trades at resting prices."""
        keys = opp.keys
        levels = opp.levels
        spec = order.spec
        aggressor = spec.side
        is_buy = aggressor is _BUY
        symbol = spec.symbol
        group = spec.stp_group if spec.stp_mode is not _STP_NONE else ""
        seq = self._seq
        trade_id = self._next_trade
        leaves = order.leaves
        cum = spec.qty - leaves
        notional = order.notional
        last = None
        while keys and keys[0] <= bound:
            level = levels[keys[0]]
            queue = level.orders
            price = level.price
            while level.count:
                resting = queue[0]
                if resting.level is not level:  # stale: finished while resting
                    queue.popleft()
                    continue
                if group and resting.spec.stp_group == group:
                    order.leaves, order.notional = leaves, notional
                    self._seq, self._next_trade = seq, trade_id
                    self._self_trade(order, resting, opp, ts, out)
                    seq, leaves = self._seq, order.leaves
                    spec = order.spec  # a decrement restates the aggressor: a new spec
                    if order.done:
                        if last is not None:
                            book.last_price = last
                        return
                    continue
                visible = resting.visible
                qty = leaves if leaves < visible else visible
                leaves -= qty
                cum += qty
                notional += price * qty
                rspec = resting.spec
                r_leaves = resting.leaves - qty
                r_cum = rspec.qty - r_leaves
                r_notional = resting.notional + price * qty
                resting.leaves = r_leaves
                resting.notional = r_notional
                level.qty -= qty
                # Two Fills and the Trade, built inline (see _draft_class).
                r_fill = _FillDraft()
                r_fill.spec = rspec
                r_fill.cum_qty = r_cum
                r_fill.leaves_qty = r_leaves
                r_fill.cum_notional = r_notional
                r_fill.__class__ = Fill
                a_fill = _FillDraft()
                a_fill.spec = spec
                a_fill.cum_qty = cum
                a_fill.leaves_qty = leaves
                a_fill.cum_notional = notional
                a_fill.__class__ = Fill
                trade = _TradeDraft()
                trade.seq = seq
                trade.ts_ns = ts
                trade.trade_id = trade_id
                trade.symbol = symbol
                trade.price = price
                trade.qty = qty
                trade.aggressor = aggressor
                if is_buy:
                    trade.buy = a_fill
                    trade.sell = r_fill
                else:
                    trade.buy = r_fill
                    trade.sell = a_fill
                trade.__class__ = Trade
                out.append(trade)
                seq += 1
                trade_id += 1
                last = price
                if not r_leaves:
                    oid = rspec.order_id
                    queue.popleft()
                    level.count -= 1
                    resting.level = None
                    resting.done = True
                    resting.status = _FILLED
                    resting.visible = 0
                    del self._live[oid]
                    r_owner = rspec.owner
                    del self._by_clid[r_owner][rspec.cl_ord_id]
                    self._done[oid] = resting
                    try:
                        self._done_by_clid[r_owner][rspec.cl_ord_id] = resting
                    except KeyError:
                        self._done_by_clid[r_owner] = {rspec.cl_ord_id: resting}
                elif visible == qty:
                    # Iceberg slice consumed: refill at the back of the queue.
                    display = rspec.display_qty or 0
                    refill = display if display < r_leaves else r_leaves
                    resting.visible = refill
                    level.qty += refill
                    queue.popleft()
                    queue.append(resting)
                else:
                    resting.visible = visible - qty
                if not leaves:
                    break
            if not level.count and levels.get(level.key) is level:  # STP may have dropped it
                opp.drop_level(level.key)
            if not leaves:
                break
        self._seq = seq
        self._next_trade = trade_id
        order.leaves = leaves
        order.notional = notional
        if last is not None:
            book.last_price = last
        if not leaves:
            oid = spec.order_id
            order.done = True
            order.status = _FILLED
            del self._live[oid]
            owner = spec.owner
            del self._by_clid[owner][spec.cl_ord_id]
            self._done[oid] = order
            try:
                self._done_by_clid[owner][spec.cl_ord_id] = order
            except KeyError:
                self._done_by_clid[owner] = {spec.cl_ord_id: order}

    def _remember_done(self, order: LiveOrder) -> None:
        spec = order.spec
        owned = self._done_by_clid.get(spec.owner)
        if owned is None:
            self._done_by_clid[spec.owner] = {spec.cl_ord_id: order}
        else:
            owned[spec.cl_ord_id] = order

    def _self_trade(
        self, order: LiveOrder, resting: LiveOrder, opp: BookSide, ts: int, out: list[Event]
    ) -> None:
        """Apply the aggressor's STP mode against a resting order of its own group."""
        mode = order.spec.stp_mode
        text = f"self-trade prevention ({mode.value})"
        if mode is StpMode.CANCEL_RESTING:
            self._cancel_order(resting, _R_SELF_TRADE, resting.spec.cl_ord_id, text, ts, out)
        elif mode is StpMode.CANCEL_AGGRESSOR:
            self._cancel_order(order, _R_SELF_TRADE, order.spec.cl_ord_id, text, ts, out)
        elif mode is StpMode.CANCEL_BOTH:
            self._cancel_order(resting, _R_SELF_TRADE, resting.spec.cl_ord_id, text, ts, out)
            self._cancel_order(order, _R_SELF_TRADE, order.spec.cl_ord_id, text, ts, out)
        else:  # DECREMENT_AND_CANCEL
            dec = min(order.leaves, resting.leaves)
            for target in (resting, order):
                if target.leaves == dec:
                    self._cancel_order(target, _R_SELF_TRADE, target.spec.cl_ord_id, text, ts, out)
                else:
                    self._decrement(target, dec, text, ts, out)

    def _decrement(self, order: LiveOrder, dec: int, text: str, ts: int, out: list[Event]) -> None:
        spec = dc_replace(order.spec, qty=Qty(order.spec.qty - dec))
        order.spec = spec
        order.leaves -= dec
        level = order.level  # it keeps its queue position (the queue holds the order)
        if level is not None and order.visible > order.leaves:
            level.qty -= order.visible - order.leaves
            order.visible = order.leaves
        self._by_clid[spec.owner][spec.cl_ord_id] = order
        seq = self._seq
        self._seq = seq + 1
        out.append(
            OrderRestated(
                seq,
                ts,
                spec,
                Qty(order.cum),
                Qty(order.leaves),
                order.notional,
                _R_SELF_TRADE,
                text,
            )
        )

    def _cancel_order(
        self,
        order: LiveOrder,
        reason: CancelReason,
        cl_ord_id: str,
        text: str,
        ts: int,
        out: list[Event],
    ) -> None:
        """Finish a live order as cancelled (off the book or stop heap) and report it.

        :meth:`_finish` with ``_CANCELED``, inlined: cancels are a hot path."""
        spec = order.spec
        oid = spec.order_id
        level = order.level
        if level is not None:  # resting: retire it (see venue.book; BookSide.retire inlined)
            count = level.count - 1
            level.count = count
            level.qty -= order.visible
            order.level = None
            if not count:
                level.side.drop_level(level.key)
            elif len(level.orders) > 2 * count + 32:
                level.compact()
        order.visible = 0
        order.done = True
        order.status = _CANCELED
        del self._live[oid]
        owner = spec.owner
        del self._by_clid[owner][spec.cl_ord_id]
        self._done[oid] = order
        try:
            owned = self._done_by_clid[owner]
        except KeyError:
            owned = self._done_by_clid[owner] = {}
        owned[spec.cl_ord_id] = order
        if cl_ord_id and cl_ord_id != spec.cl_ord_id:
            owned[cl_ord_id] = order  # the cancel's ClOrdID is now the order's, in FIX terms
            self._done_alias[oid] = cl_ord_id
        seq = self._seq
        self._seq = seq + 1
        event = _CancelledDraft()  # OrderCancelled, built inline (see _draft_class)
        event.seq = seq
        event.ts_ns = ts
        event.spec = spec
        event.cum_qty = spec.qty - order.leaves
        event.cum_notional = order.notional
        event.reason = reason
        event.cl_ord_id = cl_ord_id
        event.text = text
        event.__class__ = OrderCancelled
        out.append(event)

    def _finish(self, order: LiveOrder, status: OrdStatus) -> None:
        spec = order.spec
        level = order.level
        if level is not None:
            level.side.retire(order)
        order.visible = 0
        order.done = True
        order.status = status
        oid = spec.order_id
        del self._live[oid]
        del self._by_clid[spec.owner][spec.cl_ord_id]
        self._done[oid] = order
        self._remember_done(order)

    # ------------------------------------------------------------------ stops

    def _run_stops(self, book: OrderBook, ts: int, out: list[Event]) -> None:
        """Trigger every stop whose condition holds on the last trade price, one at a time
        (each may trade and move the price), until none is due. See the spec for the order."""
        buys = book.buy_stops
        sells = book.sell_stops
        while True:
            last = book.last_price
            if last is None:
                return
            while buys and not stop_entry_valid(buys[0][0], buys[0][2]):
                heapq.heappop(buys)
            while sells and not stop_entry_valid(-sells[0][0], sells[0][2]):
                heapq.heappop(sells)
            buy_due = bool(buys) and buys[0][0] <= last
            sell_due = bool(sells) and -sells[0][0] >= last
            if buy_due and (not sell_due or buys[0][1] < sells[0][1]):
                order = heapq.heappop(buys)[2]
            elif sell_due:
                order = heapq.heappop(sells)[2]
            else:
                return
            order.triggered = True
            seq = self._seq
            self._seq = seq + 1
            out.append(OrderTriggered(seq, ts, order.spec, Price(last)))
            self._activate(order, book, ts, out, True)

    # ------------------------------------------------------------------ lookups

    def _find(
        self,
        owner: str,
        order_id: OrderId | None,
        cl_ord_id: str,
        symbol: str,
        side: Side | None,
    ) -> LiveOrder | None:
        """The requester's order, live or done, by order id or ClOrdID; None when unknown
        (including another owner's order: never leak its existence)."""
        order: LiveOrder | None
        if order_id is not None:
            order = self._live.get(order_id) or self._done.get(order_id)
            if order is not None and order.spec.owner != owner:
                order = None
        else:
            order = self._by_clid.get(owner, {}).get(cl_ord_id) or self._done_by_clid.get(
                owner, {}
            ).get(cl_ord_id)
        if order is None:
            return None
        if (symbol and order.spec.symbol != symbol) or (
            side is not None and order.spec.side != side
        ):
            return None
        return order

    def _cancel_reject(
        self,
        cmd: CancelOrder | ReplaceOrder,
        order: LiveOrder | None,
        reason: CxlRejReason,
        text: str,
        out: list[Event],
    ) -> None:
        seq = self._seq
        self._seq = seq + 1
        if isinstance(cmd, ReplaceOrder):
            response_to, request = CxlRejResponseTo.REPLACE, cmd
        else:
            response_to, request = CxlRejResponseTo.CANCEL, None
        out.append(
            _cancel_rejected(
                seq,
                cmd.ts_ns,
                cmd.owner,
                cmd.cl_ord_id,
                cmd.orig_cl_ord_id,
                response_to,
                reason,
                text,
                None if order is None else order.spec,
                None if order is None else order.live_status,
                request,
            )
        )

    def _lookup_for_change(
        self, cmd: CancelOrder | ReplaceOrder, out: list[Event]
    ) -> LiveOrder | None:
        order = self._find(cmd.owner, cmd.order_id, cmd.orig_cl_ord_id, cmd.symbol, cmd.side)
        if order is None:
            ident = (
                f"order id {cmd.order_id}"
                if cmd.order_id is not None
                else f"ClOrdID {cmd.orig_cl_ord_id!r}"
            )
            self._cancel_reject(
                cmd, None, CxlRejReason.UNKNOWN_ORDER, f"unknown order: {ident}", out
            )
            return None
        if order.done:
            self._cancel_reject(
                cmd,
                order,
                CxlRejReason.TOO_LATE,
                f"order {order.spec.order_id} is already {_STATUS_WORD[order.status]}",
                out,
            )
            return None
        return order

    # ------------------------------------------------------------------ cancel / replace

    def _on_cancel(self, cmd: CancelOrder, out: list[Event]) -> None:
        oid = cmd.order_id
        if oid is not None and not cmd.symbol and cmd.side is None:
            # Fast paths: an order named by id, with no symbol or side to check, that is
            # live, or finished (too late). Anything else takes the general lookup.
            order = self._live.get(oid)
            if order is not None:
                if order.spec.owner == cmd.owner:
                    self._cancel_order(
                        order, cmd.reason, cmd.cl_ord_id, _cancel_text(cmd.reason), cmd.ts_ns, out
                    )
                    return
            else:
                order = self._done.get(oid)
                if order is not None and order.spec.owner == cmd.owner:
                    seq = self._seq
                    self._seq = seq + 1
                    out.append(
                        _cancel_rejected(
                            seq,
                            cmd.ts_ns,
                            cmd.owner,
                            cmd.cl_ord_id,
                            cmd.orig_cl_ord_id,
                            _TO_CANCEL,
                            _TOO_LATE,
                            f"order {oid} is already {_STATUS_WORD[order.status]}",
                            order.spec,
                            order.status,
                            None,
                        )
                    )
                    return
        order = self._lookup_for_change(cmd, out)
        if order is None:
            return
        self._cancel_order(
            order, cmd.reason, cmd.cl_ord_id, _cancel_text(cmd.reason), cmd.ts_ns, out
        )

    def _on_replace(self, cmd: ReplaceOrder, out: list[Event]) -> None:
        order = self._lookup_for_change(cmd, out)
        if order is None:
            return
        book = self._books[order.spec.symbol]
        spec = order.spec
        option = CxlRejReason.BROKER_OPTION

        def refuse(reason: CxlRejReason, text: str) -> None:
            self._cancel_reject(cmd, order, reason, text, out)

        if book.halted:
            refuse(option, f"{spec.symbol} is halted")
            return
        if cmd.cl_ord_id in self._by_clid.get(cmd.owner, {}):
            refuse(
                CxlRejReason.DUPLICATE_CL_ORD_ID,
                f"ClOrdID {cmd.cl_ord_id!r} is already used by a live order",
            )
            return
        problem = book.instrument.check_qty(cmd.qty)
        if problem is not None:
            refuse(option, problem)
            return
        is_limit = spec.ord_type is _LIMIT or spec.ord_type is _STOP_LIMIT
        price = spec.price
        if cmd.price is not None:
            if not is_limit:
                refuse(option, f"{spec.ord_type.name} order must not carry a price")
                return
            if cmd.price <= 0:
                refuse(option, f"limit price {cmd.price} ticks must be positive")
                return
            price = cmd.price
        stop = spec.stop_price
        if cmd.stop_price is not None and cmd.stop_price != stop:
            if spec.ord_type is _LIMIT or spec.ord_type is _MARKET:
                refuse(option, f"{spec.ord_type.name} order must not carry a stop price")
                return
            if order.triggered:
                refuse(option, "the stop order already triggered; its stop price is final")
                return
            if cmd.stop_price <= 0:
                refuse(option, f"stop price {cmd.stop_price} ticks must be positive")
                return
            stop = cmd.stop_price
        tif = spec.tif if cmd.tif is None else cmd.tif
        if tif is not spec.tif and (tif is _IOC or tif is _FOK):
            refuse(option, f"a resting order cannot be replaced to {tif.name}")
            return
        expire = None
        if tif is _GTD:
            expire = cmd.expire_ns if cmd.expire_ns is not None else spec.expire_ns
            if expire is None:
                refuse(option, "GTD order needs an expire time")
                return
            if expire <= cmd.ts_ns:
                refuse(option, "GTD expire time is not in the future")
                return
        elif cmd.expire_ns is not None:
            refuse(option, "expire time is only allowed with TimeInForce GTD")
            return
        display = spec.display_qty if cmd.display_qty is None else cmd.display_qty
        display_changed = display != spec.display_qty
        if cmd.display_qty is None and display is not None and display > cmd.qty:
            display = cmd.qty  # an inherited slice never exceeds the new quantity
        if display is not None and not is_limit:
            refuse(option, "market orders cannot be icebergs")
            return
        if display is not None and (display <= 0 or display > cmd.qty or display % book.lot):
            refuse(
                option,
                f"display quantity {display} must be a positive lot multiple "
                f"of at most the quantity {cmd.qty}",
            )
            return
        price_changed = price != spec.price
        active = order.level is not None  # resting on the book (not an untriggered stop)
        if price_changed and price is not None:
            ref = book.outside_band(price)
            if ref is not None:
                inst = book.instrument
                refuse(
                    option,
                    f"limit price {inst.format_price(price)} is outside the "
                    f"{inst.price_band_pct}% band around {inst.format_price(ref)}",
                )
                return
            if spec.post_only and active:
                opp = book.asks if order.is_buy else book.bids
                if opp.keys and opp.keys[0] <= (price if order.is_buy else -price):
                    refuse(option, "post-only order would take liquidity at the new price")
                    return
        if not active and spec.min_qty is not None and cmd.qty < spec.min_qty:
            # an untriggered stop meets its MinQty when it triggers: never more than its qty
            refuse(option, f"minimum quantity {spec.min_qty} is above the new quantity {cmd.qty}")
            return
        ts = cmd.ts_ns
        if cmd.qty <= order.cum:
            self._cancel_order(
                order,
                CancelReason.REPLACED_TO_FILLED,
                cmd.cl_ord_id,
                f"replaced to quantity {cmd.qty} <= filled quantity {order.cum}",
                ts,
                out,
            )
            order.status = _FILLED  # in FIX terms: filled takes precedence
            # and OrderQty = CumQty from now on (status, duplicate answers); cum is qty - leaves
            order.spec = filled_spec(spec, Qty(order.cum))
            order.leaves = 0
            return
        # dataclasses.replace introspects the fields and runs the frozen __init__ (~4 µs)
        new_spec = _new_spec(
            spec.order_id, spec.owner, cmd.cl_ord_id, spec.account, spec.symbol, spec.side,
            spec.ord_type, tif, cmd.qty, price, stop, expire, display, spec.post_only,
            spec.min_qty, spec.stp_group, spec.stp_mode, spec.entered_ns,
        )  # fmt: skip
        kept = (
            not price_changed
            and stop == spec.stop_price
            and cmd.qty <= spec.qty
            and not display_changed
        )
        owned = self._by_clid[cmd.owner]
        del owned[spec.cl_ord_id]
        owned[cmd.cl_ord_id] = order
        leaves = cmd.qty - order.cum
        side = book.bids if order.is_buy else book.asks
        if active and kept:
            level = order.level
            assert level is not None
            order.spec = new_spec
            order.leaves = leaves
            if order.visible > leaves:
                level.qty -= order.visible - leaves
                order.visible = leaves
        elif active:
            side.remove(order)
            order.spec = new_spec
            order.leaves = leaves
        else:
            order.spec = new_spec
            order.leaves = leaves
        if tif is _GTD and expire != spec.expire_ns:
            assert expire is not None
            heapq.heappush(self._gtd, (expire, spec.order_id, order))
        seq = self._seq
        self._seq = seq + 1
        out.append(
            OrderReplaced(
                seq,
                ts,
                new_spec,
                spec.cl_ord_id,
                Qty(order.cum),
                Qty(leaves),
                order.notional,
                kept if active else stop == spec.stop_price,
            )
        )
        if active and not kept:
            last = book.last_price
            self._activate(order, book, ts, out, False)
            if book.last_price != last:
                self._run_stops(book, ts, out)
        elif not active and stop != spec.stop_price:
            book.push_stop(order)
            self._run_stops(book, ts, out)

    def _on_mass_cancel(self, cmd: MassCancel, out: list[Event]) -> None:
        targets = [
            order
            for order in self._by_clid.get(cmd.owner, {}).values()
            if (cmd.symbol is None or order.spec.symbol == cmd.symbol)
            and (cmd.side is None or order.spec.side == cmd.side)
        ]
        targets.sort(key=lambda o: o.spec.order_id)
        for order in targets:
            self._cancel_order(
                order, CancelReason.MASS_CANCEL, cmd.cl_ord_id, "mass cancel", cmd.ts_ns, out
            )
        seq = self._seq
        self._seq = seq + 1
        out.append(
            MassCancelDone(
                seq, cmd.ts_ns, cmd.owner, cmd.cl_ord_id, cmd.symbol, cmd.side, len(targets)
            )
        )

    def _on_status(self, cmd: StatusQuery, out: list[Event]) -> None:
        order = self._find(cmd.owner, cmd.order_id, cmd.cl_ord_id, cmd.symbol, cmd.side)
        seq = self._seq
        self._seq = seq + 1
        if order is None:
            out.append(
                OrderStatusReport(
                    seq,
                    cmd.ts_ns,
                    cmd.owner,
                    cmd.cl_ord_id,
                    None,
                    OrdStatus.REJECTED,
                    Qty(0),
                    Qty(0),
                    0,
                    cmd.symbol,
                    cmd.side,
                )
            )
            return
        spec = order.spec
        cl_ord_id = spec.cl_ord_id
        if order.done:  # a cancel or replace that finished it gave the order its ClOrdID
            cl_ord_id = self._done_alias.get(spec.order_id, cl_ord_id)
        out.append(
            OrderStatusReport(
                seq,
                cmd.ts_ns,
                cmd.owner,
                cl_ord_id,
                spec,
                order.live_status,
                Qty(order.cum),
                Qty(0 if order.done else order.leaves),
                order.notional,
                spec.symbol,
                spec.side,
            )
        )

    # ------------------------------------------------------------------ time and admin

    def _expire(self, order: LiveOrder, ts: int, out: list[Event]) -> None:
        self._finish(order, _EXPIRED)
        seq = self._seq
        self._seq = seq + 1
        out.append(OrderExpired(seq, ts, order.spec, Qty(order.cum), order.notional))

    def _expire_gtd(self, ts: int, out: list[Event]) -> None:
        gtd = self._gtd
        while gtd and gtd[0][0] <= ts:
            expire_ns, _, order = heapq.heappop(gtd)
            if not order.done and order.spec.tif is _GTD and order.spec.expire_ns == expire_ns:
                self._expire(order, ts, out)

    def _on_advance_time(self, cmd: AdvanceTime, out: list[Event]) -> None:
        """GTD expiry already ran in :meth:`handle`."""

    def _on_end_of_day(self, cmd: EndOfDay, out: list[Event]) -> None:
        for order in [o for o in self._live.values() if o.spec.tif is _DAY]:
            self._expire(order, cmd.ts_ns, out)
        self._done.clear()
        self._done_by_clid.clear()
        self._done_alias.clear()

    def _forget_oldest_done(self) -> None:
        """Forget the oldest finished orders down to DONE_ORDERS_KEPT, with their ClOrdIDs
        (a chunk at a time: one walk from the start of ``_done``, not one per order)."""
        done, by_clid, aliases = self._done, self._done_by_clid, self._done_alias
        for oid in list(itertools.islice(done, len(done) - DONE_ORDERS_KEPT)):
            order = done.pop(oid)
            spec = order.spec
            owned = by_clid.get(spec.owner)
            if owned is None:
                continue
            if owned.get(spec.cl_ord_id) is order:
                del owned[spec.cl_ord_id]
            alias = aliases.pop(oid, None)
            if alias is not None and owned.get(alias) is order:
                del owned[alias]
            if not owned:
                del by_clid[spec.owner]

    def _on_set_status(self, cmd: SetTradingStatus, out: list[Event]) -> None:
        book = self._books.get(cmd.symbol)
        if book is None:
            return
        status = TradingStatus.HALTED if cmd.halted else TradingStatus.OPEN
        book.set_instrument(book.instrument.with_status(status))
        seq = self._seq
        self._seq = seq + 1
        out.append(TradingStatusChanged(seq, cmd.ts_ns, cmd.symbol, status))

    def _on_add_instrument(self, cmd: AddInstrument, out: list[Event]) -> None:
        instrument = cmd.instrument
        book = self._books.get(instrument.symbol)
        if book is None:
            self._books[instrument.symbol] = OrderBook(instrument)
        else:
            if instrument.tick_size != book.instrument.tick_size and any(
                o.spec.symbol == instrument.symbol for o in self._live.values()
            ):
                raise ValueError(
                    f"{instrument.symbol}: cannot change tick size while orders are live"
                )
            book.set_instrument(instrument)
        seq = self._seq
        self._seq = seq + 1
        out.append(InstrumentAdded(seq, cmd.ts_ns, instrument))


# ---------------------------------------------------------------------- helpers


def _fillable(opp: BookSide, order: LiveOrder, bound: int, need: int) -> int:
    """Quantity ``order`` is sure to fill right now (for FOK and MinQty), counting hidden
    iceberg quantity. Orders of the aggressor's STP group are skipped under CancelResting;
    under the other STP modes the count stops at the first one (and within its level only
    the displayed quantity ahead of it counts, since iceberg refills go behind it)."""
    spec = order.spec
    group = spec.stp_group if spec.stp_mode is not _STP_NONE else ""
    skip_self = spec.stp_mode is StpMode.CANCEL_RESTING
    total = 0
    for key in opp.keys:
        if key > bound:
            break
        shown = 0
        full = 0
        level = opp.levels[key]
        for resting in level.orders:
            if resting.level is not level:
                continue
            if group and resting.spec.stp_group == group:
                if skip_self:
                    continue
                return total + shown
            shown += resting.visible
            full += resting.leaves
        total += full
        if total >= need:
            break
    return total


def _level_view(side: BookSide) -> Level | None:
    if not side.keys:
        return None
    level = side.levels[side.keys[0]]
    return Level(Price(level.price), Qty(level.qty), level.count)


def _depth(side: BookSide, levels: int) -> list[Level]:
    result = []
    for key in side.keys[:levels]:
        level = side.levels[key]
        result.append(Level(Price(level.price), Qty(level.qty), level.count))
    return result


def _view(order: LiveOrder) -> OrderView:
    return _new_view(
        order.spec,
        order.cum,
        0 if order.done else order.leaves,
        order.notional,
        order.live_status,
        order.visible if order.level is not None else 0,
        order.triggered,
    )


def _order_from_view(view: OrderView) -> LiveOrder:
    order = LiveOrder.accept(view.spec)
    order.leaves = view.spec.qty - view.cum_qty  # also for a done order (shown as 0)
    order.notional = view.cum_notional
    order.visible = view.displayed_qty
    order.triggered = view.triggered
    return order
