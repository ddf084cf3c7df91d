"""The trading day a report covers, the candle interval, and exact number formatting.

A trading day is a calendar date in a timezone (UTC by default): it covers the
nanosecond timestamps ``[start_ns, end_ns)`` from local midnight to the next local
midnight, so a day with a DST change is 23 or 25 hours long.

Numbers in the report are never floats: prices and notionals are integer ticks (or
ticks x quantity) turned into :class:`~decimal.Decimal` with the instrument's tick size;
values that are exact fractions (VWAP, average cost, ratios) are rounded half-even to a
stated number of decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from venue.instruments import Instrument

NS_PER_SECOND = 1_000_000_000

CANDLE_INTERVALS_S: tuple[int, ...] = (1, 5, 15, 30, 60, 300, 900, 1800, 3600)
"""Candle intervals the report chooses from, in seconds."""
MAX_CANDLES = 150
"""The report picks the smallest interval that gives at most this many candles."""
RATIO_DECIMALS = 4
"""Decimals of fill ratio and order-to-trade ratio."""
EXTRA_PRICE_DECIMALS = 4
"""VWAP and average prices get the instrument's price decimals plus these."""


class DayError(ValueError):
    """The timezone is unknown, or the day outside what the store's timestamps can hold."""


#: The days a report can cover: the store's timestamps are nanoseconds since 1970 in a
#: signed 64-bit integer (they end on 2262-04-11).
FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(2262, 4, 10)


def check_day(day: date) -> date:
    """``day`` itself, if a report can cover it."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DayError(f"no trading day {day}: the venue's days run from {FIRST_DAY} to {LAST_DAY}")
    return day


def zone(tz: str) -> ZoneInfo:
    """The timezone named ``tz`` (IANA name such as ``UTC`` or ``Europe/London``)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DayError(f"unknown timezone {tz!r}") from exc


@dataclass(frozen=True, slots=True)
class TradingDay:
    day: date
    tz: str
    start_ns: int
    end_ns: int

    @classmethod
    def of(cls, day: date, tz: str = "UTC") -> TradingDay:
        zi = zone(tz)
        start = datetime.combine(day, time(0), tzinfo=zi)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zi)
        return cls(day, tz, _to_ns(start), _to_ns(end))

    @classmethod
    def containing(cls, ts_ns: int, tz: str = "UTC") -> TradingDay:
        """The trading day that contains the timestamp ``ts_ns``."""
        local = datetime.fromtimestamp(ts_ns // NS_PER_SECOND, tz=zone(tz))
        return cls.of(local.date(), tz)

    def local_time(self, ts_ns: int) -> datetime:
        """The timestamp as an aware datetime in the report's timezone (microseconds)."""
        seconds, ns = divmod(ts_ns, NS_PER_SECOND)
        dt = datetime.fromtimestamp(seconds, tz=zone(self.tz))
        return dt.replace(microsecond=ns // 1000)

    def format_time(self, ts_ns: int) -> str:
        """``HH:MM:SS.nnnnnnnnn`` in the report's timezone: full nanosecond precision."""
        seconds, ns = divmod(ts_ns, NS_PER_SECOND)
        return f"{_hms(seconds, self.tz)}.{ns:09d}"


@lru_cache(maxsize=4096)
def _hms(seconds: int, tz: str) -> str:
    return f"{datetime.fromtimestamp(seconds, tz=zone(tz)):%H:%M:%S}"


def _to_ns(dt: datetime) -> int:
    return int(dt.timestamp()) * NS_PER_SECOND


def choose_interval_s(first_ns: int, last_ns: int) -> int:
    """The candle interval (seconds) for trading between ``first_ns`` and ``last_ns``."""
    span_s = max(0, last_ns - first_ns) / NS_PER_SECOND
    for interval in CANDLE_INTERVALS_S:
        if span_s / interval < MAX_CANDLES:
            return interval
    return CANDLE_INTERVALS_S[-1]


def interval_label(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def round_fraction(value: Fraction, decimals: int) -> Decimal:
    """``value`` rounded half-even to ``decimals`` places, as an exact Decimal.

    Integer arithmetic only (``Fraction.__round__`` is half-even), so no Decimal context
    precision is involved however large the value.
    """
    whole = round(value * 10**decimals)
    return Decimal(f"{whole}E-{decimals}")  # the string constructor is exact


def money_value(instrument: Instrument, ticks_x_qty: Fraction | int) -> Decimal:
    """``ticks_x_qty`` (price ticks x quantity) in the quote currency, rounded half-even to
    the instrument's price decimals (exact for whole ticks x quantity, as every notional
    is)."""
    value = Fraction(ticks_x_qty) * Fraction(instrument.tick_size)
    return round_fraction(value, instrument.price_decimals)


def money(instrument: Instrument | None, ticks_x_qty: Fraction | int) -> str:
    """:func:`money_value` as a string; "" without an instrument."""
    if instrument is None:
        return ""
    return f"{money_value(instrument, ticks_x_qty):f}"


def price(instrument: Instrument | None, ticks: Fraction | int, extra: int = 0) -> str:
    """A price of ``ticks`` (possibly fractional, like a VWAP) in the instrument's
    precision plus ``extra`` decimals."""
    if instrument is None:
        return ""
    if isinstance(ticks, int) and extra == 0:
        return instrument.format_price(ticks)
    value = Fraction(ticks) * Fraction(instrument.tick_size)
    return f"{round_fraction(value, instrument.price_decimals + extra):f}"


def ratio(numerator: int, denominator: int) -> str:
    """``numerator / denominator`` with RATIO_DECIMALS decimals; "" when undefined."""
    if denominator == 0:
        return ""
    return f"{round_fraction(Fraction(numerator, denominator), RATIO_DECIMALS):f}"


class Fixed:
    """Fast exact formatting of integer prices and notionals of one instrument.

    ``tick_size`` is ``units x 10**-decimals`` with integer ``units``, so a price of ``t``
    ticks is the integer ``t x units`` shifted by ``decimals`` places: pure integer and
    string work, no Decimal context, for the hot loops (the trade register).
    """

    __slots__ = ("decimals", "units")

    def __init__(self, instrument: Instrument) -> None:
        self.decimals = instrument.price_decimals
        self.units = int(instrument.tick_size.scaleb(self.decimals))

    def __call__(self, ticks: int) -> str:
        """A price (ticks) or notional (ticks x quantity) as a decimal string."""
        return fixed(ticks * self.units, self.decimals)


def fixed(value: int, decimals: int) -> str:
    """The integer ``value`` x 10**-decimals as a decimal string (``fixed(-5, 2)`` is
    ``-0.05``)."""
    if decimals == 0:
        return str(value)
    digits = str(abs(value)).rjust(decimals + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"
