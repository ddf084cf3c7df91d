"""Payload encoding and statistics: exact strings, exact arithmetic."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from market_data.payloads import (
    PriceFormatter,
    SymbolFeed,
    TradeStats,
    book_delta,
    encode_bbo,
    encode_book,
    encode_stats,
    encode_symbol_status,
    encode_trades,
    vwap_string,
)
from market_data.testing import EventFactory
from venue.instruments import Instrument
from venue.types import Side

AAPL = Instrument("AAPL", Decimal("0.01"), description="Apple")
ES = Instrument("ESZ6", Decimal("0.25"))
FX = Instrument("EURUSD", Decimal("0.00001"), lot_size=1000, min_qty=1000)
BTC = Instrument("BTCUSD", Decimal("0.5"))
TENS = Instrument("TENS", Decimal("10"))
EPOCH = 42


def feed(inst: Instrument) -> SymbolFeed:
    return SymbolFeed(instrument=inst, fmt=PriceFormatter(inst), status="open", ts_ns=7)


def test_formatter_examples() -> None:
    assert PriceFormatter(AAPL)(19001) == "190.01"
    assert PriceFormatter(AAPL)(5) == "0.05"
    assert PriceFormatter(AAPL)(-5) == "-0.05"
    assert PriceFormatter(ES)(24001) == "6000.25"
    assert PriceFormatter(FX)(108000) == "1.08000"
    assert PriceFormatter(BTC)(190001) == "95000.5"
    assert PriceFormatter(TENS)(3) == "30"


@given(
    tick=st.sampled_from(["0.01", "0.25", "0.00001", "0.5", "1", "10", "0.125", "5E+1", "2.5"]),
    ticks=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_formatter_matches_instrument_format_price(tick: str, ticks: int) -> None:
    inst = Instrument("X", Decimal(tick))
    assert PriceFormatter(inst)(ticks) == inst.format_price(ticks)


def test_trades_payload_exact() -> None:
    f = feed(AAPL)
    ev = EventFactory(ts_ns=1_000)
    t1 = ev.trade("AAPL", 19001, 100, Side.BUY)
    t2 = ev.trade("AAPL", 19000, 5, Side.SELL, ts_ns=2_000)
    payload = encode_trades(
        f, EPOCH, first_seq=3, last_seq=6, trades=[(3, t1), (6, t2)], lost=[(4, 5)]
    )
    assert payload == (
        b'{"v":1,"symbol":"AAPL","epoch":42,"first_seq":3,"last_seq":6,"lost":[[4,5]],'
        b'"trades":[{"seq":3,"trade_id":1,"price":"190.01","qty":100,"aggressor":"buy",'
        b'"ts_ns":1000},{"seq":6,"trade_id":2,"price":"190.00","qty":5,"aggressor":"sell",'
        b'"ts_ns":2000}]}'
    )
    json.loads(payload)


def test_book_and_bbo_payload_exact() -> None:
    f = feed(ES)
    f.book_seq = 4
    f.bbo_seq = 2
    bids = [(24001, 10, 2), (24000, 3, 1)]
    asks = [(24002, 1, 1)]
    assert json.loads(encode_book(f, EPOCH, 10, bids, asks)) == {
        "v": 1,
        "symbol": "ESZ6",
        "epoch": 42,
        "seq": 4,
        "depth": 10,
        "ts_ns": 7,
        "bids": [
            {"price": "6000.25", "qty": 10, "orders": 2},
            {"price": "6000.00", "qty": 3, "orders": 1},
        ],
        "asks": [{"price": "6000.50", "qty": 1, "orders": 1}],
    }
    assert json.loads(encode_bbo(f, EPOCH, bids[0], None)) == {
        "v": 1,
        "symbol": "ESZ6",
        "epoch": 42,
        "seq": 2,
        "ts_ns": 7,
        "bid": "6000.25",
        "bid_qty": 10,
        "bid_orders": 2,
        "ask": None,
        "ask_qty": 0,
        "ask_orders": 0,
    }


def test_status_payload() -> None:
    f = feed(FX)
    f.status_seq = 1
    assert json.loads(encode_symbol_status(f, EPOCH)) == {
        "v": 1,
        "symbol": "EURUSD",
        "epoch": 42,
        "seq": 1,
        "ts_ns": 7,
        "status": "open",
        "tick_size": "0.00001",
        "price_decimals": 5,
        "lot_size": 1000,
        "min_qty": 1000,
        "max_qty": None,
        "description": "",
    }


def test_stats_math_exact() -> None:
    f = feed(AAPL)
    for seq, (price, qty) in enumerate([(19000, 100), (19010, 50), (18990, 30), (19005, 20)], 1):
        f.stats.add(price, qty, seq)
    f.stats_seq = 1
    msg = json.loads(encode_stats(f, EPOCH))
    assert msg == {
        "v": 1,
        "symbol": "AAPL",
        "epoch": 42,
        "seq": 1,
        "trade_seq": 4,
        "ts_ns": 7,
        "open": "190.00",
        "high": "190.10",
        "low": "189.90",
        "last": "190.05",
        "last_qty": 20,
        "volume": 200,
        "turnover": "38003.00",
        # (1900000 + 950500 + 569700 + 380100) / 200 ticks = 19001.5 ticks = 190.015
        "vwap": "190.01500000",
        "trades": 4,
    }


def test_stats_empty() -> None:
    msg = json.loads(encode_stats(feed(AAPL), EPOCH))
    assert msg["open"] is msg["high"] is msg["low"] is msg["last"] is msg["vwap"] is None
    assert (msg["volume"], msg["turnover"], msg["trades"]) == (0, "0.00", 0)


def test_vwap_rounds_half_even_once() -> None:
    s = TradeStats()
    s.add(1, 1, 1)
    s.add(2, 2, 2)  # 5/3 ticks = 0.0166666666... -> 8 places
    assert vwap_string(PriceFormatter(AAPL), s) == "0.01666667"
    even = TradeStats(volume=2 * 10**6, turnover_ticks=1, count=1)  # 0.5e-8 of 0.01 -> even
    assert vwap_string(PriceFormatter(AAPL), even) == "0.00000000"
    odd = TradeStats(volume=2 * 10**6, turnover_ticks=3, count=1)  # 1.5e-8 -> 2e-8
    assert vwap_string(PriceFormatter(AAPL), odd) == "0.00000002"


@given(
    trades=st.lists(
        st.tuples(st.integers(1, 10**9), st.integers(1, 10**6)), min_size=1, max_size=30
    ),
    tick=st.sampled_from(["0.01", "0.25", "0.00001", "0.5", "10"]),
)
def test_stats_match_reference(trades: list[tuple[int, int]], tick: str) -> None:
    inst = Instrument("X", Decimal(tick))
    s = TradeStats()
    for seq, (p, q) in enumerate(trades, 1):
        s.add(p, q, seq)
    prices = [p for p, _ in trades]
    assert (s.open, s.high, s.low, s.last) == (prices[0], max(prices), min(prices), prices[-1])
    assert s.volume == sum(q for _, q in trades)
    assert s.turnover_ticks == sum(p * q for p, q in trades)
    vwap = vwap_string(PriceFormatter(inst), s)
    assert vwap is not None
    exact = Fraction(s.turnover_ticks) * Fraction(inst.tick_size) / s.volume
    ulp = Fraction(1, 10 ** (inst.price_decimals + 6))
    assert abs(Fraction(Decimal(vwap)) - exact) <= ulp / 2


def test_book_delta() -> None:
    old = [(100, 5, 1), (99, 3, 1), (98, 1, 1)]
    new = [(101, 2, 1), (100, 6, 2), (98, 1, 1)]
    assert book_delta(old, new) == [(101, 2, 1), (100, 6, 2), (99, 0, 0)]
    assert book_delta(new, new) == []
    assert book_delta([], new) == new
