"""Engine snapshot: what it costs the event loop, built in the loop or in a forked child.

    python benchmarks/snapshot.py                 # 1,000,000 resting orders
    python benchmarks/snapshot.py --orders 100000

Rests N orders in an engine (as ``engine.py``'s memory phase), freezes them as the venue
does after start-up (``tune_gc``), then, in an asyncio loop with a ticker that wakes every
millisecond, takes the snapshot's text twice: in the loop (``engine.snapshot().to_json()``
with the collector off, as a stopping venue does) and through
:class:`venue.snapshot_child.SnapshotChild`. For each it prints the time to the text, the
loop's longest stall (the longest gap between two ticks) and, for the child, the time the
fork itself held the loop. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import rest_orders  # the benchmark next to this one

from venue.snapshot_child import SnapshotChild
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


async def measure(orders: int) -> None:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=1_000_000, help="resting orders")
    args = ap.parse_args()
    print(f"{args.orders:,} resting orders")
    asyncio.run(measure(args.orders))


if __name__ == "__main__":
    main()
