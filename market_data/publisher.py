"""The market data publisher: engine events in, MQTT messages out, never in the way.

Two halves, one object:

* :meth:`MarketDataPublisher.on_events` is called by the venue with every batch of engine
  events. It is synchronous, O(len(events)) and never waits: it numbers each trade with the
  symbol's trade sequence number, updates the symbol's statistics, appends the trade to a
  bounded buffer (or, when the buffer is full, drops it and records the lost range) and marks
  the symbol dirty.
* :meth:`MarketDataPublisher.run` is a background task. Each publish cycle it turns all
  buffered trades of a symbol into one ``trades`` message (QoS 1) and, for each dirty symbol,
  reads the current book from the :class:`BookSource` once and publishes the book, delta,
  BBO and stats snapshots that changed (latest wins: intermediate states are conflated).
  It keeps at most one cycle of messages in flight, so a slow broker slows only the
  publisher, whose buffer then fills and drops trades visibly.

Connection handling: the MQTT Last Will sets ``{prefix}/status`` to offline (retained) if the
connection dies; on connect the publisher says online and republishes every retained snapshot
(the broker may have restarted and lost them); a lost connection is retried with exponential
backoff; trade messages not acknowledged before a disconnect are sent again after it
(subscribers drop duplicates by sequence number).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import aiomqtt

from market_data.config import MarketDataConfig, display_url, endpoint
from market_data.payloads import (
    LevelLike,
    LevelTuple,
    PriceFormatter,
    SymbolFeed,
    TradeStats,
    book_delta,
    encode_bbo,
    encode_book,
    encode_book_delta,
    encode_stats,
    encode_symbol_status,
    encode_trades,
    encode_venue_status,
)
from market_data.topics import SNAPSHOT_QOS, STATUS_QOS, TRADES_QOS, Topics
from venue.events import (
    Event,
    InstrumentAdded,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReplaced,
    OrderRestated,
    OrderTriggered,
    Trade,
    TradingStatusChanged,
)
from venue.instruments import Instrument

log = logging.getLogger(__name__)

MAX_CYCLES_IN_FLIGHT = 8
"""Publish cycles whose QoS 1 acknowledgements may be outstanding at once."""

#: Events that change a book (a Trade marks its symbol dirty by itself).
_BOOK_EVENTS = (
    OrderAccepted, OrderCancelled, OrderReplaced, OrderExpired, OrderTriggered, OrderRestated
)


class BookSource(Protocol):
    """What the publisher reads from the matching engine (``MatchingEngine`` fits)."""

    def depth(self, symbol: str, levels: int) -> tuple[Sequence[LevelLike], Sequence[LevelLike]]:
        """Bids and asks, best first, at most ``levels`` each."""
        ...

    def instrument(self, symbol: str) -> Instrument | None:
        """The instrument, or None (or KeyError) when unknown."""
        ...

    def instruments(self) -> Iterable[Instrument]:
        """Every listed instrument."""
        ...


class Outgoing(NamedTuple):
    """One MQTT message to publish."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(slots=True)
class PublisherCounters:
    """Running totals, for logs, the admin channel and tests."""

    trades_in: int = 0
    trades_dropped: int = 0
    trades_published: int = 0
    messages_published: int = 0
    cycles: int = 0
    connects: int = 0
    connect_failures: int = 0


