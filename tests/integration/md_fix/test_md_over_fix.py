"""Market data produced by FIX order flow: two QuickFIX clients trade on an in-process
venue; an MQTT subscriber (subscribed before trading) sees exactly those trades and the
remaining book; a late subscriber gets the retained book, bbo and stats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from support.qfclient import Client

from fix_gateway.config import parse_config
from venue.runtime import RuntimeOptions, Venue

pytestmark = [pytest.mark.mqtt, pytest.mark.quickfix]

SYMBOL = "MDX"


class Sub:
    """Everything under a prefix, kept as (topic, body, retained)."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Sub:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._task

    async def _run(self) -> None:
        async with aiomqtt.Client(self.host, self.port) as client:
            await client.subscribe(f"{self.prefix}/#", qos=1)
            self._ready.set()
            async for msg in client.messages:
                assert isinstance(msg.payload, bytes)
                if not msg.payload:
                    continue
                self.messages.append((msg.topic.value, json.loads(msg.payload), msg.retain))

    def of(self, kind: str) -> list[dict[str, Any]]:
        topic = f"{self.prefix}/{SYMBOL}/{kind}"
        return [body for t, body, _ in self.messages if t == topic]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; got {self.messages}")
            await asyncio.sleep(0.05)


async def _expect_er(client: Any, exec_type: str, cl_ord_id: str) -> dict[int, str]:
    while True:
        msg = await client.next_app()
        if msg.get(35) == "8" and msg.get(150) == exec_type and msg.get(11) == cl_ord_id:
            return msg


async def test_fix_flow_reaches_mqtt(
    tmp_path: Path,
    fix44_xml: Path,
    md_files: Path,
    broker: tuple[str, int],
    md_prefix: str,
) -> None:
    host, port = broker
    config = parse_config(md_files.read_text(), md_files)
    venue = Venue(
        config,
        RuntimeOptions(
            store_url=f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}",
            mqtt_url=f"mqtt://{host}:{port}",
            mqtt_prefix=md_prefix,
            admin_socket=tmp_path / "venue.sock",
        ),
    )
    clients: list[Any] = []
    async with Sub(host, port, md_prefix) as sub:
        await venue.start()
        try:
            assert venue.acceptor is not None
            for comp_id in ("MD1", "MD2"):
                c = Client(comp_id, venue.acceptor.port, tmp_path, fix44_xml, "MDFX")
                clients.append(c)
                await c.start()
            buyer, seller = clients
            for cl, qty, price in (("S1", 5, "10.00"), ("S2", 7, "10.01"), ("S3", 4, "10.02")):
                seller.order(cl, SYMBOL, "2", qty, price)
                await _expect_er(seller, "0", cl)
            buyer.order("B1", SYMBOL, "1", 12, "10.01")
            await _expect_er(buyer, "0", "B1")
            f1 = await _expect_er(buyer, "F", "B1")
            f2 = await _expect_er(buyer, "F", "B1")
            assert (f1[31], f1[32], f2[31], f2[32]) == ("10.00", "5", "10.01", "7")
            assert f2[39] == "2"

            def all_trades() -> list[dict[str, Any]]:
                return [t for m in sub.of("trades") for t in m["trades"]]

            await sub.wait(lambda: len(all_trades()) >= 2)
            await sub.wait(
                lambda: bool(sub.of("book")) and sub.of("book")[-1]["asks"]
                == [{"price": "10.02", "qty": 4, "orders": 1}]
            )
            await sub.wait(lambda: bool(sub.of("stats")) and sub.of("stats")[-1]["volume"] == 12)
            await asyncio.sleep(0.5)  # nothing more may come

            trade_msgs = sub.of("trades")
            trades = all_trades()
            assert [(t["price"], t["qty"], t["aggressor"]) for t in trades] == [
                ("10.00", 5, "buy"),
                ("10.01", 7, "buy"),
            ]
            seqs = [t["seq"] for t in trades]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            assert trade_msgs[0]["first_seq"] == seqs[0]
            assert trade_msgs[-1]["last_seq"] == seqs[-1]
            assert all(not m.get("lost") for m in trade_msgs)
            for name in ("book", "bbo", "stats"):
                s = [m["seq"] for m in sub.of(name)]
                assert s == sorted(s) and len(set(s)) == len(s), (name, s)

            book = sub.of("book")[-1]
            assert book["bids"] == []
            assert book["asks"] == [{"price": "10.02", "qty": 4, "orders": 1}]
            bbo = sub.of("bbo")[-1]
            assert (bbo["bid"], bbo["bid_qty"], bbo["bid_orders"]) == (None, 0, 0)
            assert (bbo["ask"], bbo["ask_qty"], bbo["ask_orders"]) == ("10.02", 4, 1)
            stats = sub.of("stats")[-1]
            assert (stats["open"], stats["high"], stats["low"], stats["last"]) == (
                "10.00", "10.01", "10.00", "10.01")
            assert (stats["last_qty"], stats["volume"]) == (7, 12)
            assert stats["trade_seq"] == seqs[-1]

            async with Sub(host, port, md_prefix) as late:
                await late.wait(lambda: all(late.of(k) for k in ("book", "bbo", "stats")))
                await asyncio.sleep(0.3)
                for kind, last in (("book", book), ("bbo", bbo), ("stats", stats)):
                    got = [(t, b, r) for t, b, r in late.messages
                           if t == f"{md_prefix}/{SYMBOL}/{kind}"]
                    assert len(got) == 1, got
                    assert got[0][2] is True  # retained
                    assert got[0][1] == last
                assert not late.of("trades")  # trades are not retained
        finally:
            for c in clients:
                await c.close()
            await venue.stop()


