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
            "4",  # the retained status, book, bbo and stats (the venue status is not counted)
            "--timeout",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("190.00", "189.99", "190.05", "trading: open", "venue: ", "last 190.02"):
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


def test_watch_of_a_symbol_the_running_venue_does_not_list_is_an_error(
    mqtt_broker: Any, prefix: str
) -> None:
    async def scenario() -> Any:
        pub = MarketDataPublisher(FakeBook([Instrument("AAPL", Decimal("0.01"))]),
                                  MarketDataConfig(url=mqtt_broker.url, prefix=prefix))
        task = asyncio.create_task(pub.run())
        try:
            while not pub.connected:
                await asyncio.sleep(0.01)
            args = ["watch", "NOPE", "--mqtt", mqtt_broker.url, "--prefix", prefix, "--once",
                    "--timeout", "10"]
            return await asyncio.to_thread(CliRunner().invoke, app, args)
        finally:
            pub.stop()
            await asyncio.wait_for(task, 10)

    result = asyncio.run(scenario())
    assert result.exit_code == 1
    assert "error: NOPE is not listed on the venue (listed: AAPL)" in result.output


async def _publish_raw(url: str, messages: list[tuple[str, bytes]]) -> None:
    import aiomqtt

    host, port = url.removeprefix("mqtt://").split(":")
    async with aiomqtt.Client(host, int(port)) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1, retain=True)


def test_watch_skips_messages_that_are_not_the_feeds(mqtt_broker: Any, prefix: str) -> None:
    """Retained junk under the symbol's topics (an empty message clearing a topic, not JSON,
    JSON without the feed's fields, the symbol's own topic) used to end the watch with a
    traceback; it is skipped and the venue's real messages are shown."""
    asyncio.run(_publish_and_stop(mqtt_broker.url, prefix))
    asyncio.run(_publish_raw(mqtt_broker.url, [
        (f"{prefix}/AAPL/trades", b""),
        (f"{prefix}/AAPL/foo", b'{"v":1,"epoch":99}'),
        (f"{prefix}/AAPL", b"not json"),
        (f"{prefix}/AAPL/bbo", b'{"v":1}'),
    ]))
    result = CliRunner().invoke(app, ["watch", "AAPL", "--mqtt", mqtt_broker.url, "--prefix",
                                      prefix, "--count", "3", "--timeout", "10"])
    assert result.exit_code == 0, (result.output, result.exception)
    for text in ("190.00", "190.05", "last 190.02"):
        assert text in result.output
