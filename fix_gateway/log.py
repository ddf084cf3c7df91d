"""Per-session message and event logs, like QuickFIX ``FileLog``.

Files under FileLogPath, named as QuickFIX names them::

    FIX.4.4-VENUE-CLIENT1.messages.current.log   one line per message in or out
    FIX.4.4-VENUE-CLIENT1.event.current.log      session events (logon, resend, garbled, ...)

Line format: ``20240131-09:30:00.123456 : <text>`` (UTC).  Messages are written with SOH shown
as ``|`` so the files are readable with less/grep; Password(554) and NewPassword(925) are masked
as ``554=********``.  The session passes the time in (it does not read the clock); writes are
buffered and :meth:`FileLog.flush` is called by the acceptor's timer tick and on close.

Every message in and out is logged, so the message log is on the hot path: a message is kept
as ``(time, bytes)`` and the lines are made ``_LOG_BATCH`` at a time (and at every flush), the
masking and the SOH replacement in one pass over the batch: 0.6 µs a message against 1.25 µs
line by line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from fix_gateway.config import SessionConfig, SessionID

_SECRET = re.compile(rb"(?<=\x01)(554|925)=[^\x01]*")
_HAS_SECRET = re.compile(rb"\x01(?:554|925)=")  # one scan: 0.23 µs on an ExecutionReport


def mask(raw: bytes) -> bytes:
    """Hide Password(554) and NewPassword(925) values."""
    if _HAS_SECRET.search(raw) is not None:
        return _SECRET.sub(rb"\1=********", raw)
    return raw


_LOG_BATCH = 256
"""Messages whose log lines are made and written together (a flush writes fewer)."""

_stamp_bytes_second = -1
_stamp_bytes_text = b""


def _stamp_bytes(now_ns: int) -> bytes:
    """UTC ``YYYYMMDD-HH:MM:SS.ffffff``; the seconds part is formatted once a second (every
    message in and out is stamped: this is on the hot path, 0.19 µs a stamp)."""
    global _stamp_bytes_second, _stamp_bytes_text  # noqa: PLW0603 - one-entry cache, hot path
    micros = now_ns // 1000
    second = micros // 1_000_000
    if second != _stamp_bytes_second:
        _stamp_bytes_second = second
        _stamp_bytes_text = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second)).encode()
    return b"%s.%06d" % (_stamp_bytes_text, micros % 1_000_000)


def message_lines(messages: list[tuple[int, bytes]]) -> bytes:
    """The log lines of ``(time ns, raw message)`` pairs: stamped, masked, SOH shown as ``|``."""
    blob = b"".join([b"%b : %b\n" % (_stamp_bytes(now_ns), raw) for now_ns, raw in messages])
    return mask(blob).replace(b"\x01", b"|")


def printable(raw: bytes) -> str:
    """A message as it appears in the logs: masked, SOH shown as ``|``."""
    return mask(raw).replace(b"\x01", b"|").decode("latin-1")


def _stamp(now_ns: int) -> str:
    """:func:`_stamp_bytes` as text (the event lines)."""
    return _stamp_bytes(now_ns).decode("ascii")


class Log(Protocol):
    """What the session writes to."""

    def on_incoming(self, raw: bytes, now_ns: int) -> None: ...
    def on_outgoing(self, raw: bytes, now_ns: int) -> None: ...
    def on_event(self, text: str, now_ns: int) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class NullLog:
    """Discards everything."""

    def on_incoming(self, raw: bytes, now_ns: int) -> None:
        return None

    def on_outgoing(self, raw: bytes, now_ns: int) -> None:
        return None

    def on_event(self, text: str, now_ns: int) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryLog:
    """Keeps lines in lists (tests); messages are masked like in the file log."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.events: list[str] = []

    def on_incoming(self, raw: bytes, now_ns: int) -> None:
        self.messages.append(printable(raw))

    def on_outgoing(self, raw: bytes, now_ns: int) -> None:
        self.messages.append(printable(raw))

    def on_event(self, text: str, now_ns: int) -> None:
        self.events.append(text)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class FileLog:
    """QuickFIX-style message and event files for one session."""

    def __init__(self, directory: Path, session_id: SessionID) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        prefix = (
            f"{session_id.begin_string}-{session_id.sender_comp_id}-{session_id.target_comp_id}"
        )
        self.messages_path = directory / f"{prefix}.messages.current.log"
        self.event_path = directory / f"{prefix}.event.current.log"
        self._messages: IO[bytes] = self.messages_path.open("ab")
        self._events: IO[str] = self.event_path.open("a", encoding="utf-8")
        self._pending: list[tuple[int, bytes]] = []  # messages whose lines are not made yet

    def on_incoming(self, raw: bytes, now_ns: int) -> None:
        pending = self._pending
        pending.append((now_ns, raw))
        if len(pending) >= _LOG_BATCH:
            self._write_messages()

    on_outgoing = on_incoming  # one file, in the order of the calls

    def on_event(self, text: str, now_ns: int) -> None:
        self._events.write(f"{_stamp(now_ns)} : {text}\n")

    def _write_messages(self) -> None:
        pending, self._pending = self._pending, []
        self._messages.write(message_lines(pending))

    def flush(self) -> None:
        if self._pending:
            self._write_messages()
        self._messages.flush()
        self._events.flush()

    def close(self) -> None:
        if self._pending:
            self._write_messages()
        self._messages.close()
        self._events.close()


LogFactory = Callable[[SessionConfig], Log]


def null_log_factory(config: SessionConfig) -> Log:
    return NullLog()


def file_log_factory(default_directory: Path | None = None) -> LogFactory:
    """FileLog under each session's FileLogPath (or ``default_directory``); NullLog if neither."""

    def create(config: SessionConfig) -> Log:
        directory = config.file_log_path or default_directory
        if directory is None:
            return NullLog()
        return FileLog(directory, config.session_id)

    return create
