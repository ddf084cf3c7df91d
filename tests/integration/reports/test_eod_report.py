"""The end-of-day report over a day made by the real engine and written to a real store
(SQLite file and PostgreSQL): every figure is checked against values computed here,
independently of reports/, from the engine's own events."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd

from reports.eod import ReportResult, build_report_async
from venue.events import OrderAccepted, OrderCancelled, OrderRejected, OrderReplaced, Trade
from venue.instruments import Instrument
from venue.types import CancelReason

Write = Callable[[str, Any], Awaitable[None]]


def q(value: Fraction | Decimal, decimals: int) -> str:
    """Round half-even to ``decimals`` with a 60-digit Decimal context."""
    with localcontext() as ctx:
        ctx.prec = 60
        if isinstance(value, Fraction):
            value = Decimal(value.numerator) / Decimal(value.denominator)
        return f"{value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN):f}"


def decimals(ins: Instrument) -> int:
    exponent = ins.tick_size.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def px(ins: Instrument, ticks: int) -> Decimal:
    return ins.tick_size * ticks


async def _build(url: str, gen: Any, write: Write, out: Path) -> ReportResult:
    await write(url, gen)
    return await build_report_async(url, gen.day, out)


def _by_symbol(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["symbol"]: row for row in frame.astype(str).to_dict("records")}


async def test_summary_matches_independent_figures(
    db_url: str, generated_day: Any, write: Write, tmp_path: Path
) -> None:
    result = await _build(db_url, generated_day, write, tmp_path / "out")
    listed = {ins.symbol: ins for ins in generated_day.instruments}
    trades: list[Trade] = sorted(generated_day.trades, key=lambda t: t.trade_id)
    assert trades, "the generated day must trade"
    summary = _by_symbol(result.summary)
    for symbol in {t.symbol for t in trades}:
        ins, d = listed[symbol], decimals(listed[symbol])
        mine = [t for t in trades if t.symbol == symbol]
        prices = [px(ins, t.price) for t in mine]
        volume = sum(t.qty for t in mine)
        turnover = sum((px(ins, t.price) * t.qty for t in mine), Decimal(0))
        row = summary[symbol]
        assert row["open"] == f"{prices[0]:.{d}f}"
        assert row["high"] == f"{max(prices):.{d}f}"
        assert row["low"] == f"{min(prices):.{d}f}"
        assert row["close"] == f"{prices[-1]:.{d}f}"
        assert row["volume"] == str(volume)
        assert row["turnover"] == q(turnover, d)
        assert row["vwap"] == q(Fraction(turnover) / volume, d + 4)
        assert row["trades"] == str(len(mine))
    events = generated_day.events
    accepted = Counter(e.spec.symbol for e in events if isinstance(e, OrderAccepted))
    rejected = Counter(e.request.symbol for e in events if isinstance(e, OrderRejected))
    # a replace to the filled quantity ends the order as an OrderCancelled event; the client
    # got ExecType 5 for it, so it counts as a replace
    to_filled = Counter(e.spec.symbol for e in events if isinstance(e, OrderCancelled)
                        and e.reason is CancelReason.REPLACED_TO_FILLED)
    assert to_filled, "the generated day must replace orders to their filled quantity"
    cancelled = Counter(e.spec.symbol for e in events if isinstance(e, OrderCancelled)
                        and e.reason is not CancelReason.REPLACED_TO_FILLED)
    replaced = Counter(e.spec.symbol for e in events if isinstance(e, OrderReplaced))
    for symbol, row in summary.items():
        assert row["orders"] == str(accepted[symbol])
        assert row["rejects"] == str(rejected[symbol])
        assert row["cancels"] == str(cancelled[symbol])
        assert row["replaces"] == str(replaced[symbol] + to_filled[symbol])
    assert summary["QUIET"]["trades"] == "0"
    assert summary["QUIET"]["open"] in ("", "nan")
    assert result.trades == len(trades)


@dataclass
class _Book:
    """Average cost kept as (quantity, average price) in decimal currency: a different
    representation from the report's (quantity, cost basis in ticks)."""

    qty: int = 0
    avg: Fraction = Fraction(0)
    realised: Fraction = Fraction(0)
    cash: Decimal = Decimal(0)  # sells - buys

    def trade(self, signed: int, price: Decimal) -> None:
        p = Fraction(price)
        self.cash -= price * signed
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            self.avg = (self.avg * abs(self.qty) + p * abs(signed)) / (abs(self.qty) + abs(signed))
            self.qty += signed
            return
        closed = min(abs(signed), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realised += (p - self.avg) * closed * direction
        remaining = abs(signed) - closed
        self.qty += closed * (1 if signed > 0 else -1)
        if remaining:
            self.qty = remaining * (1 if signed > 0 else -1)
            self.avg = p
        elif self.qty == 0:
            self.avg = Fraction(0)


async def test_positions_and_pnl_match_independent_average_cost(
    db_url: str, generated_day: Any, write: Write, tmp_path: Path
) -> None:
    result = await _build(db_url, generated_day, write, tmp_path / "out")
    listed = {ins.symbol: ins for ins in generated_day.instruments}
    books: dict[tuple[str, str, str], _Book] = defaultdict(_Book)
    close: dict[str, Decimal] = {}
    for t in sorted(generated_day.trades, key=lambda t: t.trade_id):
        price = px(listed[t.symbol], t.price)
        close[t.symbol] = price
        b, s = t.buy.spec, t.sell.spec
        books[b.owner, b.account, t.symbol].trade(t.qty, price)
        books[s.owner, s.account, t.symbol].trade(-t.qty, price)
    rows = {
        (r["owner"], r["account"], r["symbol"]): r
        for r in result.tables["positions"].astype(str).to_dict("records")
    }
    assert set(rows) == set(books)
    for key, book in books.items():
        symbol = key[2]
        d = decimals(listed[symbol])
        row = rows[key]
        total = book.cash + close[symbol] * book.qty
        unrealised_exact = (Fraction(close[symbol]) - book.avg) * book.qty
        assert Fraction(total) == book.realised + unrealised_exact  # sanity of the model
        realised = q(book.realised, d)
        assert row["position"] == str(book.qty)
        assert row["close"] == f"{close[symbol]:.{d}f}"
        assert row["total_pnl"] == f"{total:.{d}f}"
        assert row["realised_pnl"] == realised
        assert row["unrealised_pnl"] == f"{total - Decimal(realised):.{d}f}"
        expected_avg = "" if book.qty == 0 else q(book.avg, d + 4)
        assert row["avg_price"].replace("nan", "") == expected_avg
        assert re.fullmatch(r"-?\d+(\.\d+)?", row["total_pnl"])
    # The venue is a closed system: P&L nets to zero per symbol, positions too.
    positions = result.tables["positions"]
    for symbol, group in positions.groupby("symbol"):
        assert sum(int(v) for v in group["position"]) == 0
        assert sum(Decimal(v) for v in group["total_pnl"]) == 0, symbol


async def test_participants_match_independent_counts(
    db_url: str, generated_day: Any, write: Write, tmp_path: Path
) -> None:
    result = await _build(db_url, generated_day, write, tmp_path / "out")
    counts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for e in generated_day.events:
        if isinstance(e, OrderAccepted):
            c = counts[e.spec.owner, e.spec.account, e.spec.symbol]
            c["orders"] += 1
            c["ordered_qty"] += e.spec.qty
        elif isinstance(e, OrderRejected):
            counts[e.request.owner, e.request.account, e.request.symbol]["rejects"] += 1
        elif isinstance(e, OrderReplaced):
            counts[e.spec.owner, e.spec.account, e.spec.symbol]["replaces"] += 1
        elif isinstance(e, OrderCancelled):
            counts[e.spec.owner, e.spec.account, e.spec.symbol][
                "replaces" if e.reason is CancelReason.REPLACED_TO_FILLED else "cancels"] += 1
        elif isinstance(e, Trade):
            for fill in (e.buy, e.sell):
                c = counts[fill.spec.owner, fill.spec.account, e.symbol]
                c["fills"] += 1
                c["traded_qty"] += e.qty
    rows = {
        (r["owner"], r["account"], r["symbol"]): r
        for r in result.tables["participants"].astype(str).to_dict("records")
    }
    for key, c in counts.items():
        row = rows[key]
        for name in ("orders", "ordered_qty", "rejects", "replaces", "cancels", "fills"):
            assert row[name] == str(c[name]), (key, name)
        assert row["traded_qty"] == str(c["traded_qty"])
        expected_fill = (
            q(Fraction(c["traded_qty"], c["ordered_qty"]), 4) if c["ordered_qty"] else ""
        )
        assert row["fill_ratio"].replace("nan", "") == expected_fill
        messages = c["orders"] + c["rejects"] + c["replaces"] + c["cancels"]
        expected_otr = q(Fraction(messages, c["fills"]), 4) if c["fills"] else ""
        assert row["order_to_trade_ratio"].replace("nan", "") == expected_otr


async def test_files_register_and_self_contained_html(
    db_url: str, generated_day: Any, write: Write, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = await _build(db_url, generated_day, write, out)
    assert result.html_path == out / "eod-2026-01-05.html"
    for name, path in result.csv_paths.items():
        assert path == out / f"eod-2026-01-05-{name}.csv"
        assert path.is_file()
    with result.csv_paths["trades"].open(newline="") as handle:
        register = list(csv.DictReader(handle))
    trades = sorted(generated_day.trades, key=lambda t: t.trade_id)
    assert [int(r["trade_id"]) for r in register] == [t.trade_id for t in trades]
    listed = {ins.symbol: ins for ins in generated_day.instruments}
    for row, t in zip(register, trades, strict=True):
        assert row["price"] == listed[t.symbol].format_price(t.price)
        assert row["buy_owner"] == t.buy.spec.owner
        assert row["sell_cl_ord_id"] == t.sell.spec.cl_ord_id
        assert row["aggressor"] == ("buy" if t.aggressor.value == "1" else "sell")
    # CSV tables equal the returned DataFrames, as exact strings.
    summary = pd.read_csv(result.csv_paths["summary"], dtype=str, keep_default_na=False)
    assert summary.to_dict("records") == result.summary.astype(str).to_dict("records")

    text = result.html_path.read_text(encoding="utf-8")
    # plotly.js inlined exactly once, nothing fetched from the network.
    assert text.count("Plotly.newPlot") >= 3
    assert len(re.findall(r"plotly\.js v\d", text)) == 1  # the bundle's banner
    assert text.count("window.PlotlyConfig") == 1
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=", text)
    assert 'id="trade-register"' in text
    assert text.count("<tr>") >= len(trades)
    assert "No trading" not in text
