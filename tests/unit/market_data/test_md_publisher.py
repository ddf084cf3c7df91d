"""MarketDataPublisher without a broker: batching, conflation, overflow, sequencing."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import Any

import pytest

from market_data.config import MarketDataConfig
from market_data.publisher import MarketDataPublisher, Outgoing
from market_data.subscriber import SymbolView
from market_data.testing import EventFactory, FakeBook
from market_data.topics import Topics
from venue.events import InstrumentAdded, OrderRestated
from venue.instruments import Instrument
from venue.types import CancelReason, Qty, Side

AAPL = Instrument("AAPL", Decimal("0.01"))
MSFT = Instrument("MSFT", Decimal("0.01"))
T = Topics("venue")


def make(**cfg: Any) -> tuple[MarketDataPublisher, FakeBook, EventFactory]:
    book = FakeBook([AAPL, MSFT])
    pub = MarketDataPublisher(book, MarketDataConfig(**cfg), clock=lambda: 99)
    return pub, book, EventFactory()


def by_topic(msgs: list[Outgoing]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in msgs:
        out.setdefault(m.topic, []).append(json.loads(m.payload))
    return out


def cycle(pub: MarketDataPublisher, *, full: bool = False) -> list[Outgoing]:
    msgs = pub.take_cycle(full=full)
    pub.cycle_sent()
    return msgs


def test_first_cycle_publishes_every_retained_snapshot() -> None:
    pub, _, _ = make()
    msgs = cycle(pub, full=True)
    topics = [(m.topic, m.qos, m.retain) for m in msgs]
    for sym in ("AAPL", "MSFT"):
        assert (T.symbol_status(sym), 1, True) in topics
        assert (T.book(sym), 0, True) in topics
        assert (T.bbo(sym), 0, True) in topics
        assert (T.stats(sym), 0, True) in topics
    assert not any(m.topic.endswith("/trades") for m in msgs)
    assert cycle(pub) == []  # nothing changed


def test_trades_of_a_cycle_are_one_message_in_order() -> None:
    pub, _, ev = make()
    cycle(pub, full=True)
    trades = [ev.trade("AAPL", 19000 + i, 10 + i) for i in range(5)]
    pub.on_events(trades[:2])
    pub.on_events([ev.trade("MSFT", 42000, 1)])
    pub.on_events(trades[2:])
    msgs = by_topic(cycle(pub))
    [aapl] = msgs[T.trades("AAPL")]
    assert (aapl["first_seq"], aapl["last_seq"], aapl["lost"]) == (1, 5, [])
    assert [t["seq"] for t in aapl["trades"]] == [1, 2, 3, 4, 5]
    assert [t["trade_id"] for t in aapl["trades"]] == [t.trade_id for t in trades]
    assert [t["price"] for t in aapl["trades"]] == [f"190.0{i}" for i in range(5)]
    [msft] = msgs[T.trades("MSFT")]
    assert (msft["first_seq"], msft["last_seq"]) == (1, 1)  # per-symbol sequence
    pub.on_events([ev.trade("AAPL", 19000, 1)])
    [nxt] = by_topic(cycle(pub))[T.trades("AAPL")]
    assert (nxt["first_seq"], nxt["last_seq"]) == (6, 6)


def test_large_batch_is_split_with_contiguous_ranges() -> None:
    pub, _, ev = make(max_trades_per_message=3)
    cycle(pub, full=True)
    pub.on_events([ev.trade("AAPL", 19000, 1) for _ in range(7)])
    msgs = by_topic(cycle(pub))[T.trades("AAPL")]
    assert [(m["first_seq"], m["last_seq"], len(m["trades"])) for m in msgs] == [
        (1, 3, 3),
        (4, 6, 3),
        (7, 7, 1),
    ]


def test_book_is_conflated_and_read_once_per_cycle() -> None:
    pub, book, ev = make()
    cycle(pub, full=True)
    reads = book.depth_calls
    for i in range(100):
        book.set("AAPL", bids=[(19000, 100 + i, 1)], asks=[(19010, 5, 1)])
        pub.on_events([ev.accepted("AAPL", Side.BUY, 1, 19000)])
    msgs = by_topic(cycle(pub))
    assert book.depth_calls == reads + 1  # only AAPL, once
    [snap] = msgs[T.book("AAPL")]
    assert snap["seq"] == 2
    assert snap["bids"] == [{"price": "190.00", "qty": 199, "orders": 1}]
    [bbo] = msgs[T.bbo("AAPL")]
    assert (bbo["bid"], bbo["bid_qty"], bbo["ask"], bbo["ask_qty"]) == ("190.00", 199, "190.10", 5)
    [delta] = msgs[T.book_delta("AAPL")]
    assert (delta["seq"], delta["prev_seq"]) == (2, 1)
    assert delta["bids"] == [["190.00", 199, 1]] and delta["asks"] == [["190.10", 5, 1]]
    assert T.stats("AAPL") not in msgs  # no trade: stats unchanged
    assert T.book("MSFT") not in msgs


def test_unchanged_view_is_not_republished_but_full_cycle_resends_same_seq() -> None:
    pub, book, ev = make()
    book.set("AAPL", bids=[(19000, 1, 1)])
    first = by_topic(cycle(pub, full=True))[T.book("AAPL")][0]
    pub.on_events([ev.accepted("AAPL", Side.BUY, 1, 18000)])  # deeper than shown: same view
    assert cycle(pub) == []
    again = by_topic(cycle(pub, full=True))[T.book("AAPL")][0]
    assert again == first


def test_depth_limits_levels() -> None:
    pub, book, _ = make(depth=2)
    book.set("AAPL", bids=[(19000 - i, 1, 1) for i in range(5)])
    snap = by_topic(cycle(pub, full=True))[T.book("AAPL")][0]
    assert [lv["price"] for lv in snap["bids"]] == ["190.00", "189.99"]
    assert snap["depth"] == 2


def test_stats_published_after_trades() -> None:
    pub, _, ev = make()
    cycle(pub, full=True)
    pub.on_events([ev.trade("AAPL", 19000, 100), ev.trade("AAPL", 19010, 100)])
    [stats] = by_topic(cycle(pub))[T.stats("AAPL")]
    assert (stats["seq"], stats["trade_seq"], stats["vwap"], stats["volume"]) == (
        2,
        2,
        "190.05000000",
        200,
    )


def test_overflow_drops_counts_logs_and_shows_gap(caplog: pytest.LogCaptureFixture) -> None:
    pub, _, ev = make(buffer_size=3)
    cycle(pub, full=True)
    caplog.set_level(logging.WARNING, logger="market_data.publisher")
    pub.on_events([ev.trade("AAPL", 19000 + i, 1) for i in range(5)])
    pub.on_events([ev.trade("MSFT", 42000, 1)])
    assert pub.counters.trades_dropped == 3
    assert pub.buffered_trades == 3
    assert "trade buffer full" in caplog.text
    msgs = by_topic(cycle(pub))
    [aapl] = msgs[T.trades("AAPL")]
    assert (aapl["first_seq"], aapl["last_seq"], aapl["lost"]) == (1, 5, [[4, 5]])
    assert [t["seq"] for t in aapl["trades"]] == [1, 2, 3]
    [msft] = msgs[T.trades("MSFT")]
    assert (msft["first_seq"], msft["last_seq"], msft["lost"], msft["trades"]) == (
        1,
        1,
        [[1, 1]],
        [],
    )
    assert "2 trades not published" in caplog.text
    # stats still count every trade, the buffer is free again, the sequence continues
    assert msgs[T.stats("AAPL")][0]["trades"] == 5
    pub.on_events([ev.trade("AAPL", 19000, 1)])
    [nxt] = by_topic(cycle(pub))[T.trades("AAPL")]
    assert (nxt["first_seq"], nxt["last_seq"], nxt["lost"]) == (6, 6, [])
    view = SymbolView("AAPL")
    view.apply("trades", aapl)
    view.apply("trades", nxt)
    assert view.lost == [(4, 5)] and view.gaps == []
    assert [t["seq"] for t in view.trades] == [1, 2, 3, 6]


def test_unacknowledged_trades_are_resent_after_reconnect() -> None:
    pub, _, ev = make()
    cycle(pub, full=True)
    pub.on_events([ev.trade("AAPL", 19000, 1)])
    first = pub.take_cycle()  # sent, but the connection died before the PUBACK
    pub.on_events([ev.trade("AAPL", 19001, 1)])
    pub.resend_unacked()  # what a new session does first
    second = pub.take_cycle()
    assert [(m["first_seq"], m["last_seq"]) for m in by_topic(second)[T.trades("AAPL")]] == [
        (1, 1),
        (2, 2),
    ]
    assert second[0].payload == first[0].payload  # identical: subscribers dedupe by seq
    pub.trades_acked(second)
    assert pub.counters.trades_published == 2
    pub.resend_unacked()
    assert pub.take_cycle() == []


def test_on_events_is_cheap_and_bounded() -> None:
    pub, _, ev = make(buffer_size=1000)
    events = [ev.trade("AAPL", 19000, 1) for _ in range(20_000)]
    pub.on_events(events)
    assert pub.buffered_trades == 1000
    assert pub.counters.trades_dropped == 19_000
    assert len(pub.feed("AAPL").lost) == 1  # one contiguous range, not one per trade


def test_status_from_instruments_and_events() -> None:
    pub, _, ev = make()
    msgs = by_topic(cycle(pub, full=True))
    assert msgs[T.symbol_status("AAPL")][0]["status"] == "open"
    pub.on_events([ev.halt("AAPL")])
    [st] = by_topic(cycle(pub))[T.symbol_status("AAPL")]
    assert (st["status"], st["seq"]) == ("halted", 2)
    new = Instrument("NEW/X", Decimal("0.50"))  # as written in a CSV
    pub.on_events([InstrumentAdded(1, 5, new)])
    msgs = by_topic(cycle(pub))
    [st] = msgs["venue/NEW%2FX/status"]
    assert (st["tick_size"], st["price_decimals"]) == ("0.5", 1)
    assert "venue/NEW%2FX/book" in msgs
    [venue] = msgs["venue/status"]  # the venue status lists the new symbol (retained)
    assert (venue["status"], venue["symbols"][-1]) == ("online", "NEW/X")
    assert "venue/status" not in by_topic(cycle(pub))  # once
    assert "venue/status" not in by_topic(cycle(make()[0], full=True))  # none listed since


def test_unknown_symbol_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    pub, _, ev = make()
    pub.on_events([ev.trade("NOPE", 1, 1)])
    assert "unknown symbol" in caplog.text
    assert pub.counters.trades_in == 0


def test_stats_seeded_after_a_restart_and_reset_for_a_new_day() -> None:
    pub, _, ev = make()
    pub.seed_stats([("AAPL", 19000, 100), ("AAPL", 18000, 50), ("NOPE", 1, 1)])
    [stats] = by_topic(cycle(pub, full=True))[T.stats("AAPL")]
    assert (stats["open"], stats["low"], stats["last"], stats["volume"]) == (
        "190.00", "180.00", "180.00", 150
    )
    pub.on_events([ev.trade("AAPL", 20000, 10)])
    [stats] = by_topic(cycle(pub))[T.stats("AAPL")]
    assert (stats["open"], stats["high"], stats["volume"], stats["trade_seq"]) == (
        "190.00", "200.00", 160, 1
    )
    pub.reset_stats()
    [stats] = by_topic(cycle(pub))[T.stats("AAPL")]
    assert (stats["volume"], stats["trades"], stats["open"]) == (0, 0, None)
    assert stats["trade_seq"] == 1  # the epoch's trade numbering goes on: covered up to 1
    pub.on_events([ev.trade("AAPL", 20100, 5)])
    published = by_topic(cycle(pub))
    assert [tr["seq"] for tr in published[T.trades("AAPL")][0]["trades"]] == [2]
    [stats] = published[T.stats("AAPL")]
    assert (stats["trade_seq"], stats["trades"], stats["open"]) == (2, 1, "201.00")


def test_an_order_restated_by_self_trade_prevention_republishes_the_book() -> None:
    pub, book, ev = make()
    book.set("AAPL", bids=[(19000, 10, 1)])
    pub.on_events([ev.accepted("AAPL", Side.BUY, 10, 19000)])
    cycle(pub)
    book.set("AAPL", bids=[(19000, 4, 1)])  # decremented by 6, nothing else happened
    spec = ev.spec("AAPL", Side.BUY, 4, 19000)
    pub.on_events([OrderRestated(9, 1, spec, Qty(0), Qty(4), 0, CancelReason.SELF_TRADE, "")])
    [snapshot] = by_topic(cycle(pub))[T.book("AAPL")]
    assert snapshot["bids"] == [{"price": "190.00", "qty": 4, "orders": 1}]


async def test_trades_unpublished_when_it_stops_during_an_outage_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """They were dropped without a word: the broker never came back before the stop."""
    from support.procs import free_port

    caplog.set_level(logging.WARNING, logger="market_data.publisher")
    pub, _, ev = make(url=f"mqtt://127.0.0.1:{free_port()}", reconnect_min=0.05,
                      reconnect_max=0.05, buffer_size=2)
    pub.on_events([ev.trade("AAPL", 19000, 1), ev.trade("MSFT", 30000, 5)])
    pub.take_cycle(full=True)  # the MSFT and AAPL trade messages handed out, never acked
    pub.on_events([ev.trade("AAPL", 19001, 1), ev.trade("AAPL", 19002, 1),
                   ev.trade("AAPL", 19003, 1)])  # two buffered, the third dropped (full)
    task = asyncio.create_task(pub.run())
    await asyncio.sleep(0.2)
    pub.stop()
    await asyncio.wait_for(task, 5)
    [line] = [r.getMessage() for r in caplog.records if "never published" in r.getMessage()]
    assert line == (f"market data: stopped with 5 trades never published (broker "
                    f"{pub.config.url}): AAPL 4, MSFT 1")
