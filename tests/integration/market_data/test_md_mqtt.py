"""Market data over a real Mosquitto: content, sequencing, retained snapshots, reconnect,
slow subscribers and the Last Will."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any, Protocol

import aiomqtt
import pytest

from market_data.config import MarketDataConfig
from market_data.publisher import MarketDataPublisher
from market_data.subscriber import SymbolView
from market_data.testing import EventFactory, FakeBook
from market_data.topics import Topics
from venue.instruments import Instrument
from venue.types import Side

pytestmark = pytest.mark.mqtt


class Broker(Protocol):  # the conftest fixtures' objects (test dirs are not packages)
    host: str
    port: int

    @property
    def url(self) -> str: ...


class PrivateBroker(Broker, Protocol):
    def start(self) -> None: ...

    def kill(self) -> None: ...


AAPL = Instrument("AAPL", Decimal("0.01"))
ES = Instrument("ESZ6", Decimal("0.25"))


class Collector:
    """Subscribes to everything under a prefix and keeps the messages by topic."""

    def __init__(self, broker: Broker, prefix: str) -> None:
        self.broker = broker
        self.topics = Topics(prefix)
        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self.views: dict[str, SymbolView] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.connects = 0

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
                    await client.subscribe(f"{self.topics.prefix}/#", qos=1)
                    self.connects += 1
                    self._ready.set()
                    async for msg in client.messages:
                        assert isinstance(msg.payload, bytes)
                        body = json.loads(msg.payload)
                        self.messages.append((msg.topic.value, body, msg.retain))
                        symbol, kind = self.topics.parse(msg.topic.value)
                        if symbol is not None:
                            view = self.views.setdefault(symbol, SymbolView(symbol, 10**6))
                            view.apply(kind, body)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)  # the private broker restarts: reconnect

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [body for t, body, _ in self.messages if t == topic]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; got {[(t, r) for t, _, r in self.messages]}")
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(pub: MarketDataPublisher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(pub.run())
    try:
        yield task
    finally:
        pub.stop()
        try:
            await asyncio.wait_for(task, 10)
        except (asyncio.CancelledError, TimeoutError):
            task.cancel()


async def until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def config(broker: Broker, prefix: str, **kw: Any) -> MarketDataConfig:
    return MarketDataConfig(url=broker.url, prefix=prefix, **kw)


async def test_scripted_flow_exact_content_and_sequence(mqtt_broker: Broker, prefix: str) -> None:
    book = FakeBook([AAPL, ES])
    pub = MarketDataPublisher(book, config(mqtt_broker, prefix))
    ev = EventFactory()
    t = Topics(prefix)
    async with Collector(mqtt_broker, prefix) as sub, running(pub):
        await until(lambda: pub.connected)
        expected: list[tuple[int, str, int, str]] = []
        for i in range(300):
            price = 19000 + (i % 7)
            trade = ev.trade("AAPL", price, 1 + i % 5, Side.BUY if i % 2 else Side.SELL)
            expected.append(
                (
                    trade.trade_id,
                    f"{price // 100}.{price % 100:02d}",
                    trade.qty,
                    "sell" if i % 2 == 0 else "buy",
                )
            )
            book.set("AAPL", bids=[(18990, 100 + i, 3)], asks=[(19010, 7, 1), (19011, 2, 2)])
            pub.on_events([ev.accepted("AAPL", Side.BUY, 1, 18990), trade])
            if i % 50 == 0:
                await asyncio.sleep(0.002)  # let some cycles happen in between
        await sub.wait(lambda: sum(len(m["trades"]) for m in sub.of(t.trades("AAPL"))) >= 300)
        got = [tr for m in sub.of(t.trades("AAPL")) for tr in m["trades"]]
        assert [tr["seq"] for tr in got] == list(range(1, 301))
        assert [(tr["trade_id"], tr["price"], tr["qty"], tr["aggressor"]) for tr in got] == expected
        ranges = [(m["first_seq"], m["last_seq"]) for m in sub.of(t.trades("AAPL"))]
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
        assert len(ranges) < 300  # batched
        await sub.wait(lambda: sub.of(t.book("AAPL"))[-1]["bids"][0]["qty"] == 399)
        last_book = sub.of(t.book("AAPL"))[-1]
        assert last_book["bids"] == [{"price": "189.90", "qty": 399, "orders": 3}]
        assert last_book["asks"] == [
            {"price": "190.10", "qty": 7, "orders": 1},
            {"price": "190.11", "qty": 2, "orders": 2},
        ]
        view = sub.views["AAPL"]
        assert view.gaps == [] and view.lost == []
        assert view.builder.seq == last_book["seq"]  # rebuilt from snapshot + deltas
        await sub.wait(lambda: sub.of(t.stats("AAPL"))[-1]["trades"] == 300)
        stats = sub.of(t.stats("AAPL"))[-1]
        assert stats["volume"] == sum(e[2] for e in expected)
        assert stats["trade_seq"] == 300
    venue = sub.of(t.venue_status)
    assert venue[0]["status"] == "online"


async def test_late_subscriber_gets_retained_snapshots(mqtt_broker: Broker, prefix: str) -> None:
    book = FakeBook([AAPL])
    pub = MarketDataPublisher(book, config(mqtt_broker, prefix))
    ev = EventFactory()
    t = Topics(prefix)
    book.set("AAPL", bids=[(19000, 5, 1)], asks=[(19005, 9, 2)])
    async with running(pub):
        await until(lambda: pub.connected)
        pub.on_events([ev.trade("AAPL", 19002, 4), ev.halt("AAPL")])
        await until(lambda: pub.counters.trades_published == 1 and not pub._status_dirty)
        await asyncio.sleep(0.1)
        async with Collector(mqtt_broker, prefix) as late:
            await late.wait(lambda: len({tp for tp, _, _ in late.messages}) >= 5)
            retained = {tp: body for tp, body, r in late.messages if r}
        assert retained[t.venue_status]["status"] == "online"
        assert retained[t.symbol_status("AAPL")]["status"] == "halted"
        assert retained[t.book("AAPL")]["asks"] == [{"price": "190.05", "qty": 9, "orders": 2}]
        assert (retained[t.bbo("AAPL")]["bid"], retained[t.bbo("AAPL")]["ask"]) == (
            "190.00",
            "190.05",
        )
        assert retained[t.stats("AAPL")]["last"] == "190.02"
        assert t.trades("AAPL") not in retained
    # clean stop: offline, retained
    async with Collector(mqtt_broker, prefix) as after:
        await after.wait(lambda: bool(after.of(t.venue_status)))
        assert after.of(t.venue_status)[-1]["status"] == "offline"
        assert after.of(t.venue_status)[-1]["reason"] == "stopped"


@pytest.mark.slow
async def test_broker_restart_keeps_trading_and_republishes(
    private_broker: PrivateBroker, prefix: str
) -> None:
    book = FakeBook([AAPL])
    # the subscriber retries every 50 ms, the publisher every second: the subscriber is
    # back first, so it sees the trades buffered during the outage (trades are not retained)
    cfg = config(private_broker, prefix, reconnect_min=1.0, reconnect_max=1.0, keepalive=2)
    pub = MarketDataPublisher(book, cfg)
    ev = EventFactory()
    t = Topics(prefix)
    book.set("AAPL", bids=[(19000, 5, 1)])
    async with running(pub), Collector(private_broker, prefix) as sub:
        await until(lambda: pub.connected)
        pub.on_events([ev.trade("AAPL", 19000, 1) for _ in range(10)])
        await sub.wait(
            lambda: sub.views.get("AAPL") is not None and sub.views["AAPL"].last_trade_seq == 10
        )
        private_broker.kill()
        await until(lambda: not pub.connected)
        # trading goes on while the broker is down: on_events never blocks
        started = time.perf_counter()
        for _ in range(20):
            book.set("AAPL", bids=[(19001, 7, 2)])
            pub.on_events([ev.accepted("AAPL", Side.BUY, 1, 19001), ev.trade("AAPL", 19001, 2)])
        assert time.perf_counter() - started < 0.05
        assert pub.buffered_trades == 20
        before = len(sub.messages)
        private_broker.start()  # same port, no persistence: retained messages are gone
        await sub.wait(lambda: sub.connects == 2)
        assert not pub.connected
        await until(lambda: pub.connected, timeout=10)
        await sub.wait(lambda: sub.views["AAPL"].last_trade_seq == 30)
        view = sub.views["AAPL"]
        assert view.gaps == [] and view.lost == []
        assert [tr["seq"] for tr in view.trades] == list(range(1, 31))
        assert pub.counters.connects >= 2
        after = [(tp, body) for tp, body, _ in sub.messages[before:]]
        assert any(tp == t.venue_status and b["status"] == "online" for tp, b in after)
        await sub.wait(
            lambda: bool(sub.of(t.stats("AAPL"))) and sub.of(t.stats("AAPL"))[-1]["trades"] == 30
        )
        # a brand-new subscriber gets every retained snapshot again
        async with Collector(private_broker, prefix) as late:
            await late.wait(lambda: len({tp for tp, _, r in late.messages if r}) >= 5)
            retained = {tp: body for tp, body, r in late.messages if r}
        assert retained[t.book("AAPL")]["bids"] == [{"price": "190.01", "qty": 7, "orders": 2}]
        assert retained[t.stats("AAPL")]["trades"] == 30
        assert retained[t.symbol_status("AAPL")]["status"] == "open"
        assert retained[t.venue_status]["status"] == "online"


def _raw_slow_subscriber(broker: Broker, topic_filter: str) -> socket.socket:
    """An MQTT 3.1.1 client that subscribes with QoS 1 and then never reads."""

    def string(text: str) -> bytes:
        data = text.encode()
        return struct.pack("!H", len(data)) + data

    def packet(header: int, body: bytes) -> bytes:
        assert len(body) < 128
        return bytes([header, len(body)]) + body

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((broker.host, broker.port))
    sock.sendall(packet(0x10, string("MQTT") + bytes([4, 2, 0, 60]) + string("slow-sub")))
    sock.sendall(packet(0x82, struct.pack("!H", 1) + string(topic_filter) + bytes([1])))
    return sock


@pytest.mark.slow
async def test_slow_subscriber_does_not_slow_the_publisher(
    mqtt_broker: Broker, prefix: str
) -> None:
    book = FakeBook([AAPL])
    pub = MarketDataPublisher(book, config(mqtt_broker, prefix, buffer_size=5_000))
    ev = EventFactory()
    t = Topics(prefix)
    slow = _raw_slow_subscriber(mqtt_broker, f"{prefix}/#")
    try:
        async with running(pub), Collector(mqtt_broker, prefix) as fast:
            await until(lambda: pub.connected)
            worst = 0.0
            batches = 400
            for i in range(batches):
                events = []
                for _ in range(50):
                    events.append(ev.accepted("AAPL", Side.BUY, 1, 19000))
                    events.append(ev.trade("AAPL", 19000 + i % 10, 1))
                book.set("AAPL", bids=[(19000, i + 1, 1)])
                started = time.perf_counter()
                pub.on_events(events)
                worst = max(worst, time.perf_counter() - started)
                assert pub.buffered_trades <= 5_000
                await asyncio.sleep(0)
            # 100 events per call: well under 10 ms even on a loaded machine
            assert worst < 0.01, worst
            total = batches * 50
            # Wait for what the subscriber sees: trades received plus losses announced (the
            # publisher's drop counter runs ahead of the announcements on a loaded machine).
            def seen() -> int:
                v = fast.views["AAPL"]
                return v.trade_count + sum(hi - lo + 1 for lo, hi in v.lost)

            await fast.wait(lambda: seen() >= total, timeout=30)
            view = fast.views["AAPL"]
            assert view.gaps == []  # whatever was dropped was announced, not silent
            lost = sum(hi - lo + 1 for lo, hi in view.lost)
            assert lost == pub.counters.trades_dropped
            assert view.trade_count + lost == total
            # stats are conflated (latest wins): the final one may come after the last trade
            await fast.wait(
                lambda: (fast.of(t.stats("AAPL")) or [{}])[-1].get("trades") == total, timeout=10
            )
    finally:
        slow.close()


PUBLISHER_SCRIPT = """
import asyncio, sys
from decimal import Decimal
from market_data.config import MarketDataConfig
from market_data.publisher import MarketDataPublisher
from market_data.testing import FakeBook
from venue.instruments import Instrument