async def test_a_trade_is_published_only_once_it_is_committed(
    tmp_path: Path, fix44_xml: Path, md_files: Path, broker: tuple[str, int], md_prefix: str
) -> None:
    """Like its ExecutionReports, a trade's market data waits for the commit: a trade that a
    crash before the commit would take back is never published."""
    host, port = broker
    config = parse_config(md_files.read_text(), md_files)
    venue = Venue(config, RuntimeOptions(
        store_url=f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}", mqtt_url=f"mqtt://{host}:{port}",
        mqtt_prefix=md_prefix, admin_socket=tmp_path / "venue.sock"))
    clients: list[Any] = []
    async with Sub(host, port, md_prefix) as sub:
        await venue.start()
        try:
            assert venue.acceptor is not None and venue.store is not None
            for comp_id in ("MD1", "MD2"):
                c = Client(comp_id, venue.acceptor.port, tmp_path, fix44_xml, "MDFX")
                clients.append(c)
                await c.start()
            buyer, seller = clients
            writer = venue.store.writer
            assert writer is not None and writer.pid is not None
            os.kill(writer.pid, signal.SIGSTOP)  # the commit cannot finish
            try:
                seller.order("S1", SYMBOL, "2", 5, "10.00")
                buyer.order("B1", SYMBOL, "1", 5, "10.00")
                deadline = time.monotonic() + 10
                while venue.engine.last_price(SYMBOL) is None:  # until they have traded
                    assert time.monotonic() < deadline, "the orders never reached the engine"
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.5)  # time enough for a publish cycle
                assert venue.engine.last_price(SYMBOL) == 1000  # 10.00: traded in the engine
                assert venue.publisher.counters.trades_in == 0
                assert sub.of("trades") == []
                assert buyer.application.app.empty()  # nor acknowledged
            finally:
                os.kill(writer.pid, signal.SIGCONT)
            fill = await _expect_er(buyer, "F", "B1")
            assert (fill[31], fill[32]) == ("10.00", "5")
            await sub.wait(lambda: bool(sub.of("trades")))
            [message] = sub.of("trades")
            assert [(t["price"], t["qty"]) for t in message["trades"]] == [("10.00", 5)]
        finally:
            for c in clients:
                await c.close()
            await venue.stop()


async def test_the_broker_password_is_neither_logged_nor_shown_in_status(
    tmp_path: Path, md_files: Path, broker: tuple[str, int], md_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    host, port = broker
    config = parse_config(md_files.read_text(), md_files)
    venue = Venue(config, RuntimeOptions(
        store_url=None, mqtt_url=f"mqtt://bob:s3cretPW@{host}:{port}", mqtt_prefix=md_prefix,
        admin_socket=None))
    caplog.set_level(logging.INFO, logger="venue")
    await venue.start()
    try:
        status = await venue._admin_status({})
    finally:
        await venue.stop()
    assert status["mqtt"] == f"mqtt://{host}:{port}"
    assert f"market data mqtt://{host}:{port}" in caplog.text
    assert "s3cretPW" not in caplog.text and "s3cretPW" not in json.dumps(status)
