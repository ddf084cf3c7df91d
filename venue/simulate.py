"""A load generator and demo: lean asyncio FIX 4.4 initiators trading with the venue.

``venue simulate`` opens one TCP connection per client session of a sessions.cfg and sends a
realistic flow: resting limit orders around a mid price that follows a random walk, orders that
cross the spread and trade, and cancels and replaces of the client's own live orders. It runs

* open loop (``rate``): order messages go out on a fixed schedule, whatever the venue answers;
* closed loop (``in_flight``): each session keeps at most W order messages awaiting their
  first answer (ExecutionReport or OrderCancelReject) and sends the next one when an answer
  arrives, i.e. as fast as the venue allows.

It always stops: after ``duration`` seconds or ``orders`` order messages it waits a short grace
period for outstanding answers, logs out and closes; a hard cap bounds the whole run.

Why it is hand-rolled rather than built on the venue's session layer: the generator shares a
2-core box with the venue, so every microsecond it spends is a microsecond the venue does not
get. Outbound messages come from pre-built templates in which only MsgSeqNum, SendingTime,
ClOrdID, side, price, quantity and TransactTime change (BodyLength and CheckSum from
:mod:`fix_gateway.codec`'s framing rules), and replies are read with ``bytes.find`` for the
handful of tags that matter (35, 34, 11, 41, 150, 39) after :class:`fix_gateway.codec.Framer`
has checked BodyLength and CheckSum. Session level: Logon (ResetSeqNumFlag=Y, and
Username/Password when the session needs them), Heartbeat, TestRequest, ResendRequest (answered
with SequenceReset-GapFill: the generator never resends orders) and Logout.

Latency is the round trip of a message: :func:`time.perf_counter_ns` just before the write of
the request to the receipt of its first answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import resource
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from fix_gateway.codec import SOH_B, Framer, checksum, format_utc_timestamp, is_uint
from venue.instruments import Instrument
from venue.tuning import tune_gc

BEGIN = "FIX.4.4"
_GRACE_S = 5.0  # after the last order: wait this long for outstanding answers
_LOGOUT_WAIT_S = 2.0
_TEST_REQ_ID = b"\x01112="
_GONE = frozenset({"4", "8", "C"})  # ExecTypes after which an order is no longer live


class SimulationError(Exception):
    """The simulation could not run (connection refused, logon refused...)."""


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One FIX client session of the simulator (our SenderCompID is the venue's Target)."""

    sender_comp_id: str
    target_comp_id: str
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What the simulator needs to know about an instrument."""

    symbol: str
    decimals: int  # digits after the decimal point
    tick: Decimal  # tick size
    start_ticks: int  # initial mid, in ticks
    band_ticks: int  # the mid stays within start +- band
    lot: int = 1

    @classmethod
    def from_instrument(cls, inst: Instrument) -> SymbolSpec:
        start = inst.reference_price or inst.to_ticks("100")
        if inst.price_band_pct is not None:  # stay well inside the venue's price band
            band = int(start * inst.price_band_pct / 300)
        else:
            band = start // 20
        return cls(inst.symbol, inst.price_decimals, inst.tick_size, int(start), max(band, 20),
                   max(inst.lot_size, inst.min_qty))

    @classmethod
    def default(cls, symbol: str) -> SymbolSpec:
        """An instrument not in any instruments file: tick 0.01, mid 100.00."""
        return cls(symbol, 2, Decimal("0.01"), 10_000, 500)

    def fmt(self, ticks: int) -> str:
        if self.decimals == 0:
            return str(int(self.tick * ticks))
        if self.tick == Decimal(1).scaleb(-self.decimals):  # the common case: integer division
            scale = 10**self.decimals
            return f"{ticks // scale}.{ticks % scale:0{self.decimals}d}"
        return f"{(self.tick * ticks).quantize(Decimal(1).scaleb(-self.decimals)):f}"

    def formatter(self) -> Callable[[int], str]:
        """:meth:`fmt` with the instrument's case decided once (the generator prices every
        order it sends; deciding it per call built a Decimal each time)."""
        if self.decimals and self.tick == Decimal(1).scaleb(-self.decimals):
            scale, width = 10**self.decimals, self.decimals

            def fmt(ticks: int) -> str:
                return f"{ticks // scale}.{ticks % scale:0{width}d}"

            return fmt
        return self.fmt


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Parameters of one simulation run.

    Attributes:
        host, port: the venue's FIX acceptor.
        target_comp_id: the venue's CompID.
        clients: the client sessions (one connection each).
        symbols: instruments to trade.
        rate: open loop: order messages per second in total (D, F and G).
        in_flight: closed loop: per session, order messages awaiting their first answer.
        duration: seconds of sending (also the cap when ``orders`` is given).
        orders: stop after this many order messages in total (None: duration only).
        heart_bt_int: HeartBtInt(108) of our Logons.
        cross_pct, cancel_pct, replace_pct: the flow mix, in % of order messages.
        max_live: per session and symbol, live orders above which the session cancels.
        flow: "mixed", or "resting" (passive, non-crossing new orders only, fixed mid).
        seed: random seed (the flow is reproducible for a given seed and answer order).
        grace: seconds to wait for outstanding answers after the last order.
    """

    host: str
    port: int
    target_comp_id: str
    clients: tuple[ClientSpec, ...]
    symbols: tuple[SymbolSpec, ...]
    rate: float | None = None
    in_flight: int = 50
    duration: float = 10.0
    orders: int | None = None
    heart_bt_int: int = 30
    cross_pct: float = 20.0
    cancel_pct: float = 15.0
    replace_pct: float = 15.0
    max_live: int = 200
    flow: str = "mixed"
    seed: int | None = None
    grace: float = _GRACE_S