async def main():
    pub = MarketDataPublisher(FakeBook([Instrument("AAPL", Decimal("0.01"))]),
                              MarketDataConfig(url=sys.argv[1], prefix=sys.argv[2]))
    task = asyncio.create_task(pub.run())
    while not pub.connected:
        await asyncio.sleep(0.01)
    print("online", flush=True)
    await task

asyncio.run(main())
"""


async def test_last_will_marks_venue_offline_on_crash(mqtt_broker: Broker, prefix: str) -> None:
    t = Topics(prefix)
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER_SCRIPT, mqtt_broker.url, prefix],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 15)
        assert line.strip() == b"online"
        async with Collector(mqtt_broker, prefix) as sub:
            await sub.wait(lambda: bool(sub.of(t.venue_status)))
            assert sub.of(t.venue_status)[-1]["status"] == "online"
            proc.kill()  # no DISCONNECT packet: the broker publishes the will
            await sub.wait(lambda: sub.of(t.venue_status)[-1]["status"] == "offline")
            assert sub.of(t.venue_status)[-1]["reason"] == "connection lost"
        async with Collector(mqtt_broker, prefix) as late:  # and it is retained
            await late.wait(lambda: bool(late.of(t.venue_status)))
            assert late.of(t.venue_status)[-1]["status"] == "offline"
    finally:
        proc.kill()
        proc.wait()


class PartitionProxy:
    """A TCP relay to the broker that can cut its existing connections off without closing
    them (a network partition: no FIN, no RST) while new connections still pass."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.port = 0
        self._server: asyncio.Server | None = None
        self._frozen: list[asyncio.Event] = []

    async def __aenter__(self) -> PartitionProxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    def partition(self) -> None:
        for frozen in self._frozen:
            frozen.set()
        self._frozen = []

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.broker.host, self.broker.port)
        frozen = asyncio.Event()
        self._frozen.append(frozen)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if frozen.is_set():
                    continue  # dropped: nothing reaches the other side any more
                dst.write(data)
                await dst.drain()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer),
                             return_exceptions=True)


