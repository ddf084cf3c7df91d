"""venue.instruments: the CSV loader, tick conversion and price formatting."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from venue.instruments import Instrument, InstrumentError, PriceError, load_instruments
from venue.types import TradingStatus


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "instruments.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_a_file_saved_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "instruments.csv"
    path.write_text("symbol,tick_size\nAAPL,0.01\n", encoding="utf-8-sig")  # as Excel saves
    assert load_instruments(path) == [Instrument("AAPL", Decimal("0.01"))]


def test_load_full_and_minimal_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description\n"
        "AAPL,0.01,100,100,100000,10,187.50,open,Apple Inc.\n"
        "\n"
        "ES,0.25,,,,,,halted,\n"
        "BTC-USD,0.5\n",
    )
    aapl, es, btc = load_instruments(path)
    assert aapl == Instrument(
        "AAPL",
        Decimal("0.01"),
        lot_size=100,
        min_qty=100,
        max_qty=100000,
        price_band_pct=Decimal(10),
        reference_price=18750,  # type: ignore[arg-type]
        description="Apple Inc.",
    )
    assert (es.lot_size, es.min_qty, es.max_qty, es.price_band_pct) == (1, 1, None, None)
    assert es.status is TradingStatus.HALTED
    assert btc.tick_size == Decimal("0.5")
    assert btc.status is TradingStatus.OPEN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("symbol\nAAA\n", ":1: missing required column 'tick_size'"),
        ("symbol,tick_size,colour\nAAA,0.01,red\n", ":1: unknown column(s) colour"),
        (
            "symbol,tick_size,lot_size,lot_size\nAAA,0.01,1,10\n",
            ":1: column(s) given more than once: lot_size",
        ),
        ("symbol,tick_size\nAAA,0.01,100\n", ":2: 3 cells for 2 columns"),
        ("symbol,tick_size,description\nAAA,0.01,a\x00b\n", ":2: AAA: description must not"),
        ("symbol,tick_size\nAAA,0.01\n,,x\n", ":3: 3 cells for 2 columns"),
        ("symbol,tick_size\nAAA,abc\n", ":2: tick_size: expected a decimal, got 'abc'"),
        ("symbol,tick_size\nAAA,\n", ":2: tick_size: missing"),
        ("symbol,tick_size\n,0.01\n", ":2: symbol: missing"),
        ("symbol,tick_size\nAAA,0.01\nAAA,0.01\n", ":3: symbol: duplicate 'AAA'"),
        ("symbol,tick_size,lot_size\nAAA,0.01,x\n", ":2: lot_size: expected an integer, got 'x'"),
        ("symbol,tick_size,lot_size\nAAA,0.01,0\n", ":2: AAA: lot_size and min_qty must be >= 1"),
        ("symbol,tick_size,status\nAAA,0.01,closed\n", ":2: status: expected 'open' or 'halted'"),
        ("symbol,tick_size\nAAA,-1\n", ":2: AAA: tick_size must be > 0"),
        ("symbol,tick_size\nA A,0.01\n", ":2: invalid symbol 'A A'"),
        ("symbol,tick_size,reference_price\nAAA,0.05,1.01\n", ":2: price 1.01 is not a multiple"),
        (
            "symbol,tick_size,price_band_pct\nAAA,0.01,inf\n",
            ":2: price_band_pct: expected a finite",
        ),
        (
            "symbol,tick_size,min_qty,max_qty\nAAA,0.01,10,5\n",
            ":2: AAA: max_qty must be >= min_qty",
        ),
        # beyond what any order can be, and beyond the store's 64-bit columns
        (
            "symbol,tick_size,max_qty\nAAA,0.01,99999999999999999999999\n",
            ":2: AAA: max_qty must be <= 1000000000",
        ),
        ("symbol,tick_size,lot_size\nAAA,0.01,9223372036854775808\n", ":2: AAA: lot_size must be"),
        (
            "symbol,tick_size,reference_price\nAAA,0.01,100000000000\n",
            ":2: AAA: reference_price must be > 0 and at most 9000000000 ticks",
        ),
        ("symbol,tick_size,max_qty\nAAA,0.01,x\n", ":2: max_qty: expected an integer, got 'x'"),
        ("symbol,tick_size,reference_price\nAAA,0.01,abc\n", ":2: reference_price: expected a"),
        ("symbol,tick_size,lot_size\nAAA,0.01,1_0\n", ":2: lot_size: expected an integer"),
        ("symbol,tick_size,min_qty\nAAA,0.01,\u00b2\n", ":2: min_qty: expected an integer"),
    ],
)
def test_load_errors_name_file_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InstrumentError) as info:
        load_instruments(path)
    assert str(info.value).startswith(str(path))
    assert str(info.value).count(str(path)) == 1  # named once
    assert message in str(info.value)


def test_blank_cells_beyond_the_header_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "symbol,tick_size\nAAA,0.01,\n,,\nBBB,0.5, ,\n")
    assert [i.symbol for i in load_instruments(path)] == ["AAA", "BBB"]


def test_a_file_that_is_not_utf8_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "instruments.csv"
    path.write_bytes(b"symbol,tick_size,description\nTEST,0.01,caf\xe9\n")
    with pytest.raises(InstrumentError, match=r"instruments.csv: not UTF-8 text: .* at byte 42"):
        load_instruments(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InstrumentError, match="cannot read instruments file"):
        load_instruments(tmp_path / "nope.csv")


def test_to_ticks_and_off_tick() -> None:
    inst = Instrument("AAA", Decimal("0.05"))
    assert inst.to_ticks("1.05") == 21
    assert inst.to_ticks(Decimal("100")) == 2000
    assert inst.to_ticks("-0.10") == -2
    for bad in ("1.01", "abc", "NaN", "Infinity"):
        with pytest.raises(PriceError):
            inst.to_ticks(bad)


def test_format_price_precision() -> None:
    assert Instrument("AAA", Decimal("0.01")).format_price(18750) == "187.50"
    assert Instrument("ES", Decimal("0.25")).format_price(21) == "5.25"
    assert Instrument("X", Decimal("5")).format_price(3) == "15"
    assert Instrument("Y", Decimal("0.0001")).format_price(1) == "0.0001"
    assert Instrument("Z", Decimal("0.50")).format_price(3) == "1.5"
    assert Instrument("Z", Decimal("0.50")).price_decimals == 1


def test_check_qty_and_with_status() -> None:
    inst = Instrument("AAA", Decimal("0.01"), lot_size=10, min_qty=20, max_qty=100)
    assert inst.check_qty(20) is None  # type: ignore[arg-type]
    assert inst.check_qty(0) == "quantity 0 must be positive"  # type: ignore[arg-type]
    assert "lot size" in (inst.check_qty(25) or "")  # type: ignore[arg-type]
    assert "minimum" in (inst.check_qty(10) or "")  # type: ignore[arg-type]
    assert "maximum" in (inst.check_qty(110) or "")  # type: ignore[arg-type]
    halted = inst.with_status(TradingStatus.HALTED)
    assert halted.status is TradingStatus.HALTED
    assert inst.status is TradingStatus.OPEN


def test_instrument_rules_rejected() -> None:
    with pytest.raises(InstrumentError):
        Instrument("AAA", Decimal(0))
    with pytest.raises(InstrumentError):
        Instrument("AAA", Decimal(1), lot_size=0)
    with pytest.raises(InstrumentError):
        Instrument("AAA", Decimal(1), price_band_pct=Decimal(0))


@pytest.mark.parametrize("symbol", ["NL\n", "AAPL\n", "A\nB", "\nX"])
def test_a_symbol_with_a_line_break_is_invalid(symbol: str) -> None:
    """'NL\\n' was listed (the pattern's '$' matched before the newline) and the broker
    dropped every connection of the publisher that then used it in a topic."""
    with pytest.raises(InstrumentError, match="invalid symbol"):
        Instrument(symbol, Decimal("0.01"))
