"""The asyncio acceptor: the only code of the FIX gateway that awaits.

One listener per distinct (SocketAcceptHost, SocketAcceptPort); a new connection is routed to
its session by the Logon's CompIDs (:mod:`fix_gateway.router`), one task per connection, and one
timer task that calls ``on_timer`` of every connection every ``tick`` seconds.

Journal before acknowledge: the Sends produced during one loop turn (by all connections and by
``send()``) are gathered and, at the end of the turn, handed to the ``commit_barrier`` if one
was given: it makes the store writes durable and then calls back, and only then are the bytes
written to the sockets, one write per connection. Without a barrier they are written at the
end of the turn.

A turn can be long: one read may hold a hundred orders, milliseconds of matching. Every
``POLL_EVERY`` application messages the acceptor calls the ``commit_poll`` if one was given,
so that an earlier turn whose commit completed meanwhile has its bytes written at once instead
of after this turn: its client gets its ExecutionReports sooner and answers sooner. When the
poll answers that the store is idle, the acceptor hands what the turn produced so far to the
barrier there and then, so the store starts committing it instead of waiting for the end of
the turn; the rest of the turn goes to the barrier at its end, as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fix_gateway.application import Application
from fix_gateway.auth import verify_password
from fix_gateway.codec import OutBody
from fix_gateway.config import SessionConfig, SessionID, VenueConfig
from fix_gateway.errors import LocalProtocolError
from fix_gateway.log import LogFactory, null_log_factory
from fix_gateway.router import Connection, Router
from fix_gateway.session import (
    Action,
    CheckPassword,
    Deliver,
    Disconnect,
    LoadMessages,
    LoggedOn,
    LoggedOut,
    Send,
    Session,
    SessionEvent,
    SessionState,
)
from fix_gateway.store import MemoryStore, MessageStore

logger = logging.getLogger("fix_gateway")

StoreFactory = Callable[[SessionConfig], MessageStore]
CommitBarrier = Callable[[Callable[[], None]], None]
"""Called at the end of a loop turn with what writes the turn's bytes; calls it once the
turn's store writes are durable, the calls' callbacks in the order of the calls."""
CommitPoll = Callable[[], bool]
"""Runs the barrier's callbacks of commits already completed, without waiting; True when
the store is idle (a barrier call now would start its commit at once)."""
MessageLoader = Callable[[SessionID, int, int], Awaitable[list[tuple[int, bytes]]]]

POLL_EVERY = 8
"""Application messages between two calls of the ``commit_poll`` within a loop turn."""


def memory_store_factory(config: SessionConfig) -> MessageStore:
    return MemoryStore(creation_time=time.time_ns())


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A snapshot of one session for the admin interface."""

    session_id: str
    state: str
    enabled: bool
    remote_address: str
    connected_since_ns: int
    logged_on_since_ns: int
    next_sender_seq: int
    next_target_seq: int
    last_received_ns: int
    last_sent_ns: int
    messages_in: int
    messages_out: int
    heart_bt_int: int