@pytest.mark.slow
async def test_a_silently_dead_connection_does_not_leave_the_venue_offline(
    mqtt_broker: Broker, prefix: str
) -> None:
    """The publisher gives up on a connection whose PUBACKs stop coming and reconnects at
    once; the broker notices the dead connection only after 1.5 x keepalive. Its Last Will
    must not then overwrite the new connection's "online"."""
    t = Topics(prefix)
    book = FakeBook([AAPL])
    ev = EventFactory()
    async with PartitionProxy(mqtt_broker) as proxy:
        cfg = MarketDataConfig(url=f"mqtt://127.0.0.1:{proxy.port}", prefix=prefix, keepalive=2,
                               publish_timeout=1.0, reconnect_min=0.05)
        pub = MarketDataPublisher(book, cfg)
        async with running(pub), Collector(mqtt_broker, prefix) as sub:
            await sub.wait(lambda: [s["status"] for s in sub.of(t.venue_status)] == ["online"])
            proxy.partition()
            pub.on_events([ev.trade("AAPL", 19000, 1)])  # its PUBACK never comes
            await sub.wait(lambda: len(sub.of(t.venue_status)) >= 2)  # online again, reconnected
            assert pub.counters.connects == 2
            await asyncio.sleep(4)  # past 1.5 x keepalive of the dead connection
            assert [s["status"] for s in sub.of(t.venue_status)][-1] == "online"
            assert sub.views["AAPL"].last_trade_seq == 1  # resent on the new connection
            async with Collector(mqtt_broker, prefix) as late:
                await late.wait(lambda: bool(late.of(t.venue_status)))
                assert late.of(t.venue_status)[-1]["status"] == "online"


