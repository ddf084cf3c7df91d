"""Conversion of journaled commands and events into table rows (done at commit time).

Pure functions: no I/O. :func:`build_rows` turns one group-commit batch into the row
lists the store writes, keeping only the last state of each order and instrument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from venue.commands import Command
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
    OrderSpec,
    OrderStatusReport,
    OrderTriggered,
    Trade,
    TradingStatusChanged,
    replaced_to_filled,
)
from venue.instruments import Instrument
from venue.store.codec import COMMAND_KINDS, EVENT_KINDS, encode_command, encode_event
from venue.types import CancelReason, OrdStatus

Row = dict[str, Any]

__all__ = [
    "COMMAND_COLUMNS",
    "EVENT_COLUMNS",
    "INSTRUMENT_COLUMNS",
    "ORDER_COLUMNS",
    "TRADE_COLUMNS",
    "Row",
    "Rows",
    "TupleRows",
    "build_rows",
    "build_tuples",
    "event_keys",
    "instrument_row",
    "order_row",
]


def order_row(
    spec: OrderSpec,
    status: OrdStatus,
    cum_qty: int,
    leaves_qty: int,
    cum_notional: int,
    updated_ns: int,
    seq: int,
) -> Row:
    """A row of the ``orders`` table."""
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
        "status": status.value,
        "cum_qty": cum_qty,
        "leaves_qty": leaves_qty,
        "cum_notional": cum_notional,
        "entered_ns": spec.entered_ns,
        "updated_ns": updated_ns,
        "last_seq": seq,
    }


def instrument_row(inst: Instrument) -> Row:
    """A row of the ``instruments`` table."""
    return {
        "symbol": inst.symbol,
        "tick_size": str(inst.tick_size),
        "lot_size": inst.lot_size,
        "min_qty": inst.min_qty,
        "max_qty": inst.max_qty,
        "price_band_pct": None if inst.price_band_pct is None else str(inst.price_band_pct),
        "reference_price": inst.reference_price,
        "status": inst.status.value,
        "description": inst.description,
    }


def _working_status(cum_qty: int, leaves_qty: int) -> OrdStatus:
    if leaves_qty == 0:
        return OrdStatus.FILLED if cum_qty > 0 else OrdStatus.CANCELED
    return OrdStatus.PARTIALLY_FILLED if cum_qty > 0 else OrdStatus.NEW


# --- (order_id, owner, cl_ord_id, symbol) of each event kind, for the events row --------

_Keys = tuple[int | None, str | None, str | None, str | None]


def _spec_keys(e: Any) -> _Keys:
    s: OrderSpec = e.spec
    return s.order_id, s.owner, s.cl_ord_id, s.symbol


def _cancelled_keys(e: OrderCancelled) -> _Keys:
    s = e.spec
    return s.order_id, s.owner, e.cl_ord_id, s.symbol


def _rejected_keys(e: OrderRejected) -> _Keys:
    r = e.request
    return None, r.owner, r.cl_ord_id, r.symbol


def _trade_keys(e: Trade) -> _Keys:
    return None, None, None, e.symbol


def _cancel_rejected_keys(e: CancelRejected) -> _Keys:
    if e.spec is not None:
        return e.spec.order_id, e.owner, e.cl_ord_id, e.spec.symbol
    symbol = e.request.symbol if e.request is not None else None
    return None, e.owner, e.cl_ord_id, symbol or None


def _status_keys(e: OrderStatusReport) -> _Keys:
    order_id = e.spec.order_id if e.spec is not None else None
    return order_id, e.owner, None, e.symbol or None


def _mass_cancel_keys(e: MassCancelDone) -> _Keys:
    return None, e.owner, e.cl_ord_id, e.symbol


def _trading_status_keys(e: TradingStatusChanged) -> _Keys:
    return None, None, None, e.symbol


def _instrument_keys(e: InstrumentAdded) -> _Keys:
    return None, None, None, e.instrument.symbol


_KEYS: dict[type[Any], Callable[[Any], _Keys]] = {
    OrderAccepted: _spec_keys,
    OrderTriggered: _spec_keys,
    OrderReplaced: _spec_keys,
    OrderRestated: _spec_keys,
    OrderExpired: _spec_keys,
    OrderCancelled: _cancelled_keys,
    OrderRejected: _rejected_keys,
    Trade: _trade_keys,
    CancelRejected: _cancel_rejected_keys,
    OrderStatusReport: _status_keys,
    MassCancelDone: _mass_cancel_keys,
    TradingStatusChanged: _trading_status_keys,
    InstrumentAdded: _instrument_keys,
}


def event_keys(event: Event) -> _Keys:
    """``(order_id, owner, cl_ord_id, symbol)`` of an event's journal row.

    ``cl_ord_id`` is the ClOrdID the event answers: for a cancel, the cancel request's;
    NULL for status reports (a query does not use up a ClOrdID) and venue events.
    """
    return _KEYS[type(event)](event)


@dataclass(slots=True)
class Rows:
    """The rows of one batch, ready for executemany."""

    commands: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    trades: list[Row] = field(default_factory=list)
    orders: dict[int, Row] = field(default_factory=dict)  # last state per order
    instruments: dict[str, Row] = field(default_factory=dict)  # last definition per symbol
    instrument_status: dict[str, str] = field(default_factory=dict)  # status-only changes


def build_rows(journal: Iterable[tuple[int, Command, list[Event]]]) -> Rows:
    """Convert journaled ``(cmd_no, command, events)`` into table rows."""
    rows = Rows()
    commands, events_rows = rows.commands, rows.events
    command_kinds, event_kinds, keys = COMMAND_KINDS, EVENT_KINDS, _KEYS
    for cmd_no, cmd, events in journal:
        commands.append(
            {
                "cmd_no": cmd_no,
                "ts_ns": cmd.ts_ns,
                "kind": command_kinds[type(cmd)],
                "payload": encode_command(cmd),
            }
        )
        for e in events:
            cls = type(e)
            order_id, owner, cl_ord_id, symbol = keys[cls](e)
            events_rows.append(
                {
                    "seq": e.seq,
                    "ts_ns": e.ts_ns,
                    "kind": event_kinds[cls],
                    "order_id": order_id,
                    "owner": owner,
                    "cl_ord_id": cl_ord_id,
                    "symbol": symbol,
                    "payload": encode_event(e),
                }
            )
            _apply(rows, e)
    return rows


def _apply(rows: Rows, e: Event) -> None:
    """Fold one event into the orders / trades / instruments rows."""
    orders = rows.orders
    match e:
        case OrderAccepted(spec=spec) | OrderTriggered(spec=spec):
            orders[spec.order_id] = order_row(spec, OrdStatus.NEW, 0, spec.qty, 0, e.ts_ns, e.seq)
        case Trade():
            for fill in (e.buy, e.sell):
                status = OrdStatus.FILLED if fill.leaves_qty == 0 else OrdStatus.PARTIALLY_FILLED
                orders[fill.spec.order_id] = order_row(
                    fill.spec,
                    status,
                    fill.cum_qty,
                    fill.leaves_qty,
                    fill.cum_notional,
                    e.ts_ns,
                    e.seq,
                )
            b, s = e.buy.spec, e.sell.spec
            rows.trades.append(
                {
                    "trade_id": e.trade_id,
                    "seq": e.seq,
                    "ts_ns": e.ts_ns,
                    "symbol": e.symbol,
                    "price": e.price,
                    "qty": e.qty,
                    "aggressor": e.aggressor.value,
                    "buy_order_id": b.order_id,
                    "buy_owner": b.owner,
                    "buy_account": b.account,
                    "buy_cl_ord_id": b.cl_ord_id,
                    "sell_order_id": s.order_id,
                    "sell_owner": s.owner,
                    "sell_account": s.account,
                    "sell_cl_ord_id": s.cl_ord_id,
                }
            )
        case OrderCancelled(spec=spec):
            filled = e.reason is CancelReason.REPLACED_TO_FILLED
            orders[spec.order_id] = order_row(
                replaced_to_filled(e) if filled else spec,
                OrdStatus.FILLED if filled else OrdStatus.CANCELED,
                e.cum_qty,
                0,
                e.cum_notional,
                e.ts_ns,
                e.seq,
            )
        case OrderExpired(spec=spec):
            orders[spec.order_id] = order_row(
                spec, OrdStatus.EXPIRED, e.cum_qty, 0, e.cum_notional, e.ts_ns, e.seq
            )
        case OrderReplaced(spec=spec) | OrderRestated(spec=spec):
            status = _working_status(e.cum_qty, e.leaves_qty)
            orders[spec.order_id] = order_row(
                spec, status, e.cum_qty, e.leaves_qty, e.cum_notional, e.ts_ns, e.seq
            )
        case InstrumentAdded(instrument=inst):
            rows.instruments[inst.symbol] = instrument_row(inst)
            rows.instrument_status.pop(inst.symbol, None)
        case TradingStatusChanged(symbol=symbol, status=status):
            pending = rows.instruments.get(symbol)
            if pending is not None:
                pending["status"] = status.value
            else:
                rows.instrument_status[symbol] = status.value
        case _:
            pass  # rejections, cancel rejects, status reports, mass cancel summaries


# --- tuple rows, for the store's prepared executemany -----------------------------------

COMMAND_COLUMNS = ("cmd_no", "ts_ns", "kind", "payload")
EVENT_COLUMNS = ("seq", "ts_ns", "kind", "order_id", "owner", "cl_ord_id", "symbol", "payload")
TRADE_COLUMNS = (
    "trade_id",
    "seq",
    "ts_ns",
    "symbol",
    "price",
    "qty",
    "aggressor",
    "buy_order_id",
    "buy_owner",
    "buy_account",
    "buy_cl_ord_id",
    "sell_order_id",
    "sell_owner",
    "sell_account",
    "sell_cl_ord_id",
)
ORDER_COLUMNS = (
    "order_id",
    "owner",
    "cl_ord_id",
    "account",
    "symbol",
    "side",
    "ord_type",
    "tif",
    "qty",
    "price",
    "stop_price",
    "expire_ns",
    "status",
    "cum_qty",
    "leaves_qty",
    "cum_notional",
    "entered_ns",
    "updated_ns",
    "last_seq",
)
INSTRUMENT_COLUMNS = (
    "symbol",
    "tick_size",
    "lot_size",
    "min_qty",
    "max_qty",
    "price_band_pct",
    "reference_price",
    "status",
    "description",
)

_S_NEW = OrdStatus.NEW.value
_S_PARTIAL = OrdStatus.PARTIALLY_FILLED.value
_S_FILLED = OrdStatus.FILLED.value
_S_CANCELED = OrdStatus.CANCELED.value
_REPLACED_TO_FILLED = CancelReason.REPLACED_TO_FILLED
_S_EXPIRED = OrdStatus.EXPIRED.value


@dataclass(slots=True)
class TupleRows:
    """The rows of one batch as tuples in the ``*_COLUMNS`` order (what the store writes).

    Same content as :class:`Rows`; instruments stay dicts (rare).
    """

    commands: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    trades: list[tuple[Any, ...]] = field(default_factory=list)
    orders: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # last state per order
    instruments: dict[str, Row] = field(default_factory=dict)
    instrument_status: dict[str, str] = field(default_factory=dict)


def _order_tuple(
    spec: OrderSpec,
    status: str,
    cum_qty: int,
    leaves_qty: int,
    cum_notional: int,
    updated_ns: int,
    seq: int,
) -> tuple[Any, ...]:
    return (
        spec.order_id,
        spec.owner,
        spec.cl_ord_id,
        spec.account,
        spec.symbol,
        spec.side._value_,
        spec.ord_type._value_,
        spec.tif._value_,
        spec.qty,
        spec.price,
        spec.stop_price,
        spec.expire_ns,
        status,
        cum_qty,
        leaves_qty,
        cum_notional,
        spec.entered_ns,
        updated_ns,
        seq,
    )


def build_tuples(journal: Iterable[tuple[int, Command, list[Event]]]) -> TupleRows:
    """Like :func:`build_rows`, with tuple rows (no per-row dicts, no enum descriptors)."""
    rows = TupleRows()
    commands, events_rows, trades, orders = rows.commands, rows.events, rows.trades, rows.orders
    command_kinds, event_kinds, keys = COMMAND_KINDS, EVENT_KINDS, _KEYS
    enc_cmd, enc_event = encode_command, encode_event
    order_tuple = _order_tuple
    for cmd_no, cmd, events in journal:
        commands.append((cmd_no, cmd.ts_ns, command_kinds[type(cmd)], enc_cmd(cmd)))
        ev: Any
        for ev in events:
            e = ev
            cls = type(e)
            order_id, owner, cl_ord_id, symbol = keys[cls](e)
            seq = e.seq
            ts_ns = e.ts_ns
            events_rows.append(
                (seq, ts_ns, event_kinds[cls], order_id, owner, cl_ord_id, symbol, enc_event(e))
            )
            if cls is OrderAccepted or cls is OrderTriggered:
                spec = e.spec
                orders[spec.order_id] = order_tuple(spec, _S_NEW, 0, spec.qty, 0, ts_ns, seq)
            elif cls is Trade:
                buy, sell = e.buy, e.sell
                for fill in (buy, sell):
                    leaves = fill.leaves_qty
                    orders[fill.spec.order_id] = order_tuple(
                        fill.spec,
                        _S_FILLED if leaves == 0 else _S_PARTIAL,
                        fill.cum_qty,
                        leaves,
                        fill.cum_notional,
                        ts_ns,
                        seq,
                    )
                b, s = buy.spec, sell.spec
                trades.append(
                    (
                        e.trade_id,
                        seq,
                        ts_ns,
                        symbol,
                        e.price,
                        e.qty,
                        e.aggressor._value_,
                        b.order_id,
                        b.owner,
                        b.account,
                        b.cl_ord_id,
                        s.order_id,
                        s.owner,
                        s.account,
                        s.cl_ord_id,
                    )
                )
            elif cls is OrderCancelled or cls is OrderExpired:
                spec = e.spec
                status = _S_CANCELED if cls is OrderCancelled else _S_EXPIRED
                if cls is OrderCancelled and e.reason is _REPLACED_TO_FILLED:
                    spec, status = replaced_to_filled(e), _S_FILLED
                orders[spec.order_id] = order_tuple(
                    spec,
                    status,
                    e.cum_qty,
                    0,
                    e.cum_notional,
                    ts_ns,
                    seq,
                )
            elif cls is OrderReplaced or cls is OrderRestated:
                spec = e.spec
                cum, leaves = e.cum_qty, e.leaves_qty
                orders[spec.order_id] = order_tuple(
                    spec,
                    _working_status(cum, leaves).value,
                    cum,
                    leaves,
                    e.cum_notional,
                    ts_ns,
                    seq,
                )
            elif cls is InstrumentAdded:
                inst = e.instrument
                rows.instruments[inst.symbol] = instrument_row(inst)
                rows.instrument_status.pop(inst.symbol, None)
            elif cls is TradingStatusChanged:
                status = e.status.value
                pending = rows.instruments.get(e.symbol)
                if pending is not None:
                    pending["status"] = status
                else:
                    rows.instrument_status[e.symbol] = status
    return rows
