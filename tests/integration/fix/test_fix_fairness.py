"""One client's expensive request does not stop the others: a Logon's password is checked
off the event loop (PBKDF2 takes tens of milliseconds, seconds with many iterations), and a
long ResendRequest is answered a part per loop turn, as fast as its client reads."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

import pytest
from support.rawclient import RawClient

from fix_gateway.application import NullApplication
from fix_gateway.auth import hash_password
from fix_gateway.codec import Message
from fix_gateway.config import parse_config
from fix_gateway.server import FixAcceptor

SLOW_ITERATIONS = 3_000_000  # ~1.3 s of PBKDF2 on the development machine


@functools.cache
def slow_hash() -> str:
    return hash_password("s3cret", iterations=SLOW_ITERATIONS)


@pytest.fixture
async def acceptor() -> AsyncIterator[FixAcceptor]:
    config = parse_config(f"""\
[DEFAULT]
SenderCompID=VENUE
SocketAcceptHost=127.0.0.1
SocketAcceptPort=0
[SESSION]
TargetCompID=OPEN
[SESSION]
TargetCompID=OTHER
[SESSION]
TargetCompID=GUARDED
Username=alice
PasswordHash={slow_hash()}
""")
    acceptor = FixAcceptor(config, NullApplication(), tick=0.05)
    await acceptor.start()
    yield acceptor
    await acceptor.stop()


def logon(user: str, password: str) -> list[tuple[int, object]]:
    return [(35, "A"), (98, 0), (108, 30), (553, user), (554, password)]


async def test_other_sessions_are_served_while_a_password_is_checked(acceptor) -> None:
    open_client = RawClient(acceptor.port, "OPEN", "VENUE")
    await open_client.connect()
    open_client.send([(35, "A"), (98, 0), (108, 30)])
    await open_client.receive(1)
    guarded = RawClient(acceptor.port, "GUARDED", "VENUE")
    await guarded.connect()
    guarded.send(logon("alice", "s3cret"))
    answers: list[str] = []

    async def guarded_answer() -> Message:
        [msg] = await guarded.receive(1, wait=60)
        answers.append("logon")
        return msg

    waiting = asyncio.create_task(guarded_answer())
    await asyncio.sleep(0.2)  # the venue has the Logon and is hashing
    for i in range(20):
        open_client.send([(35, "1"), (112, f"T{i}")])
        [heartbeat] = await open_client.receive(1)
        assert heartbeat.get(112) == f"T{i}"
    answers.append("heartbeats")
    reply = await waiting
    assert answers == ["heartbeats", "logon"]  # blocked, the loop would answer in turn
    assert reply.msg_type == "A" and reply.get(34) == "1"
    await guarded.close()
    await open_client.close()


async def test_a_wrong_password_checked_off_the_loop_is_refused(acceptor) -> None:
    guarded = RawClient(acceptor.port, "GUARDED", "VENUE")
    await guarded.connect()
    guarded.send(logon("alice", "wrong"))
    [logout] = await guarded.receive(1, wait=60)
    assert logout.msg_type == "5" and logout.get(58) == "Invalid Username or Password"
    assert await guarded.reader.read(1) == b""  # then disconnected
    info = next(i for i in acceptor.sessions() if i.session_id == "FIX.4.4:VENUE->GUARDED")
    assert (info.state, info.next_target_seq) == ("disconnected", 1)
    await guarded.close()


async def test_other_sessions_are_served_during_a_long_resend(acceptor) -> None:
    resending = RawClient(acceptor.port, "OPEN", "VENUE")
    await resending.connect()
    resending.send([(35, "A"), (98, 0), (108, 30)])
    await resending.receive(1)
    count = 50_000  # ~10 MB: more than the socket buffers hold while the client does not read
    for i in range(count):
        acceptor.send("FIX.4.4:VENUE->OPEN", "8", [(37, f"O{i}"), (150, "0"), (39, "0")])
    await resending.receive(count)
    other = RawClient(acceptor.port, "OTHER", "VENUE")
    await other.connect()
    other.send([(35, "A"), (98, 0), (108, 30)])
    await other.receive(1)
    resending.send([(35, "2"), (7, 1), (16, 0)])
    resending.send([(35, "1"), (112, "AFTER")])
    await asyncio.sleep(0.05)
    other.send([(35, "1"), (112, "T1")])
    [heartbeat] = await other.receive(1)
    assert heartbeat.get(112) == "T1"
    session = acceptor.session("FIX.4.4:VENUE->OPEN")
    assert session.is_resending  # the resend waits for its client, the other is served
    acceptor.send("FIX.4.4:VENUE->OPEN", "8", [(37, "NEW"), (150, "0"), (39, "0")])
    got = await resending.receive(count + 3, wait=30)
    assert (got[0].msg_type, got[0].get(34), got[0].get(36)) == ("4", "1", "2")  # the Logon
    assert [m.get(37) for m in got[1:count + 1]] == [f"O{i}" for i in range(count)]
    assert [m.get(34) for m in got[1:count + 1]] == [str(s) for s in range(2, count + 2)]
    assert all(m.get(43) == "Y" for m in got[:count + 1])
    assert [(m.msg_type, m.get(34), m.get(37) or m.get(112)) for m in got[count + 1:]] == [
        ("8", str(count + 2), "NEW"), ("0", str(count + 3), "AFTER")]
    await other.close()
    await resending.close()
