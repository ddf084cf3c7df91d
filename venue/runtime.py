"""The venue runtime: wires the FIX acceptor, the matching engine, the store, the market
data publisher and the admin channel together, and owns the event loop's timers.

One sequencer: :meth:`Venue.submit` is the only path into the engine. It numbers the
command, journals it with its events (buffered for the group commit), and fans the events
out to order entry (ExecutionReports) and market data. The acceptor writes a loop turn's
outbound bytes only when :meth:`Venue.commit_then` calls it back, once the journal and the
FIX message store are durable in one transaction: an ExecutionReport never leaves before
what it reports is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fix_gateway.config import SessionConfig, SessionID, VenueConfig
from fix_gateway.log import file_log_factory
from fix_gateway.order_entry import RECENT_CL_ORD_IDS, OrderEntry
from fix_gateway.server import FixAcceptor
from fix_gateway.session import SessionState
from fix_gateway.store import MAX_SEQ_NUM, MemoryStore, MessageStore
from venue.admin import AdminError, AdminServer
from venue.claim import ClaimError, VenueClaim
from venue.commands import (
    AddInstrument,
    AdvanceTime,
    CancelOrder,
    Command,
    EndOfDay,
    SetTradingStatus,
)
from venue.engine import MatchingEngine
from venue.events import Event, OrderAccepted, OrderCancelled, OrderReplaced
from venue.instruments import Instrument, InstrumentError, PriceError, load_instruments
from venue.snapshot import OrderView
from venue.snapshot_child import SnapshotChild, SnapshotChildError, can_fork
from venue.store import Store, StoreError, StoreInUse, StoreUnavailable, recover_engine
from venue.tuning import pin_helper, tune_gc
from venue.types import CancelReason, OrderId, OrdStatus, TradingStatus

log = logging.getLogger("venue")

DEFAULT_STORE_URL = "sqlite+aiosqlite:///var/venue.db"
DEFAULT_ADMIN_SOCKET = Path("var/venue.sock")
DUPLICATE_WINDOW_NS = 24 * 3600 * 1_000_000_000
FIX_MESSAGES_KEPT = 100_000
"""Outbound FIX messages per session kept in memory for resend; with a store, a
ResendRequest for older ones is served from the database."""
STOP_COMMIT_TIMEOUT = 10.0  # seconds a stopping venue waits for an unavailable store
DEFAULT_SNAPSHOT_INTERVAL = 250_000
"""Commands between the engine snapshots the venue takes by itself (SnapshotCommandInterval):
about what a restart after a crash replays at most. With 1,000,000 live orders in the
snapshot, loading it and replaying 250,000 commands took 11.0 s to the first acknowledged
order (``benchmarks/fix_e2e.py --restart 1000000 --restart-after 250000``); a full million
to replay would take the restart past 15 s."""


class StartupError(Exception):
    """The venue cannot start; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """What `venue run` decides beyond sessions.cfg (command-line options win)."""

    store_url: str | None = DEFAULT_STORE_URL  # None: persistence off
    mqtt_url: str | None = None  # None: no market data
    mqtt_prefix: str | None = None
    mqtt_depth: int | None = None
    admin_socket: Path | None = DEFAULT_ADMIN_SOCKET
    timer_interval: float = 0.25


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make a relative SQLite file path relative to ``base`` (the sessions.cfg folder)."""
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix):
        path = url[len(prefix) :]
        if path and path != ":memory:" and not Path(path).is_absolute():
            return prefix + str((base / path).resolve())
    return url


def _rules_changed(old: Instrument, new: Instrument) -> str:
    """``max_qty 500 -> 1000, ...``: the rules that differ."""
    changed = [
        f"{name} {getattr(old, name)} -> {getattr(new, name)}"
        for name in ("tick_size", "lot_size", "min_qty", "max_qty", "price_band_pct",
                     "reference_price", "description")
        if getattr(old, name) != getattr(new, name)
    ]
    return ", ".join(changed)


def _publisher_ended(task: asyncio.Task[None]) -> None:
    """The market data publisher's task ends only when the venue stops it; an exception is
    logged, not left for a stop that may be days away."""
    if not task.cancelled() and task.exception() is not None:
        log.error("market data publisher stopped: nothing more is published",
                  exc_info=task.exception())


def _nothing_to_write() -> None:
    """A commit barrier's callback when the turn wrote no FIX bytes."""


