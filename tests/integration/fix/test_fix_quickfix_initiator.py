"""The acceptor over real TCP against the QuickFIX C++ engine (Python binding) as initiator.

QuickFIX callbacks run on its own threads: the tests hand results over with queues/events and
wait for them from the event loop with ``asyncio.to_thread`` (timeouts <= 10 s).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import quickfix as fix
from support.qfclient import WAIT, Client, piped

from fix_gateway.codec import Message
from fix_gateway.config import SessionConfig, SessionID, VenueConfig, parse_config
from fix_gateway.server import POLL_EVERY, FixAcceptor, SessionInfo
from fix_gateway.store import MemoryStore, MessageStore

pytestmark = pytest.mark.quickfix

# QuickFIX keeps sessions in a process-wide registry by SessionID, so every test uses its own
# client CompID (which also exercises several sessions routed on one port).
CLIENTS = ("CLIENT1", "CLIENT2", "CLIENT3", "CLIENT4", "CLIENT5")
VENUE_CFG = """\
[DEFAULT]
SenderCompID=VENUE
SocketAcceptHost=127.0.0.1
SocketAcceptPort=0
""" + "".join(f"[SESSION]\nTargetCompID={c}\n" for c in CLIENTS)


def sid(client: str) -> SessionID:
    return SessionID("FIX.4.4", "VENUE", client)


def info(acceptor: FixAcceptor, client: str) -> SessionInfo:
    return next(i for i in acceptor.sessions() if i.session_id == str(sid(client)))


class EchoApp:
    """Venue side: answers every NewOrderSingle with an ExecutionReport."""

    def __init__(self) -> None:
        self.acceptor: FixAcceptor | None = None
        self.logons: list[SessionID] = []
        self.logouts: list[SessionID] = []
        self.messages: list[Message] = []
        self.session_events: list[tuple[str, str]] = []

    def on_logon(self, session_id: SessionID) -> None:
        self.logons.append(session_id)

    def on_logout(self, session_id: SessionID) -> None:
        self.logouts.append(session_id)

    def on_session_event(self, session_id: SessionID, kind: str, detail: str) -> None:
        self.session_events.append((kind, detail))

    def on_message(self, session_id: SessionID, msg: Message, now_ns: int) -> None:
        self.messages.append(msg)
        assert self.acceptor is not None
        self.acceptor.send(session_id, "8", [
            (37, f"O{len(self.messages)}"), (11, msg.get(11)), (17, f"E{len(self.messages)}"),
            (150, "0"), (39, "0"), (55, msg.get(55)), (54, msg.get(54)), (151, msg.get(38)),
            (14, 0), (6, 0)])


def start_client(
    tmp_path: Path, port: int, comp_id: str, *, reset_on_logon: bool = False
) -> Client:
    """A QuickFIX initiator without data dictionary; its queues hold ``|``-separated text."""
    client = Client(comp_id, port, tmp_path, None, "VENUE", decode=piped,
                    settings={"ResetOnLogon": "Y" if reset_on_logon else "N"})
    client.begin()
    return client


def send_order(client: Client, cl_ord_id: str) -> None:
    m = fix.Message()
    m.getHeader().setField(fix.MsgType("D"))
    m.setField(fix.ClOrdID(cl_ord_id))
    m.setField(fix.Symbol("AAPL"))
    m.setField(fix.Side("1"))
    m.setField(fix.TransactTime())
    m.setField(fix.OrderQty(100))
    m.setField(fix.OrdType("2"))
    m.setField(fix.Price(12.5))
    fix.Session.sendToTarget(m, client.application.session_id)


async def wait_event(ev: threading.Event) -> None:
    assert await asyncio.to_thread(ev.wait, WAIT), "timed out"


async def wait_for(q: queue.Queue[str], pred: Callable[[str], bool]) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        remaining = deadline - loop.time()
        assert remaining > 0, "timed out"
        try:
            item = await asyncio.to_thread(q.get, True, min(remaining, 1.0))
        except queue.Empty:
            continue
        if pred(item):
            return item


async def until(cond: Callable[[], bool]) -> None:
    for _ in range(int(WAIT / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


@pytest.fixture
def venue_config() -> VenueConfig:
    return parse_config(VENUE_CFG)


@pytest.fixture
async def venue(venue_config: VenueConfig) -> AsyncIterator[tuple[FixAcceptor, EchoApp]]:
    app = EchoApp()
    acceptor = FixAcceptor(venue_config, app, tick=0.05)
    app.acceptor = acceptor
    await acceptor.start()
    try:
        yield acceptor, app
    finally:
        await acceptor.stop(timeout=0.5)


async def test_logon_heartbeats_order_and_logout(
    tmp_path: Path, venue: tuple[FixAcceptor, EchoApp]
) -> None:
    acceptor, app = venue
    client = start_client(tmp_path, acceptor.port, "CLIENT1")
    try:
        await wait_event(client.application.logged_on)
        assert app.logons == [sid("CLIENT1")]
        # heartbeat exchange (HeartBtInt=1)
        await wait_for(client.application.admin, lambda m: "|35=0|" in m)
        await until(lambda: info(acceptor, "CLIENT1").messages_in >= 2)
        send_order(client, "C1")
        er = await wait_for(client.application.app, lambda m: "|35=8|" in m)
        assert "|11=C1|" in er
        assert app.messages[0].get(11) == "C1"
        i = info(acceptor, "CLIENT1")
        assert i.state == "logged_on" and i.remote_address == "127.0.0.1"
    finally:
        await client.close()
    await until(lambda: app.logouts == [sid("CLIENT1")])
    assert info(acceptor, "CLIENT1").state == "disconnected"
    assert app.session_events == [("logout", "Logout by counterparty")]


async def test_venue_resends_app_messages_after_client_gap(
    tmp_path: Path, venue: tuple[FixAcceptor, EchoApp]
) -> None:
    acceptor, _ = venue
    client = start_client(tmp_path, acceptor.port, "CLIENT2")
    s2 = sid("CLIENT2")
    try:
        await wait_event(client.application.logged_on)
        first = acceptor.send(s2, "8", [(37, "X1"), (17, "X1"), (150, "0"), (39, "0"),
                                         (55, "AAPL"), (54, "1"), (151, 1), (14, 0), (6, 0)])
        acceptor.send(s2, "8", [(37, "X2"), (17, "X2"), (150, "0"), (39, "0"), (55, "AAPL"),
                                 (54, "1"), (151, 1), (14, 0), (6, 0)])
        await wait_for(client.application.app, lambda m: "|37=X2|" in m)
        # fromApp runs before QuickFIX increments its expected number: wait for that first
        await until(lambda: client.session.getExpectedTargetNum() == first + 2)
        # make the client believe it missed both: it must ask for a resend
        client.session.setNextTargetMsgSeqNum(first)
        acceptor.send(s2, "8", [(37, "X3"), (17, "X3"), (150, "0"), (39, "0"), (55, "AAPL"),
                                 (54, "1"), (151, 1), (14, 0), (6, 0)])
        again = await wait_for(client.application.app, lambda m: "|37=X1|" in m)
        assert "|43=Y|" in again and "|122=" in again
        await wait_for(client.application.app, lambda m: "|37=X3|" in m)
        await until(lambda: client.session.getExpectedTargetNum()
                    == info(acceptor, "CLIENT2").next_sender_seq)
    finally:
        await client.close()


async def test_client_gap_triggers_resend_request_and_gap_fill(
    tmp_path: Path, venue: tuple[FixAcceptor, EchoApp]
) -> None:
    acceptor, app = venue
    client = start_client(tmp_path, acceptor.port, "CLIENT3")
    try:
        await wait_event(client.application.logged_on)
        nxt = client.session.getExpectedSenderNum()
        client.session.setNextSenderMsgSeqNum(nxt + 5)  # the venue sees MsgSeqNum too high
        send_order(client, "C9")
        rr = await wait_for(client.application.admin, lambda m: "|35=2|" in m)
        assert f"|7={nxt}|" in rr and "|16=0|" in rr
        # delivered after the gap fill
        await wait_for(client.application.app, lambda m: "|11=C9|" in m)
        assert [m.get(11) for m in app.messages] == ["C9"]
        await until(lambda: info(acceptor, "CLIENT3").next_target_seq
                    == client.session.getExpectedSenderNum())
    finally:
        await client.close()


async def test_reconnect_restart_and_reset(
    tmp_path: Path, venue_config: VenueConfig
) -> None:
    stores: dict[str, MemoryStore] = {}

    def first_factory(cfg: SessionConfig) -> MessageStore:
        stores[cfg.target_comp_id] = MemoryStore()
        return stores[cfg.target_comp_id]

    app = EchoApp()
    acceptor = FixAcceptor(venue_config, app, first_factory, tick=0.05)
    app.acceptor = acceptor
    await acceptor.start()
    try:
        client = start_client(tmp_path, acceptor.port, "CLIENT4")
        try:
            await wait_event(client.application.logged_on)
            send_order(client, "A1")
            await wait_for(client.application.app, lambda m: "|11=A1|" in m)
        finally:
            await client.close()
        await until(lambda: info(acceptor, "CLIENT4").state == "disconnected")
        before = info(acceptor, "CLIENT4")
        client = start_client(tmp_path, acceptor.port, "CLIENT4")  # same file store: continues
        try:
            await wait_event(client.application.logged_on)
            now = info(acceptor, "CLIENT4")
            assert now.next_target_seq == before.next_target_seq + 1
            assert now.next_sender_seq == before.next_sender_seq + 1
        finally:
            await client.close()
        await until(lambda: info(acceptor, "CLIENT4").state == "disconnected")
    finally:
        await acceptor.stop(timeout=0.5)

    # restart of the venue with the same store contents
    saved = MemoryStore.restore(stores["CLIENT4"])
    app2 = EchoApp()
    def restored(cfg: SessionConfig) -> MessageStore:
        return saved if cfg.target_comp_id == "CLIENT4" else MemoryStore()

    acceptor2 = FixAcceptor(venue_config, app2, restored, tick=0.05)
    app2.acceptor = acceptor2
    await acceptor2.start()
    try:
        client = start_client(tmp_path, acceptor2.port, "CLIENT4")
        try:
            await wait_event(client.application.logged_on)
            send_order(client, "A2")
            await wait_for(client.application.app, lambda m: "|11=A2|" in m)
            assert saved.next_sender_seq > 5
        finally:
            await client.close()
        await until(lambda: info(acceptor2, "CLIENT4").state == "disconnected")
        # ResetSeqNumFlag: both sides restart at 1
        client = start_client(tmp_path, acceptor2.port, "CLIENT4", reset_on_logon=True)
        try:
            await wait_event(client.application.logged_on)
            await until(lambda: saved.next_target_seq == 2)
            assert saved.next_sender_seq == 2
        finally:
            await client.close()
    finally:
        await acceptor2.stop(timeout=0.5)


async def test_a_long_turn_polls_the_commit_barrier_every_few_messages(
    tmp_path: Path, venue_config: VenueConfig
) -> None:
    """With a commit barrier a turn's bytes wait for its commit; every POLL_EVERY
    application messages the acceptor calls commit_poll, and what a commit completed
    meanwhile releases goes to the socket inside the turn being handled."""
    app = EchoApp()
    held: list[Callable[[], None]] = []
    holding = [False]
    polls: list[int] = []

    def barrier(write: Callable[[], None]) -> None:
        if holding[0]:
            held.append(write)
        else:
            write()

    def poll() -> None:  # as if every commit in flight had completed
        polls.append(len(app.messages))
        while held:
            held.pop(0)()

    acceptor = FixAcceptor(venue_config, app, tick=0.05, commit_barrier=barrier, commit_poll=poll)
    app.acceptor = acceptor
    await acceptor.start()
    client = start_client(tmp_path, acceptor.port, "CLIENT5")
    try:
        await wait_event(client.application.logged_on)
        holding[0] = True
        for n in range(1, POLL_EVERY // 2 + 1):
            send_order(client, f"C{n}")
        await until(lambda: len(app.messages) == POLL_EVERY // 2)
        await asyncio.sleep(0.1)  # the turns have ended: their ExecutionReports are held
        assert held and client.application.app.empty() and polls == []

        for n in range(POLL_EVERY // 2 + 1, POLL_EVERY + 1):
            send_order(client, f"C{n}")
        await until(lambda: len(app.messages) == POLL_EVERY)
        assert polls == [POLL_EVERY - 1]  # before the application saw message POLL_EVERY
        last_held = f"C{POLL_EVERY // 2}"
        await wait_for(client.application.app, lambda m: f"|11={last_held}|" in m)
        released = []
        while not client.application.app.empty():
            released.append(client.application.app.get())
        assert all(f"|11=C{POLL_EVERY}|" not in m for m in released)  # its turn is held

        holding[0] = False
        while held:
            held.pop(0)()
        await wait_for(client.application.app, lambda m: f"|11=C{POLL_EVERY}|" in m)
    finally:
        await client.close()
        await acceptor.stop(timeout=0.5)


@pytest.mark.parametrize("idle", [True, False])
async def test_an_idle_store_gets_what_a_long_turn_produced_so_far(
    tmp_path: Path, venue_config: VenueConfig, idle: bool
) -> None:
    """When commit_poll answers that the store is idle, the ExecutionReports of the turn so
    far go to the barrier at that poll, not at the end of the turn; when it is busy, the
    turn's bytes go to the barrier once, at the end."""
    app = EchoApp()
    handed: list[int] = []  # application messages seen when the barrier was called

    def barrier(write: Callable[[], None]) -> None:
        handed.append(len(app.messages))
        write()

    acceptor = FixAcceptor(
        venue_config, app, tick=0.05, commit_barrier=barrier, commit_poll=lambda: idle
    )
    app.acceptor = acceptor
    await acceptor.start()
    client = start_client(tmp_path, acceptor.port, "CLIENT5")
    try:
        await wait_event(client.application.logged_on)
        await asyncio.sleep(0.1)
        handed.clear()
        orders = POLL_EVERY + 4
        for n in range(1, orders + 1):
            send_order(client, f"T{n}")
        time.sleep(0.3)  # the loop is held: every order arrives before the next read
        await until(lambda: len(app.messages) == orders)
        await wait_for(client.application.app, lambda m: f"|11=T{orders}|" in m)
        assert handed == ([POLL_EVERY - 1, orders] if idle else [orders])
    finally:
        await client.close()
        await acceptor.stop(timeout=0.5)


async def test_unknown_comp_id_refused(tmp_path: Path, venue: tuple[FixAcceptor, EchoApp]) -> None:
    acceptor, _ = venue
    reader, writer = await asyncio.open_connection("127.0.0.1", acceptor.port)
    try:
        from fix_gateway.codec import encode_raw, format_utc_timestamp

        writer.write(encode_raw("FIX.4.4", [(35, "A"), (34, 1), (49, "NOBODY"),
                                            (52, format_utc_timestamp(time.time_ns())),
                                            (56, "VENUE"), (98, 0), (108, 30)]))
        data = await asyncio.wait_for(reader.read(4096), WAIT)
        assert b"35=5\x01" in data and b"Unknown session" in data
        assert await asyncio.wait_for(reader.read(4096), WAIT) == b""
    finally:
        writer.close()
