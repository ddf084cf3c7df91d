"""Subscriber side: the state a consumer keeps for one symbol, with gap detection.

:class:`SymbolView` applies the feed's messages (see specs/market-data.md) and keeps the
latest book, BBO, stats and status, the recent trades, and what it found missing: trade
sequence ranges lost in transit (``gaps``) and ranges the venue announced as dropped
(``lost``). :class:`BookBuilder` rebuilds the book from one snapshot plus
``book/delta`` increments. Both are pure (no I/O); the rest is the
small aiomqtt loop the ``watch`` command uses (:func:`subscription`).
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import aiomqtt

from market_data.config import MarketDataConfig, endpoint
from market_data.topics import Topics

JsonObj = dict[str, Any]
Level = tuple[str, int, int]
"""(price string, quantity, order count)."""


@dataclass(slots=True)
class BookBuilder:
    """Rebuilds the top-N book from a ``book`` snapshot and ``book/delta`` messages.

    Rules (specs/market-data.md, "Rebuilding the book"): start from any snapshot with
    sequence S; apply the delta with ``prev_seq == S``, then each next one. A delta whose
    ``prev_seq`` is not the current sequence means a lost delta: the builder goes
    unsynced and waits for the next snapshot. Deltas that arrive before the snapshot are
    held and replayed.
    """

    depth: int = 10
    seq: int | None = None  # None: not synced
    epoch: int | None = None
    bids: dict[Decimal, Level] = field(default_factory=dict)
    asks: dict[Decimal, Level] = field(default_factory=dict)
    held: dict[int, JsonObj] = field(default_factory=dict)  # seq -> delta, while unsynced
    resyncs: int = 0

    def on_snapshot(self, msg: JsonObj) -> None:
        if msg["epoch"] != self.epoch:
            self.epoch, self.seq = msg["epoch"], None
            self.held.clear()
        if self.seq is not None and msg["seq"] <= self.seq:
            return
        self.depth = msg["depth"]
        self.bids = {Decimal(lv["price"]): _lv(lv) for lv in msg["bids"]}
        self.asks = {Decimal(lv["price"]): _lv(lv) for lv in msg["asks"]}
        self.seq = msg["seq"]
        for seq in sorted(self.held):
            if seq > self.seq:
                self.on_delta(self.held[seq])
        self.held.clear()

    def on_delta(self, msg: JsonObj) -> None:
        if msg["epoch"] != self.epoch or self.seq is None:
            if len(self.held) < 1000:
                self.held[msg["seq"]] = msg
            return
        if msg["seq"] <= self.seq:
            return  # already covered by the snapshot
        if msg["prev_seq"] != self.seq:
            self.seq = None  # a delta was lost: wait for the next snapshot
            self.resyncs += 1
            self.held = {msg["seq"]: msg}
            return
        for side, book in (("bids", self.bids), ("asks", self.asks)):
            for price, qty, orders in msg[side]:
                key = Decimal(price)
                if qty:
                    book[key] = (price, qty, orders)
                else:
                    book.pop(key, None)
        self.seq = msg["seq"]

    def levels(self) -> tuple[list[Level], list[Level]]:
        """(bids best first, asks best first), at most ``depth`` each."""
        bids = [self.bids[p] for p in sorted(self.bids, reverse=True)[: self.depth]]
        asks = [self.asks[p] for p in sorted(self.asks)[: self.depth]]
        return bids, asks


def _lv(obj: JsonObj) -> Level:
    return (obj["price"], obj["qty"], obj["orders"])


@dataclass(slots=True)
class SymbolView:
    """What a subscriber knows about one symbol, built from the feed's messages."""

    symbol: str
    max_trades: int = 50
    epoch: int | None = None
    venue: JsonObj | None = None
    status: JsonObj | None = None
    book: JsonObj | None = None
    bbo: JsonObj | None = None
    stats: JsonObj | None = None
    last_trade_seq: int | None = None
    trades: deque[JsonObj] = field(default_factory=deque)
    trade_count: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)  # lost in transit
    lost: list[tuple[int, int]] = field(default_factory=list)  # dropped by the venue
    duplicates: int = 0
    updates: int = 0  # messages of the symbol's own topics (not the venue status)
    invalid: int = 0  # messages on the feed's topics that are not the feed's
    builder: BookBuilder = field(default_factory=BookBuilder)

    def apply(self, kind: str, payload: bytes | JsonObj) -> str:
        """Apply one message of topic kind ``status``/``trades``/``book``/``book/delta``/
        ``bbo``/``stats`` (or ``venue`` for the venue status); returns ``kind``, or
        ``invalid`` for a message that is not the feed's (not JSON, fields missing: counted
        in :attr:`invalid`, the view unchanged) and ``ignored`` for a topic kind the feed
        does not have."""
        try:
            msg = json.loads(payload) if isinstance(payload, bytes | bytearray) else payload
        except ValueError:  # an empty retained message (a cleared topic), or not JSON
            msg = None
        if not isinstance(msg, dict):
            self.invalid += 1
            return "invalid"
        if kind == "venue":
            self.venue = msg
            return kind
        if kind not in FEED_KINDS:
            return "ignored"
        epoch = msg.get("epoch")
        if not isinstance(epoch, int) or not _has_fields(kind, msg):
            self.invalid += 1
            return "invalid"
        self.updates += 1  # of the symbol's own topics
        if epoch != self.epoch:
            self._new_epoch(epoch)
        if kind == "trades":
            self._on_trades(msg)
        elif kind == "book":
            self.book = _newer(self.book, msg)
            self.builder.on_snapshot(msg)
        elif kind == "book/delta":
            self.builder.on_delta(msg)
        elif kind == "bbo":
            self.bbo = _newer(self.bbo, msg)
        elif kind == "stats":
            self.stats = _newer(self.stats, msg)
        elif kind == "status":
            self.status = _newer(self.status, msg)
        return kind

    @property
    def unlisted(self) -> bool:
        """The venue is online and its status does not list the symbol."""
        venue = self.venue
        return venue is not None and venue.get("status") == "online" and (
            self.symbol not in venue.get("symbols", ())
        )

    def _new_epoch(self, epoch: int) -> None:
        """The venue's publisher restarted: sequence numbers start again at 1."""
        self.epoch = epoch
        self.last_trade_seq = None
        self.book = self.bbo = self.stats = self.status = None

    def _on_trades(self, msg: JsonObj) -> None:
        last = self.last_trade_seq
        if last is not None:
            if msg["last_seq"] <= last:
                self.duplicates += 1
                return
            if msg["first_seq"] > last + 1:
                self.gaps.append((last + 1, msg["first_seq"] - 1))
        for trade in msg["trades"]:
            if last is None or trade["seq"] > last:
                self.trades.append(trade)
                self.trade_count += 1
        while len(self.trades) > self.max_trades:
            self.trades.popleft()
        self.lost.extend((lo, hi) for lo, hi in msg["lost"] if last is None or hi > last)
        self.last_trade_seq = msg["last_seq"]