class MarketDataPublisher:
    """Publishes the venue's market data over MQTT (see specs/market-data.md).

    Args:
        source: Where books and instruments are read from (the matching engine).
        config: Broker URL, prefix, depth, buffer size, publish interval ...
        clock: Wall clock in ns, for the epoch and the venue status timestamp.
    """

    def __init__(
        self,
        source: BookSource,
        config: MarketDataConfig | None = None,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config or MarketDataConfig()
        self.topics = Topics(self.config.prefix)
        self.counters = PublisherCounters()
        self.epoch = clock()
        """Identifies this publisher's sequence numbers; a new epoch restarts them at 1."""
        self._source = source
        self._clock = clock
        self._feeds: dict[str, SymbolFeed] = {}
        self._dirty: set[str] = set()  # book/bbo/stats may have changed
        self._status_dirty: set[str] = set()
        self._trade_symbols: set[str] = set()  # symbols with buffered or lost trades
        self._buffered = 0
        self._overflowing = False
        self._outbox: list[Outgoing] = []  # encoded trade messages not yet handed out
        self._unacked: list[Outgoing] = []  # handed out, not yet acknowledged by the broker
        self._wake = asyncio.Event()
        self._stop_requested = False
        self._connected = False
        for instrument in source.instruments():
            self._add_feed(instrument)
        self._listing_changed = False  # a symbol listed since: republish the venue status

    # ------------------------------------------------------------------ events in

    def on_events(self, events: Iterable[Event]) -> None:
        """Take engine events; never blocks, never raises for market data reasons."""
        feeds = self._feeds
        dirty = self._dirty
        touched = False
        for event in events:
            kind = type(event)
            if kind is Trade:
                assert isinstance(event, Trade)
                feed = feeds.get(event.symbol) or self._unknown(event.symbol)
                if feed is None:
                    continue
                feed.trade_seq += 1
                seq = feed.trade_seq
                feed.stats.add(event.price, event.qty, seq)
                feed.ts_ns = event.ts_ns
                self.counters.trades_in += 1
                if self._buffered < self.config.buffer_size:
                    feed.pending.append((seq, event))
                    self._buffered += 1
                else:
                    self._drop(feed, seq)
                self._trade_symbols.add(event.symbol)
                dirty.add(event.symbol)
                touched = True
            elif isinstance(event, _BOOK_EVENTS):
                symbol = event.spec.symbol
                feed = feeds.get(symbol)
                if feed is not None:
                    feed.ts_ns = event.ts_ns
                    dirty.add(symbol)
                    touched = True
            elif kind is TradingStatusChanged:
                assert isinstance(event, TradingStatusChanged)
                feed = feeds.get(event.symbol) or self._unknown(event.symbol)
                if feed is not None:
                    feed.status = event.status.value
                    feed.instrument = feed.instrument.with_status(event.status)
                    feed.ts_ns = event.ts_ns
                    self._status_dirty.add(event.symbol)
                    touched = True
            elif kind is InstrumentAdded:
                assert isinstance(event, InstrumentAdded)
                feed = self._add_feed(event.instrument)
                feed.ts_ns = event.ts_ns
                self._status_dirty.add(feed.instrument.symbol)
                dirty.add(feed.instrument.symbol)
                touched = True
        if touched:
            self._wake.set()

    def _add_feed(self, instrument: Instrument) -> SymbolFeed:
        feed = self._feeds.get(instrument.symbol)
        if feed is None:
            feed = SymbolFeed(
                instrument=instrument,
                fmt=PriceFormatter(instrument),
                status=instrument.status.value,
                ts_ns=self.epoch,
            )
            self._feeds[instrument.symbol] = feed
            self._listing_changed = True
        else:
            feed.instrument = instrument
            feed.fmt = PriceFormatter(instrument)
            feed.status = instrument.status.value
        return feed

    def _unknown(self, symbol: str) -> SymbolFeed | None:
        try:
            instrument = self._source.instrument(symbol)
        except KeyError:
            instrument = None
        if instrument is None:
            log.warning("market data: event for unknown symbol %r ignored", symbol)
            return None
        self._status_dirty.add(symbol)
        return self._add_feed(instrument)

    def _drop(self, feed: SymbolFeed, seq: int) -> None:
        self.counters.trades_dropped += 1
        lost = feed.lost
        if lost and lost[-1][1] == seq - 1:
            lost[-1][1] = seq
        else:
            lost.append([seq, seq])
        if not self._overflowing:
            self._overflowing = True
            log.warning(
                "market data: trade buffer full (%d trades); dropping trades until the "
                "publisher catches up (broker %s)",
                self.config.buffer_size,
                "connected" if self._connected else "disconnected",
            )

    # ------------------------------------------------------------------ messages out

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def buffered_trades(self) -> int:
        """Trades waiting in the buffer (bounded by ``config.buffer_size``)."""
        return self._buffered

    def symbols(self) -> list[str]:
        return list(self._feeds)

    def feed(self, symbol: str) -> SymbolFeed:
        """Publishing state of ``symbol`` (sequence numbers, stats); KeyError if unknown."""
        return self._feeds[symbol]

    def take_cycle(self, *, full: bool = False) -> list[Outgoing]:
        """The messages of one publish cycle, in publishing order.

        Drains the trade buffer into trade messages, then adds the snapshots of dirty
        symbols (of every symbol when ``full``, republishing unchanged ones with their old
        sequence number). The trade messages returned count as unacknowledged until
        :meth:`trades_acked`; :meth:`resend_unacked` queues them again (after a reconnect).
        """
        feeds = self._feeds
        out: list[Outgoing] = []
        if self._listing_changed:  # its symbol list tells subscribers what is listed
            self._listing_changed = False
            out.append(self._online_status())
        changed = self._status_dirty
        self._status_dirty = set()
        for symbol in list(feeds) if full else sorted(changed):
            feed = feeds[symbol]
            if feed.last_status is None or symbol in changed:
                feed.status_seq += 1
                feed.last_status = encode_symbol_status(feed, self.epoch)
            out.append(
                Outgoing(self.topics.symbol_status(symbol), feed.last_status, STATUS_QOS, True)
            )
        self._drain_trades()
        out.extend(self._outbox)
        self._unacked.extend(self._outbox)
        self._outbox = []
        symbols = list(feeds) if full else [s for s in feeds if s in self._dirty]
        self._dirty.clear()
        for symbol in symbols:
            self._snapshots(feeds[symbol], full, out)
        return out

    def _online_status(self) -> Outgoing:
        payload = encode_venue_status("online", self.epoch, self._clock(), "", self.symbols())
        return Outgoing(self.topics.venue_status, payload, STATUS_QOS, True)

    def trades_acked(self, messages: Sequence[Outgoing]) -> None:
        """The broker acknowledged ``messages`` (from one :meth:`take_cycle`)."""
        acked = {id(m) for m in messages}
        done = [m for m in self._unacked if id(m) in acked]
        if done:
            self._unacked = [m for m in self._unacked if id(m) not in acked]
            self.counters.trades_published += sum(m.payload.count(b'"trade_id"') for m in done)

    def cycle_sent(self) -> None:
        """Every message handed out by :meth:`take_cycle` so far was acknowledged."""
        self.trades_acked(list(self._unacked))

    def resend_unacked(self) -> None:
        """Queue unacknowledged trade messages again, ahead of newer ones (in order).
        Subscribers drop the duplicates this may cause by sequence number."""
        self._outbox = self._unacked + self._outbox
        self._unacked = []

    def _drain_trades(self) -> None:
        limit = self.config.max_trades_per_message
        for symbol in sorted(self._trade_symbols):
            feed = self._feeds[symbol]
            pending, lost = feed.pending, feed.lost
            feed.pending, feed.lost = [], []
            self._buffered -= len(pending)
            if lost:
                log.warning(
                    "market data: %s: %d trades not published (buffer full), seq %s",
                    symbol,
                    sum(hi - lo + 1 for lo, hi in lost),
                    ", ".join(f"{lo}..{hi}" for lo, hi in lost),
                )
            topic = self.topics.trades(symbol)
            start = 0
            while True:
                chunk = pending[start : start + limit]
                start += limit
                first = feed.trades_sent + 1
                last = chunk[-1][0] if start < len(pending) else feed.trade_seq
                chunk_lost = [(lo, hi) for lo, hi in lost if first <= lo <= last]
                payload = encode_trades(
                    feed, self.epoch, first_seq=first, last_seq=last, trades=chunk, lost=chunk_lost
                )
                self._outbox.append(Outgoing(topic, payload, TRADES_QOS, False))
                feed.trades_sent = last
                if start >= len(pending):
                    break
        self._trade_symbols.clear()
        if self._overflowing and self._buffered < self.config.buffer_size:
            self._overflowing = False

    def _snapshots(self, feed: SymbolFeed, full: bool, out: list[Outgoing]) -> None:
        symbol = feed.instrument.symbol
        depth = self.config.depth
        bids, asks = self._source.depth(symbol, depth)
        bview = tuple((lv.price, lv.qty, lv.orders) for lv in bids)
        aview = tuple((lv.price, lv.qty, lv.orders) for lv in asks)
        view = (bview, aview)
        if view != feed.book_view or feed.last_book is None:
            old = feed.book_view
            feed.book_seq += 1
            feed.book_view = view
            feed.last_book = encode_book(feed, self.epoch, depth, bview, aview)
            out.append(Outgoing(self.topics.book(symbol), feed.last_book, SNAPSHOT_QOS, True))
            if old is not None and self.config.book_delta:
                payload = encode_book_delta(
                    feed, self.epoch, depth, book_delta(old[0], bview), book_delta(old[1], aview)
                )
                out.append(Outgoing(self.topics.book_delta(symbol), payload, SNAPSHOT_QOS, False))
        elif full:
            out.append(Outgoing(self.topics.book(symbol), feed.last_book, SNAPSHOT_QOS, True))
        bbo: tuple[LevelTuple | None, LevelTuple | None] = (
            bview[0] if bview else None,
            aview[0] if aview else None,
        )
        if bbo != feed.bbo_view or feed.last_bbo is None:
            feed.bbo_seq += 1
            feed.bbo_view = bbo
            feed.last_bbo = encode_bbo(feed, self.epoch, bbo[0], bbo[1])
            out.append(Outgoing(self.topics.bbo(symbol), feed.last_bbo, SNAPSHOT_QOS, True))
        elif full:
            out.append(Outgoing(self.topics.bbo(symbol), feed.last_bbo, SNAPSHOT_QOS, True))
        if feed.stats.count != feed.stats_published or feed.last_stats is None:
            feed.stats_seq += 1
            feed.stats_published = feed.stats.count
            feed.last_stats = encode_stats(feed, self.epoch)
            out.append(Outgoing(self.topics.stats(symbol), feed.last_stats, SNAPSHOT_QOS, True))
        elif full:
            out.append(Outgoing(self.topics.stats(symbol), feed.last_stats, SNAPSHOT_QOS, True))

    # ------------------------------------------------------------------ connection

    def seed_stats(self, trades: Iterable[tuple[str, int, int]]) -> None:
        """Count trades of the current trading day made before this publisher started
        (``(symbol, price ticks, qty)`` in trade order), so statistics survive a restart."""
        for symbol, price, qty in trades:
            feed = self._feeds.get(symbol)
            if feed is not None:
                feed.stats.add(price, qty, feed.trade_seq)
                self._dirty.add(symbol)

    def reset_stats(self) -> None:
        """Start the statistics of a new trading day (open, high, low ... from scratch)."""
        for symbol, feed in self._feeds.items():
            # trade_seq numbers the epoch's trades, which go on after the day's end: the new
            # day's empty statistics still cover every trade up to the last one published
            feed.stats = TradeStats(trade_seq=feed.stats.trade_seq)
            feed.stats_published = -1  # publish the empty statistics once
            self._dirty.add(symbol)
        self._wake.set()

    def stop(self) -> None:
        """Ask :meth:`run` to flush, publish offline and disconnect cleanly."""
        self._stop_requested = True
        self._wake.set()

    def _make_client(self) -> aiomqtt.Client:
        cfg = self.config
        ep = endpoint(cfg.url)
        offline = encode_venue_status("offline", self.epoch, 0, "connection lost")
        return aiomqtt.Client(
            ep.host,
            ep.port,
            username=ep.username,
            password=ep.password,
            # One client id for every connection of this run: a reconnect takes over the
            # broker's session of a connection that died silently, so that session's Last
            # Will cannot fire later and overwrite the new "online" (the broker would
            # otherwise notice the dead connection only after 1.5 x keepalive).
            identifier=cfg.client_id or f"venue-{self.epoch:x}",
            will=aiomqtt.Will(self.topics.venue_status, offline, qos=STATUS_QOS, retain=True),
            keepalive=cfg.keepalive,
            tls_context=cfg.tls_context(),
            timeout=cfg.publish_timeout,
            max_inflight_messages=1000,
            # small packets must not wait for the broker's delayed ACK (Nagle)
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )

    async def run(self) -> None:
        """Publish until :meth:`stop` (clean: says offline) or cancellation.

        Never raises for broker trouble: it logs, retries with exponential backoff (capped
        at ``config.reconnect_max``) and meanwhile keeps buffering trades. Trades still
        unpublished when it ends (the broker was down) are logged.
        """
        try:
            await self._run()
        finally:
            self._log_unpublished()

    def _log_unpublished(self) -> None:
        counts: dict[str, int] = {}
        for m in self._outbox + self._unacked:  # trade messages handed out, not acknowledged
            symbol = self.topics.parse(m.topic)[0] or ""
            counts[symbol] = counts.get(symbol, 0) + m.payload.count(b'"trade_id"')
        for symbol, feed in self._feeds.items():  # buffered, or dropped from a full buffer
            n = len(feed.pending) + sum(hi - lo + 1 for lo, hi in feed.lost)
            counts[symbol] = counts.get(symbol, 0) + n
        counts = {symbol: n for symbol, n in counts.items() if n}
        if counts:
            log.warning(
                "market data: stopped with %d trades never published (broker %s): %s",
                sum(counts.values()),
                display_url(self.config.url),
                ", ".join(f"{symbol} {n}" for symbol, n in sorted(counts.items())),
            )

    async def _run(self) -> None:
        cfg = self.config
        delay = cfg.reconnect_min
        was_up = True
        while not self._stop_requested:
            try:
                async with self._make_client() as client:
                    self.counters.connects += 1
                    delay = cfg.reconnect_min
                    was_up = True
                    log.info("market data: connected to %s", display_url(cfg.url))
                    try:
                        await self._session(client)
                    except asyncio.CancelledError:
                        await self._say_offline(client, "cancelled")
                        raise
                    finally:
                        self._connected = False
                    return
            except aiomqtt.MqttError as exc:
                self._connected = False
                self.counters.connect_failures += 1
                level = logging.WARNING if was_up else logging.DEBUG
                log.log(
                    level,
                    "market data: broker %s unavailable (%s); trading continues, "
                    "retrying every <= %.1fs",
                    display_url(cfg.url),
                    exc,
                    cfg.reconnect_max,
                )
                was_up = False
            await self._pause(delay)
            delay = min(delay * 2, cfg.reconnect_max)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up early on stop()."""
        with contextlib.suppress(TimeoutError):
            self._wake.clear()
            if not self._stop_requested:
                await asyncio.wait_for(self._stop_wait(), seconds)

    async def _stop_wait(self) -> None:
        while not self._stop_requested:
            self._wake.clear()
            await self._wake.wait()

    async def _session(self, client: aiomqtt.Client) -> None:
        watcher = asyncio.create_task(_until_disconnected(client))
        server = asyncio.create_task(self._serve(client))
        try:
            done, _ = await asyncio.wait({watcher, server}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watcher, server):
                task.cancel()
            await asyncio.gather(watcher, server, return_exceptions=True)
        for task in (server, watcher):
            if task in done and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _serve(self, client: aiomqtt.Client) -> None:
        client.pending_calls_threshold = 10 * self.config.max_trades_per_message
        self.resend_unacked()
        self._listing_changed = False
        online = self._online_status()
        await client.publish(online.topic, online.payload, qos=online.qos, retain=online.retain)
        self._connected = True
        full = True  # the broker may have lost retained messages: republish them all
        interval = self.config.publish_interval
        # Cycles are pipelined: up to MAX_CYCLES_IN_FLIGHT cycles wait for their PUBACKs
        # while the next ones are sent, so a broker's delayed ACKs (Nagle) do not pace us.
        in_flight: deque[tuple[asyncio.Future[list[None]], list[Outgoing]]] = deque()
        try:
            while True:
                self._wake.clear()
                messages = self.take_cycle(full=full)
                full = False
                if messages:
                    sent = asyncio.gather(
                        *(client.publish(m.topic, m.payload, m.qos, m.retain) for m in messages)
                    )
                    in_flight.append((sent, messages))
                    self.counters.cycles += 1
                    self.counters.messages_published += len(messages)
                while in_flight and (
                    in_flight[0][0].done() or len(in_flight) > MAX_CYCLES_IN_FLIGHT
                ):
                    sent, done = in_flight.popleft()
                    await sent
                    self.trades_acked(done)
                if self._stop_requested:
                    while in_flight:
                        sent, done = in_flight.popleft()
                        await sent
                        self.trades_acked(done)
                    await self._say_offline(client, "stopped")
                    return
                if in_flight:
                    woken: asyncio.Future[object] = asyncio.ensure_future(self._wake.wait())
                    oldest: asyncio.Future[object] = in_flight[0][0]  # type: ignore[assignment]
                    await asyncio.wait([woken, oldest], return_when=asyncio.FIRST_COMPLETED)
                    woken.cancel()
                else:
                    await self._wake.wait()
                if interval and self._wake.is_set():
                    await asyncio.sleep(interval)
        finally:
            for sent, _ in in_flight:
                sent.cancel()
            if in_flight:
                await asyncio.gather(*(f for f, _ in in_flight), return_exceptions=True)

    async def _say_offline(self, client: aiomqtt.Client, reason: str) -> None:
        payload = encode_venue_status("offline", self.epoch, self._clock(), reason)
        try:
            await client.publish(
                self.topics.venue_status, payload, qos=STATUS_QOS, retain=True, timeout=1.0
            )
        except aiomqtt.MqttError as exc:
            log.warning("market data: could not publish offline status: %s", exc)


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Raise MqttError when the connection drops (the publisher subscribes to nothing)."""
    async for _ in client.messages:
        pass
    raise aiomqtt.MqttError("message iterator ended")