async def test_broker_down_at_start_then_up(private_broker: PrivateBroker, prefix: str) -> None:
    private_broker.kill()
    book = FakeBook([AAPL])
    pub = MarketDataPublisher(
        book, config(private_broker, prefix, reconnect_min=0.05, reconnect_max=0.2)
    )
    ev = EventFactory()
    async with running(pub):
        pub.on_events([ev.trade("AAPL", 19000, 1)])
        await asyncio.sleep(0.3)
        assert not pub.connected and pub.counters.connect_failures >= 2
        private_broker.start()
        async with Collector(private_broker, prefix) as sub:
            await sub.wait(lambda: "AAPL" in sub.views and sub.views["AAPL"].trade_count == 1)


async def test_real_engine_flow(mqtt_broker: Broker, prefix: str) -> None:
    engine_mod = pytest.importorskip("venue.engine")
    from venue.commands import NewOrder, SetTradingStatus
    from venue.types import OrdType, Price, Qty

    engine = engine_mod.MatchingEngine([AAPL, ES])
    pub = MarketDataPublisher(engine, config(mqtt_broker, prefix, depth=3))
    t = Topics(prefix)
    clock = iter(range(1_000, 10**9, 1_000))

    def order(side: Side, qty: int, price: int, owner: str = "A") -> None:
        cmd = NewOrder(
            next(clock),
            owner,
            f"c{next(clock)}",
            "AAPL",
            side,
            OrdType.LIMIT,
            Qty(qty),
            Price(price),
        )
        pub.on_events(engine.handle(cmd))

    async with Collector(mqtt_broker, prefix) as sub, running(pub):
        await until(lambda: pub.connected)
        for i in range(5):
            order(Side.SELL, 10, 19010 + i, "S")
            order(Side.BUY, 10, 18990 - i, "B")
        order(Side.BUY, 25, 19011, "T")  # takes 10 @ 190.10 and 10 @ 190.11, rests 5
        order(Side.SELL, 3, 18900, "U")  # takes 3 @ 190.11 from T's rest
        pub.on_events(engine.handle(SetTradingStatus(next(clock), "AAPL", halted=True)))
        await sub.wait(lambda: "AAPL" in sub.views and sub.views["AAPL"].trade_count == 3)
        trades = list(sub.views["AAPL"].trades)
        assert [(x["seq"], x["price"], x["qty"], x["aggressor"]) for x in trades] == [
            (1, "190.10", 10, "buy"),
            (2, "190.11", 10, "buy"),
            (3, "190.11", 3, "sell"),
        ]
        await sub.wait(
            lambda: (
                sub.views["AAPL"].status is not None
                and sub.views["AAPL"].status["status"] == "halted"
            )
        )
        await sub.wait(
            lambda: (
                sub.views["AAPL"].book is not None and sub.views["AAPL"].book["bids"][0]["qty"] == 2
            )
        )
        snap = sub.views["AAPL"].book
        assert snap is not None
        assert snap["bids"] == [
            {"price": "190.11", "qty": 2, "orders": 1},
            {"price": "189.90", "qty": 10, "orders": 1},
            {"price": "189.89", "qty": 10, "orders": 1},
        ]
        assert [lv["price"] for lv in snap["asks"]] == ["190.12", "190.13", "190.14"]
        bids, _ = sub.views["AAPL"].builder.levels()
        assert bids == [(lv["price"], lv["qty"], lv["orders"]) for lv in snap["bids"]]
        await sub.wait(lambda: sub.of(t.stats("AAPL"))[-1]["trades"] == 3)
        stats = sub.of(t.stats("AAPL"))[-1]
        assert (stats["open"], stats["high"], stats["low"], stats["last"]) == (
            "190.10",
            "190.11",
            "190.10",
            "190.11",
        )
        assert (stats["volume"], stats["turnover"]) == (23, "4372.43")
        # (19010*10 + 19011*13) / 23 ticks = 437243 / 23 = 19010.565217391... ticks
        assert stats["vwap"] == "190.10565217"
