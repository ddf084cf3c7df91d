"""Instruments and their trading rules, and the CSV file operators define them in.

The CSV has a header row; ``symbol`` and ``tick_size`` are required, every other column
is optional (see specs/instruments.md):

    symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description

Prices in the file are decimal strings; inside the venue they become integer ticks.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Final, TextIO

from venue.types import Price, Qty, TradingStatus

SYMBOL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/]{0,31}")  # fullmatch: "$" would take "X\n"
"""What an instrument symbol may be (a topic level of the market data once "/" is escaped)."""
COLUMNS = (
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


# Price conversions are on the FIX hot path (every order in, every ExecutionReport out) and
# Decimal arithmetic costs microseconds; a venue sees the same few thousand prices over and
# over, so the results are cached per (tick size, value).


@lru_cache(maxsize=64)
def _decimals(tick_size: Decimal) -> int:
    exponent = tick_size.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


@lru_cache(maxsize=1 << 16)
def _price_text(tick_size: Decimal, ticks: int) -> str:
    return f"{(tick_size * ticks).quantize(Decimal(1).scaleb(-_decimals(tick_size))):f}"


def _ticks(tick_size: Decimal, price: Decimal | str) -> Price:
    try:
        value = Decimal(price)
    except (InvalidOperation, TypeError) as exc:
        raise PriceError(f"{price!r} is not a decimal price") from exc
    if not value.is_finite():
        raise PriceError(f"{price!r} is not a finite price")
    try:
        ticks, remainder = divmod(value, tick_size)
    except InvalidOperation as exc:  # a quotient beyond the context's 28 digits
        raise PriceError(f"price {value} is out of range") from exc
    if remainder != 0:
        raise PriceError(f"price {value} is not a multiple of tick size {tick_size}")
    return Price(int(ticks))


@lru_cache(maxsize=1 << 16)
def _ticks_of_text(tick_size: Decimal, price: str) -> Price:
    return _ticks(tick_size, price)  # a PriceError is raised again each time, not cached


MAX_QTY: Final = 1_000_000_000
"""The largest quantity (OrderQty, MaxFloor, MinQty) the venue takes."""
MAX_PRICE_TICKS: Final = 9_000_000_000
"""The largest price or stop price in ticks the venue takes: with :data:`MAX_QTY`, every
notional in ticks (price x quantity, summed over an order's fills) fits the store's 64-bit
integer columns."""


class InstrumentError(ValueError):
    """An instrument definition is invalid (the message names file, line and column)."""


class PriceError(ValueError):
    """A decimal price cannot be expressed in the instrument's ticks."""


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_size: int = 1
    min_qty: int = 1
    max_qty: int | None = None
    price_band_pct: Decimal | None = None  # None: no price band
    reference_price: Price | None = None  # ticks; band reference until the first trade
    status: TradingStatus = TradingStatus.OPEN
    description: str = ""

    def __post_init__(self) -> None:
        if not SYMBOL_RE.fullmatch(self.symbol):
            raise InstrumentError(f"invalid symbol {self.symbol!r}")
        if not isinstance(self.tick_size, Decimal) or not self.tick_size.is_finite():
            raise InstrumentError(f"{self.symbol}: tick_size must be a finite decimal number")
        if self.tick_size <= 0:
            raise InstrumentError(f"{self.symbol}: tick_size must be > 0")
        if self.lot_size < 1 or self.min_qty < 1:
            raise InstrumentError(f"{self.symbol}: lot_size and min_qty must be >= 1")
        if self.max_qty is not None and self.max_qty < self.min_qty:
            raise InstrumentError(f"{self.symbol}: max_qty must be >= min_qty")
        for name, qty in (("lot_size", self.lot_size), ("min_qty", self.min_qty),
                          ("max_qty", self.max_qty)):
            if qty is not None and qty > MAX_QTY:  # no order can be larger
                raise InstrumentError(f"{self.symbol}: {name} must be <= {MAX_QTY}")
        if self.reference_price is not None and not 0 < self.reference_price <= MAX_PRICE_TICKS:
            raise InstrumentError(
                f"{self.symbol}: reference_price must be > 0 and at most {MAX_PRICE_TICKS} ticks"
            )
        if self.price_band_pct is not None and not self.price_band_pct.is_finite():
            raise InstrumentError(f"{self.symbol}: price_band_pct must be a finite number")
        if self.price_band_pct is not None and self.price_band_pct <= 0:
            raise InstrumentError(f"{self.symbol}: price_band_pct must be > 0")
        if "\x00" in self.description:  # the store's text columns cannot hold one
            raise InstrumentError(f"{self.symbol}: description must not contain a NUL character")

    @property
    def price_decimals(self) -> int:
        """Digits after the decimal point needed to print any price of this instrument."""
        return _decimals(self.tick_size)

    def to_ticks(self, price: Decimal | str) -> Price:
        """Convert a decimal price to ticks; raises PriceError when off tick."""
        if type(price) is str:
            return _ticks_of_text(self.tick_size, price)
        return _ticks(self.tick_size, price)

    def to_decimal(self, ticks: int) -> Decimal:
        return Decimal(_price_text(self.tick_size, ticks))

    def format_price(self, ticks: int) -> str:
        """The price as a decimal string with the instrument's precision (no float noise)."""
        return _price_text(self.tick_size, ticks)

    def check_qty(self, qty: Qty) -> str | None:
        """Return why ``qty`` is not acceptable for an order, or None."""
        if qty <= 0:
            return f"quantity {qty} must be positive"
        if qty % self.lot_size:
            return f"quantity {qty} is not a multiple of lot size {self.lot_size}"
        if qty < self.min_qty:
            return f"quantity {qty} is below the minimum {self.min_qty}"
        if self.max_qty is not None and qty > self.max_qty:
            return f"quantity {qty} is above the maximum {self.max_qty}"
        return None

    def with_status(self, status: TradingStatus) -> Instrument:
        return replace(self, status=status)


def _parse_row(row: dict[str, str], where: str) -> Instrument:
    def col(name: str) -> str:
        return (row.get(name) or "").strip()

    def integer(name: str, default: int | None) -> int | None:
        text = col(name)
        if not text:
            return default
        if not (text.isascii() and text.lstrip("+-").isdigit()):  # int() takes "1_0", "\xb2"
            raise InstrumentError(f"{where}: {name}: expected an integer, got {text!r}")
        return int(text)

    def decimal(name: str) -> Decimal | None:
        text = col(name)
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise InstrumentError(f"{where}: {name}: expected a decimal, got {text!r}") from None
        if not value.is_finite():
            raise InstrumentError(f"{where}: {name}: expected a finite decimal, got {text!r}")
        return value

    symbol = col("symbol")
    if not symbol:
        raise InstrumentError(f"{where}: symbol: missing")
    tick = decimal("tick_size")
    if tick is None:
        raise InstrumentError(f"{where}: tick_size: missing")
    status_text = col("status").lower() or TradingStatus.OPEN.value
    try:
        status = TradingStatus(status_text)
    except ValueError:
        raise InstrumentError(
            f"{where}: status: expected 'open' or 'halted', got {status_text!r}"
        ) from None
    lot_size = integer("lot_size", 1)
    min_qty = integer("min_qty", 1)
    assert lot_size is not None
    assert min_qty is not None
    max_qty = integer("max_qty", None)
    price_band_pct = decimal("price_band_pct")
    ref = decimal("reference_price")
    try:  # the rules' own checks, named with the file and line once
        instrument = Instrument(
            symbol=symbol,
            tick_size=tick,
            lot_size=lot_size,  # 0 is an error, not "default"
            min_qty=min_qty,
            max_qty=max_qty,
            price_band_pct=price_band_pct,
            status=status,
            description=col("description"),
        )
        if ref is not None:
            instrument = replace(instrument, reference_price=instrument.to_ticks(ref))
    except (InstrumentError, PriceError) as exc:
        raise InstrumentError(f"{where}: {exc}") from None
    return instrument


def load_instruments(path: str | Path) -> list[Instrument]:
    """Read an instruments CSV; raises InstrumentError naming file and line on bad input."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")  # a BOM, as spreadsheets save
    except OSError as exc:
        raise InstrumentError(f"{path}: cannot read instruments file: {exc.strerror}") from exc
    try:
        with handle:
            return _read_instruments(path, handle)
    except UnicodeDecodeError as exc:
        raise InstrumentError(
            f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from None


def _read_instruments(path: Path, handle: TextIO) -> list[Instrument]:
    """The rows of an open instruments CSV (see :func:`load_instruments`)."""
    reader = csv.DictReader(handle)
    header = [name.strip() for name in reader.fieldnames or []]
    for required in ("symbol", "tick_size"):
        if required not in header:
            raise InstrumentError(f"{path}:1: missing required column {required!r}")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise InstrumentError(f"{path}:1: unknown column(s) {', '.join(unknown)}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InstrumentError(f"{path}:1: column(s) given more than once: {', '.join(repeated)}")
    reader.fieldnames = header
    instruments: list[Instrument] = []
    seen: set[str] = set()
    for row in reader:
        where = f"{path}:{reader.line_num}"
        extra = row.pop(None, None) or []  # DictReader's key for cells beyond the header
        if any(cell.strip() for cell in extra):  # blank trailing cells are harmless
            raise InstrumentError(
                f"{where}: {len(header) + len(extra)} cells for {len(header)} columns"
            )
        if not any((value or "").strip() for value in row.values()):
            continue
        instrument = _parse_row(row, where)
        if instrument.symbol in seen:
            raise InstrumentError(f"{where}: symbol: duplicate {instrument.symbol!r}")
        seen.add(instrument.symbol)
        instruments.append(instrument)
    return instruments
