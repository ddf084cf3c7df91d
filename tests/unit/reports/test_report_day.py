"""Trading day bounds, candle interval choice and exact number formatting."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from reports.day import (
    DayError,
    Fixed,
    TradingDay,
    choose_interval_s,
    fixed,
    interval_label,
    money,
    price,
    ratio,
    round_fraction,
)
from venue.instruments import Instrument

S = 1_000_000_000
HOUR = 3600 * S


def test_utc_day_bounds() -> None:
    day = TradingDay.of(date(2026, 1, 5))
    assert day.start_ns == 1_767_571_200 * S
    assert day.end_ns - day.start_ns == 24 * HOUR
    assert TradingDay.containing(day.end_ns - 1).day == date(2026, 1, 5)
    assert TradingDay.containing(day.end_ns).day == date(2026, 1, 6)


def test_dst_days_are_23_and_25_hours() -> None:
    spring = TradingDay.of(date(2026, 3, 29), "Europe/London")
    autumn = TradingDay.of(date(2026, 10, 25), "Europe/London")
    assert spring.end_ns - spring.start_ns == 23 * HOUR
    assert autumn.end_ns - autumn.start_ns == 25 * HOUR


def test_timezone_shifts_the_day() -> None:
    utc = TradingDay.of(date(2026, 1, 5))
    tokyo = TradingDay.of(date(2026, 1, 5), "Asia/Tokyo")
    assert utc.start_ns - tokyo.start_ns == 9 * HOUR
    assert tokyo.format_time(tokyo.start_ns + 1) == "00:00:00.000000001"


def test_unknown_timezone() -> None:
    with pytest.raises(DayError, match="unknown timezone"):
        TradingDay.of(date(2026, 1, 5), "Nowhere/Special")


@pytest.mark.parametrize(
    ("span_s", "interval"),
    [(0, 1), (100, 1), (149, 1), (150, 5), (40 * 60, 30), (2 * 3600, 60), (8 * 3600, 300),
     (24 * 3600, 900), (30 * 24 * 3600, 3600)],
)  # fmt: skip
def test_candle_interval(span_s: int, interval: int) -> None:
    assert choose_interval_s(0, span_s * S) == interval


def test_interval_labels() -> None:
    assert [interval_label(s) for s in (5, 60, 900, 3600)] == ["5 s", "1 min", "15 min", "1 h"]


def test_round_fraction_is_half_even_and_exact() -> None:
    assert str(round_fraction(Fraction(1, 3), 4)) == "0.3333"
    assert str(round_fraction(Fraction(5, 2), 0)) == "2"
    assert str(round_fraction(Fraction(7, 2), 0)) == "4"
    assert str(round_fraction(Fraction(-5, 2), 0)) == "-2"
    assert f"{round_fraction(Fraction(125, 1000), 2):f}" == "0.12"
    big = Fraction(10**40 + 1, 3)
    assert f"{round_fraction(big, 2):f}" == "3333333333333333333333333333333333333333.67"


@pytest.mark.parametrize("tick", ["0.01", "0.25", "0.00001", "0.5", "1", "5", "0.0025"])
def test_fixed_matches_instrument_format(tick: str) -> None:
    ins = Instrument("X", Decimal(tick))
    fmt = Fixed(ins)
    for ticks in (0, 1, -1, 7, 123_456, -98_765, 10**15):
        assert fmt(ticks) == ins.format_price(ticks) == money(ins, ticks)


def test_fixed_helper() -> None:
    assert fixed(-5, 2) == "-0.05"
    assert fixed(12345, 0) == "12345"
    assert fixed(100, 3) == "0.100"


def test_price_with_extra_decimals_and_ratio() -> None:
    ins = Instrument("X", Decimal("0.01"))
    assert price(ins, Fraction(1234567, 100), 4) == "123.456700"
    assert price(ins, Fraction(1, 3), 4) == "0.003333"
    assert price(None, 5) == ""
    assert ratio(1, 3) == "0.3333"
    assert ratio(2, 0) == ""