class _Conn:
    """Transport side of one connection."""

    __slots__ = ("closing", "core", "reader", "resending", "writer")

    def __init__(
        self, core: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.core = core
        self.reader = reader
        self.writer = writer
        self.closing = False
        self.resending: asyncio.Task[None] | None = None  # answering a ResendRequest


class FixAcceptor:
    """FIX 4.4 acceptor for every [SESSION] of a :class:`VenueConfig`.

    Args:
        config: the parsed sessions.cfg.
        application: receives logons, logouts and application messages.
        store_factory: one :class:`MessageStore` per session (default: memory).
        log_factory: one log per session (default: none).
        commit_barrier: given what writes each batch of outbound bytes, calls it once the
            batch's store writes are durable.
        commit_poll: runs the barrier's callbacks of commits already completed, without
            waiting; called every ``POLL_EVERY`` application messages of a turn. When it
            returns True (the store is idle), what the turn produced so far goes to the
            barrier at once.
        message_loader: reads stored outbound messages ``begin..end`` of a session, for a
            ResendRequest older than its store keeps in memory (without one, those are
            gap-filled).
        clock: ns since the epoch (tests may inject one).
        tick: seconds between timer ticks.
        on_tick: called with the time at every tick, before the sessions' timers (whose
            schedule may log them out): what the venue does at a trading day's end goes out
            in that day's session.
        password_thread_init: run by the thread that checks Logon passwords when it starts
            (the venue moves it off the event loop's CPU).
    """

    def __init__(
        self,
        config: VenueConfig,
        application: Application,
        store_factory: StoreFactory = memory_store_factory,
        log_factory: LogFactory = null_log_factory,
        *,
        commit_barrier: CommitBarrier | None = None,
        commit_poll: CommitPoll | None = None,
        message_loader: MessageLoader | None = None,
        clock: Callable[[], int] = time.time_ns,
        tick: float = 0.1,
        on_tick: Callable[[int], None] | None = None,
        password_thread_init: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        # One thread: a flood of Logons with wrong passwords takes one CPU at most, and the
        # event loop none (hashlib releases the GIL while it hashes).
        self._password_pool = ThreadPoolExecutor(
            1, thread_name_prefix="fix-password", initializer=password_thread_init
        )
        self._on_tick = on_tick
        self.application = application
        self._clock = clock
        self._tick = tick
        self._barrier = commit_barrier
        self._commit_poll = commit_poll
        self._until_poll = POLL_EVERY
        self._message_loader = message_loader
        self._sessions: dict[SessionID, Session] = {}
        for sc in config.sessions:
            self._sessions[sc.session_id] = Session(sc, store_factory(sc), log_factory(sc))
        self._router = Router(self._sessions.values())
        self._servers: dict[tuple[str, int], asyncio.Server] = {}
        self._conns: set[_Conn] = set()
        self._bound: dict[SessionID, _Conn] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._outbox: dict[_Conn, list[bytes]] = {}
        self._flush_scheduled = False
        self._closing_after_flush: list[_Conn] = []

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on every configured host/port."""
        groups: dict[tuple[str, int], list[SessionConfig]] = {}
        for sc in self.config.sessions:
            groups.setdefault((sc.socket_accept_host, sc.socket_accept_port), []).append(sc)
        for key in groups:
            host, port = key
            server = await asyncio.start_server(self._on_connect, host, port)
            self._servers[key] = server
            logger.info("FIX acceptor listening on %s:%s", host, self._port_of(server))
        self._timer = asyncio.create_task(self._timer_loop())

    async def stop(self, timeout: float = 2.0) -> None:
        """Logout every logged-on session, wait up to ``timeout`` s for replies, then close."""
        now = self._clock()
        for sid, session in self._sessions.items():
            if session.state is SessionState.LOGGED_ON and sid in self._bound:
                self._execute(self._bound[sid], session.logout("Venue shutting down", now))
        self._flush()  # the Logouts go out once stored, while the replies are awaited
        deadline = time.monotonic() + timeout
        while self._bound and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for server in self._servers.values():
            server.close()
        for conn in list(self._conns):
            self._close(conn)
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._password_pool.shutdown(wait=False, cancel_futures=True)
        for server in self._servers.values():
            await server.wait_closed()
        for session in self._sessions.values():
            session.log.close()

    @staticmethod
    def _port_of(server: asyncio.Server) -> int:
        return int(server.sockets[0].getsockname()[1])

    @property
    def port(self) -> int:
        """The (first) listening port; the real one when SocketAcceptPort=0."""
        return self._port_of(next(iter(self._servers.values())))

    @property
    def ports(self) -> dict[tuple[str, int], int]:
        """Configured (host, port) -> actual port."""
        return {k: self._port_of(s) for k, s in self._servers.items()}

    # -- application API ----------------------------------------------------------------------

    def send(self, session_id: SessionID | str, msg_type: str, body: OutBody) -> int:
        """Send an application message; returns its MsgSeqNum.

        When the session is not logged on the message is still stored with its MsgSeqNum (it
        goes out by resend after the next Logon, as in QuickFIX).
        """
        session = self._session(session_id)
        send = session.send_app(msg_type, body, self._clock())
        if send is not None:
            conn = self._bound.get(session.session_id)
            if conn is not None:
                self._execute(conn, [send])
            return send.seq
        return session.store.next_sender_seq - 1

    # -- admin --------------------------------------------------------------------------------

    def sessions(self) -> list[SessionInfo]:
        out = []
        for sid, s in sorted(self._sessions.items()):
            connected = s.state is not SessionState.DISCONNECTED
            out.append(SessionInfo(
                str(sid), s.state.value, s.enabled, s.remote if connected else "",
                s.connected_ns if connected else 0, s.logon_ns if s.is_logged_on else 0,
                s.store.next_sender_seq, s.store.next_target_seq, s.last_received_ns,
                s.last_sent_ns, s.messages_in, s.messages_out, s.heart_bt_int,
            ))
        return out

    def session(self, session_id: SessionID | str) -> Session:
        """The sans-I/O session object (read-only use: tests, admin)."""
        return self._session(session_id)

    def logout(self, session_id: SessionID | str, reason: str = "Logout by the venue") -> None:
        self._act(session_id, lambda s, now: s.logout(reason, now))

    def disconnect(self, session_id: SessionID | str) -> None:
        self._act(session_id, lambda s, now: s.disconnect("Disconnected by the venue", now))

    def reset(self, session_id: SessionID | str) -> None:
        self._act(session_id, lambda s, now: s.reset(now))

    def set_seq(self, session_id: SessionID | str, sender: int | None = None,
                target: int | None = None) -> None:
        s = self._session(session_id)
        s.set_seq(sender, target, self._clock())

    def drop_connections(self, reason: str) -> int:
        """Close every connection at once, without a Logout; returns how many.

        For when nothing may be sent: every message, a Logout included, uses a MsgSeqNum that
        must be stored first, and the store is down. The sessions' state stays as it is; the
        clients' engines reconnect and get what they missed by resend.
        """
        dropped = 0
        for conn in list(self._conns):
            if not conn.closing:
                session = conn.core.session
                if session is not None:
                    session.log.on_event(f"Disconnecting: {reason}", self._clock())
                logger.warning("dropping connection of %s: %s", session or "unknown", reason)
                self._close(conn)
                dropped += 1
        return dropped

    def enable(self, session_id: SessionID | str) -> None:
        self._session(session_id).enabled = True

    def disable(self, session_id: SessionID | str) -> None:
        """Refuse further Logons (a logged-on session stays; use logout() too)."""
        self._session(session_id).enabled = False

    def _session(self, session_id: SessionID | str) -> Session:
        sid = SessionID.parse(session_id) if isinstance(session_id, str) else session_id
        try:
            return self._sessions[sid]
        except KeyError:
            raise LocalProtocolError(f"no session {sid}") from None

    def _act(self, session_id: SessionID | str,
             fn: Callable[[Session, int], list[Action]]) -> None:
        session = self._session(session_id)
        conn = self._bound.get(session.session_id)
        actions = fn(session, self._clock())
        if conn is not None:
            self._execute(conn, actions)
        else:
            self._notify(session, actions)

    # -- transport ----------------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = peer[0] if peer else ""
        conn = _Conn(self._router.connection(host, self._clock()), reader, writer)
        self._conns.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while not conn.closing:
                # A client that does not read its answers is not read from either: its
                # output waits in the transport's buffer, which stops growing here.
                await writer.drain()
                data = await reader.read(65536)
                if not data:
                    break
                self._execute_all(conn, conn.core.on_bytes(data, self._clock()))
        except (ConnectionError, OSError) as e:
            logger.info("connection from %s lost: %s", host, e)
        except asyncio.CancelledError:
            pass
        except Exception:  # a defect: the connection goes, the venue and the others stay
            logger.exception("connection from %s: failed handling its input; closing it", host)
        finally:
            self._conns.discard(conn)
            if task is not None:
                self._tasks.discard(task)
            self._connection_lost(conn)

    def _connection_lost(self, conn: _Conn) -> None:
        session = conn.core.session
        actions = conn.core.on_disconnect(self._clock())
        if session is not None:
            if self._bound.get(session.session_id) is conn:
                del self._bound[session.session_id]
            self._notify(session, actions)
        if not conn.writer.is_closing():
            conn.writer.close()

    def _execute_all(self, conn: _Conn, actions: list[Action]) -> None:
        """Run the actions of received messages; a delivered message pauses the session, so
        that its answers are numbered before the session's replies to later messages."""
        self._execute(conn, actions)
        core = conn.core
        while core.has_more:
            self._execute(conn, core.more(self._clock()))
        if core.is_resending and conn.resending is None:
            conn.resending = self._spawn(self._resend_rest(conn))

    async def _resend_rest(self, conn: _Conn) -> None:
        """Answer the rest of a ResendRequest a part per loop turn, as fast as the client
        reads it, so that one client's resend does not stop the venue."""
        core = conn.core
        try:
            while core.is_resending and not conn.closing:
                await conn.writer.drain()
                await asyncio.sleep(0)
                if conn.closing:
                    break
                self._execute_all(conn, core.resend_more(self._clock()))
        except (ConnectionError, OSError) as e:
            logger.info("connection from %s lost during a resend: %s", core.remote_host, e)
        finally:
            conn.resending = None

    def _execute(self, conn: _Conn, actions: list[Action]) -> None:
        """Run a session's actions in order (Sends are batched, see the module docstring)."""
        session = conn.core.session
        if session is not None and conn.core.is_current:
            self._bound[session.session_id] = conn
        for action in actions:
            if isinstance(action, Send):
                self._outbox.setdefault(conn, []).append(action.raw)
                self._schedule_flush()
            elif isinstance(action, Deliver):
                if self._commit_poll is not None:
                    self._until_poll -= 1
                    if not self._until_poll:
                        self._until_poll = POLL_EVERY
                        try:
                            if self._commit_poll() and self._outbox:
                                self._hand_over()  # the store is idle: commit this much now
                        except Exception:  # the turn's messages are handled regardless
                            logger.exception("commit poll failed")
                if session is not None:
                    try:
                        self.application.on_message(
                            session.session_id, action.msg, self._clock()
                        )
                    except Exception:  # errors are answers: never kill the session
                        logger.exception("%s: application failed on %r", session.session_id,
                                         action.msg)
            elif isinstance(action, Disconnect):
                if self._outbox.get(conn):
                    self._closing_after_flush.append(conn)
                else:
                    self._close(conn)
            elif isinstance(action, LoadMessages):
                if session is not None:
                    self._spawn(self._load_and_resume(conn, session, action))
            elif isinstance(action, CheckPassword):
                if session is not None:
                    self._spawn(self._check_password(conn, session, action))
            elif session is not None:
                self._notify(session, [action])

    async def _load_and_resume(self, conn: _Conn, session: Session, load: LoadMessages) -> None:
        """Read the older messages a ResendRequest needs, then let the session go on."""
        generation = session.generation
        messages: list[tuple[int, bytes]] = []
        if self._message_loader is not None:
            try:
                messages = await self._message_loader(session.session_id, load.begin, load.end)
            except Exception:  # the resend still gets an answer: a gap fill for these
                logger.exception(
                    "%s: loading messages %d-%d", session.session_id, load.begin, load.end
                )
        if conn.closing or session.generation != generation:
            return
        session.store.preload(messages)
        self._execute_all(conn, session.resume(self._clock()))

    async def _check_password(self, conn: _Conn, session: Session, check: CheckPassword) -> None:
        """Check a Logon's password in the password thread, then let the session go on."""
        generation = session.generation
        try:
            ok = await asyncio.get_running_loop().run_in_executor(
                self._password_pool, verify_password, check.password, check.password_hash
            )
        except Exception:  # the Logon still gets an answer: refused
            logger.exception("%s: checking a Logon's password", session.session_id)
            ok = False
        if conn.closing or session.generation != generation:
            return
        self._execute_all(conn, session.password_checked(ok, self._clock()))

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        """A task of this acceptor's, cancelled by :meth:`stop`."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _notify(self, session: Session, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, LoggedOn):
                self.application.on_logon(session.session_id)
            elif isinstance(action, LoggedOut):
                self._bound.pop(session.session_id, None)
                self.application.on_logout(session.session_id)
            elif isinstance(action, SessionEvent):
                self.application.on_session_event(session.session_id, action.kind, action.detail)

    def _close(self, conn: _Conn) -> None:
        if conn.closing:
            return
        conn.closing = True
        session = conn.core.session
        if session is not None and self._bound.get(session.session_id) is conn:
            del self._bound[session.session_id]
        with contextlib.suppress(Exception):
            conn.writer.close()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """End of a loop turn: write what it produced once the barrier says it is stored
        (at once without a barrier). What is sent meanwhile belongs to the next batch (its
        store writes are not in this commit) and waits for the next callback."""
        self._flush_scheduled = False
        self._hand_over()

    def _hand_over(self) -> None:
        """Give the barrier what was produced since the last hand-over."""
        outbox, self._outbox = self._outbox, {}
        closing, self._closing_after_flush = self._closing_after_flush, []
        if self._barrier is None:
            self._write(outbox, closing)
        else:
            self._barrier(lambda: self._write(outbox, closing))

    def _write(self, outbox: dict[_Conn, list[bytes]], closing: list[_Conn]) -> None:
        for conn, chunks in outbox.items():
            if conn.closing or conn.writer.is_closing():
                continue
            try:
                conn.writer.write(b"".join(chunks))
            except (ConnectionError, RuntimeError) as exc:  # peer closed under our feet
                logger.info("write to %s failed: %s", conn.core.session, exc)
        for conn in closing:
            self._close(conn)

    async def _timer_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            now = self._clock()
            if self._on_tick is not None:
                try:
                    self._on_tick(now)
                except Exception:  # the sessions' timers run regardless
                    logger.exception("tick callback failed")
            for conn in list(self._conns):
                try:
                    self._execute(conn, conn.core.on_timer(now))
                except Exception:
                    logger.exception("timer of %s failed", conn.core.session)
            for session in self._sessions.values():
                session.log.flush()
