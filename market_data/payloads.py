"""JSON payloads of the market data feed (see specs/market-data.md).

Everything here is pure: integer ticks and events in, ``bytes`` out. Prices leave as
decimal strings in the instrument's precision, formatted from integers (never floats) by
:class:`PriceFormatter`, which gives the same strings as
:meth:`venue.instruments.Instrument.format_price`, several times faster.

Encoding uses :func:`json.dumps` with compact separators, except the trades batch, whose
hot loop is written out by hand (all its fields are integers or our own decimal strings,
so no escaping is needed); benchmarks/md_publisher.py measures both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from venue.events import Trade
from venue.instruments import Instrument
from venue.types import Side

SCHEMA_VERSION = 1
"""``v`` field of every payload; bumped on an incompatible change."""

VWAP_EXTRA_DIGITS = 6
"""VWAP is given with the instrument's price decimals plus this many digits."""

_AGGRESSOR = {Side.BUY: "buy", Side.SELL: "sell"}


class LevelLike(Protocol):
    """One aggregated price level, best first (``venue.snapshot.Level`` fits)."""

    @property
    def price(self) -> int: ...

    @property
    def qty(self) -> int: ...

    @property
    def orders(self) -> int: ...


LevelTuple = tuple[int, int, int]
"""(price ticks, quantity, order count): how the publisher remembers a level."""


