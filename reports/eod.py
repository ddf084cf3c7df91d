"""The end-of-day report: one self-contained HTML file per trading day, plus CSVs.

:func:`build_report` reads one trading day from the store in chunks (events in sequence
order, then trades in trade id order, then FIX session events), aggregates as it goes
(:class:`~reports.aggregate.DayAggregator`), streams the trade register to CSV, and
renders the tables (pandas DataFrames of exact decimal strings) and plotly charts into
``eod-YYYY-MM-DD.html``. specs/reports.md defines every figure in it.
"""

from __future__ import annotations

import asyncio
import csv
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd

from reports import render
from reports.aggregate import DayAggregator
from reports.day import (
    EXTRA_PRICE_DECIMALS,
    NS_PER_SECOND,
    Fixed,
    TradingDay,
    choose_interval_s,
    interval_label,
    money,
    money_value,
    price,
    ratio,
)
from reports.source import DayExtent, ReportError, Source, apply_event
from venue.instruments import Instrument

__all__ = [
    "REGISTER_HTML_LIMIT",
    "ProgressFn",
    "ReportError",
    "ReportResult",
    "build_report",
    "build_report_async",
    "latest_day",
]

ProgressFn = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``: called as the report advances (rows read so far)."""

REGISTER_HTML_LIMIT = 20_000
"""Trades shown in the HTML trade register; the CSV always holds every trade."""

TABLES = (
    "summary",
    "participants",
    "positions",
    "trades",
    "candles",
    "top-of-book",
    "sessions",
    "rejects",
)

REGISTER_COLUMNS = [
    "trade_id",
    "ts_ns",
    "time",
    "symbol",
    "price",
    "qty",
    "notional",
    "aggressor",
    "buy_owner",
    "buy_account",
    "buy_cl_ord_id",
    "buy_order_id",
    "sell_owner",
    "sell_account",
    "sell_cl_ord_id",
    "sell_order_id",
]


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What :func:`build_report` wrote.

    Attributes:
        html_path: the HTML report.
        csv_paths: table name (``summary``, ``participants``, ``positions``, ``trades``,
            ``candles``, ``top-of-book``, ``sessions``, ``rejects``) -> CSV file.
        summary: the per-symbol summary table (exact decimal strings).
        tables: every table of the report except the trade register, by name.
        trades: number of trades of the day.
        events: number of journal events of the day.
    """

    html_path: Path
    csv_paths: dict[str, Path]
    summary: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    trades: int = 0
    events: int = 0

    @property
    def no_trading(self) -> bool:
        return self.trades == 0


def build_report(
    url: str,
    day: date,
    out_dir: Path,
    tz: str = "UTC",
    progress: ProgressFn | None = None,
    *,
    register_limit: int = REGISTER_HTML_LIMIT,
) -> ReportResult:
    """Build the end-of-day report of ``day`` from the store at ``url`` into ``out_dir``.

    Raises:
        ReportError: no data at all for the day, or the database cannot be read.
    """
    return asyncio.run(
        build_report_async(url, day, out_dir, tz, progress, register_limit=register_limit)
    )


async def latest_day(url: str, tz: str = "UTC") -> date:
    """The latest trading day with any data in the store."""
    async with Source(url) as source:
        latest = await source.latest_ts()
    if latest is None:
        raise ReportError(f"{Source(url).where}: the database holds no trading data")
    return TradingDay.containing(latest, tz).day


