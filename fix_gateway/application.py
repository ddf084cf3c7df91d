"""The interface between the acceptor and the order-entry layer."""

from __future__ import annotations

from typing import Protocol

from fix_gateway.codec import Message
from fix_gateway.config import SessionID


class Application(Protocol):
    """Callbacks of :class:`fix_gateway.server.FixAcceptor`; all run on the event loop.

    They are plain functions (not coroutines): a slow callback stalls every session.  Replies go
    back through ``FixAcceptor.send(session_id, msg_type, body_fields)``.
    """

    def on_logon(self, session_id: SessionID) -> None:
        """The session has logged on (the Logon reply is on its way)."""

    def on_logout(self, session_id: SessionID) -> None:
        """The session logged out or its connection dropped."""

    def on_message(self, session_id: SessionID, msg: Message, now_ns: int) -> None:
        """An application message, delivered exactly once and in MsgSeqNum order."""

    def on_session_event(self, session_id: SessionID, kind: str, detail: str) -> None:
        """A logout, dropped connection, refused Logon or session-level reject, with its reason
        (see :class:`fix_gateway.session.SessionEvent`)."""


class NullApplication:
    """Accepts everything and does nothing (benchmarks, tests)."""

    def on_logon(self, session_id: SessionID) -> None:
        return None

    def on_logout(self, session_id: SessionID) -> None:
        return None

    def on_message(self, session_id: SessionID, msg: Message, now_ns: int) -> None:
        return None

    def on_session_event(self, session_id: SessionID, kind: str, detail: str) -> None:
        return None