def dumps(obj: Any) -> bytes:
    """Compact JSON (no spaces), UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class PriceFormatter:
    """Turns integer ticks into the instrument's decimal string with integer arithmetic.

    A tick size is ``m * 10**-d`` for integers ``m`` and ``d`` (0.25 = 25e-2), so a price
    of ``t`` ticks is ``t * m`` units of ``10**-d``: split that integer at ``d`` digits.
    """

    __slots__ = ("_decimals", "_mult", "_scale")

    def __init__(self, instrument: Instrument) -> None:
        decimals = instrument.price_decimals
        mult = instrument.tick_size.scaleb(decimals)
        if mult != mult.to_integral_value():  # cannot happen for a valid Instrument
            raise ValueError(f"{instrument.symbol}: tick size {instrument.tick_size} not exact")
        self._decimals = decimals
        self._mult = int(mult)
        self._scale = 10**decimals

    @property
    def decimals(self) -> int:
        return self._decimals

    @property
    def mult(self) -> int:
        """The tick size in units of 10**-decimals."""
        return self._mult

    def __call__(self, ticks: int) -> str:
        units = ticks * self._mult
        if not self._decimals:
            return str(units)
        sign = "-" if units < 0 else ""
        whole, frac = divmod(abs(units), self._scale)
        return f"{sign}{whole}.{frac:0{self._decimals}d}"


@dataclass(slots=True)
class TradeStats:
    """Session statistics of one symbol, accumulated from Trade events in integers.

    ``turnover_ticks`` is the sum of price-in-ticks x quantity, so turnover and VWAP are
    exact: turnover = turnover_ticks x tick_size, VWAP = turnover / volume.
    """

    open: int | None = None
    high: int | None = None
    low: int | None = None
    last: int | None = None
    last_qty: int = 0
    volume: int = 0
    turnover_ticks: int = 0
    count: int = 0
    trade_seq: int = 0  # feed sequence number of the last trade counted

    def add(self, price: int, qty: int, trade_seq: int) -> None:
        if self.open is None:
            self.open = price
        self.high = price if self.high is None else max(self.high, price)
        self.low = price if self.low is None else min(self.low, price)
        self.last = price
        self.last_qty = qty
        self.volume += qty
        self.turnover_ticks += price * qty
        self.count += 1
        self.trade_seq = trade_seq


def vwap_string(fmt: PriceFormatter, stats: TradeStats) -> str | None:
    """VWAP rounded half-even to price decimals + VWAP_EXTRA_DIGITS, or None.

    Exact integer arithmetic: VWAP x 10**places = turnover_ticks x m x 10**6 / volume,
    where the tick size is m x 10**-decimals (see PriceFormatter)."""
    if not stats.volume:
        return None
    return _round_half_even(
        stats.turnover_ticks * fmt.mult * 10**VWAP_EXTRA_DIGITS,
        stats.volume,
        fmt.decimals + VWAP_EXTRA_DIGITS,
    )


def _round_half_even(numerator: int, denominator: int, places: int) -> str:
    """``numerator / denominator / 10**places`` as a string with ``places`` decimals."""
    q, r = divmod(numerator, denominator)  # value = q + r/denominator, 0 <= r < denominator
    if 2 * r > denominator or (2 * r == denominator and q % 2):
        q += 1
    sign = "-" if q < 0 else ""
    whole, frac = divmod(abs(q), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


@dataclass(slots=True)
class SymbolFeed:
    """Per-symbol publishing state: formatter, sequence counters, last published views."""

    instrument: Instrument
    fmt: PriceFormatter
    status: str
    stats: TradeStats = field(default_factory=TradeStats)
    trade_seq: int = 0  # last trade sequence number assigned (published or lost)
    trades_sent: int = 0  # last trade sequence number covered by an encoded message
    book_seq: int = 0
    bbo_seq: int = 0
    stats_seq: int = 0
    status_seq: int = 0
    ts_ns: int = 0  # timestamp of the last event that touched the symbol
    pending: list[tuple[int, Trade]] = field(default_factory=list)  # (trade seq, trade)
    lost: list[list[int]] = field(default_factory=list)  # [first, last] seq dropped
    book_view: tuple[tuple[LevelTuple, ...], tuple[LevelTuple, ...]] | None = None
    bbo_view: tuple[LevelTuple | None, LevelTuple | None] | None = None
    stats_published: int = -1  # stats.count at the last stats publish
    last_book: bytes | None = None
    last_bbo: bytes | None = None
    last_stats: bytes | None = None
    last_status: bytes | None = None


def encode_trades(
    feed: SymbolFeed,
    epoch: int,
    *,
    first_seq: int,
    last_seq: int,
    trades: Sequence[tuple[int, Trade]],
    lost: Sequence[tuple[int, int]],
) -> bytes:
    """One trades message covering trade sequence numbers ``first_seq..last_seq``."""
    fmt = feed.fmt
    items = [
        f'{{"seq":{seq},"trade_id":{t.trade_id},"price":"{fmt(t.price)}","qty":{t.qty},'
        f'"aggressor":"{_AGGRESSOR[t.aggressor]}","ts_ns":{t.ts_ns}}}'
        for seq, t in trades
    ]
    lost_text = ",".join(f"[{lo},{hi}]" for lo, hi in lost)
    head = (
        f'{{"v":{SCHEMA_VERSION},"symbol":{json.dumps(feed.instrument.symbol)},'
        f'"epoch":{epoch},"first_seq":{first_seq},"last_seq":{last_seq},'
    )
    return f'{head}"lost":[{lost_text}],"trades":[{",".join(items)}]}}'.encode()


def _level_obj(fmt: PriceFormatter, level: LevelTuple) -> dict[str, Any]:
    return {"price": fmt(level[0]), "qty": level[1], "orders": level[2]}


def encode_book(
    feed: SymbolFeed,
    epoch: int,
    depth: int,
    bids: Sequence[LevelTuple],
    asks: Sequence[LevelTuple],
) -> bytes:
    fmt = feed.fmt
    return dumps(
        {
            "v": SCHEMA_VERSION,
            "symbol": feed.instrument.symbol,
            "epoch": epoch,
            "seq": feed.book_seq,
            "depth": depth,
            "ts_ns": feed.ts_ns,
            "bids": [_level_obj(fmt, lv) for lv in bids],
            "asks": [_level_obj(fmt, lv) for lv in asks],
        }
    )


def book_delta(old: Sequence[LevelTuple], new: Sequence[LevelTuple]) -> list[LevelTuple]:
    """Changes that turn side view ``old`` into ``new``: changed or new levels, and
    removed levels with quantity 0 and 0 orders. Ordered by position in ``new`` first,
    then removals."""
    before = {lv[0]: lv for lv in old}
    after = {lv[0] for lv in new}
    changes = [lv for lv in new if before.get(lv[0]) != lv]
    changes.extend((lv[0], 0, 0) for lv in old if lv[0] not in after)
    return changes


def encode_book_delta(
    feed: SymbolFeed,
    epoch: int,
    depth: int,
    bids: Sequence[LevelTuple],
    asks: Sequence[LevelTuple],
) -> bytes:
    fmt = feed.fmt
    return dumps(
        {
            "v": SCHEMA_VERSION,
            "symbol": feed.instrument.symbol,
            "epoch": epoch,
            "seq": feed.book_seq,
            "prev_seq": feed.book_seq - 1,
            "depth": depth,
            "ts_ns": feed.ts_ns,
            "bids": [[fmt(p), q, n] for p, q, n in bids],
            "asks": [[fmt(p), q, n] for p, q, n in asks],
        }
    )


def encode_bbo(
    feed: SymbolFeed, epoch: int, bid: LevelTuple | None, ask: LevelTuple | None
) -> bytes:
    fmt = feed.fmt
    return dumps(
        {
            "v": SCHEMA_VERSION,
            "symbol": feed.instrument.symbol,
            "epoch": epoch,
            "seq": feed.bbo_seq,
            "ts_ns": feed.ts_ns,
            "bid": fmt(bid[0]) if bid else None,
            "bid_qty": bid[1] if bid else 0,
            "bid_orders": bid[2] if bid else 0,
            "ask": fmt(ask[0]) if ask else None,
            "ask_qty": ask[1] if ask else 0,
            "ask_orders": ask[2] if ask else 0,
        }
    )


def encode_stats(feed: SymbolFeed, epoch: int) -> bytes:
    st = feed.stats
    fmt = feed.fmt

    def price(value: int | None) -> str | None:
        return None if value is None else fmt(value)

    return dumps(
        {
            "v": SCHEMA_VERSION,
            "symbol": feed.instrument.symbol,
            "epoch": epoch,
            "seq": feed.stats_seq,
            "trade_seq": st.trade_seq,
            "ts_ns": feed.ts_ns,
            "open": price(st.open),
            "high": price(st.high),
            "low": price(st.low),
            "last": price(st.last),
            "last_qty": st.last_qty,
            "volume": st.volume,
            "turnover": fmt(st.turnover_ticks),
            "vwap": vwap_string(fmt, st),
            "trades": st.count,
        }
    )


def encode_symbol_status(feed: SymbolFeed, epoch: int) -> bytes:
    inst = feed.instrument
    return dumps(
        {
            "v": SCHEMA_VERSION,
            "symbol": inst.symbol,
            "epoch": epoch,
            "seq": feed.status_seq,
            "ts_ns": feed.ts_ns,
            "status": feed.status,
            "tick_size": f"{inst.tick_size.normalize():f}",  # "2.50" in the CSV -> "2.5"
            "price_decimals": inst.price_decimals,
            "lot_size": inst.lot_size,
            "min_qty": inst.min_qty,
            "max_qty": inst.max_qty,
            "description": inst.description,
        }
    )


def encode_venue_status(
    status: str, epoch: int, ts_ns: int, reason: str, symbols: Sequence[str] = ()
) -> bytes:
    return dumps(
        {
            "v": SCHEMA_VERSION,
            "status": status,
            "epoch": epoch,
            "ts_ns": ts_ns,
            "reason": reason,
            "symbols": list(symbols),
        }
    )