@dataclass(slots=True)
class _Order:
    symbol: int  # index into the session's symbols
    side: str  # "1" buy, "2" sell
    price: int
    qty: int


@dataclass(slots=True)
class Stats:
    """Counters of one run (all sessions)."""

    sent: dict[str, int] = field(default_factory=lambda: {"D": 0, "F": 0, "G": 0})
    exec_types: dict[str, int] = field(default_factory=dict)
    cancel_rejects: int = 0
    session_rejects: int = 0
    business_rejects: int = 0
    heartbeats_sent: int = 0
    test_requests: int = 0
    resend_requests: int = 0
    seq_gaps: int = 0
    unanswered: int = 0
    sessions_ended: int = 0  # by the venue (its Logout, or the connection lost) before ours
    lat_new: array[int] = field(default_factory=lambda: array("q"))
    lat_all: array[int] = field(default_factory=lambda: array("q"))


class _Client(asyncio.Protocol):
    """One FIX initiator session (transport callbacks plus the order flow state)."""

    def __init__(self, spec: ClientSpec, sim: Simulation, index: int) -> None:
        self.spec = spec
        self.sim = sim
        cfg = sim.config
        self.rng = random.Random(None if cfg.seed is None else cfg.seed * 1000 + index)
        self.transport: asyncio.Transport | None = None
        self.framer = Framer()
        self.seq = 1
        self.expected_in = 1
        self.last_sent = time.monotonic()
        self.logged_on = asyncio.get_running_loop().create_future()
        self.logged_out = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.logout_sent = False
        prefix = f"{spec.sender_comp_id}-{sim.run_id}-"
        self.prefix = prefix
        self.next_id = 0
        # Request templates: {0} seq, {1} SendingTime, {2} ClOrdID, ... (see _send_*).
        head = f"34={{}}\x0149={spec.sender_comp_id}\x0152={{}}\x0156={cfg.target_comp_id}\x01"
        self.t_new = [
            f"35=D\x01{head}11={{}}\x0155={s.symbol}\x0154={{}}\x0160={{}}\x0138={{}}"
            f"\x0140=2\x0144={{}}\x0159=0\x01"
            for s in cfg.symbols
        ]
        self.t_cancel = [
            f"35=F\x01{head}41={{}}\x0111={{}}\x0155={s.symbol}\x0154={{}}\x0160={{}}"
            f"\x0138={{}}\x01"
            for s in cfg.symbols
        ]
        self.t_replace = [
            f"35=G\x01{head}41={{}}\x0111={{}}\x0155={s.symbol}\x0154={{}}\x0160={{}}"
            f"\x0138={{}}\x0140=2\x0144={{}}\x0159=0\x01"
            for s in cfg.symbols
        ]
        self.t_session = f"35={{}}\x01{head}"
        # Flow state.
        self.live: list[dict[str, _Order]] = [{} for _ in cfg.symbols]  # by current ClOrdID
        self.pending: dict[str, tuple[int, str]] = {}  # ClOrdID -> (send ns, MsgType)
        self.amends: dict[str, tuple[str, _Order, int]] = {}  # G ClOrdID -> (orig, order, px)
        self.out: list[bytes] = []
        self.window = asyncio.Event()  # closed loop: set when an answer frees a slot
        self.fmt = [s.formatter() for s in cfg.symbols]

    # -- transport --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        with contextlib.suppress(OSError, AttributeError):
            import socket

            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.logout_sent and self.logged_on.done() and self.logged_on.result():
            self.logout_sent = True  # counted once
            self.sim.stats.sessions_ended += 1
            self.sim.note(f"{self.spec.sender_comp_id}: connection lost without a Logout")
        for fut in (self.logged_on, self.logged_out, self.closed):
            if not fut.done():
                fut.set_result(False)
        self.window.set()

    def data_received(self, data: bytes) -> None:
        for raw in self.framer.feed(data):
            self._on_message(raw)
        if self.framer.garbled:
            for text in self.framer.garbled:
                self.sim.note(f"{self.spec.sender_comp_id}: {text}")
            self.framer.garbled.clear()
        self.flush()

    def flush(self) -> None:
        if self.out and self.transport is not None:
            self.transport.write(b"".join(self.out))
            self.last_sent = time.monotonic()
        self.out.clear()

    # -- encoding -----------------------------------------------------------------------------

    def _emit(self, body: str) -> None:
        b = body.encode("latin-1")
        msg = b"8=FIX.4.4\x019=%d\x01%b" % (len(b), b)
        self.out.append(msg + b"10=%03d\x01" % checksum(msg))
        self.seq += 1

    def send_session(self, msg_type: str, fields: str = "", seq: int | None = None,
                     poss_dup: bool = False) -> None:
        now = format_utc_timestamp(time.time_ns())
        head = self.t_session.format(msg_type, self.seq if seq is None else seq, now)
        if poss_dup:
            head += f"43=Y\x01122={now}\x01"
        if seq is not None:  # out of sequence (GapFill): do not advance our seq
            b = (head + fields).encode("latin-1")
            msg = b"8=FIX.4.4\x019=%d\x01%b" % (len(b), b)
            self.out.append(msg + b"10=%03d\x01" % checksum(msg))
        else:
            self._emit(head + fields)

    def logon(self) -> None:
        fields = f"98=0\x01108={self.sim.config.heart_bt_int}\x01141=Y\x01"
        if self.spec.username is not None:
            fields += f"553={self.spec.username}\x01"
        if self.spec.password is not None:
            fields += f"554={self.spec.password}\x01"
        self.send_session("A", fields)
        self.flush()

    def logout(self) -> None:
        if not self.logout_sent and self.transport is not None:
            self.logout_sent = True
            self.send_session("5")
            self.flush()

    def _new_id(self) -> str:
        self.next_id += 1
        return f"{self.prefix}{self.next_id}"

    def send_order(self, now: str) -> str:
        """Queue one order message of the flow; returns its MsgType."""
        rng = self.rng
        cfg = self.sim.config
        si = rng.randrange(len(self.live)) if len(self.live) > 1 else 0
        live = self.live[si]
        roll = rng.random() * 100.0
        if cfg.flow == "mixed" and live:
            if len(live) > cfg.max_live or roll < cfg.cancel_pct:
                return self._send_cancel(si, now)
            if roll < cfg.cancel_pct + cfg.replace_pct:
                return self._send_replace(si, now)
        self._send_new(si, now, cfg.flow == "mixed" and rng.random() * 100.0 < cfg.cross_pct)
        return "D"

    def _send_new(self, si: int, now: str, cross: bool) -> None:
        rng = self.rng
        spec = self.sim.config.symbols[si]
        mid = self.sim.mids[si]
        side = "1" if rng.random() < 0.5 else "2"
        offset = rng.randint(1, 3) if cross else -rng.randint(1, 10)
        price = mid + offset if side == "1" else mid - offset
        qty = spec.lot * rng.randint(1, 10)
        cl = self._new_id()
        self.live[si][cl] = _Order(si, side, price, qty)
        self._emit(self.t_new[si].format(self.seq, now, cl, side, now, qty, self.fmt[si](price)))
        self.pending[cl] = (time.perf_counter_ns(), "D")

    def _oldest(self, si: int) -> tuple[str, _Order]:
        live = self.live[si]
        cl = next(iter(live))
        return cl, live.pop(cl)

    def _send_cancel(self, si: int, now: str) -> str:
        orig, order = self._oldest(si)
        cl = self._new_id()
        self.amends[cl] = (orig, order, order.price)
        self._emit(self.t_cancel[si].format(self.seq, now, orig, cl, order.side, now, order.qty))
        self.pending[cl] = (time.perf_counter_ns(), "F")
        return "F"

    def _send_replace(self, si: int, now: str) -> str:
        orig, order = self._oldest(si)
        mid = self.sim.mids[si]
        off = self.rng.randint(1, 10)
        price = mid - off if order.side == "1" else mid + off
        cl = self._new_id()
        self.amends[cl] = (orig, order, price)
        self._emit(self.t_replace[si].format(self.seq, now, orig, cl, order.side, now, order.qty,
                                             self.fmt[si](price)))
        self.pending[cl] = (time.perf_counter_ns(), "G")
        return "G"

    # -- decoding -----------------------------------------------------------------------------

    def _on_message(self, raw: bytes) -> None:
        t = time.perf_counter_ns()
        i = raw.find(b"\x0135=") + 4
        msg_type = raw[i : raw.find(SOH_B, i)]
        seq = _int(raw, b"\x0134=")
        stats = self.sim.stats
        if msg_type == b"8":
            if seq is not None:
                self.expected_in = seq + 1
            self._on_report(raw, t)
            return
        if msg_type != b"4" and seq is not None:
            if seq > self.expected_in:
                stats.seq_gaps += 1
            self.expected_in = seq + 1
        if msg_type == b"9":
            stats.cancel_rejects += 1
            cl = _str(raw, b"\x0111=")
            self._answered(cl, t)
            self.amends.pop(cl, None)
        elif msg_type == b"0":
            pass
        elif msg_type == b"1":
            stats.test_requests += 1
            self.send_session("0", f"112={_str(raw, _TEST_REQ_ID)}\x01")
        elif msg_type == b"2":  # ResendRequest: we never resend orders, gap-fill everything
            stats.resend_requests += 1
            begin = _int(raw, b"\x017=") or 1
            self.send_session("4", f"123=Y\x0136={self.seq}\x01", seq=begin, poss_dup=True)
        elif msg_type == b"4":
            new_seq = _int(raw, b"\x0136=")
            if new_seq is not None:
                self.expected_in = new_seq
        elif msg_type == b"3":
            stats.session_rejects += 1
            self.sim.note(f"{self.spec.sender_comp_id}: session Reject: {_text(raw)}")
        elif msg_type == b"j":
            stats.business_rejects += 1
            self.sim.note(f"{self.spec.sender_comp_id}: BusinessMessageReject: {_text(raw)}")
        elif msg_type == b"A":
            if not self.logged_on.done():
                self.logged_on.set_result(True)
        elif msg_type == b"5":
            if not self.logout_sent:
                stats.sessions_ended += 1
                self.sim.note(f"{self.spec.sender_comp_id}: venue logged out: {_text(raw)}")
                self.logout_sent = True
                self.send_session("5")
                self.flush()
            if not self.logged_on.done():
                self.logged_on.set_result(False)
            if not self.logged_out.done():
                self.logged_out.set_result(True)
            if self.transport is not None:
                self.transport.close()

    def _answered(self, cl: str, t: int) -> None:
        sent = self.pending.pop(cl, None)
        if sent is None:
            return
        ns = t - sent[0]
        stats = self.sim.stats
        stats.lat_all.append(ns)
        if sent[1] == "D":
            stats.lat_new.append(ns)
        self.window.set()

    def _on_report(self, raw: bytes, t: int) -> None:
        stats = self.sim.stats
        i = raw.find(b"\x01150=") + 5
        exec_type = raw[i : i + 1].decode()
        stats.exec_types[exec_type] = stats.exec_types.get(exec_type, 0) + 1
        cl = _str(raw, b"\x0111=")
        if self.pending:
            self._answered(cl, t)
        if exec_type == "0":
            return
        if exec_type == "F":
            if raw.find(b"\x0139=2\x01") >= 0:  # filled: no longer live
                for live in self.live:
                    if live.pop(cl, None) is not None:
                        break
            return
        if exec_type == "5":
            amend = self.amends.pop(cl, None)
            if amend is not None:
                _, order, price = amend
                order.price = price
                if raw.find(b"\x0139=2\x01") < 0:
                    self.live[order.symbol][cl] = order
            return
        if exec_type == "8" and raw.find(b"\x01103=1\x01") >= 0:  # OrdRejReason: unknown symbol
            self.sim.unlisted.add(_str(raw, b"\x0155="))
        if exec_type in _GONE:  # cancelled (requested or unsolicited), rejected, expired
            self.amends.pop(cl, None)
            orig = _str(raw, b"\x0141=")
            for key in (cl, orig):
                for live in self.live:
                    if live.pop(key, None) is not None:
                        break


