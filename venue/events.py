"""Events: what the matching engine reports, in the order it happened.

Every event has ``seq``, the engine's global event sequence number (gapless, unique for
the venue's lifetime, continued across restarts), and ``ts_ns``, the timestamp of the
command that caused it. Order events carry an immutable :class:`OrderSpec` (what the
order is, replaced wholesale by a replace) plus the order's dynamic state at the time
of the event: cumulative quantity, leaves quantity and ``cum_notional`` (sum of
price-in-ticks x quantity over its fills, so the average price is exact:
``cum_notional / cum_qty`` ticks).

The FIX edge derives ExecutionReports from these: one per order event, two per Trade
(one for each side). ExecIDs derive from ``seq``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from venue.commands import NewOrder, ReplaceOrder
from venue.instruments import Instrument
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


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """What an order is. Shared by reference between events; a replace makes a new one."""

    order_id: OrderId
    owner: str
    cl_ord_id: str
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    tif: TimeInForce
    qty: Qty  # total order quantity, including what is filled
    price: Price | None
    stop_price: Price | None
    expire_ns: int | None
    display_qty: Qty | None
    post_only: bool
    min_qty: Qty | None
    stp_group: str
    stp_mode: StpMode
    entered_ns: int  # when the order was first accepted


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    seq: int
    ts_ns: int
    spec: OrderSpec  # cum 0, leaves spec.qty; stop orders wait untriggered off the book


@dataclass(frozen=True, slots=True)
class OrderRejected:
    seq: int
    ts_ns: int
    request: NewOrder
    reason: RejectReason
    text: str


@dataclass(frozen=True, slots=True)
class OrderTriggered:
    """A stop order's trigger price was reached; it now trades as a market/limit order."""

    seq: int
    ts_ns: int
    spec: OrderSpec
    trigger_price: Price  # the last trade price that triggered it


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of a trade: the order's state after the fill."""

    spec: OrderSpec
    cum_qty: Qty
    leaves_qty: Qty
    cum_notional: int


@dataclass(frozen=True, slots=True)
class Trade:
    seq: int
    ts_ns: int
    trade_id: int
    symbol: str
    price: Price  # always the resting order's price
    qty: Qty
    aggressor: Side
    buy: Fill
    sell: Fill

    @property
    def aggressor_fill(self) -> Fill:
        return self.buy if self.aggressor is Side.BUY else self.sell

    @property
    def passive_fill(self) -> Fill:
        return self.sell if self.aggressor is Side.BUY else self.buy


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    seq: int
    ts_ns: int
    spec: OrderSpec
    cum_qty: Qty
    cum_notional: int
    reason: CancelReason
    cl_ord_id: str  # ClOrdID of the cancel request; spec.cl_ord_id when none
    text: str


def replaced_to_filled(ev: OrderCancelled) -> OrderSpec:
    """The order as a replace to a quantity at or below its filled quantity (an
    ``OrderCancelled`` with reason REPLACED_TO_FILLED) left it, for the ExecutionReport and
    the ``orders`` row (FIX 4.4 Appendix D: ExecType Replaced, OrdStatus Filled, OrderQty =
    CumQty, the replace's ClOrdID)."""
    return replace(filled_spec(ev.spec, ev.cum_qty), cl_ord_id=ev.cl_ord_id)


def filled_spec(spec: OrderSpec, cum: Qty) -> OrderSpec:
    """``spec`` with OrderQty = ``cum``, its iceberg display no larger: a replace to a
    quantity at or below the filled one ends the order there."""
    display = spec.display_qty
    return replace(spec, qty=cum, display_qty=None if display is None else Qty(min(display, cum)))


@dataclass(frozen=True, slots=True)
class OrderReplaced:
    seq: int
    ts_ns: int
    spec: OrderSpec  # the new spec (new ClOrdID, qty, price)
    orig_cl_ord_id: str
    cum_qty: Qty
    leaves_qty: Qty
    cum_notional: int
    priority_kept: bool  # quantity down only: the order kept its place in the queue


@dataclass(frozen=True, slots=True)
class OrderRestated:
    """The venue reduced a live order's quantity without a trade (self-trade prevention
    DecrementAndCancel). ``spec`` is the new spec (smaller ``qty``); FIX ExecType=D."""

    seq: int
    ts_ns: int
    spec: OrderSpec
    cum_qty: Qty
    leaves_qty: Qty
    cum_notional: int
    reason: CancelReason
    text: str


@dataclass(frozen=True, slots=True)
class OrderExpired:
    seq: int
    ts_ns: int
    spec: OrderSpec
    cum_qty: Qty
    cum_notional: int


@dataclass(frozen=True, slots=True)
class CancelRejected:
    seq: int
    ts_ns: int
    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    response_to: CxlRejResponseTo
    reason: CxlRejReason
    text: str
    spec: OrderSpec | None  # the order when known (and owned by the requester)
    ord_status: OrdStatus | None  # its current status when known
    request: ReplaceOrder | None = None


@dataclass(frozen=True, slots=True)
class OrderStatusReport:
    """Answer to a StatusQuery. ``spec`` is None when the order is unknown to the owner;
    ``cl_ord_id`` is then the query's, else the order's current ClOrdID (that of the cancel or
    replace request that finished it, if one did)."""

    seq: int
    ts_ns: int
    owner: str
    cl_ord_id: str
    spec: OrderSpec | None
    status: OrdStatus
    cum_qty: Qty
    leaves_qty: Qty
    cum_notional: int
    symbol: str
    side: Side | None


@dataclass(frozen=True, slots=True)
class MassCancelDone:
    seq: int
    ts_ns: int
    owner: str
    cl_ord_id: str
    symbol: str | None
    side: Side | None
    cancelled: int  # number of orders cancelled (each also has its OrderCancelled event)


@dataclass(frozen=True, slots=True)
class TradingStatusChanged:
    seq: int
    ts_ns: int
    symbol: str
    status: TradingStatus


@dataclass(frozen=True, slots=True)
class InstrumentAdded:
    seq: int
    ts_ns: int
    instrument: Instrument


Event = (
    OrderAccepted
    | OrderRejected
    | OrderTriggered
    | Trade
    | OrderCancelled
    | OrderReplaced
    | OrderRestated
    | OrderExpired
    | CancelRejected
    | OrderStatusReport
    | MassCancelDone
    | TradingStatusChanged
    | InstrumentAdded
)
