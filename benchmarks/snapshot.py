"""Engine snapshot: what it costs the event loop, built in the loop or in a forked child,
and what storing it costs the group commits.

    python benchmarks/snapshot.py                 # 1,000,000 resting orders, SQLite
    python benchmarks/snapshot.py --orders 100000 --stores sqlite,postgres
    python benchmarks/snapshot.py --part-chars 2000000000   # the text in one transaction

Rests N orders in an engine (as ``engine.py``'s memory phase), freezes them as the venue
does after start-up (``tune_gc``), then, in an asyncio loop with a ticker that wakes every
millisecond, takes the snapshot's text twice: in the loop (``engine.snapshot().to_json()``
with the collector off, as a stopping venue does) and through
:class:`venue.snapshot_child.SnapshotChild`. For each it prints the time to the text, the
loop's longest stall (the longest gap between two ticks) and, for the child, the time the
fork itself held the loop.

Then, for each store (a fresh SQLite file, or a fresh PostgreSQL database on
VENUE_BENCH_PG_URL), it stores that text with ``Store.write_snapshot_text`` while a task
journals one command and commits every millisecond, as a trading venue does, and prints
the time the store took and the longest commit (the wait of an acknowledgement) during it,
against the median commit before. ``--part-chars`` sets the parts the text is stored in
(``venue.store.store.SNAPSHOT_PART_CHARS``). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import rest_orders  # the benchmarks next to this one
from store import drop_pg, pg_database, workload

import venue.store.store as store_module
from venue.snapshot_child import SnapshotChild
from venue.store import Store
from venue.tuning import tune_gc


class Ticker:
    """Wakes every millisecond and keeps the longest gap between two wake-ups."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._last = time.perf_counter()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - self._last)
            self._last = now

    def __enter__(self) -> Ticker:
        self._last = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def store_text(url: str, text: str) -> None:
    """Store ``text`` while commits go on every millisecond; print what the commits waited."""
    work = workload(20_000)
    store = await Store.open(url)
    waits: list[tuple[float, float]] = []  # (start, duration) of each commit
    storing = True

    async def commit_every_ms() -> None:
        for cmd_no, (cmd, events) in enumerate(work, start=1):
            if not storing:
                break
            store.journal(cmd_no, cmd, events)
            started = time.perf_counter()
            await store.commit()
            waits.append((started, time.perf_counter() - started))
            await asyncio.sleep(0.001)

    committer = asyncio.create_task(commit_every_ms())
    try:
        await asyncio.sleep(1.0)
        started = time.perf_counter()
        await store.write_snapshot_text(len(work) * 10, 0, text)
        ended = time.perf_counter()
        storing = False
        await committer
    finally:
        await store.close()
    before = sorted(wait for at, wait in waits if started - 0.5 < at < started)
    during = [wait for at, wait in waits if started <= at + wait and at <= ended]
    print(f"  stored in {ended - started:.2f} s; {len(during)} commits meanwhile, the longest "
          f"{max(during) * 1e3:,.1f} ms (median before {before[len(before) // 2] * 1e3:.2f} ms)")


async def measure_stores(stores: list[str], text: str) -> None:
    parts = -(-len(text) // store_module.SNAPSHOT_PART_CHARS)
    for kind in stores:
        print(f"storing it, {kind}, in {parts:,} parts:")
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                await store_text(f"sqlite+aiosqlite:///{tmp}/venue.db", text)
        else:
            name, url = await pg_database()
            try:
                await store_text(url, text)
            finally:
                await drop_pg(name)


async def measure(orders: int, stores: list[str]) -> None:
    gc.disable()  # as recovery builds the books
    engine = rest_orders(orders, 10)
    gc.enable()
    tune_gc()
    await asyncio.sleep(0.01)

    with Ticker() as ticker:
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        gc.disable()
        try:
            text = engine.snapshot().to_json()
        finally:
            gc.enable()
        in_loop = time.perf_counter() - started
        await asyncio.sleep(0.01)
    stall = ticker.longest * 1e3
    print(f"in the loop:  text in {in_loop:.2f} s, longest loop stall {stall:,.0f} ms"
          f" ({len(text) / 1e6:,.0f} MB)")

    with Ticker() as ticker:
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        child = SnapshotChild(engine)
        forked = time.perf_counter() - started
        got = await child.text()
        in_child = time.perf_counter() - started
        await asyncio.sleep(0.01)
    stall, same = ticker.longest * 1e3, got == text
    print(f"in a child:   text in {in_child:.2f} s, longest loop stall {stall:,.0f} ms"
          f" (the fork {forked * 1e3:,.1f} ms; the same text: {same})")
    del engine
    gc.collect()
    await measure_stores(stores, text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=1_000_000, help="resting orders")
    ap.add_argument("--stores", default="sqlite", help="comma-separated: sqlite, postgres")
    ap.add_argument("--part-chars", type=int, default=store_module.SNAPSHOT_PART_CHARS,
                    help="characters per stored part of the text")
    args = ap.parse_args()
    store_module.SNAPSHOT_PART_CHARS = args.part_chars
    print(f"{args.orders:,} resting orders")
    asyncio.run(measure(args.orders, [s for s in args.stores.split(",") if s]))


if __name__ == "__main__":
    main()