def _same(client: _Client) -> _Client:
    return client


def _str(raw: bytes, tag: bytes) -> str:
    i = raw.find(tag)
    if i < 0:
        return ""
    i += len(tag)
    return raw[i : raw.find(SOH_B, i)].decode("latin-1")


def _int(raw: bytes, tag: bytes) -> int | None:
    text = _str(raw, tag)
    return int(text) if is_uint(text) else None


def _text(raw: bytes) -> str:
    return _str(raw, b"\x0158=") or "(no Text)"


def _pct(values: array[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, int(q * len(ordered)))
    return ordered[k] / 1e6  # ms


class Simulation:
    """One run of the simulator. ``summary = await Simulation(config).run()``.

    Args:
        config: what to run.
        on_window: called with "start" when the first order is about to be sent and with
            "stop" when the sending window closes (the benchmark samples CPU times there).
        log: where notes go (session rejects, venue logouts), default: nowhere.
    """

    def __init__(
        self,
        config: SimConfig,
        on_window: Callable[[str], None] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not config.clients:
            raise SimulationError("no client sessions to simulate")
        if not config.symbols:
            raise SimulationError("no symbols to trade")
        self.config = config
        self.stats = Stats()
        self.run_id = format(time.time_ns() // 1_000_000 % 36**6, "x")
        self.mids = [s.start_ticks for s in config.symbols]
        self.notes: list[str] = []
        self._on_window = on_window
        self._log = log
        self._rng = random.Random(config.seed)
        self.clients: list[_Client] = []
        self.unlisted: set[str] = set()  # symbols the venue rejected as unknown: stop

    def note(self, text: str) -> None:
        if len(self.notes) < 100:
            self.notes.append(text)
        if self._log is not None:
            self._log(text)

    async def run(self) -> dict[str, Any]:
        """Connect, log on, send the flow, drain, log out; returns the summary."""
        cfg = self.config
        hard_cap = cfg.duration + cfg.grace + 3 * _LOGOUT_WAIT_S + 10.0
        try:
            return await asyncio.wait_for(self._run(), hard_cap)
        except TimeoutError:
            self.note(f"hard cap of {hard_cap:.0f}s reached")
            for c in self.clients:
                if c.transport is not None:
                    c.transport.abort()
            return self.summary(cfg.duration, 0.0, 0.0)

    async def _run(self) -> dict[str, Any]:
        cfg = self.config
        loop = asyncio.get_running_loop()
        for i, spec in enumerate(cfg.clients):
            client = _Client(spec, self, i)
            try:
                await asyncio.wait_for(
                    loop.create_connection(functools.partial(_same, client), cfg.host, cfg.port),
                    5.0,
                )
            except (OSError, TimeoutError) as exc:
                await self._close_all()
                raise SimulationError(
                    f"cannot connect to {cfg.host}:{cfg.port}: {exc}"
                ) from exc
            self.clients.append(client)
            client.logon()
        try:
            ok = await asyncio.wait_for(
                asyncio.gather(*(c.logged_on for c in self.clients)), 10.0
            )
        except TimeoutError:
            ok = [False]
        if not all(ok):
            await self._close_all()
            raise SimulationError("logon refused or timed out: " + "; ".join(self.notes))
        tune_gc()
        heartbeat = loop.create_task(self._heartbeats())
        walk = loop.create_task(self._random_walk()) if cfg.flow == "mixed" else None
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if self._on_window is not None:
            self._on_window("start")
        if cfg.rate is not None:
            await self._open_loop(cfg.rate)
        else:
            await asyncio.gather(*(self._closed_loop(c) for c in self.clients))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if self._on_window is not None:
            self._on_window("stop")
        await self._drain()
        if walk is not None:
            walk.cancel()
        for c in self.clients:
            c.logout()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(c.logged_out for c in self.clients)), _LOGOUT_WAIT_S
            )
        heartbeat.cancel()
        await self._close_all()
        if self.unlisted:
            raise SimulationError(
                f"the venue does not list {', '.join(sorted(self.unlisted))} "
                "(its orders were rejected: unknown symbol)"
            )
        return self.summary(wall, cpu, wall)

    def _sent_total(self) -> int:
        s = self.stats.sent
        return s["D"] + s["F"] + s["G"]

    def _done(self, deadline: float) -> bool:
        orders = self.config.orders
        return (
            (orders is not None and self._sent_total() >= orders)
            or time.perf_counter() >= deadline
            or bool(self.unlisted)
        )

    async def _open_loop(self, rate: float) -> None:
        cfg = self.config
        start = time.perf_counter()
        deadline = start + cfg.duration
        clients = self.clients
        sent = self.stats.sent
        n = 0
        limit = cfg.orders if cfg.orders is not None else 1 << 62
        backlog_cap = max(10_000, int(rate * 5))
        while not self._done(deadline):
            due = min(int((time.perf_counter() - start) * rate), limit) - n
            outstanding = sum(len(c.pending) for c in clients)
            if due > 0 and outstanding < backlog_cap:
                now = format_utc_timestamp(time.time_ns())
                for k in range(due):
                    client = clients[(n + k) % len(clients)]
                    if client.transport is not None:
                        sent[client.send_order(now)] += 1
                n += due
                for client in clients:
                    client.flush()
            # Sleep until the next order is due (at least 1 ms: the loop's timer resolution,
            # so orders go out in bursts of rate/1000).
            await asyncio.sleep(max(0.001, (n + 1) / rate - (time.perf_counter() - start)))

    async def _closed_loop(self, client: _Client) -> None:
        cfg = self.config
        deadline = time.perf_counter() + cfg.duration
        sent = self.stats.sent
        window = cfg.in_flight
        while client.transport is not None and not self._done(deadline):
            room = window - len(client.pending)
            if room > 0:
                now = format_utc_timestamp(time.time_ns())
                orders = cfg.orders
                for _ in range(room):
                    if orders is not None and self._sent_total() >= orders:
                        break
                    sent[client.send_order(now)] += 1
                client.flush()
            client.window.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.window.wait(), 0.5)

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.config.grace
        while time.monotonic() < deadline and any(
            c.pending and c.transport is not None for c in self.clients
        ):
            await asyncio.sleep(0.01)
        self.stats.unanswered = sum(len(c.pending) for c in self.clients)

    async def _random_walk(self) -> None:
        rng = self._rng
        while True:
            await asyncio.sleep(0.01)
            for i, spec in enumerate(self.config.symbols):
                mid = self.mids[i] + rng.choice((-1, 0, 0, 1))
                lo, hi = spec.start_ticks - spec.band_ticks, spec.start_ticks + spec.band_ticks
                self.mids[i] = min(max(mid, lo + 15), hi - 15)

    async def _heartbeats(self) -> None:
        hb = self.config.heart_bt_int
        while True:
            await asyncio.sleep(min(1.0, hb / 2))
            now = time.monotonic()
            for c in self.clients:
                if c.transport is not None and now - c.last_sent >= hb:
                    self.stats.heartbeats_sent += 1
                    c.send_session("0")
                    c.flush()

    async def _close_all(self) -> None:
        for c in self.clients:
            if c.transport is not None:
                c.transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(c.closed for c in self.clients)), 2.0)

    def summary(self, wall: float, cpu: float, window: float) -> dict[str, Any]:
        """The run's figures (JSON-serialisable)."""
        s = self.stats
        ru = resource.getrusage(resource.RUSAGE_SELF)
        total = self._sent_total()
        return {
            "mode": "open" if self.config.rate is not None else "closed",
            "rate_target": self.config.rate,
            "in_flight": None if self.config.rate is not None else self.config.in_flight,
            "sessions": [c.sender_comp_id for c in self.config.clients],
            "symbols": [x.symbol for x in self.config.symbols],
            "seconds": round(wall, 3),
            "sent": dict(s.sent),
            "orders_sent": total,
            "orders_per_s": round(total / window, 1) if window else 0.0,
            "new_orders_per_s": round(s.sent["D"] / window, 1) if window else 0.0,
            "exec_reports": dict(sorted(s.exec_types.items())),
            "trades": s.exec_types.get("F", 0) // 2,
            "fills": s.exec_types.get("F", 0),
            "order_rejects": s.exec_types.get("8", 0),
            "cancel_rejects": s.cancel_rejects,
            "session_rejects": s.session_rejects,
            "business_rejects": s.business_rejects,
            "unanswered": s.unanswered,
            "sessions_ended": s.sessions_ended,
            "problems": _problems(s),
            "orders_answered": len(s.lat_all),
            "new_orders_answered": len(s.lat_new),
            "latency_ms": {
                "new_order": {
                    "p50": _pct(s.lat_new, 0.5),
                    "p99": _pct(s.lat_new, 0.99),
                    "p999": _pct(s.lat_new, 0.999),
                    "max": _pct(s.lat_new, 1.0),
                },
                "all": {"p50": _pct(s.lat_all, 0.5), "p99": _pct(s.lat_all, 0.99)},
            },
            "generator_cpu_pct": round(100.0 * cpu / wall, 1) if wall else 0.0,
            "generator_cpu_s_total": round(ru.ru_utime + ru.ru_stime, 3),
            "session": {
                "heartbeats_sent": s.heartbeats_sent,
                "test_requests": s.test_requests,
                "resend_requests": s.resend_requests,
                "seq_gaps": s.seq_gaps,
            },
            "notes": self.notes,
        }


