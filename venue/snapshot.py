"""Immutable views of the engine's state: book levels, orders, and whole-engine snapshots.

:class:`EngineSnapshot` is what the persistence layer stores to restart the engine without
replaying the whole journal: ``MatchingEngine.restore(snapshot)`` rebuilds the same books in
the same priority, and the counters (order id, trade id, event seq) continue. ``to_json`` /
``from_json`` give its stored text (Decimals and enums as strings).

Format version 2 writes each order as one positional array (:data:`ORDER_ROW`), not an
object: at 1,000,000 resting orders the text is about a third of version 1's, and reading
it builds the specs through generated constructors instead of member-by-member decoding
(see specs/persistence.md for the figures). Version 1 is still read.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from sys import intern
from typing import Any, Final

import orjson

from venue.drafts import fast_constructor
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
    replace) that finished an order becomes its current ClOrdID in FIX. A ClOrdID names one
    order, the last it was given to; ``finished_by`` keeps, for every order finished by a
    request of its own ClOrdID, that ClOrdID ``(order id, ClOrdID)``, which a status report
    names even when the ClOrdID has since gone to another order (a mass cancel of several).
    """

    instruments: tuple[Instrument, ...]
    last_prices: dict[str, int]
    orders: tuple[OrderView, ...]
    next_order_id: int
    next_trade_id: int
    next_seq: int
    done_orders: tuple[OrderView, ...] = field(default=())
    done_aliases: tuple[tuple[str, str, int], ...] = field(default=())
    finished_by: tuple[tuple[int, str], ...] = field(default=())

    def _head(self) -> dict[str, Any]:
        """The first line of the stored text, but the row counts: everything but the orders
        (JSON-safe: str, int, bool, None, list, dict)."""
        return {
            "version": SNAPSHOT_VERSION,
            "instruments": [_instrument_to_dict(i) for i in self.instruments],
            "last_prices": dict(self.last_prices),
            "done_aliases": [list(alias) for alias in self.done_aliases],
            "finished_by": [list(pair) for pair in self.finished_by],
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "next_seq": self.next_seq,
        }

    @classmethod
    def _from_head(
        cls, head: dict[str, Any], orders: tuple[OrderView, ...], done: tuple[OrderView, ...]
    ) -> EngineSnapshot:
        """A snapshot of what :meth:`_head` holds (of either version) and these orders."""
        return cls(
            instruments=tuple(_instrument_from_dict(i) for i in head["instruments"]),
            last_prices={str(k): int(v) for k, v in head["last_prices"].items()},
            orders=orders,
            next_order_id=int(head["next_order_id"]),
            next_trade_id=int(head["next_trade_id"]),
            next_seq=int(head["next_seq"]),
            done_orders=done,
            done_aliases=tuple(
                (str(a[0]), str(a[1]), int(a[2])) for a in head.get("done_aliases", ())
            ),
            finished_by=tuple((int(f[0]), str(f[1])) for f in head.get("finished_by", ())),
        )

    def to_json(self) -> str:
        """The stored text: compact JSON lines. The first holds everything but the orders,
        with ``"rows": [live orders, finished orders]``; each next line is
        an array of up to :data:`ROWS_PER_LINE` order arrays, the live orders' first.

        Lines, so that reading builds the orders a line at a time: a million orders parsed
        at once left the venue 780 MB larger than the orders themselves (freed memory that
        the allocator could not give back). Written by orjson; what orjson refuses (an
        integer beyond 64 bits, a quantity the FIX layer accepted; a string with a lone
        surrogate) is written by the standard encoder, and the first line says so
        (``"std_json": true``), so that :meth:`from_json` reads every line with the standard
        parser, which keeps such integers exact.
        """
        head = self._head()
        head["rows"] = [len(self.orders), len(self.done_orders)]
        views = (*self.orders, *self.done_orders)

        def chunks() -> Iterator[list[tuple[Any, ...]]]:
            for i in range(0, len(views), ROWS_PER_LINE):
                yield [_view_to_row(v) for v in views[i : i + ROWS_PER_LINE]]

        try:
            return b"\n".join([orjson.dumps(head), *map(orjson.dumps, chunks())]).decode()
        except TypeError:
            head["std_json"] = True
            return "\n".join(
                json.dumps(line, separators=(",", ":")) for line in (head, *chunks())
            )

    @classmethod
    def from_json(cls, text: str | bytes) -> EngineSnapshot:
        """Inverse of :meth:`to_json` (and of version 1's text, one JSON object); raises
        ValueError, KeyError or TypeError on text that is not a readable snapshot."""
        if isinstance(text, bytes):
            text = text.decode()
        lines = _lines(text)
        first = next(lines, "")
        try:
            head = orjson.loads(first)
        except orjson.JSONDecodeError:
            head = json.loads(first)  # the standard encoder's escapes orjson refuses, or garbage
        if not isinstance(head, dict):
            raise ValueError("engine snapshot is not a JSON object")
        version = head.get("version")
        if type(version) is not int or version not in (1, SNAPSHOT_VERSION):
            raise ValueError(f"unsupported engine snapshot version {version!r}")
        if version == 1:
            data = json.loads(text)  # exact integers: version 1 did not say
            return cls._from_head(
                data,
                tuple(map(_view_from_dict, data["orders"])),
                tuple(map(_view_from_dict, data.get("done_orders", ()))),
            )
        rows = head.get("rows")
        if not (isinstance(rows, list) and len(rows) == 2 and all(type(n) is int for n in rows)):
            raise ValueError(f"engine snapshot: bad row counts {rows!r}")
        load = json.loads if head.get("std_json") is True else orjson.loads
        views: list[OrderView] = []
        for line in lines:
            views.extend(map(_view_from_row, load(line)))  # the line's arrays go at once
        live = rows[0]
        if len(views) != live + rows[1]:
            raise ValueError(f"engine snapshot: {len(views)} orders, its first line says {rows}")
        return cls._from_head(head, tuple(views[:live]), tuple(views[live:]))


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text``, one at a time (no list of all of them at once)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            end = size
        yield text[start:end]
        start = end + 1