FEED_KINDS: Final = frozenset({"status", "trades", "book", "book/delta", "bbo", "stats"})
_FIELDS: Final[dict[str, dict[str, type]]] = {
    "trades": {"first_seq": int, "last_seq": int, "trades": list, "lost": list},
    "book": {"seq": int, "bids": list, "asks": list},
    "book/delta": {"seq": int, "prev_seq": int},
    "bbo": {"seq": int},
    "stats": {"seq": int, "trades": int, "volume": int},
    "status": {"seq": int},
}
"""Fields a message of each kind must have (their JSON types) for the view to use it."""


def _has_fields(kind: str, msg: JsonObj) -> bool:
    fields = _FIELDS[kind]
    if not all(isinstance(msg.get(name), typ) for name, typ in fields.items()):
        return False
    if kind == "trades":
        return all(isinstance(t, dict) and isinstance(t.get("seq"), int) for t in msg["trades"])
    if kind == "stats":  # what the watch shows: a price or null each
        return all(name in msg for name in ("last", "open", "high", "low", "vwap"))
    return True


def _newer(current: JsonObj | None, msg: JsonObj) -> JsonObj:
    """Latest wins; an older snapshot of the same epoch (reordered) is ignored."""
    if current is not None and current["epoch"] == msg["epoch"] and current["seq"] > msg["seq"]:
        return current
    return msg


@contextlib.asynccontextmanager
async def subscription(
    config: MarketDataConfig, symbol: str
) -> AsyncIterator[AsyncIterator[tuple[str, bytes]]]:
    """Connect and subscribe to ``symbol``'s topics and the venue status; the body gets an
    iterator of ``(kind, payload)`` (kind ``venue`` for the venue status).

    Raises:
        SubscriptionError: the broker is unreachable (on entry) or the connection drops
            (while iterating).
    """
    ep = endpoint(config.url)
    topics = Topics(config.prefix)
    where = f"{'mqtts' if ep.tls else 'mqtt'}://{ep.host}:{ep.port}"
    client = aiomqtt.Client(
        ep.host,
        ep.port,
        username=ep.username,
        password=ep.password,
        tls_context=config.tls_context(),
        timeout=5,
    )
    try:
        await client.__aenter__()
        await client.subscribe(topics.symbol_filter(symbol), qos=1)
        await client.subscribe(topics.venue_status, qos=1)
    except aiomqtt.MqttError as exc:
        raise SubscriptionError(f"cannot connect to MQTT broker at {where}: {exc}") from exc
    try:
        yield _messages(client, topics, symbol, where)
    finally:
        with contextlib.suppress(aiomqtt.MqttError):
            await client.__aexit__(None, None, None)


class SubscriptionError(Exception):
    """The broker is unreachable or the connection was lost."""


async def _messages(
    client: aiomqtt.Client, topics: Topics, symbol: str, where: str
) -> AsyncIterator[tuple[str, bytes]]:
    try:
        async for message in client.messages:
            try:
                name, kind = topics.parse(message.topic.value)
            except ValueError:  # e.g. "{prefix}/{symbol}" itself, which the filter matches
                continue
            if name is None:
                kind = "venue"
            elif name != symbol:
                continue
            payload = message.payload
            yield kind, payload if isinstance(payload, bytes) else str(payload).encode()
    except aiomqtt.MqttError as exc:
        raise SubscriptionError(f"lost connection to MQTT broker at {where}: {exc}") from exc
