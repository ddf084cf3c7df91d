"""Commands: what the edges ask the matching engine to do.

Commands are immutable and carry their own timestamp (``ts_ns``, nanoseconds since the
epoch, UTC), so the engine never reads a clock and a journal of commands replays to the
same events. ``owner`` is the identity of the submitting FIX session (its SessionID
string); the engine enforces that only the owner cancels, replaces or queries an order.
"""

from __future__ import annotations

from dataclasses import dataclass

from venue.instruments import Instrument
from venue.types import (
    CancelReason,
    OrderId,
    OrdType,
    Price,
    Qty,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
)


@dataclass(frozen=True, slots=True)
class NewOrder:
    ts_ns: int
    owner: str
    cl_ord_id: str
    symbol: str
    side: Side
    ord_type: OrdType
    qty: Qty
    price: Price | None = None  # limit price; required for LIMIT and STOP_LIMIT
    stop_price: Price | None = None  # trigger price; required for STOP and STOP_LIMIT
    tif: TimeInForce = TimeInForce.DAY
    expire_ns: int | None = None  # required for GTD
    account: str = ""
    display_qty: Qty | None = None  # iceberg: the visible slice (FIX MaxFloor 111)
    post_only: bool = False  # FIX ExecInst 18=6
    min_qty: Qty | None = None  # FIX MinQty 110: must fill at least this on arrival
    stp_group: str = ""  # self-trade prevention group (account or firm); "" = off
    stp_mode: StpMode = StpMode.NONE


@dataclass(frozen=True, slots=True)
class CancelOrder:
    ts_ns: int
    owner: str
    cl_ord_id: str  # the cancel request's own ClOrdID
    orig_cl_ord_id: str  # the order's current ClOrdID
    order_id: OrderId | None = None  # when given, takes precedence over orig_cl_ord_id
    symbol: str = ""
    side: Side | None = None
    # REQUESTED for a client's OrderCancelRequest; ADMIN for an operator,
    # DISCONNECT for cancel-on-disconnect.
    reason: CancelReason = CancelReason.REQUESTED


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    ts_ns: int
    owner: str
    cl_ord_id: str  # the new ClOrdID the order will carry
    orig_cl_ord_id: str
    qty: Qty  # new total order quantity (including what is already filled)
    price: Price | None = None
    stop_price: Price | None = None
    order_id: OrderId | None = None
    symbol: str = ""
    side: Side | None = None
    display_qty: Qty | None = None
    tif: TimeInForce | None = None  # None keeps the order's time in force
    expire_ns: int | None = None


@dataclass(frozen=True, slots=True)
class MassCancel:
    ts_ns: int
    owner: str
    cl_ord_id: str
    symbol: str | None = None  # None: all symbols
    side: Side | None = None  # None: both sides


@dataclass(frozen=True, slots=True)
class StatusQuery:
    ts_ns: int
    owner: str
    cl_ord_id: str  # the ClOrdID of the order asked about
    order_id: OrderId | None = None
    symbol: str = ""
    side: Side | None = None


@dataclass(frozen=True, slots=True)
class RejectOrder:
    """A new order refused by the order-entry layer before it reached the book (session
    risk limits, throttle, a price that is not on the tick grid ...). The engine only
    numbers the rejection, so that every reject has its place in the journal and an
    ExecID like every other execution event."""

    request: NewOrder
    reason: RejectReason
    text: str

    @property
    def ts_ns(self) -> int:
        return self.request.ts_ns


@dataclass(frozen=True, slots=True)
class AdvanceTime:
    """Tell the engine the time: GTD orders whose expiry is <= ts_ns expire."""

    ts_ns: int


@dataclass(frozen=True, slots=True)
class EndOfDay:
    """Close the trading day: every Day order (resting or untriggered stop) expires,
    and GTD orders due by ts_ns expire."""

    ts_ns: int


@dataclass(frozen=True, slots=True)
class SetTradingStatus:
    ts_ns: int
    symbol: str
    halted: bool


@dataclass(frozen=True, slots=True)
class AddInstrument:
    ts_ns: int
    instrument: Instrument


Command = (
    NewOrder
    | CancelOrder
    | ReplaceOrder
    | RejectOrder
    | MassCancel
    | StatusQuery
    | AdvanceTime
    | EndOfDay
    | SetTradingStatus
    | AddInstrument
)
