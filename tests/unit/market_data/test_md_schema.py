"""specs/market-data.schema.json names exactly the fields the publisher sends."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from market_data.config import MarketDataConfig
from market_data.payloads import encode_venue_status
from market_data.publisher import MarketDataPublisher
from market_data.testing import EventFactory, FakeBook
from venue.instruments import Instrument
from venue.types import Side

SCHEMA = Path(__file__).parents[3] / "specs" / "market-data.schema.json"
KINDS = {
    "status": "symbol_status",
    "trades": "trades",
    "book": "book",
    "book/delta": "book_delta",
    "bbo": "bbo",
    "stats": "stats",
}


def required(defs: dict[str, dict[str, object]], name: str) -> set[str]:
    spec = defs[name]
    fields = set(spec.get("required", []))  # type: ignore[arg-type]
    for part in spec.get("allOf", []):  # type: ignore[attr-defined]
        fields |= required(defs, part["$ref"].rsplit("/", 1)[1])
    return fields


def test_every_payload_has_exactly_the_schema_fields() -> None:
    defs = json.loads(SCHEMA.read_text())["$defs"]
    book = FakeBook([Instrument("AAPL", Decimal("0.01"))])
    pub = MarketDataPublisher(book, MarketDataConfig())
    ev = EventFactory()
    pub.take_cycle(full=True)
    book.set("AAPL", bids=[(100, 1, 1)], asks=[(101, 2, 1)])
    pub.on_events(
        [ev.accepted("AAPL", Side.BUY, 1, 100), ev.trade("AAPL", 100, 1), ev.halt("AAPL")]
    )
    seen = set()
    for msg in pub.take_cycle():
        kind = msg.topic.split("/", 2)[2]
        body = json.loads(msg.payload)
        assert set(body) == required(defs, KINDS[kind]), kind
        seen.add(kind)
        if kind == "trades":
            trade_def = defs["trades"]["properties"]["trades"]["items"]
            assert set(body["trades"][0]) == set(trade_def["required"])
    assert seen == set(KINDS)
    venue = json.loads(encode_venue_status("online", 1, 2, "", ["AAPL"]))
    assert set(venue) == required(defs, "venue_status")