async def build_report_async(
    url: str,
    day: date,
    out_dir: Path,
    tz: str = "UTC",
    progress: ProgressFn | None = None,
    *,
    register_limit: int = REGISTER_HTML_LIMIT,
) -> ReportResult:
    """:func:`build_report` for callers already inside an event loop."""
    tday = TradingDay.of(day, tz)
    report = progress or _no_progress
    out_dir = Path(out_dir)
    stem = f"eod-{day.isoformat()}"
    async with Source(url) as source:
        extent = await source.extent(tday.start_ns, tday.end_ns)
        if extent.empty:
            raise ReportError(f"{source.where}: no data for {day.isoformat()} ({tz})")
        instruments = await source.instruments()
        interval_s = (
            choose_interval_s(extent.first_trade_ns, extent.last_trade_ns)
            if extent.first_trade_ns is not None and extent.last_trade_ns is not None
            else 60
        )
        interval_ns = interval_s * NS_PER_SECOND
        agg = DayAggregator(tday.start_ns, interval_ns, max(interval_ns // 5, NS_PER_SECOND // 10))

        report("events", 0, extent.events)
        done = 0
        last_event_ns = tday.start_ns
        async for rows in source.stream_events(tday.start_ns, tday.end_ns):
            for row in rows:
                apply_event(agg, row)
            last_event_ns = max(last_event_ns, rows[-1][0])
            done += len(rows)
            report("events", done, extent.events)
        agg.finish(last_event_ns + 1)

        out_dir.mkdir(parents=True, exist_ok=True)
        trades_csv = out_dir / f"{stem}-trades.csv"
        register: list[list[str]] = []
        report("trades", 0, extent.trades)
        fixed: dict[str, Fixed] = {}
        with trades_csv.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(REGISTER_COLUMNS)
            done = 0
            async for rows in source.stream_trades(tday.start_ns, tday.end_ns):
                chunk = []
                for row in rows:
                    (tid, ts, sym, px, qty, aggr, b_oid, b_own, b_acct, b_cl,
                     s_oid, s_own, s_acct, s_cl) = row  # fmt: skip
                    agg.trade(
                        ts,
                        sym,
                        px,
                        qty,
                        buy_owner=b_own,
                        buy_account=b_acct,
                        sell_owner=s_own,
                        sell_account=s_acct,
                    )
                    fmt = fixed.get(sym)
                    if fmt is None:
                        fmt = fixed[sym] = Fixed(_instrument(instruments, sym))
                    chunk.append(
                        [
                            str(tid),
                            str(ts),
                            f"{day.isoformat()} {tday.format_time(ts)}",
                            sym,
                            fmt(px),
                            str(qty),
                            fmt(px * qty),
                            "buy" if aggr == "1" else "sell",
                            b_own,
                            b_acct,
                            b_cl,
                            str(b_oid),
                            s_own,
                            s_acct,
                            s_cl,
                            str(s_oid),
                        ]
                    )
                writer.writerows(chunk)
                if len(register) < register_limit:
                    register.extend(chunk[: register_limit - len(register)])
                done += len(rows)
                report("trades", done, extent.trades)

        for session_id, ts_ns, kind, detail in await source.session_events(
            tday.start_ns, tday.end_ns
        ):
            agg.session_event(session_id, ts_ns, kind, detail or "")

    report("render", 0, None)
    tables = _tables(agg, instruments, tday)
    csv_paths: dict[str, Path] = {"trades": trades_csv}
    for name, frame in tables.items():
        path = out_dir / f"{stem}-{name}.csv"
        frame.to_csv(path, index=False)
        csv_paths[name] = path
    html_path = out_dir / f"{stem}.html"
    html_text = _html(
        tday,
        agg,
        instruments,
        tables,
        register,
        extent=extent,
        interval_s=interval_s,
        source_where=source.where,
    )
    html_path.write_text(html_text, encoding="utf-8")
    report("render", 1, 1)
    return ReportResult(
        html_path=html_path,
        csv_paths={name: csv_paths[name] for name in TABLES},
        summary=tables["summary"],
        tables=tables,
        trades=agg.trade_count,
        events=agg.event_count,
    )


def _div(numerator: int, denominator: int) -> Fraction:
    return Fraction(numerator, denominator)


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


def _instrument(instruments: dict[str, Instrument], symbol: str) -> Instrument:
    """The instrument, or a stand-in with tick size 1 when the store does not list it
    (prices then show as ticks). The stand-in is named UNLISTED: a rejected order's symbol
    may be one no instrument can have ('A B'); the report shows the symbol it was given."""
    if symbol not in instruments:
        instruments[symbol] = Instrument("UNLISTED", Decimal(1), description="(unlisted)")
    return instruments[symbol]


def _tables(
    agg: DayAggregator, instruments: dict[str, Instrument], tday: TradingDay
) -> dict[str, pd.DataFrame]:
    summary: list[dict[str, Any]] = []
    closes: dict[str, int] = {}
    for symbol in sorted(agg.symbols):
        s = agg.symbols[symbol]
        ins = _instrument(instruments, symbol)
        d = s.day
        if d is not None:
            closes[symbol] = d.close
        summary.append(
            {
                "symbol": symbol,
                "open": price(ins, d.open) if d else "",
                "high": price(ins, d.high) if d else "",
                "low": price(ins, d.low) if d else "",
                "close": price(ins, d.close) if d else "",
                "vwap": price(ins, _div(d.notional, d.volume), EXTRA_PRICE_DECIMALS) if d else "",
                "volume": d.volume if d else 0,
                "turnover": money(ins, d.notional if d else 0),
                "trades": d.trades if d else 0,
                "orders": s.orders,
                "replaces": s.replaces,
                "cancels": s.cancels,
                "expired": s.expired,
                "rejects": s.rejects,
                "cancel_rejects": s.cancel_rejects,
            }
        )

    participants: list[dict[str, Any]] = []
    for key in sorted(agg.participants):
        p = agg.participants[key]
        listed = instruments.get(p.symbol)
        participants.append(
            {
                "owner": p.owner,
                "account": p.account,
                "symbol": p.symbol,
                "orders": p.orders,
                "ordered_qty": p.ordered_qty,
                "rejects": p.rejects,
                "replaces": p.replaces,
                "cancels": p.cancels,
                "expired": p.expired,
                "fills": p.fills,
                "bought_qty": p.bought_qty,
                "sold_qty": p.sold_qty,
                "traded_qty": p.traded_qty,
                "notional": money(listed, p.notional),
                "fill_ratio": ratio(p.traded_qty, p.ordered_qty),
                "order_to_trade_ratio": ratio(p.order_events, p.fills),
            }
        )

    positions: list[dict[str, Any]] = []
    for key in sorted(agg.positions):
        pos = agg.positions[key]
        owner, account, symbol = key
        ins = _instrument(instruments, symbol)
        part = agg.participants[key]
        close = closes[symbol]
        total = part.sell_notional - part.buy_notional + pos.qty * close
        # Realised is rounded; unrealised is the exact total minus it (specs/reports.md).
        realised = money_value(ins, pos.realised)
        unrealised = money_value(ins, total - Fraction(realised) / Fraction(ins.tick_size))
        avg = pos.average
        positions.append(
            {
                "owner": owner,
                "account": account,
                "symbol": symbol,
                "bought_qty": part.bought_qty,
                "sold_qty": part.sold_qty,
                "buy_notional": money(ins, part.buy_notional),
                "sell_notional": money(ins, part.sell_notional),
                "position": pos.qty,
                "avg_price": "" if avg is None else price(ins, avg, EXTRA_PRICE_DECIMALS),
                "close": price(ins, close),
                "realised_pnl": f"{realised:f}",
                "unrealised_pnl": f"{unrealised:f}",
                "total_pnl": money(ins, total),
            }
        )

    candles: list[dict[str, Any]] = []
    for symbol in sorted(agg.symbols):
        ins = _instrument(instruments, symbol)
        for bucket, c in sorted(agg.symbols[symbol].candles.items()):
            start = tday.start_ns + bucket * agg.interval_ns
            candles.append(
                {
                    "symbol": symbol,
                    "start": tday.local_time(start).strftime("%Y-%m-%d %H:%M:%S"),
                    "open": price(ins, c.open),
                    "high": price(ins, c.high),
                    "low": price(ins, c.low),
                    "close": price(ins, c.close),
                    "volume": c.volume,
                    "turnover": money(ins, c.notional),
                    "trades": c.trades,
                }
            )

    top: list[dict[str, Any]] = []
    for symbol in sorted(agg.books):
        ins = _instrument(instruments, symbol)
        for ts, bid, ask in agg.books[symbol].samples:
            top.append(
                {
                    "symbol": symbol,
                    "time": f"{tday.day.isoformat()} {tday.format_time(ts)}",
                    "best_bid": "" if bid is None else price(ins, bid),
                    "best_ask": "" if ask is None else price(ins, ask),
                    "spread": "" if bid is None or ask is None else price(ins, ask - bid),
                }
            )

    sessions: list[dict[str, Any]] = []
    for session_id in sorted(agg.sessions):
        h = agg.sessions[session_id]
        known = {"logon", "logout", "disconnect"}
        sessions.append(
            {
                "session_id": session_id,
                "first_seen": f"{tday.day.isoformat()} {tday.format_time(h.first_ns)}",
                "last_seen": f"{tday.day.isoformat()} {tday.format_time(h.last_ns)}",
                "logons": h.kinds["logon"],
                "logouts": h.kinds["logout"],
                "disconnects": h.kinds["disconnect"],
                "rejects": sum(n for k, n in h.kinds.items() if "reject" in k),
                "other": sum(n for k, n in h.kinds.items() if k not in known and "reject" not in k),
            }
        )

    rejects = [
        {"source": source, "reason": reason, "count": count}
        for (source, reason), count in sorted(agg.reject_reasons.items())
    ]

    def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=columns)

    return {
        "summary": frame(summary, list(_SUMMARY_COLUMNS)),
        "participants": frame(participants, list(_PARTICIPANT_COLUMNS)),
        "positions": frame(positions, list(_POSITION_COLUMNS)),
        "candles": frame(candles, list(_CANDLE_COLUMNS)),
        "top-of-book": frame(top, ["symbol", "time", "best_bid", "best_ask", "spread"]),
        "sessions": frame(sessions, list(_SESSION_COLUMNS)),
        "rejects": frame(rejects, ["source", "reason", "count"]),
    }


_SUMMARY_COLUMNS = (
    "symbol", "open", "high", "low", "close", "vwap", "volume", "turnover", "trades",
    "orders", "replaces", "cancels", "expired", "rejects", "cancel_rejects",
)  # fmt: skip
_PARTICIPANT_COLUMNS = (
    "owner", "account", "symbol", "orders", "ordered_qty", "rejects", "replaces", "cancels",
    "expired", "fills", "bought_qty", "sold_qty", "traded_qty", "notional", "fill_ratio",
    "order_to_trade_ratio",
)  # fmt: skip
_POSITION_COLUMNS = (
    "owner", "account", "symbol", "bought_qty", "sold_qty", "buy_notional", "sell_notional",
    "position", "avg_price", "close", "realised_pnl", "unrealised_pnl", "total_pnl",
)  # fmt: skip
_CANDLE_COLUMNS = (
    "symbol", "start", "open", "high", "low", "close", "volume", "turnover", "trades",
)  # fmt: skip
_SESSION_COLUMNS = (
    "session_id", "first_seen", "last_seen", "logons", "logouts", "disconnects", "rejects",
    "other",
)  # fmt: skip


def _html(
    tday: TradingDay,
    agg: DayAggregator,
    instruments: dict[str, Instrument],
    tables: dict[str, pd.DataFrame],
    register: list[list[str]],
    *,
    extent: DayExtent,
    interval_s: int,
    source_where: str,
) -> str:
    day_text = tday.day.isoformat()
    meta = [
        f"Trading day {day_text}, {tday.tz} (local midnight to midnight).",
        f"Source: {source_where}. {agg.event_count} journal events, {agg.trade_count} trades, "
        f"{extent.session_events} FIX session events.",
        "Prices and amounts are exact decimals in each instrument's quote currency; "
        "definitions in specs/reports.md.",
    ]
    figure = render.FigureWriter()

    summary = render.Section("summary", "Summary")
    if agg.trade_count == 0:
        summary.body.append(
            render.note(f"No trading on {day_text}: no trades were executed on this day.")
        )
    summary.body.append(render.table(tables["summary"], table_id="summary"))

    charts = render.Section("charts", "Charts")
    label = interval_label(interval_s)
    for symbol in sorted(agg.symbols):
        ins = _instrument(instruments, symbol)
        stats = agg.symbols[symbol]
        charts.body.append(f"<h3>{html.escape(symbol)}</h3>")
        if stats.candles:
            fig = render.candle_figure(tday, ins, stats.candles, interval_s, label)
            charts.body.append(figure(fig, f"candles-{symbol}"))
        else:
            charts.body.append(render.paragraph("No trades."))
        book = agg.books.get(symbol)
        x_range = None
        if stats.candles:
            x_range = (
                tday.start_ns + min(stats.candles) * agg.interval_ns,
                tday.start_ns + (max(stats.candles) + 1) * agg.interval_ns,
            )
        tob = (
            render.top_of_book_figure(tday, ins, book, agg_end(agg, tday), x_range)
            if book
            else None
        )
        if tob is not None:
            charts.body.append(figure(tob, f"tob-{symbol}"))
        else:
            charts.body.append(render.paragraph("No resting orders: no top of book."))
    if not agg.symbols:
        charts.body.append(render.paragraph("No order activity."))

    participants = render.Section("participants", "Participants")
    participants.body.append(
        render.paragraph(
            "Per owner (FIX session), account and symbol. Fill ratio = traded quantity / "
            "quantity of orders entered; order-to-trade ratio = (orders + rejects + replaces "
            "+ cancels) / fills."
        )
    )
    participants.body.append(render.table(tables["participants"], table_id="participants"))

    positions = render.Section("positions", "Positions at close")
    positions.body.append(
        render.paragraph(
            "Positions from the day's trades (each day starts flat), average-cost method; "
            "unrealised P&L marked at the symbol's closing price. Realised is rounded half-even "
            "to the price precision; unrealised = total - realised, so the two add up to the "
            "exact total."
        )
    )
    positions.body.append(render.table(tables["positions"], table_id="positions"))

    trades = render.Section("trades", "Trade register")
    if agg.trade_count > len(register):
        trades.body.append(
            render.note(
                f"Showing the first {len(register)} of {agg.trade_count} trades; "
                f"eod-{day_text}-trades.csv holds all of them."
            )
        )
    trades.body.append(render.paragraph("Click a column header to sort."))
    frame = pd.DataFrame(register, columns=REGISTER_COLUMNS).drop(columns=["ts_ns"])
    trades.body.append(render.table(frame, table_id="trade-register"))

    health = render.Section("health", "Venue health")
    sessions = tables["sessions"]
    health.body.append(
        render.paragraph(
            f"FIX sessions seen: {len(sessions)}; logons: {int(sessions['logons'].sum())}; "
            f"disconnects: {int(sessions['disconnects'].sum())}."
        )
    )
    health.body.append(render.table(sessions, table_id="sessions"))
    health.body.append("<h3>Rejects by reason</h3>")
    health.body.append(render.table(tables["rejects"], table_id="rejects"))

    return render.page(
        f"End-of-day report {day_text}",
        meta,
        [summary, charts, participants, positions, trades, health],
    )


def agg_end(agg: DayAggregator, tday: TradingDay) -> int:
    """Where the top-of-book lines end: the last sample time, or the day's end."""
    last = max((b.samples[-1][0] for b in agg.books.values() if b.samples), default=tday.start_ns)
    return min(tday.end_ns - 1, last + agg.sample_ns)
