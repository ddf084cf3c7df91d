"""The load generator's price text: the same with the case decided once as per call."""

from __future__ import annotations

from decimal import Decimal

import pytest

from venue.simulate import SymbolSpec


@pytest.mark.parametrize(
    ("decimals", "tick", "expected"),
    [
        (2, "0.01", ["0.00", "0.01", "99.83", "100.00", "12345.67"]),
        (2, "0.05", ["0.00", "0.05", "499.15", "500.00", "61728.35"]),
        (0, "1", ["0", "1", "9983", "10000", "1234567"]),
        (0, "5", ["0", "5", "49915", "50000", "6172835"]),
        (4, "0.0001", ["0.0000", "0.0001", "0.9983", "1.0000", "123.4567"]),
    ],
)
def test_formatter_prints_what_fmt_prints(decimals: int, tick: str, expected: list[str]) -> None:
    spec = SymbolSpec("TEST", decimals, Decimal(tick), 10_000, 500)
    fmt = spec.formatter()
    ticks = [0, 1, 9983, 10_000, 1_234_567]
    assert [fmt(t) for t in ticks] == [spec.fmt(t) for t in ticks] == expected
