"""Test helpers: a scripted FIX client and an in-memory pair with the acceptor Session.

Client messages are built with simplefix (it computes BodyLength and CheckSum), so the session
under test never sees bytes produced by its own encoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import simplefix

from fix_gateway.auth import verify_password
from fix_gateway.codec import Message, format_utc_timestamp, parse
from fix_gateway.config import SessionConfig
from fix_gateway.log import MemoryLog
from fix_gateway.session import Action, CheckPassword, Deliver, Disconnect, Send, Session
from fix_gateway.store import MemoryStore

T0 = 1_700_000_000 * 1_000_000_000  # 2023-11-14 22:13:20 UTC
SEC = 1_000_000_000


def client_msg(
    msg_type: str,
    fields: Iterable[tuple[int, Any]] = (),
    *,
    seq: int,
    time_ns: int = T0,
    sender: str = "CLIENT1",
    target: str = "VENUE",
    begin: str = "FIX.4.4",
    poss_dup: bool = False,
    orig_time_ns: int | None = None,
    sending_time: str | None = None,
    header: Iterable[tuple[int, Any]] = (),
) -> bytes:
    m = simplefix.FixMessage()
    m.append_pair(8, begin, header=True)
    m.append_pair(35, msg_type, header=True)
    m.append_pair(49, sender, header=True)
    m.append_pair(56, target, header=True)
    m.append_pair(34, seq, header=True)
    if sending_time is None:
        sending_time = format_utc_timestamp(time_ns)
    if sending_time:
        m.append_pair(52, sending_time, header=True)
    if poss_dup:
        m.append_pair(43, "Y", header=True)
    if orig_time_ns is not None:
        m.append_pair(122, format_utc_timestamp(orig_time_ns), header=True)
    for tag, value in header:
        m.append_pair(tag, value, header=True)
    for tag, value in fields:
        m.append_pair(tag, value)
    return bytes(m.encode())


NOS_FIELDS: list[tuple[int, Any]] = [
    (11, "ORD1"), (1, "ACC1"), (55, "AAPL"), (54, "1"), (60, "20231114-22:13:20.000"),
    (38, "100"), (40, "2"), (44, "123.45"), (59, "0"),
]


class Pair:
    """An acceptor Session driven by a scripted client, with a manual clock."""

    def __init__(self, config: SessionConfig | None = None, store: MemoryStore | None = None,
                 *, connect: bool = True) -> None:
        self.config = config or SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT1")
        self.store = store if store is not None else MemoryStore(creation_time=T0)
        self.log = MemoryLog()
        self.session = Session(self.config, self.store, self.log)
        self.now = T0
        self.seq = 1  # client's next outbound MsgSeqNum
        self.actions: list[Action] = []
        if connect:
            self.session.connect(self.now, "127.0.0.1")

    def feed(self, data: bytes) -> list[Action]:
        return self.go_on(self.session.on_bytes(data, self.now))

    def go_on(self, acts: list[Action]) -> list[Action]:
        """``acts``, then the actions of the messages a Deliver, a password check or a resend
        paused, as the acceptor runs them (it runs each batch before asking for
        :meth:`Session.more`, checks a password before :meth:`Session.password_checked`, and
        asks for a resend's parts with :meth:`Session.resend_more`)."""
        done = 0
        while True:
            new, done = acts[done:], len(acts)
            check = next((a for a in new if isinstance(a, CheckPassword)), None)
            if check is not None:
                ok = verify_password(check.password, check.password_hash)
                acts = acts + self.session.password_checked(ok, self.now)
            elif self.session.has_more:
                acts = acts + self.session.more(self.now)
            elif self.session.is_resending:
                acts = acts + self.session.resend_more(self.now)
            else:
                break
        self.actions += acts
        return acts

    def send(self, msg_type: str, fields: Iterable[tuple[int, Any]] = (), *,
             seq: int | None = None, **kw: Any) -> list[Action]:
        """Send a client message; uses and advances the client's sequence unless ``seq``."""
        if seq is None:
            seq = self.seq
            self.seq += 1
        kw.setdefault("time_ns", self.now)
        return self.feed(client_msg(msg_type, fields, seq=seq, **kw))

    def logon(self, hb: int = 30, extra: Iterable[tuple[int, Any]] = (), **kw: Any) -> list[Action]:
        return self.send("A", [(98, 0), (108, hb), *extra], **kw)

    def timer(self, advance_s: float = 0) -> list[Action]:
        self.now += int(advance_s * SEC)
        acts = self.session.on_timer(self.now)
        self.actions += acts
        return acts


def sent(actions: Iterable[Action]) -> list[Message]:
    return [parse(a.raw) for a in actions if isinstance(a, Send)]


def delivered(actions: Iterable[Action]) -> list[Message]:
    return [a.msg for a in actions if isinstance(a, Deliver)]


def disconnected(actions: Iterable[Action]) -> bool:
    return any(isinstance(a, Disconnect) for a in actions)


def tags(msg: Message, *wanted: int) -> dict[int, str | None]:
    return {t: msg.get(t) for t in wanted}
