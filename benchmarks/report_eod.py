"""Benchmark: the end-of-day report over a day of 1,000,000 orders (not a test).

1. Generates a trading day into a SQLite store: the real matching engine handles the
   orders (limit orders around a drifting mid on 4 symbols, 1 in 5 followed later by a
   cancel, a few market orders), and the resulting journal rows (the store's own
   ``venue.store.rows.build_rows``) are bulk-inserted in batches into a schema made by
   ``Store.open`` (the real migrations).
2. Builds the report in a fresh subprocess and prints its wall time and peak RSS (the
   subprocess measures only the report, not the generation).

    python benchmarks/report_eod.py [--orders 1000000] [--db PATH] [--keep]

The database is reused when it exists with the same number of orders (--db), so the
report can be timed again without regenerating.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

DAY = date(2026, 1, 5)
NS = 1_000_000_000
BATCH = 50_000


def _instruments() -> list:  # type: ignore[type-arg]
    from venue.instruments import Instrument
    from venue.types import Price

    return [
        Instrument("AAPL", Decimal("0.01"), reference_price=Price(19000)),
        Instrument("MSFT", Decimal("0.01"), reference_price=Price(42000)),
        Instrument("ESZ6", Decimal("0.25"), reference_price=Price(24000)),
        Instrument("EURUSD", Decimal("0.00001"), lot_size=1000, reference_price=Price(108000)),
    ]


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict], upsert: bool = False) -> None:  # type: ignore[type-arg]
    if not rows:
        return
    columns = list(rows[0])
    verb = "INSERT OR REPLACE" if upsert else "INSERT"
    sql = f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.executemany(sql, [tuple(r[c] for c in columns) for r in rows])


def generate(path: Path, orders: int, seed: int = 1) -> dict[str, int]:
    """Write a day with ``orders`` new orders to the SQLite file ``path``."""
    from venue.commands import AddInstrument, CancelOrder, Command, NewOrder
    from venue.engine import MatchingEngine
    from venue.events import Event
    from venue.store import Store
    from venue.store.rows import build_rows
    from venue.types import OrdType, Price, Qty, Side, TimeInForce

    async def schema() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{path}")
        await store.close()

    asyncio.run(schema())
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    rng = random.Random(seed)
    engine = MatchingEngine()
    listed = _instruments()
    start = int(datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=UTC).timestamp()) * NS
    step = (8 * 3600 + 30 * 60) * NS // orders  # 08:00 to 16:30
    journal: list[tuple[int, Command, list[Event]]] = []
    counts = {"commands": 0, "events": 0, "trades": 0}
    cmd_no = 0

    def flush() -> None:
        rows = build_rows(journal)
        _insert(conn, "commands", rows.commands)
        _insert(conn, "events", rows.events)
        _insert(conn, "trades", rows.trades)
        _insert(conn, "orders", list(rows.orders.values()), upsert=True)
        _insert(conn, "instruments", list(rows.instruments.values()), upsert=True)
        conn.commit()
        counts["events"] += len(rows.events)
        counts["trades"] += len(rows.trades)
        journal.clear()

    def run(cmd: Command) -> None:
        nonlocal cmd_no
        cmd_no += 1
        journal.append((cmd_no, cmd, engine.handle(cmd)))
        if len(journal) >= BATCH:
            flush()

    for ins in listed:
        run(AddInstrument(start - 3600 * NS, ins))
    mids = {ins.symbol: int(ins.reference_price or 100) for ins in listed}
    lots = {ins.symbol: ins.lot_size for ins in listed}
    owners = [f"FIX.4.4:VENUE->FIRM{i:02d}" for i in range(20)]
    pending_cancels: list[tuple[int, str, str]] = []  # due index, owner, cl_ord_id
    ts = start
    for i in range(orders):
        ts += step
        ins = listed[i % len(listed)]
        symbol = ins.symbol
        if i % 1000 == 0:
            mids[symbol] += rng.randint(-3, 3)
        owner = owners[rng.randrange(len(owners))]
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = Qty(rng.randint(1, 10) * lots[symbol])
        cl = f"C{i}"
        if rng.random() < 0.03:
            cmd: NewOrder = NewOrder(ts, owner, cl, symbol, side, OrdType.MARKET, qty,
                                     tif=TimeInForce.IOC, account=owner[-6:])  # fmt: skip
        else:
            offset = rng.randint(-8, 2)
            px = mids[symbol] - offset if side is Side.BUY else mids[symbol] + offset
            cmd = NewOrder(ts, owner, cl, symbol, side, OrdType.LIMIT, qty, price=Price(px),
                           account=owner[-6:])  # fmt: skip
            if rng.random() < 0.2:
                pending_cancels.append((i + rng.randint(5, 500), owner, cl))
        run(cmd)
        while pending_cancels and pending_cancels[0][0] <= i:
            _, own, orig = pending_cancels.pop(0)
            run(CancelOrder(ts, own, f"X{orig}", orig))
        if len(pending_cancels) > 1 and pending_cancels[-1][0] < pending_cancels[-2][0]:
            pending_cancels.sort()
    from venue.commands import EndOfDay

    run(EndOfDay(start + 9 * 3600 * NS))
    flush()
    conn.close()
    counts["commands"] = cmd_no
    return counts


def _peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would carry the parent's peak
    across fork/exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(db: Path, out: Path) -> dict[str, float]:
    """Build the report (in this process) and return seconds and peak RSS in MiB."""
    from reports.eod import build_report

    base = _peak_rss_mib()
    began = time.perf_counter()
    result = build_report(f"sqlite+aiosqlite:///{db}", DAY, out)
    seconds = time.perf_counter() - began
    peak = _peak_rss_mib()
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak, 1),
        "rss_before_mib": round(base, 1),
        "trades": result.trades,
        "events": result.events,
        "html_mib": round(result.html_path.stat().st_size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (reused if present)")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:  # the subprocess
        print(json.dumps(measure(args.measure, args.measure.parent / "report")))
        return
    work = Path(tempfile.mkdtemp(prefix="report-eod-"))
    db = args.db or work / f"venue-{args.orders}.db"
    if not db.exists():
        began = time.perf_counter()
        counts = generate(db, args.orders)
        print(
            f"generated {args.orders:,} orders: {counts['commands']:,} commands, "
            f"{counts['events']:,} events, {counts['trades']:,} trades, "
            f"{db.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - began:.1f} s"
        )
    done = subprocess.run(
        [sys.executable, __file__, "--measure", str(db)], capture_output=True, text=True, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"build_report: {figures['seconds']} s, peak RSS {figures['peak_rss_mib']} MiB "
        f"(after imports {figures['rss_before_mib']} MiB); {figures['events']:,} events, "
        f"{figures['trades']:,} trades; HTML {figures['html_mib']} MiB; output in {db.parent}"
    )


if __name__ == "__main__":
    main()