ROWS_PER_LINE: Final = 10_000
"""Order arrays per line of the stored text."""

SNAPSHOT_VERSION: Final = 2

ORDER_ROW: Final = (
    *OrderSpec.__slots__,  # order_id ... entered_ns, enums by value
    "cum_qty",
    "leaves_qty",
    "cum_notional",
    "status",
    "displayed_qty",
    "triggered",
)
"""The members of an order's array in a version 2 snapshot, in order."""

_new_spec = fast_constructor(OrderSpec)  # positional, in OrderSpec's field order
_new_view = fast_constructor(OrderView)
_SIDES: Final = {m.value: m for m in Side}
_ORD_TYPES: Final = {m.value: m for m in OrdType}
_TIFS: Final = {m.value: m for m in TimeInForce}
_STP_MODES: Final = {m.value: m for m in StpMode}
_STATUSES: Final = {m.value: m for m in OrdStatus}


def _view_to_row(view: OrderView) -> tuple[Any, ...]:
    s = view.spec
    return (
        s.order_id, s.owner, s.cl_ord_id, s.account, s.symbol, s.side._value_,
        s.ord_type._value_, s.tif._value_, s.qty, s.price, s.stop_price, s.expire_ns,
        s.display_qty, s.post_only, s.min_qty, s.stp_group, s.stp_mode._value_, s.entered_ns,
        view.cum_qty, view.leaves_qty, view.cum_notional, view.status._value_,
        view.displayed_qty, view.triggered,
    )  # fmt: skip


_INT, _STR, _BOOL, _NONE = int, str, bool, type(None)
_ROW_TYPES: Final = frozenset(
    (_INT, _STR, _STR, _STR, _STR, _STR, _STR, _STR, _INT, price, stop, expire, display, _BOOL,
     min_qty, _STR, _STR, _INT, _INT, _INT, _INT, _STR, _INT, _BOOL)
    for price, stop, expire, display, min_qty in itertools.product((_INT, _NONE), repeat=5)
)  # fmt: skip
"""The member types an order's array may have (five members may be null)."""


def _view_from_row(row: Sequence[Any]) -> OrderView:
    if tuple(map(type, row)) not in _ROW_TYPES:
        raise ValueError(f"engine snapshot: order {row!r} has a member of the wrong type")
    (order_id, owner, cl_ord_id, account, symbol, side, ord_type, tif, qty, price, stop_price,
     expire_ns, display_qty, post_only, min_qty, stp_group, stp_mode, entered_ns,
     cum_qty, leaves_qty, cum_notional, status, displayed_qty, triggered) = row  # fmt: skip
    # one string object per owner, account and symbol, as in a venue that built its orders
    # itself (a million separate copies would be about 180 MB)
    spec = _new_spec(
        order_id, intern(owner), cl_ord_id, intern(account), intern(symbol), _SIDES[side],
        _ORD_TYPES[ord_type], _TIFS[tif], qty, price, stop_price, expire_ns, display_qty,
        post_only, min_qty, stp_group, _STP_MODES[stp_mode], entered_ns,
    )  # fmt: skip
    return _new_view(
        spec, cum_qty, leaves_qty, cum_notional, _STATUSES[status], displayed_qty, triggered
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


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def spec_from_dict(data: dict[str, Any]) -> OrderSpec:
    """An OrderSpec from a version 1 snapshot's object."""
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
