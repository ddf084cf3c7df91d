"""Market data benchmark (not a test): cost of on_events and encoding, and end to end
through a real Mosquitto: trades/s delivered to a subscriber and on_events -> subscriber
latency (p50/p99).

    python benchmarks/md_publisher.py [--url mqtt://127.0.0.1:1883] [--seconds 5]
        [--rate 30000] [--symbols 6] [--trade-every 2] [--interval 0.005]

Orders arrive at ``--rate`` events/s (an OrderAccepted per order, and a Trade every
``--trade-every`` orders), spread over ``--symbols`` symbols, in 1 ms batches as the engine
would hand them over. The subscriber runs in its own process and measures, per trade,
arrival wall time minus the trade's ts_ns (stamped at the on_events call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import time
import uuid
from decimal import Decimal
from typing import Any

from market_data.config import MarketDataConfig, endpoint
from market_data.payloads import PriceFormatter, SymbolFeed, encode_trades
from market_data.publisher import MarketDataPublisher
from market_data.testing import EventFactory, FakeBook
from venue.events import Event
from venue.instruments import Instrument
from venue.types import Side


def instruments(n: int) -> list[Instrument]:
    return [Instrument(f"SYM{i}", Decimal("0.01")) for i in range(n)]


def micro(symbols: int) -> None:
    """In-process costs, no broker."""
    insts = instruments(symbols)
    book = FakeBook(insts)
    for inst in insts:
        book.set(
            inst.symbol,
            [(10000 - i, 100, 2) for i in range(10)],
            [(10001 + i, 100, 2) for i in range(10)],
        )
    pub = MarketDataPublisher(book, MarketDataConfig(buffer_size=10**7))
    ev = EventFactory()
    n = 200_000
    events: list[Event] = []
    for i in range(n // 2):
        sym = insts[i % symbols].symbol
        events.append(ev.accepted(sym, Side.BUY, 1, 10000))
        events.append(ev.trade(sym, 10000 + i % 5, 1 + i % 9))
    t0 = time.perf_counter()
    for i in range(0, n, 30):
        pub.on_events(events[i : i + 30])
    t1 = time.perf_counter()
    print(f"on_events: {(t1 - t0) / n * 1e9:.0f} ns/event ({n / (t1 - t0):,.0f} events/s)")
    t0 = time.perf_counter()
    msgs = pub.take_cycle(full=True)
    t1 = time.perf_counter()
    print(
        f"take_cycle: {(t1 - t0) / (n // 2) * 1e9:.0f} ns/trade "
        f"({n // 2} trades -> {len(msgs)} messages, "
        f"{sum(len(m.payload) for m in msgs) / (n // 2):.0f} bytes/trade)"
    )
    # hand-written trades encoder vs json.dumps of dicts
    feed = SymbolFeed(insts[0], PriceFormatter(insts[0]), "open")
    batch = [(i + 1, e) for i, e in enumerate(events[1:2000:2])]
    fmt = feed.fmt
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        encode_trades(feed, 1, first_seq=1, last_seq=1000, trades=batch, lost=[])  # type: ignore[arg-type]
    t1 = time.perf_counter()
    for _ in range(reps):
        json.dumps(
            {
                "v": 1,
                "symbol": "SYM0",
                "epoch": 1,
                "first_seq": 1,
                "last_seq": 1000,
                "lost": [],
                "trades": [
                    {
                        "seq": s,
                        "trade_id": t.trade_id,
                        "price": fmt(t.price),  # type: ignore[union-attr]
                        "qty": t.qty,
                        "aggressor": "buy",
                        "ts_ns": t.ts_ns,
                    }  # type: ignore[union-attr]
                    for s, t in batch
                ],
            },
            separators=(",", ":"),
        ).encode()
    t2 = time.perf_counter()
    per = len(batch) * reps
    print(
        f"trades encoding: hand-written {(t1 - t0) / per * 1e9:.0f} ns/trade, "
        f"json.dumps {(t2 - t1) / per * 1e9:.0f} ns/trade"
    )


def subscriber(url: str, prefix: str, ready: Any, results: Any, seconds: float) -> None:
    import aiomqtt

    async def main() -> None:
        ep = endpoint(url)
        lat: list[tuple[int, int]] = []
        trades = messages = 0
        gaps = 0
        last: dict[str, int] = {}
        async with aiomqtt.Client(ep.host, ep.port, max_queued_incoming_messages=0) as client:
            await client.subscribe(f"{prefix}/#", qos=1)
            ready.set()
            try:
                async with asyncio.timeout(seconds) as idle:
                    async for msg in client.messages:
                        messages += 1
                        if not msg.topic.value.endswith("/trades"):
                            continue
                        # stop once trades have stopped for 2 s
                        idle.reschedule(asyncio.get_running_loop().time() + 2.0)
                        now = time.time_ns()
                        body = json.loads(msg.payload)  # type: ignore[arg-type]
                        sym = body["symbol"]
                        if sym in last and body["first_seq"] != last[sym] + 1:
                            gaps += 1
                        last[sym] = body["last_seq"]
                        lat.extend((t["trade_id"], now) for t in body["trades"])
                        trades += len(body["trades"])
            except TimeoutError:
                pass
        results.put({"trades": trades, "messages": messages, "lat": lat, "gaps": gaps})

    asyncio.run(main())


async def end_to_end(args: argparse.Namespace) -> None:
    insts = instruments(args.symbols)
    book = FakeBook(insts)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    cfg = MarketDataConfig(url=args.url, prefix=prefix, publish_interval=args.interval)
    pub = MarketDataPublisher(book, cfg)
    ctx = mp.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    sub = ctx.Process(target=subscriber, args=(args.url, prefix, ready, results, 120.0))
    sub.start()
    await asyncio.to_thread(ready.wait, 20)
    task = asyncio.create_task(pub.run())
    while not pub.connected:
        await asyncio.sleep(0.01)
    # events are made before the clock starts, so only the publisher's cost is measured
    ev = EventFactory()
    total = int(args.rate * args.seconds) + 1
    pregen: list[Event] = []
    for n in range(1, total + 1):
        sym = insts[n % args.symbols].symbol
        price = 10000 + n % 7
        pregen.append(ev.accepted(sym, Side.BUY, 1, price))
        if n % args.trade_every == 0:
            pregen.append(ev.trade(sym, price, 1 + n % 9))
    sent_ns: dict[int, int] = {}
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = pos = 0
    worst_call = 0.0
    calls = 0
    call_time = 0.0
    while (now := loop.time()) - start < args.seconds:
        due = min(int((now - start) * args.rate), total) - sent
        end = pos
        for _ in range(due):  # one OrderAccepted per order, plus its Trade if any
            end += 1
            if end < len(pregen) and type(pregen[end]).__name__ == "Trade":
                end += 1
        batch = pregen[pos:end]
        if sent % 97 == 0:
            sym = insts[sent % args.symbols].symbol
            book.set(
                sym,
                [(10000 - i, 100 + sent % 50, 2) for i in range(10)],
                [(10001 + i, 100, 2) for i in range(10)],
            )
        t0 = time.perf_counter()
        stamp = time.time_ns()
        pub.on_events(batch)
        dt = time.perf_counter() - t0
        for e in batch:
            if type(e).__name__ == "Trade":
                sent_ns[e.trade_id] = stamp  # type: ignore[union-attr]
        worst_call = max(worst_call, dt)
        call_time += dt
        calls += 1
        sent += due
        pos = end
        await asyncio.sleep(0.001)
    elapsed = loop.time() - start
    await asyncio.sleep(1.0)
    pub.stop()
    await asyncio.wait_for(task, 10)
    res = await asyncio.to_thread(results.get, True, 150)
    sub.join(10)
    lat = sorted(arrived - sent_ns[tid] for tid, arrived in res["lat"])
    c = pub.counters
    print(
        f"offered: {sent / elapsed:,.0f} orders/s, {c.trades_in / elapsed:,.0f} trades/s "
        f"over {elapsed:.1f}s, {args.symbols} symbols, interval {args.interval * 1e3:g} ms"
    )
    print(
        f"on_events: mean {call_time / max(calls, 1) * 1e6:.0f} us/call "
        f"({sent / max(calls, 1):.0f} orders/call), worst {worst_call * 1e3:.2f} ms"
    )
    print(
        f"published: {c.messages_published / elapsed:,.0f} msgs/s in {c.cycles} cycles, "
        f"dropped {c.trades_dropped} trades"
    )
    print(
        f"subscriber: {res['trades'] / elapsed:,.0f} trades/s delivered "
        f"({res['trades']} of {c.trades_in}), {res['messages']} messages, "
        f"{res['gaps']} gaps"
    )
    if lat:

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] / 1e6

        print(
            f"latency on_events -> subscriber: p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms, "
            f"max {lat[-1] / 1e6:.2f} ms, mean {statistics.fmean(lat) / 1e6:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=30_000, help="orders per second")
    parser.add_argument("--symbols", type=int, default=6)
    parser.add_argument("--trade-every", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--micro-only", action="store_true")
    args = parser.parse_args()
    micro(args.symbols)
    if not args.micro_only:
        asyncio.run(end_to_end(args))


if __name__ == "__main__":
    main()
