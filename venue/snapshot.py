"""Immutable views of the engine's state: book levels, orders, and whole-engine snapshots.

:class:`EngineSnapshot` is what the persistence layer stores to restart the engine without
replaying the whole journal: ``MatchingEngine.restore(snapshot)`` rebuilds the same books in
the same priority, and the counters (order id, trade id, event seq) continue. ``to_dict`` /
``from_dict`` give a JSON-safe form (Decimals and enums as strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from venue.events import OrderSpec
from venue.instruments import Instrument
from venue.types import (
    OrderId,
    OrdStatus,
    OrdType,
    Price,
    Qty,
    Side,
    StpMode,
    TimeInForce,
    TradingStatus,
)


@dataclass(frozen=True, slots=True)
class Level:
    """One aggregated price level: displayed quantity and number of orders."""

    price: Price
    qty: Qty
    orders: int


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order's spec and state. ``displayed_qty`` is its current visible slice on the
    book (0 for untriggered stops); ``triggered`` is True for stop orders that triggered."""

    spec: OrderSpec
    cum_qty: Qty
    leaves_qty: Qty
    cum_notional: int
    status: OrdStatus
    displayed_qty: Qty
    triggered: bool


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """Everything needed to rebuild an engine.

    ``orders`` holds every live order: for each instrument (in ``instruments`` order) its
    bids then its asks, each best price first and in time priority within a price, then its
    untriggered stops in trigger order. ``done_orders`` holds the orders that finished since
    the last EndOfDay, oldest first, so that cancels of them still answer TOO_LATE and status
    queries still find them after a restore. ``done_aliases`` are the other ClOrdIDs those
    orders answer to, ``(owner, ClOrdID, order id)``: the ClOrdID of the cancel (or of the
    replace) that finished an order becomes its current ClOrdID in FIX.
    """

    instruments: tuple[Instrument, ...]
    last_prices: dict[str, int]
    orders: tuple[OrderView, ...]
    next_order_id: int
    next_trade_id: int
    next_seq: int
    done_orders: tuple[OrderView, ...] = field(default=())
    done_aliases: tuple[tuple[str, str, int], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (only str, int, bool, None, list, dict)."""
        return {
            "version": 1,
            "instruments": [_instrument_to_dict(i) for i in self.instruments],
            "last_prices": dict(self.last_prices),
            "orders": [_view_to_dict(v) for v in self.orders],
            "done_orders": [_view_to_dict(v) for v in self.done_orders],
            "done_aliases": [list(alias) for alias in self.done_aliases],
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "next_seq": self.next_seq,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineSnapshot:
        """Inverse of :meth:`to_dict`; raises ValueError on an unknown version."""
        if data.get("version") != 1:
            raise ValueError(f"unsupported engine snapshot version {data.get('version')!r}")
        return cls(
            instruments=tuple(_instrument_from_dict(i) for i in data["instruments"]),
            last_prices={str(k): int(v) for k, v in data["last_prices"].items()},
            orders=tuple(_view_from_dict(v) for v in data["orders"]),
            next_order_id=int(data["next_order_id"]),
            next_trade_id=int(data["next_trade_id"]),
            next_seq=int(data["next_seq"]),
            done_orders=tuple(_view_from_dict(v) for v in data.get("done_orders", ())),
            done_aliases=tuple(
                (str(a[0]), str(a[1]), int(a[2])) for a in data.get("done_aliases", ())
            ),
        )


def _opt_dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _instrument_to_dict(inst: Instrument) -> dict[str, Any]:
    return {
        "symbol": inst.symbol,
        "tick_size": str(inst.tick_size),
        "lot_size": inst.lot_size,
        "min_qty": inst.min_qty,
        "max_qty": inst.max_qty,
        "price_band_pct": _opt_dec(inst.price_band_pct),
        "reference_price": inst.reference_price,
        "status": inst.status.value,
        "description": inst.description,
    }


def _instrument_from_dict(data: dict[str, Any]) -> Instrument:
    band = data.get("price_band_pct")
    ref = data.get("reference_price")
    return Instrument(
        symbol=data["symbol"],
        tick_size=Decimal(data["tick_size"]),
        lot_size=int(data["lot_size"]),
        min_qty=int(data["min_qty"]),
        max_qty=None if data.get("max_qty") is None else int(data["max_qty"]),
        price_band_pct=None if band is None else Decimal(band),
        reference_price=None if ref is None else Price(int(ref)),
        status=TradingStatus(data["status"]),
        description=data.get("description", ""),
    )


def spec_to_dict(spec: OrderSpec) -> dict[str, Any]:
    """A JSON-safe dict of an OrderSpec (enums as their FIX values)."""
    return {
        "order_id": spec.order_id,
        "owner": spec.owner,
        "cl_ord_id": spec.cl_ord_id,
        "account": spec.account,
        "symbol": spec.symbol,
        "side": spec.side.value,
        "ord_type": spec.ord_type.value,
        "tif": spec.tif.value,
        "qty": spec.qty,
        "price": spec.price,
        "stop_price": spec.stop_price,
        "expire_ns": spec.expire_ns,
        "display_qty": spec.display_qty,
        "post_only": spec.post_only,
        "min_qty": spec.min_qty,
        "stp_group": spec.stp_group,
        "stp_mode": spec.stp_mode.value,
        "entered_ns": spec.entered_ns,
    }


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def spec_from_dict(data: dict[str, Any]) -> OrderSpec:
    """Inverse of :func:`spec_to_dict`."""
    price = _opt_int(data.get("price"))
    stop = _opt_int(data.get("stop_price"))
    display = _opt_int(data.get("display_qty"))
    min_qty = _opt_int(data.get("min_qty"))
    return OrderSpec(
        order_id=OrderId(int(data["order_id"])),
        owner=data["owner"],
        cl_ord_id=data["cl_ord_id"],
        account=data.get("account", ""),
        symbol=data["symbol"],
        side=Side(data["side"]),
        ord_type=OrdType(data["ord_type"]),
        tif=TimeInForce(data["tif"]),
        qty=Qty(int(data["qty"])),
        price=None if price is None else Price(price),
        stop_price=None if stop is None else Price(stop),
        expire_ns=_opt_int(data.get("expire_ns")),
        display_qty=None if display is None else Qty(display),
        post_only=bool(data.get("post_only", False)),
        min_qty=None if min_qty is None else Qty(min_qty),
        stp_group=data.get("stp_group", ""),
        stp_mode=StpMode(data.get("stp_mode", StpMode.NONE.value)),
        entered_ns=int(data["entered_ns"]),
    )


def _view_to_dict(view: OrderView) -> dict[str, Any]:
    return {
        "spec": spec_to_dict(view.spec),
        "cum_qty": view.cum_qty,
        "leaves_qty": view.leaves_qty,
        "cum_notional": view.cum_notional,
        "status": view.status.value,
        "displayed_qty": view.displayed_qty,
        "triggered": view.triggered,
    }


def _view_from_dict(data: dict[str, Any]) -> OrderView:
    return OrderView(
        spec=spec_from_dict(data["spec"]),
        cum_qty=Qty(int(data["cum_qty"])),
        leaves_qty=Qty(int(data["leaves_qty"])),
        cum_notional=int(data["cum_notional"]),
        status=OrdStatus(data["status"]),
        displayed_qty=Qty(int(data["displayed_qty"])),
        triggered=bool(data["triggered"]),
    )
