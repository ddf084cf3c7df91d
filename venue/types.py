"""Scalar types and enumerations shared by the engine and its edges.

Prices are integer ticks and quantities integer units inside the venue; conversion to
and from decimal strings happens only at the edges (FIX, market data, reports), using the
instrument's tick size. Enum values are the FIX 4.4 values, so the FIX edge can use them
directly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

Price = NewType("Price", int)
"""A price in integer ticks of the instrument."""
Qty = NewType("Qty", int)
"""A quantity in units (shares, contracts)."""
OrderId = NewType("OrderId", int)
"""The venue's order id, unique for the venue's lifetime."""


class Side(StrEnum):
    BUY = "1"
    SELL = "2"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrdType(StrEnum):
    MARKET = "1"
    LIMIT = "2"
    STOP = "3"
    STOP_LIMIT = "4"


class TimeInForce(StrEnum):
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"
    GTD = "6"


class OrdStatus(StrEnum):
    """FIX 39 OrdStatus."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_NEW = "A"
    REJECTED = "8"
    EXPIRED = "C"


class TradingStatus(StrEnum):
    OPEN = "open"
    HALTED = "halted"


class StpMode(StrEnum):
    """Self-trade prevention applied when an aggressor meets a resting order of the same
    STP group (account or firm)."""

    NONE = "None"
    CANCEL_RESTING = "CancelResting"
    CANCEL_AGGRESSOR = "CancelAggressor"
    CANCEL_BOTH = "CancelBoth"
    DECREMENT_AND_CANCEL = "DecrementAndCancel"


class RejectReason(StrEnum):
    """Why a new order or replace was refused. Values map to FIX OrdRejReason (103) at the
    FIX edge; the engine's text carries the detail."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    HALTED = "halted"
    INVALID_PRICE = "invalid_price"  # off tick, <= 0, missing for limit, present for market
    INVALID_QTY = "invalid_qty"  # <= 0, not a lot multiple, below min, above max
    PRICE_BAND = "price_band"
    DUPLICATE_CL_ORD_ID = "duplicate_cl_ord_id"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    INVALID_ORDER = "invalid_order"  # inconsistent fields (e.g. GTD without expiry)
    RISK_LIMIT = "risk_limit"  # used by the order-entry layer, never by the engine
    UNKNOWN_ACCOUNT = "unknown_account"  # order-entry layer: not one of the session's accounts
    THROTTLED = "throttled"  # used by the order-entry layer, never by the engine
    UNAVAILABLE = "unavailable"  # venue cannot accept (e.g. store down); order-entry layer


class CancelReason(StrEnum):
    """Why an order (or its remainder) was cancelled."""

    REQUESTED = "requested"  # OrderCancelRequest
    MASS_CANCEL = "mass_cancel"
    IOC_REMAINDER = "ioc_remainder"
    FOK_UNFILLED = "fok_unfilled"
    MIN_QTY_NOT_MET = "min_qty_not_met"
    MARKET_NO_LIQUIDITY = "market_no_liquidity"
    SELF_TRADE = "self_trade"
    DISCONNECT = "disconnect"  # cancel-on-disconnect, issued by the order-entry layer
    REPLACED_TO_FILLED = "replaced_to_filled"  # replace to qty <= cum completes the order
    ADMIN = "admin"  # operator cancel


class CxlRejReason(StrEnum):
    """FIX 102 CxlRejReason values."""

    TOO_LATE = "0"
    UNKNOWN_ORDER = "1"
    BROKER_OPTION = "2"  # venue rule refused it (halted, invalid new price/qty ...)
    ALREADY_PENDING = "3"
    DUPLICATE_CL_ORD_ID = "6"
    OTHER = "99"


class CxlRejResponseTo(StrEnum):
    """FIX 434."""

    CANCEL = "1"
    REPLACE = "2"
