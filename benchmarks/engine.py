"""Matching-engine throughput, latency and memory benchmark (in-process, not a test).

Phase 1 pre-generates a reproducible command flow (fixed seed) over N symbols:
~60% passive limit orders near the mid on both sides, ~20% cancels of random live orders,
~15% marketable limit orders, ~5% market orders; then times only ``engine.handle``.
It prints commands/second over the whole run and the p50/p99 per-command latency measured
with ``time.perf_counter_ns`` around each call in a second, identical run.

Phase 2, in a fresh process, rests 1,000,000 non-crossing orders (bids below, asks above
the mid) and reports the peak RSS growth (VmHWM, else ru_maxrss) while they rest.

    python benchmarks/engine.py [--commands 1000000] [--symbols 10] [--seed 7]
                                [--resting 1000000] [--profile] [--callgrind]

``--callgrind`` only runs the flow, inside ``all()``, so that callgrind counts the engine's
instructions alone (noise-free, unlike wall-clock time on a shared machine)::

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=builtin_all \
        python benchmarks/engine.py --commands 200000 --callgrind

(instructions per command = the "Collected" total / 200,000).
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import subprocess
import sys
import time
from decimal import Decimal

from venue.commands import CancelOrder, Command, NewOrder
from venue.engine import MatchingEngine
from venue.events import OrderAccepted
from venue.instruments import Instrument
from venue.types import OrderId, OrdType, Price, Qty, Side

MID = 10_000


def instruments(symbols: int) -> list[Instrument]:
    return [Instrument(f"SYM{i}", Decimal("0.01")) for i in range(symbols)]


def generate(commands: int, symbols: int, seed: int) -> list[Command]:
    """The command flow. Cancels target order ids that were accepted earlier and are
    probably still live (the generator tracks which ids it has issued and cancelled; a
    cancel of an order that traded meanwhile is answered with a CancelRejected, as in
    real life)."""
    rng = random.Random(seed)
    names = [f"SYM{i}" for i in range(symbols)]
    owners = [f"FIRM{i}" for i in range(20)]
    cmds: list[Command] = []
    live: list[tuple[int, str, str]] = []  # (order id, owner, cl_ord_id) of resting limits
    next_oid = 1
    for n in range(commands):
        ts = n + 1
        r = rng.random()
        symbol = names[rng.randrange(symbols)]
        owner = owners[rng.randrange(len(owners))]
        cl = f"C{n}"
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = Qty(rng.randrange(1, 10) * 100)
        if r < 0.20 and live:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]
            oid, o_owner, o_cl = live.pop()
            cmds.append(CancelOrder(ts, o_owner, cl, o_cl, order_id=OrderId(oid)))
            continue
        if r < 0.80:  # passive limit near mid
            offset = rng.randrange(1, 30)
            price = MID - offset if side is Side.BUY else MID + offset
            cmds.append(NewOrder(ts, owner, cl, symbol, side, OrdType.LIMIT, qty, Price(price)))
            live.append((next_oid, owner, cl))
        elif r < 0.95:  # marketable limit
            offset = rng.randrange(0, 20)
            price = MID + offset if side is Side.BUY else MID - offset
            cmds.append(NewOrder(ts, owner, cl, symbol, side, OrdType.LIMIT, qty, Price(price)))
            live.append((next_oid, owner, cl))
        else:
            cmds.append(NewOrder(ts, owner, cl, symbol, side, OrdType.MARKET, qty))
        next_oid += 1
    return cmds


def throughput(cmds: list[Command], symbols: int) -> float:
    engine = MatchingEngine(instruments(symbols))
    handle = engine.handle
    gc.collect()
    gc.disable()
    start = time.perf_counter()
    for cmd in cmds:
        handle(cmd)
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed


def latencies(cmds: list[Command], symbols: int) -> list[int]:
    engine = MatchingEngine(instruments(symbols))
    handle = engine.handle
    clock = time.perf_counter_ns
    samples = [0] * len(cmds)
    gc.collect()
    gc.disable()
    for i, cmd in enumerate(cmds):
        t0 = clock()
        handle(cmd)
        samples[i] = clock() - t0
    gc.enable()
    samples.sort()
    return samples


def peak_rss_kib() -> int:
    """Peak RSS of this process in KiB: VmHWM (Linux; not inherited across fork/exec,
    unlike ru_maxrss), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rest_orders(resting: int, symbols: int) -> MatchingEngine:
    """An engine with ``resting`` limit orders resting around the mid (fixed seed)."""
    engine = MatchingEngine(instruments(symbols))
    names = [f"SYM{i}" for i in range(symbols)]
    rng = random.Random(1)
    for n in range(resting):
        side = Side.BUY if n % 2 else Side.SELL
        offset = rng.randrange(1, 500)
        price = MID - offset if side is Side.BUY else MID + offset
        events = engine.handle(
            NewOrder(
                n + 1,
                f"FIRM{n % 20}",
                f"C{n}",
                names[n % symbols],
                side,
                OrdType.LIMIT,
                Qty(100),
                Price(price),
            )
        )
        assert isinstance(events[0], OrderAccepted)
    return engine


def memory(resting: int, symbols: int) -> tuple[float, int]:
    """Rest ``resting`` orders; return (MiB of peak RSS growth, orders resting)."""
    gc.collect()
    before = peak_rss_kib()
    engine = rest_orders(resting, symbols)
    after = peak_rss_kib()
    count = len(engine.live_orders())
    return (after - before) / 1024, count


def _run_all(engine: MatchingEngine, cmds: list[Command]) -> None:
    for cmd in cmds:
        engine.handle(cmd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--resting", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the timed run")
    parser.add_argument(
        "--callgrind", action="store_true", help="run the flow once inside all(), untimed"
    )
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_only:
        mib, count = memory(args.resting, args.symbols)
        print(f"memory: {count:,} resting orders, peak RSS growth {mib:,.0f} MiB")
        return

    t0 = time.perf_counter()
    cmds = generate(args.commands, args.symbols, args.seed)
    print(f"generated {len(cmds):,} commands in {time.perf_counter() - t0:.1f}s")
    if args.callgrind:
        engine = MatchingEngine(instruments(args.symbols))
        gc.collect()
        gc.disable()
        # builtin_all is the only C function that wraps the whole flow: the toggle point.
        if not all(map(engine.handle, cmds)):  # every command yields at least one event
            raise SystemExit("a command yielded no event")
        return
    if args.profile:
        import cProfile
        import pstats

        engine = MatchingEngine(instruments(args.symbols))
        profiler = cProfile.Profile()
        # As in the timed run: with the collector on, its pauses are charged to whichever
        # function happens to allocate, which points the profile at the wrong places.
        gc.collect()
        gc.disable()
        profiler.runcall(_run_all, engine, cmds)
        gc.enable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return
    elapsed = throughput(cmds, args.symbols)
    print(f"throughput: {len(cmds) / elapsed:,.0f} commands/s ({elapsed:.2f}s)")
    lat = latencies(cmds, args.symbols)
    p50 = lat[len(lat) // 2]
    p99 = lat[int(len(lat) * 0.99)]
    print(f"latency per command: p50 {p50 / 1000:.2f} us, p99 {p99 / 1000:.2f} us")
    del cmds, lat
    if args.resting:
        # A fresh process, so that phase 1's peak RSS does not hide phase 2's.
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-only",
                f"--resting={args.resting}",
                f"--symbols={args.symbols}",
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