class Venue:
    """A running venue. ``await start()``, then ``await stop()``."""

    def __init__(self, config: VenueConfig, options: RuntimeOptions | None = None) -> None:
        self.config = config
        self.options = options or RuntimeOptions()
        self.engine = MatchingEngine()
        self.store: Store | None = None
        self.acceptor: FixAcceptor | None = None
        self.order_entry = OrderEntry(config, self, session_event=self._session_event)
        self.publisher: Any = None
        self._publisher_task: asyncio.Task[None] | None = None
        self._admin: AdminServer | None = None
        self._claim = VenueClaim(self.options.store_url, self.options.admin_socket)
        self._timer: asyncio.Task[None] | None = None
        self._fix_stores: dict[SessionID, MemoryStore] = {}
        self._cmd_no = 0
        self._gtd: list[int] = []  # expiry times of GTD orders (lazy: may hold stale ones)
        self._period_start: int | None = None  # of the trading day going on, if any
        self._day_checked_s = 0  # the second of the last command: periods change on seconds
        self._schedule = self.config.sessions[0].schedule if self.config.sessions else None
        self._store_down = False
        self._commit_scheduled = False  # see _commit_soon
        # FIX writes behind a failed commit, with the number of their commit_then call: a
        # turn whose batch was queued before the failure joins them only when that batch ends
        self._held: list[tuple[int, Callable[[], None]]] | None = None
        self._turns = 0  # commit_then calls so far
        self._md_events: list[Event] = []  # journaled, published once committed
        self._md_day_ends_at: int | None = None  # index in _md_events where a new day starts
        self._retry: asyncio.Task[None] | None = None  # commits them once the store is back
        self._todays_trades: list[tuple[str, int, int]] = []  # for market data statistics
        self.started_ns = 0
        interval = config.default.snapshot_command_interval
        self._snapshot_interval = DEFAULT_SNAPSHOT_INTERVAL if interval is None else interval
        self._next_snapshot_at = self._snapshot_interval  # cmd_no of the next automatic one
        self._snapshot_lock = asyncio.Lock()  # one snapshot at a time
        self._snapshot_task: asyncio.Task[None] | None = None
        self._snapshot_child: SnapshotChild | None = None

    # -- the sequencer --------------------------------------------------------------------------

    def submit(self, cmd: Command) -> list[Event]:
        """Apply a command to the engine, journal it, and fan its events out.

        The first command of each second checks whether the trading day has ended first, so
        that no command of the new day is handled in the old one (the timer notices an end
        only on its next tick)."""
        second = cmd.ts_ns // 1_000_000_000
        if second != self._day_checked_s:
            self._day_checked_s = second
            self._close_ended_day(cmd.ts_ns)
        events = self.engine.handle(cmd)
        self._cmd_no += 1
        if self.store is not None:
            self.store.journal(self._cmd_no, cmd, events)
        for ev in events:
            if type(ev) is OrderAccepted or type(ev) is OrderReplaced:
                expire = ev.spec.expire_ns
                if expire is not None:
                    heapq.heappush(self._gtd, expire)
        self.order_entry.on_events(events)
        if self.publisher is not None:
            if self.store is None:
                self.publisher.on_events(events)
            else:  # like the ExecutionReports, published once the events are committed
                self._md_events += events
        return events

    def _take_market_data(self) -> Callable[[], None] | None:
        """What publishes the market data of the events journaled since the last commit;
        the caller runs it once those are committed (a trade a crash could take back is
        never published, so its trade id is never seen twice)."""
        events = self._md_events
        if not events and self._md_day_ends_at is None:
            return None
        self._md_events = []
        publisher = self.publisher
        assert publisher is not None
        at, self._md_day_ends_at = self._md_day_ends_at, None
        if at is None:
            return lambda: publisher.on_events(events)

        def publish_across_the_day_end() -> None:
            publisher.on_events(events[:at])
            publisher.reset_stats()
            publisher.on_events(events[at:])

        return publish_across_the_day_end

    def _session_event(self, session_id: SessionID, kind: str, detail: str) -> None:
        if self.store is not None:  # PostgreSQL text cannot hold a NUL (a client's Text(58))
            self.store.session_event(
                str(session_id), time.time_ns(), kind, detail.replace("\x00", "\ufffd")
            )
            self._commit_soon()  # a disconnect's cancel-on-disconnect too: nothing may flush

    def _commit_soon(self) -> None:
        """Commit at the end of this loop turn what work outside a FIX message's turn
        journaled (a disconnect's cancels, timer expiries, session events): when it sends
        nothing to a connected session, the acceptor has no write to commit it for."""
        if self._commit_scheduled or self.store is None:
            return
        self._commit_scheduled = True
        asyncio.get_running_loop().call_soon(self._commit_turn)

    def _commit_turn(self) -> None:
        self._commit_scheduled = False
        if self.store is not None and self.store.pending:
            self.commit_then(_nothing_to_write)

    def instrument(self, symbol: str) -> Instrument | None:
        return self.engine.instrument(symbol)

    def last_price(self, symbol: str) -> int | None:
        return self.engine.last_price(symbol)

    def knows_cl_ord_id(self, owner: str, cl_ord_id: str) -> bool:
        return self.engine.knows_cl_ord_id(owner, cl_ord_id)

    def live_order_ids(self, owner: str) -> list[OrderId]:
        return [view.spec.order_id for view in self.engine.live_orders(owner=owner)]

    def find_order(
        self, owner: str, order_id: OrderId | None, cl_ord_id: str
    ) -> OrderView | None:
        return self.engine.find_order(owner, order_id, cl_ord_id)

    def _stage_fix_writes(self, store: Store) -> None:
        """Move the FIX stores' pending writes (messages, resets, sequence numbers) into the
        store's buffer, to go in the next transaction with the journal."""
        for session_id, fix_store in self._fix_stores.items():
            writes = fix_store.pending()
            if not writes:
                continue
            sid = str(session_id)
            for w in writes:
                if w.kind == "message":
                    store.fix_message(sid, w.seq, w.raw)
                elif w.kind == "reset":
                    store.fix_reset(sid, w.seq)
            store.fix_state(
                sid, fix_store.next_sender_seq, fix_store.next_target_seq, fix_store.creation_time
            )

    def commit_then(self, durable: Callable[[], None]) -> None:
        """The acceptor's commit barrier: ``durable`` (which writes one loop turn's FIX
        messages) runs once the turn's journal and FIX store writes are committed, and the
        calls' ``durable`` run in the order of the calls.

        While the store fails, they wait, in order, behind a task that retries it (see
        :meth:`commit`); nothing is written before it is stored.
        """
        store = self.store
        if store is None:
            durable()
            return
        self._stage_fix_writes(store)
        publish = self._take_market_data()
        if publish is not None:
            write = durable

            def durable() -> None:
                write()
                publish()

        turn = self._turns = self._turns + 1
        if self._held is not None:
            self._held.append((turn, durable))
            return

        def stored(error: StoreError | None) -> None:
            if self._held is not None:  # an earlier batch failed: behind its retry
                self._held.append((turn, durable))
            elif error is None:
                durable()
            else:
                self._store_failed(error)
                self._held = [(turn, durable)]
                self._retry = asyncio.get_running_loop().create_task(self._release_held())

        store.commit_then(stored)

    async def _release_held(self) -> None:
        await self.commit()  # until the store takes it; cancelled: nothing is written
        # The failed batch is in; what was staged behind it while it was retried (the held
        # turns' writes) is not yet: commit again, until a commit ends with no turn held
        # while it ran (each held turn staged its writes before it was held).
        while True:
            held_before = len(self._held or ())
            await self.commit()
            if len(self._held or ()) == held_before:
                break
        held, self._held = sorted(self._held or (), key=lambda entry: entry[0]), None
        self._retry = None
        for _, durable in held:
            durable()

    async def commit(self) -> None:
        """Make every buffered write durable (the FIX store writes and the journal, one
        transaction), retrying until the store takes it."""
        store = self.store
        if store is None:
            return
        self._stage_fix_writes(store)
        publish = self._take_market_data()
        delay = 0.05
        while True:
            try:
                await store.commit()
            except StoreError as exc:
                self._store_failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if self._store_down:
                log.warning("store available again: accepting connections")
                self._store_down = False
            if publish is not None:
                publish()
            return

    def _store_failed(self, exc: StoreError) -> None:
        """Nothing may be acknowledged that is not stored, and every FIX message (a Logout
        too) uses a sequence number that must be stored first: what is pending is held and
        the connections are dropped until the store is back. Clients reconnect and get the
        held messages by resend."""
        if not self._store_down:
            if isinstance(exc, StoreUnavailable):
                log.error("store unavailable, not accepting orders until it is back: %s", exc)
            else:
                log.critical("store write failed: not accepting orders: %s", exc)
            self._store_down = True
        if self.acceptor is not None:
            self.acceptor.drop_connections("the venue's store is unavailable")

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            self._claim.take()  # before the store or the broker is touched
        except ClaimError as exc:
            raise StartupError(str(exc)) from exc
        try:
            await self._start()
        except BaseException:
            self._claim.release()
            raise

    async def _start(self) -> None:
        instruments = self._load_instruments()
        if self.options.store_url is not None:
            # Recovery builds the books: objects that live on, which the cyclic collector
            # would walk again and again while they are built (a fifth of the replay time
            # with 1,000,000 orders). tune_gc() below freezes them once it is done.
            gc.disable()
            try:
                await self._open_store(instruments)
            finally:
                gc.enable()
        else:
            self.engine = MatchingEngine(instruments)
            for sc in self.config.sessions:
                self._fix_stores[sc.session_id] = MemoryStore(
                    creation_time=time.time_ns(), keep=FIX_MESSAGES_KEPT
                )
        self._start_market_data()
        self.acceptor = FixAcceptor(
            self.config,
            self.order_entry,
            self._fix_store,
            file_log_factory(),
            commit_barrier=self.commit_then if self.store is not None else None,
            commit_poll=self.store.poll_commits if self.store is not None else None,
            message_loader=self._load_fix_messages if self.store is not None else None,
            on_tick=self._close_ended_day,
            password_thread_init=pin_helper,
        )
        self.order_entry.attach(self.acceptor)
        if self.store is not None:
            await self._settle_downtime()
        if self._schedule is not None:
            self._period_start = self._schedule.period_start(time.time_ns())
        try:
            await self.acceptor.start()
        except OSError as exc:
            await self._close_store()
            raise StartupError(f"cannot listen for FIX connections: {exc.strerror or exc}") from exc
        if self.options.admin_socket is not None:
            self._admin = AdminServer(self.options.admin_socket, self._admin_handlers())
            try:
                await self._admin.start()
            except (AdminError, OSError) as exc:
                await self.acceptor.stop()
                await self._close_store()
                raise StartupError(str(exc)) from exc
        loop = asyncio.get_running_loop()
        if self.publisher is not None:
            self._publisher_task = loop.create_task(self.publisher.run())
            self._publisher_task.add_done_callback(_publisher_ended)
        self._timer = loop.create_task(self._timer_loop())
        self.started_ns = time.time_ns()
        tune_gc()
        log.info(
            "venue started: FIX on %s, %d instruments, store %s, market data %s",
            ", ".join(f"{h}:{p}" for (h, _), p in self.acceptor.ports.items()),
            len(self.engine.instruments()),
            self.options.store_url or "off",
            self._market_data_url(),
        )

    async def stop(self) -> None:
        """Logout to every session, flush the store, publish offline, close everything."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        if self._snapshot_task is not None:  # the stop writes a newer one itself
            self._snapshot_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._snapshot_task
        if self._snapshot_child is not None:  # an admin's, still being built
            self._snapshot_child.kill()
        if self.acceptor is not None:
            await self.acceptor.stop()
        if self._admin is not None:
            await self._admin.stop()
        committed = False
        if self.store is not None:
            try:  # first, so that the publisher still publishes what this commits
                await asyncio.wait_for(self.commit(), STOP_COMMIT_TIMEOUT)
                committed = True
            except TimeoutError:
                # Never acknowledged, so nothing promised is lost: clients resend after restart.
                log.error("store unavailable at shutdown: the last unacknowledged work is lost")
        if self.publisher is not None:
            self.publisher.stop()
            if self._publisher_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._publisher_task, 3.0)
        if self.store is not None and committed:
            with contextlib.suppress(StoreError):
                await self._write_snapshot(self.store)
        if self._retry is not None:  # the connections are closed: no one to release to
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
        await self._close_store()
        self._claim.release()
        log.info("venue stopped")

    async def _write_snapshot(self, store: Store) -> int:
        """Store an engine snapshot taken now, once the commands before it are committed;
        returns its cmd_no.

        The event loop waits while the snapshot is built and encoded (about 3 s with
        1,000,000 live orders), with the cyclic collector off: that builds an object per live
        order and a collection would find no garbage. Trading goes on while it is stored.

        Raises:
            StoreError: the commit or the snapshot's write failed.
        """
        cmd_no = self._cmd_no
        gc.disable()
        try:
            snapshot = self.engine.snapshot()
            text = snapshot.to_json()
        finally:
            gc.enable()
        await store.write_snapshot(cmd_no, snapshot, text=text)
        return cmd_no

    async def _take_snapshot(self, store: Store) -> tuple[int, int]:
        """Store an engine snapshot of the venue as it is now; returns its cmd_no and the
        live orders it holds. Built in a forked child where the OS can fork (trading goes
        on meanwhile), else in the loop.

        Raises:
            SnapshotChildError: the child did not deliver it.
            StoreError: the commit or the snapshot's write failed.
        """
        async with self._snapshot_lock:
            live = self.engine.live_order_count()
            if not can_fork():
                cmd_no = await self._write_snapshot(store)
            else:
                # between two commands, no await until the fork: the child's engine is
                # the engine after command cmd_no
                cmd_no, event_seq = self._cmd_no, self.engine.next_seq - 1
                child = self._snapshot_child = SnapshotChild(self.engine)
                try:
                    text = await child.text()
                finally:
                    self._snapshot_child = None
                await store.write_snapshot_text(cmd_no, event_seq, text)
            if self._snapshot_interval:
                self._next_snapshot_at = max(
                    self._next_snapshot_at, cmd_no + self._snapshot_interval
                )
            return cmd_no, live

    def _maybe_snapshot(self) -> None:
        """Start an automatic snapshot once SnapshotCommandInterval commands have passed
        since the last one (from the timer: between two commands)."""
        if (
            self.store is None
            or not self._snapshot_interval
            or self._cmd_no < self._next_snapshot_at
            or self._snapshot_task is not None
            or self._snapshot_lock.locked()
            or not can_fork()
        ):
            return
        self._snapshot_task = asyncio.get_running_loop().create_task(
            self._automatic_snapshot(self.store)
        )

    async def _automatic_snapshot(self, store: Store) -> None:
        started = time.perf_counter()
        try:
            cmd_no, live = await self._take_snapshot(store)
        except Exception as exc:
            # the next try after another interval: a failing store or fork is not hammered
            self._next_snapshot_at = self._cmd_no + self._snapshot_interval
            defect = not isinstance(exc, (SnapshotChildError, StoreError))
            log.error("engine snapshot failed: %s", exc, exc_info=defect)
        else:
            log.info(
                "engine snapshot after command %d: %d live orders, %.2f s",
                cmd_no,
                live,
                time.perf_counter() - started,
            )
        finally:
            self._snapshot_task = None

    async def _close_store(self) -> None:
        if self.store is not None:
            with contextlib.suppress(StoreError):
                await self.store.close()
            self.store = None

    def _load_instruments(self) -> list[Instrument]:
        path = self.config.default.instruments_file
        if path is None:
            name = self.config.path or "sessions.cfg"
            raise StartupError(f"{name}: InstrumentsFile is not set in [DEFAULT]")
        try:  # a relative path is already the sessions.cfg folder's (parse_config)
            return load_instruments(path)
        except InstrumentError as exc:
            raise StartupError(str(exc)) from exc

    async def _open_store(self, instruments: list[Instrument]) -> None:
        url = self.options.store_url
        assert url is not None
        try:
            self.store = await Store.open(url, exclusive=True)
        except StoreInUse as exc:
            raise StartupError(str(exc)) from exc
        except StoreError as exc:
            raise StartupError(f"store {url}: {exc}") from exc
        store = self.store
        engine, result = await recover_engine(
            store, MatchingEngine, MatchingEngine.restore
        )
        self.engine = engine
        self._cmd_no = result.last_cmd_no
        if self._snapshot_interval:  # counted from the snapshot the recovery started from
            snapshot_no = result.last_cmd_no - result.replayed
            self._next_snapshot_at = snapshot_no + self._snapshot_interval
        if not result.snapshot_used and result.last_cmd_no == 0:
            await store.write_snapshot(0, engine.snapshot())
        log.info(
            "store %s: recovered %d live orders (%d commands replayed, next event %d)",
            store.dialect,
            engine.live_order_count(),
            result.replayed,
            engine.next_seq,
        )
        now = time.time_ns()
        for instrument in instruments:
            current = engine.instrument(instrument.symbol)
            if current is None or current.with_status(instrument.status) != instrument:
                try:
                    problem = await self._tick_change_problem(current, instrument)
                except StoreError as exc:
                    raise StartupError(f"store {url}: {exc}") from exc
                if problem is not None:
                    raise StartupError(f"{self.config.default.instruments_file}: {problem}")
                # new rules; the status stays as an operator set it
                listed = instrument if current is None else instrument.with_status(current.status)
                if current is not None:  # also a change `instruments add` made at run time
                    log.warning("%s: the rules of %s in the instruments file replace the "
                                "venue's: %s", self.config.default.instruments_file,
                                instrument.symbol, _rules_changed(current, listed))
                self.submit(AddInstrument(now, listed))
        for expire_ns in engine.gtd_expiries():
            heapq.heappush(self._gtd, expire_ns)
        # FIX duplicate detection (PossResend) remembers, across a restart, the ClOrdIDs the
        # sessions used in the last day (the newest RECENT_CL_ORD_IDS per session at least).
        recent = await store.cl_ord_ids_since(
            now - DUPLICATE_WINDOW_NS,
            limit=RECENT_CL_ORD_IDS * max(1, len(self.config.sessions)),
        )
        self.order_entry.remember_cl_ord_ids(recent)
        day_start = self._schedule.period_start(now) if self._schedule is not None else None
        if day_start is not None:
            self._todays_trades = [
                (t["symbol"], t["price"], t["qty"])
                for t in await store.trades(since_ns=day_start)
            ]
        for sc in self.config.sessions:
            record = await store.load_fix_session(str(sc.session_id))
            if record is None:
                fix_store = MemoryStore(
                    creation_time=now, keep=FIX_MESSAGES_KEPT, write_back=True
                )
                store.fix_state(str(sc.session_id), 1, 1, now)
            else:
                # the newest messages only; a ResendRequest for older ones reads the store
                first = max(1, record.next_sender_seq - FIX_MESSAGES_KEPT)
                messages = await store.load_fix_messages(str(sc.session_id), first, 0)
                fix_store = MemoryStore(
                    record.creation_time_ns,
                    record.next_sender_seq,
                    record.next_target_seq,
                    messages,
                    keep=FIX_MESSAGES_KEPT,
                    first_kept_seq=first,
                    write_back=True,
                )
            self._fix_stores[sc.session_id] = fix_store
        await self.commit()

    async def _settle_downtime(self) -> None:
        """Before any session connects after a restart: what the venue owes for the time it
        was down. Day orders of a trading day that ended meanwhile expire, and the live
        orders of CancelOnDisconnect sessions are cancelled (no session is connected; a
        crash gave them no logout). Their ExecutionReports go out by resend at the next
        Logon."""
        now = time.time_ns()
        if self._schedule is not None:
            # Outside the session's times every Day order's day has ended; within them,
            # those entered before the current period began
            day_start = self._schedule.period_start(now)
            cutoff = now + 1 if day_start is None else day_start
            if self.engine.has_day_orders_entered_before(cutoff):
                log.info("the trading day ended while the venue was down: expiring Day orders")
                self.submit(EndOfDay(now))
        self._cancel_on_disconnect(now)
        await self.commit()

    def _cancel_on_disconnect(self, now: int) -> None:
        """Cancel the live orders of every CancelOnDisconnect session (at a restart and at
        the end of the day: none of them is, or stays, connected)."""
        for sc in self.config.sessions:
            if sc.cancel_on_disconnect:
                self.order_entry.cancel_all(sc.session_id, CancelReason.DISCONNECT, now)

    async def _load_fix_messages(
        self, session_id: SessionID, begin: int, end: int
    ) -> list[tuple[int, bytes]]:
        assert self.store is not None
        return await self.store.load_fix_messages(str(session_id), begin, end)

    def _fix_store(self, config: SessionConfig) -> MessageStore:
        return self._fix_stores[config.session_id]

    def _market_data_url(self) -> str:
        """The broker as logs and status show it: no credentials."""
        from market_data.config import display_url

        url = self.options.mqtt_url
        return "off" if url is None else display_url(url)

    def _start_market_data(self) -> None:
        url = self.options.mqtt_url
        if url is None:
            return
        from market_data.config import MarketDataConfig
        from market_data.publisher import MarketDataPublisher

        overrides: dict[str, Any] = {}
        if self.options.mqtt_prefix:
            overrides["prefix"] = self.options.mqtt_prefix
        if self.options.mqtt_depth:
            overrides["depth"] = self.options.mqtt_depth
        try:
            config = MarketDataConfig.from_url(url, **overrides)
        except ValueError as exc:
            raise StartupError(f"market data: {exc}") from exc
        self.publisher = MarketDataPublisher(self.engine, config)
        self.publisher.seed_stats(self._todays_trades)
        # It connects to the broker only once the venue has started (_start): a venue that
        # fails to start must not overwrite the retained topics of the one running.

    # -- timers ---------------------------------------------------------------------------------

    def _close_ended_day(self, now: int) -> None:
        """At each FIX tick, before the sessions' timers: when the trading day (the session
        period) has ended, Day orders expire and cancel-on-disconnect sessions' orders are
        cancelled before the schedule logs the sessions out, so their ExecutionReports go
        out in the day's session (a new period starts its sequence numbers at 1)."""
        if self._schedule is None:
            return
        period = self._schedule.period_start(now)
        if period == self._period_start:
            return
        ended, self._period_start = self._period_start is not None, period
        if not ended:
            return
        log.info("trading day ended: expiring Day orders")
        if self.publisher is not None:  # the new day's statistics start after the old day's
            if self.store is None:  # trades are published, which a store's commit may hold
                self.publisher.reset_stats()
            else:
                self._md_day_ends_at = len(self._md_events)
        self.submit(EndOfDay(now))
        self._cancel_on_disconnect(now)  # the schedule is about to log them out
        self._commit_soon()

    async def _timer_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.timer_interval)
            now = time.time_ns()
            try:
                if self._gtd and self._gtd[0] <= now:
                    while self._gtd and self._gtd[0] <= now:
                        heapq.heappop(self._gtd)
                    self.submit(AdvanceTime(now))
                    self._commit_soon()
                self._maybe_snapshot()
            except Exception:
                log.exception("venue timer failed")

    # -- admin ----------------------------------------------------------------------------------

    def _admin_handlers(self) -> dict[str, Any]:
        return {
            "status": self._admin_status,
            "sessions.list": self._admin_sessions,
            "sessions.logout": self._admin_session_action("logout"),
            "sessions.disconnect": self._admin_session_action("disconnect"),
            "sessions.reset": self._admin_session_action("reset"),
            "sessions.enable": self._admin_session_action("enable"),
            "sessions.disable": self._admin_session_action("disable"),
            "sessions.set-seq": self._admin_set_seq,
            "instruments.list": self._admin_instruments,
            "instruments.add": self._admin_add_instrument,
            "instruments.halt": self._admin_halt(True),
            "instruments.resume": self._admin_halt(False),
            "orders.list": self._admin_orders,
            "orders.cancel": self._admin_cancel,
            "db.snapshot": self._admin_snapshot,
        }

    async def _admin_snapshot(self, args: dict[str, Any]) -> dict[str, Any]:
        """An engine snapshot now: a restart after a crash replays only what follows it."""
        if self.store is None:
            raise AdminError("the venue runs without a store (--db none): nothing to snapshot")
        started = time.perf_counter()
        try:
            cmd_no, live = await self._take_snapshot(self.store)
        except (SnapshotChildError, StoreError) as exc:
            raise AdminError(f"snapshot not stored: {exc}") from None
        return {
            "cmd_no": cmd_no,
            "live_orders": live,
            "seconds": round(time.perf_counter() - started, 3),
        }

    async def _admin_status(self, args: dict[str, Any]) -> dict[str, Any]:
        assert self.acceptor is not None
        return {
            "started_ns": self.started_ns,
            "fix_ports": list(self.acceptor.ports.values()),
            "store": self.options.store_url,
            "mqtt": None if self.options.mqtt_url is None else self._market_data_url(),
            "instruments": len(self.engine.instruments()),
            "live_orders": self.engine.live_order_count(),
            "next_event_seq": self.engine.next_seq,
            "store_stats": None if self.store is None else asdict(self.store.stats),
        }

    def _session_id(self, args: dict[str, Any]) -> SessionID:
        text = str(args.get("session", ""))
        for sc in self.config.sessions:
            sid = sc.session_id
            if text in (str(sid), sid.target_comp_id):
                return sid
        raise AdminError(f"unknown session {text!r}")

    async def _admin_sessions(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.acceptor is not None
        return [asdict(info) for info in self.acceptor.sessions()]

    def _admin_session_action(self, action: str) -> Any:
        async def handler(args: dict[str, Any]) -> str:
            assert self.acceptor is not None
            sid = self._session_id(args)
            session = self.acceptor.session(sid)
            if action == "logout" and not session.is_logged_on:
                raise AdminError(f"{sid} is not logged on ({session.state.value})")
            if action == "disconnect" and session.state is SessionState.DISCONNECTED:
                raise AdminError(f"{sid} is not connected")
            getattr(self.acceptor, action)(sid)
            await self.commit()  # a reset, say, is stored before it is reported done
            return f"{sid}: {action} done"

        return handler

    async def _admin_set_seq(self, args: dict[str, Any]) -> str:
        assert self.acceptor is not None
        sid = self._session_id(args)
        sender, target = args.get("sender"), args.get("target")
        for value in (sender, target):
            if value is not None and (
                not isinstance(value, int) or not 1 <= value <= MAX_SEQ_NUM
            ):
                raise AdminError(f"sequence numbers must be integers from 1 to {MAX_SEQ_NUM}")
        self.acceptor.set_seq(sid, sender, target)
        await self.commit()
        return f"{sid}: next sender {sender or '-'} next target {target or '-'}"

    async def _admin_instruments(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "symbol": i.symbol,
                "tick_size": str(i.tick_size),
                "lot_size": i.lot_size,
                "min_qty": i.min_qty,
                "max_qty": i.max_qty,
                "price_band_pct": None if i.price_band_pct is None else str(i.price_band_pct),
                "reference_price": (
                    None if i.reference_price is None else i.format_price(i.reference_price)
                ),
                "status": i.status.value,
                "last_price": (
                    None
                    if (last := self.engine.last_price(i.symbol)) is None
                    else i.format_price(last)
                ),
                "description": i.description,
            }
            for i in self.engine.instruments()
        ]

    async def _admin_add_instrument(self, args: dict[str, Any]) -> str:
        """List an instrument, or change the rules of a listed one: a rule not given keeps
        its current value (a new listing's default), status and reference price stay."""
        symbol = str(args.get("symbol", ""))
        current = self.engine.instrument(symbol)

        def given(key: str, default: Any, convert: Callable[[Any], Any]) -> Any:
            value = args.get(key)
            if value is None:
                return default if current is None else getattr(current, key)
            try:
                return convert(value)
            except (ValueError, InvalidOperation) as exc:
                raise AdminError(f"invalid instrument: {key} {value!r} is not a number") from exc

        try:
            instrument = Instrument(
                symbol=symbol,
                tick_size=given("tick_size", None, lambda v: Decimal(str(v))),
                lot_size=given("lot_size", 1, int),
                min_qty=given("min_qty", 1, int),
                max_qty=given("max_qty", None, int),
                price_band_pct=given("price_band_pct", None, lambda v: Decimal(str(v))),
                reference_price=None if current is None else current.reference_price,
                status=TradingStatus.OPEN if current is None else current.status,
                description=given("description", "", str),
            )
        except (TypeError, InstrumentError) as exc:
            if current is None and args.get("tick_size") is None:
                raise AdminError("invalid instrument: a new listing needs its tick size") from exc
            raise AdminError(f"invalid instrument: {exc}") from exc
        try:
            problem = await self._tick_change_problem(current, instrument)
        except StoreError as exc:
            raise AdminError(f"cannot check {symbol}'s stored orders: {exc}") from exc
        if problem is not None:
            raise AdminError(problem)
        if instrument == current:
            return f"{symbol} unchanged"
        if current is not None and current.reference_price is not None:
            # the same price in ticks of the (maybe new) size: the band's reference stays
            price = current.to_decimal(current.reference_price)
            try:
                instrument = replace(instrument, reference_price=instrument.to_ticks(price))
            except PriceError as exc:
                raise AdminError(
                    f"{symbol}: the reference price {price} is not a multiple of the tick size "
                    f"{instrument.tick_size}"
                ) from exc
        try:
            self.submit(AddInstrument(time.time_ns(), instrument))
        except ValueError as exc:
            raise AdminError(str(exc)) from exc
        await self.commit()
        return f"{symbol} {'listed' if current is None else 'changed'}"

    async def _tick_change_problem(
        self, current: Instrument | None, new: Instrument
    ) -> str | None:
        """Why ``new`` may not replace ``current``: the store keeps prices as integer ticks,
        so once the instrument has traded or has had orders, on any day, its tick size is
        part of its history (reports, last price, price bands would read old ticks with the
        new size).

        Raises:
            StoreError: the store cannot say whether it holds orders of the symbol.
        """
        if current is None or current.tick_size == new.tick_size:
            return None
        symbol = new.symbol
        engine = self.engine
        if (
            engine.last_price(symbol) is None
            and not engine.has_orders(symbol)
            and not (self.store is not None and await self.store.has_orders(symbol))
        ):
            return None
        return (
            f"{symbol}: the tick size cannot change from {current.tick_size} to "
            f"{new.tick_size}: {symbol} has traded or has had orders, and its stored prices are "
            f"ticks of {current.tick_size}"
        )

    def _admin_halt(self, halted: bool) -> Any:
        async def handler(args: dict[str, Any]) -> str:
            symbol = str(args.get("symbol", ""))
            instrument = self.engine.instrument(symbol)
            if instrument is None:
                raise AdminError(f"unknown symbol {symbol!r}")
            wanted = TradingStatus.HALTED if halted else TradingStatus.OPEN
            if instrument.status is wanted:  # nothing changes: nothing journaled or published
                return f"{symbol} already {'halted' if halted else 'open'}"
            self.submit(SetTradingStatus(time.time_ns(), symbol, halted))
            await self.commit()
            return f"{symbol} {'halted' if halted else 'open'}"

        return handler

    async def _admin_orders(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        session = args.get("session")
        owner = str(self._session_id(args)) if session else None
        symbol = args.get("symbol")
        if symbol is not None and self.engine.instrument(str(symbol)) is None:
            raise AdminError(f"unknown symbol {symbol!r}")
        return [
            _order_row(view, self.engine.instrument(view.spec.symbol))
            for view in self.engine.live_orders(owner=owner, symbol=args.get("symbol"))
        ]

    async def _admin_cancel(self, args: dict[str, Any]) -> str:
        order_id = args.get("order_id")
        if not isinstance(order_id, int):
            raise AdminError("order id must be an integer")
        view = self.engine.order(OrderId(order_id))
        # engine.order() also answers orders that finished since the last EndOfDay
        if view is None or view.status not in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED):
            raise AdminError(f"no live order {order_id}")
        events = self.submit(
            CancelOrder(
                ts_ns=time.time_ns(),
                owner=view.spec.owner,
                cl_ord_id="",
                orig_cl_ord_id="",
                order_id=OrderId(order_id),
                reason=CancelReason.ADMIN,
            )
        )
        await self.commit()
        if not any(isinstance(ev, OrderCancelled) for ev in events):
            raise AdminError(f"order {order_id} could not be cancelled")
        return f"order {order_id} cancelled"


def _order_row(view: OrderView, instrument: Instrument | None) -> dict[str, Any]:
    spec = view.spec
    fmt = instrument.format_price if instrument is not None else str
    return {
        "order_id": spec.order_id,
        "session": spec.owner,
        "cl_ord_id": spec.cl_ord_id,
        "account": spec.account,
        "symbol": spec.symbol,
        "side": spec.side.name.lower(),
        "type": spec.ord_type.name.lower(),
        "tif": spec.tif.name.lower(),
        "qty": spec.qty,
        "price": None if spec.price is None else fmt(spec.price),
        "stop_price": None if spec.stop_price is None else fmt(spec.stop_price),
        "cum_qty": view.cum_qty,
        "leaves_qty": view.leaves_qty,
        "status": view.status.name.lower(),
    }