def _problems(s: Stats) -> list[str]:
    """What made the run fail (`venue simulate` exits 1): the venue's own refusals of
    orders (rejects, OrderCancelRejects) are part of a flow, these are not."""
    counts = (
        (s.unanswered, "order messages unanswered"),
        (s.session_rejects, "session Rejects(3)"),
        (s.business_rejects, "BusinessMessageRejects(j)"),
        (s.sessions_ended, "sessions ended by the venue before the run's end"),
    )
    return [f"{what}: {n:,}" for n, what in counts if n]


def config_from_sessions(
    cfg: Any,
    *,
    sessions: list[str] | None,
    symbols: list[str],
    host: str | None,
    port: int | None,
    password: str | None,
    **options: Any,
) -> SimConfig:
    """A :class:`SimConfig` from the venue's parsed sessions.cfg (``fix_gateway.config``).

    Default sessions: every trading session that needs no password.
    """
    from venue.instruments import InstrumentError, load_instruments

    by_id = {sc.target_comp_id: sc for sc in cfg.sessions}
    if sessions:
        unknown = [s for s in sessions if s not in by_id]
        if unknown:
            raise SimulationError(f"unknown session(s) {', '.join(unknown)} in {cfg.path}")
        chosen = [by_id[s] for s in sessions]
    else:
        chosen = [
            sc for sc in cfg.sessions
            if sc.session_role == "Trading" and (sc.username is None or password is not None)
        ]
    clients = []
    for sc in chosen:
        if sc.session_role == "DropCopy":
            raise SimulationError(f"{sc.target_comp_id} is a drop-copy session: it cannot trade")
        if sc.password_hash is not None and password is None:
            raise SimulationError(f"{sc.target_comp_id} needs --password")
        clients.append(ClientSpec(
            sc.target_comp_id, sc.sender_comp_id, sc.username,
            password if sc.password_hash is not None else None,
        ))
    if not clients:
        raise SimulationError("no trading session to simulate")
    known: dict[str, Instrument] = {}
    path = cfg.default.instruments_file
    if path is not None:  # a relative path is already the sessions.cfg folder's
        try:
            known = {i.symbol: i for i in load_instruments(path)}
        except InstrumentError as exc:  # orders priced off its rules would all be refused
            raise SimulationError(str(exc)) from None
    specs = tuple(
        SymbolSpec.from_instrument(known[s]) if s in known else SymbolSpec.default(s)
        for s in symbols
    )
    first = chosen[0]
    return SimConfig(
        host=host or (first.socket_accept_host if first.socket_accept_host != "0.0.0.0"
                      else "127.0.0.1"),
        port=port if port is not None else first.socket_accept_port,
        target_comp_id=first.sender_comp_id,
        clients=tuple(clients),
        symbols=specs,
        **options,
    )


def run_simulation(config: SimConfig, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one simulation on a fresh event loop (uvloop when installed)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(Simulation(config, log=log).run())
    summary: dict[str, Any] = uvloop.run(Simulation(config, log=log).run())
    return summary
