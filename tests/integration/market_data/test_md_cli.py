"""``venue md watch`` against the real broker."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from market_data.cli import app
from market_data.config import MarketDataConfig
from market_data.publisher import MarketDataPublisher
from market_data.testing import EventFactory, FakeBook
from venue.instruments import Instrument

pytestmark = pytest.mark.mqtt


async def _publish_and_stop(url: str, prefix: str) -> None:
    book = FakeBook([Instrument("AAPL", Decimal("0.01"))])
    book.set("AAPL", bids=[(19000, 5, 1), (18999, 7, 2)], asks=[(19005, 9, 3)])
    pub = MarketDataPublisher(book, MarketDataConfig(url=url, prefix=prefix))
    task = asyncio.create_task(pub.run())
    while not pub.connected:
        await asyncio.sleep(0.01)
    pub.on_events([EventFactory().trade("AAPL", 19002, 4)])
    while pub.counters.trades_published < 1:
        await asyncio.sleep(0.01)
    pub.stop()
    await asyncio.wait_for(task, 10)


def test_watch_renders_retained_book(mqtt_broker: Any, prefix: str) -> None:
    asyncio.run(_publish_and_stop(mqtt_broker.url, prefix))
    result = CliRunner().invoke(
        app,
        [
            "watch",
            "AAPL",
            "--mqtt",
            mqtt_broker.url,
            "--prefix",
            prefix,
            "--count",
            "5",
            "--timeout",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("190.00", "189.99", "190.05", "trading: open", "venue: offline", "last 190.02"):
        assert text in out


def test_watch_times_out_without_updates(mqtt_broker: Any, prefix: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "watch",
            "NONE",
            "--mqtt",
            mqtt_broker.url,
            "--prefix",
            prefix,
            "--count",
            "1",
            "--timeout",
            "0.5",
        ],
    )
    assert result.exit_code == 1
    assert "timed out" in result.output
