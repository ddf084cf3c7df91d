"""Routing a new connection to its session by the Logon's CompIDs (sans-I/O).

Several sessions share one port: a :class:`Connection` frames the first bytes, reads the Logon,
finds the session whose (BeginString, SenderCompID, TargetCompID) match the Logon's
(BeginString, TargetCompID, SenderCompID), checks AllowedRemoteAddresses, and from then on
forwards everything to that :class:`~fix_gateway.session.Session`.

Refusals before a session is bound (unknown CompIDs, wrong BeginString, remote address not
allowed, session already connected) are answered with an unsequenced Logout (MsgSeqNum 1, not
stored) whose Text(58) says why, then a disconnect; the live session, if any, is not touched.
"""

from __future__ import annotations

from collections.abc import Iterable

from fix_gateway.codec import Framer, encode_raw, format_utc_timestamp, parse
from fix_gateway.config import SessionID
from fix_gateway.session import Action, Disconnect, Send, Session, SessionState

_NS = 1_000_000_000


class Router:
    """All sessions of an acceptor, indexed for Logon routing."""

    def __init__(self, sessions: Iterable[Session]) -> None:
        self.sessions: dict[SessionID, Session] = {s.session_id: s for s in sessions}
        self._by_comp = {
            (sid.sender_comp_id, sid.target_comp_id): s for sid, s in self.sessions.items()
        }
        # Before its Logon a connection has no session yet: it waits for the longest
        # LogonTimeout of any (at least a second).
        self.logon_timeout_ns = max(
            (max(s.config.logon_timeout, 1) for s in self.sessions.values()), default=10
        ) * _NS

    def connection(self, remote_host: str, now_ns: int) -> Connection:
        """A new TCP connection from ``remote_host``."""
        return Connection(self, remote_host, now_ns)


def _refusal(begin: str, our_comp: str, their_comp: str, text: str, now_ns: int) -> bytes:
    return encode_raw(
        begin,
        [(35, "5"), (34, 1), (49, our_comp), (52, format_utc_timestamp(now_ns)),
         (56, their_comp), (58, text)],
    )


class Connection:
    """One transport connection: unrouted until its Logon arrives, then bound to a Session."""

    def __init__(self, router: Router, remote_host: str, now_ns: int) -> None:
        self.router = router
        self.remote_host = remote_host
        self.created_ns = now_ns
        self.session: Session | None = None
        self.generation = 0
        self.closed = False
        self._framer = Framer()

    @property
    def is_current(self) -> bool:
        """Bound, and still the session's connection (not replaced after a disconnect)."""
        s = self.session
        return (
            s is not None and s.generation == self.generation
            and s.state is not SessionState.DISCONNECTED
        )

    def on_bytes(self, data: bytes, now_ns: int) -> list[Action]:
        if self.closed:
            return []
        if self.session is not None:
            return self.session.on_bytes(data, now_ns) if self.is_current else []
        raws = self._framer.feed(data)
        self._framer.garbled.clear()
        if not raws:
            return []
        first = parse(raws[0])
        if first.msg_type != "A":  # FIX 4.4 1e: first message not a Logon
            return self._close(f"First message was not a Logon (MsgType {first.msg_type!r})")
        begin = first.get(8) or ""
        their = first.get(49) or ""
        ours = first.get(56) or ""
        session = self.router._by_comp.get((ours, their))
        if session is None:
            return self._refuse(begin, ours, their, f"Unknown session {begin}:{ours}->{their}",
                                now_ns)
        sid = session.session_id
        if begin != sid.begin_string:
            return self._refuse(begin, ours, their, f"Incorrect BeginString {begin}, expected "
                                f"{sid.begin_string}", now_ns)
        allowed = session.config.allowed_remote_addresses
        if allowed is not None and self.remote_host not in allowed:
            return self._refuse(begin, ours, their,
                                f"Remote address {self.remote_host} not allowed", now_ns)
        if session.state is not SessionState.DISCONNECTED:
            return self._refuse(begin, ours, their, "Session already logged on", now_ns)
        self.session = session
        actions = session.connect(now_ns, self.remote_host)
        self.generation = session.generation
        rest = b"".join(raws) + self._framer.remainder()
        return actions + session.on_bytes(rest, now_ns)

    @property
    def has_more(self) -> bool:
        """The bound session paused after delivering a message (see ``Session.more``)."""
        s = self.session
        return s is not None and s.has_more and self.is_current

    def more(self, now_ns: int) -> list[Action]:
        s = self.session
        return s.more(now_ns) if s is not None and self.is_current else []

    @property
    def is_resending(self) -> bool:
        """The bound session answers a ResendRequest part by part (``Session.is_resending``)."""
        s = self.session
        return s is not None and s.is_resending and self.is_current

    def resend_more(self, now_ns: int) -> list[Action]:
        s = self.session
        return s.resend_more(now_ns) if s is not None and self.is_current else []

    def on_timer(self, now_ns: int) -> list[Action]:
        if self.closed:
            return []
        if self.session is None:
            if now_ns - self.created_ns >= self.router.logon_timeout_ns:
                return self._close("Logon timeout")
            return []
        return self.session.on_timer(now_ns) if self.is_current else []

    def on_disconnect(self, now_ns: int) -> list[Action]:
        """The transport is closed; tell the session if it is still ours."""
        self.closed = True
        s = self.session
        if s is not None and s.generation == self.generation:
            return s.on_disconnect(now_ns)
        return []

    def _refuse(self, begin: str, ours: str, theirs: str, text: str, now_ns: int) -> list[Action]:
        raw = _refusal(begin or "FIX.4.4", ours, theirs, text, now_ns)
        return [Send(raw, 1), *self._close(f"Logon refused: {text}")]

    def _close(self, reason: str) -> list[Action]:
        self.closed = True
        return [Disconnect(reason)]
