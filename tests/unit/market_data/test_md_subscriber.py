"""Subscriber state: gap detection, duplicates, epochs, book rebuilt from deltas."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from market_data.config import MarketDataConfig
from market_data.publisher import MarketDataPublisher
from market_data.subscriber import BookBuilder, SymbolView
from market_data.testing import EventFactory, FakeBook
from venue.instruments import Instrument
from venue.types import Side

AAPL = Instrument("AAPL", Decimal("0.01"))


def trades_msg(first: int, last: int, seqs: list[int], epoch: int = 1) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "first_seq": first,
        "last_seq": last,
        "lost": [],
        "trades": [{"seq": s, "trade_id": s, "price": "1.00", "qty": 1} for s in seqs],
    }


def test_transit_gap_duplicate_and_new_epoch() -> None:
    view = SymbolView("AAPL")
    view.apply("trades", trades_msg(5, 6, [5, 6]))  # joined late: no gap
    view.apply("trades", trades_msg(7, 7, [7]))
    view.apply("trades", trades_msg(7, 7, [7]))  # QoS 1 redelivery
    view.apply("trades", trades_msg(10, 11, [10, 11]))
    assert view.gaps == [(8, 9)]
    assert view.duplicates == 1
    assert [t["seq"] for t in view.trades] == [5, 6, 7, 10, 11]
    view.apply("trades", trades_msg(1, 1, [1], epoch=2))  # publisher restarted
    assert view.gaps == [(8, 9)] and view.last_trade_seq == 1


def test_partial_redelivery_keeps_only_new_trades() -> None:
    view = SymbolView("AAPL")
    view.apply("trades", trades_msg(1, 2, [1, 2]))
    view.apply("trades", trades_msg(1, 4, [1, 2, 3, 4]))
    assert [t["seq"] for t in view.trades] == [1, 2, 3, 4]


def test_older_snapshot_is_ignored() -> None:
    view = SymbolView("AAPL")
    view.apply("bbo", {"epoch": 1, "seq": 5, "bid": "2"})
    view.apply("bbo", {"epoch": 1, "seq": 4, "bid": "1"})
    assert view.bbo is not None and view.bbo["bid"] == "2"


book_states = st.lists(
    st.tuples(
        st.dictionaries(st.integers(90, 100), st.integers(1, 5), max_size=8),
        st.dictionaries(st.integers(101, 110), st.integers(1, 5), max_size=8),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(states=book_states, depth=st.integers(1, 5), skip_first=st.integers(0, 3))
def test_snapshot_plus_deltas_rebuild_every_book(
    states: list[tuple[dict[int, int], dict[int, int]]], depth: int, skip_first: int
) -> None:
    book = FakeBook([AAPL])
    pub = MarketDataPublisher(book, MarketDataConfig(depth=depth))
    ev = EventFactory()
    builder = BookBuilder()
    held_back: list[dict[str, Any]] = []
    snapshots = 0
    for i, (bids, asks) in enumerate(states):
        book.set(
            "AAPL",
            bids=[(p, q, 1) for p, q in sorted(bids.items(), reverse=True)],
            asks=[(p, q, 2) for p, q in sorted(asks.items())],
        )
        pub.on_events([ev.accepted("AAPL", Side.BUY, 1, 95)])
        last = None
        for msg in pub.take_cycle(full=i == 0):
            body = json.loads(msg.payload)
            if msg.topic.endswith("/book/delta"):
                if snapshots <= skip_first:
                    held_back.append(body)  # arrives before the snapshot we start from
                else:
                    builder.on_delta(body)
            elif msg.topic.endswith("/book"):
                last = body
                if snapshots == skip_first:
                    for d in held_back:
                        builder.on_delta(d)
                    builder.on_snapshot(body)
                snapshots += 1
        if last is not None and builder.seq is not None:
            bids_v, asks_v = builder.levels()
            assert builder.seq == last["seq"]
            assert [list(lv) for lv in bids_v] == [
                [lv["price"], lv["qty"], lv["orders"]] for lv in last["bids"]
            ]
            assert [list(lv) for lv in asks_v] == [
                [lv["price"], lv["qty"], lv["orders"]] for lv in last["asks"]
            ]


def test_lost_delta_forces_resync_from_next_snapshot() -> None:
    b = BookBuilder()
    snap = {"epoch": 1, "seq": 1, "depth": 10, "bids": [], "asks": []}
    b.on_snapshot(snap)
    b.on_delta({"epoch": 1, "seq": 3, "prev_seq": 2, "bids": [["1.00", 1, 1]], "asks": []})
    assert b.seq is None and b.resyncs == 1
    b.on_snapshot({**snap, "seq": 3, "bids": [{"price": "1.00", "qty": 1, "orders": 1}]})
    b.on_delta({"epoch": 1, "seq": 4, "prev_seq": 3, "bids": [["1.00", 0, 0]], "asks": []})
    assert b.seq == 4 and b.levels() == ([], [])


def test_the_venue_status_is_no_update_of_the_symbol_and_tells_whether_it_is_listed() -> None:
    view = SymbolView("NOPE")
    view.apply("venue", {"status": "offline", "symbols": []})
    assert (view.updates, view.unlisted) == (0, False)  # a stopped venue lists nothing
    view.apply("venue", {"status": "online", "symbols": ["AAPL"]})
    assert (view.updates, view.unlisted) == (0, True)
    view.apply("venue", {"status": "online", "symbols": ["AAPL", "NOPE"]})
    assert view.unlisted is False
