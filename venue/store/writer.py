"""The SQLite writer process: the group commit's inserts, COMMIT and fsync on another core.

Why a process. The batch write is CPU work in SQLite (B-tree inserts, WAL page writes)
plus an fsync. In a thread of the venue it competes with the event loop for the GIL: the
sqlite3 module releases the GIL around every statement step and must take it back for the
next row, and while the loop is busy that hand-back waits for the interpreter's switch
interval, so a commit stretched to several milliseconds under load, and every
ExecutionReport waits for a commit (journal before acknowledge). A process of its own has
its own GIL: the venue only packs the rows (``marshal``, a C call) and writes them to a
socket; each answer comes back through epoll to a protocol callback
(:meth:`WriterProcess.send`), in the order the batches were sent. A long loop turn need not
end for that: :meth:`WriterProcess.poll` takes an answer that has arrived without waiting.

Protocol on a Unix socket pair, both ways frames of a 4-byte big-endian length and a
``marshal`` body (format version 2: without back-references, packing does not track every
object it writes, 2.4x faster than the default version on a batch's rows). Request:
``(statements, pragmas)`` where ``statements`` is a list of ``(sql, rows)`` executed as one
transaction (BEGIN, ``executemany`` each, COMMIT; ROLLBACK on failure). Answer: ``None``
when committed, else ``(error class name, message)``; the venue rebuilds the ``sqlite3``
exception so that one classification serves both paths. ``pragmas`` are statements run
once on every (re)opened connection. After a failed batch the connection is closed and the
next batch opens a fresh one (as SQLAlchemy invalidates a failed connection). The process
ends at end of input.

This module imports only the standard library: it is started as a script
(``python writer.py DATABASE``), not through the venue package, so it starts in
milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import marshal
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from typing import Any, cast

_LENGTH = struct.Struct(">I")
_POLL_BYTES = 1 << 16
_MARSHAL_VERSION = 2
_SCRIPT = os.path.abspath(__file__)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h

Statements = list[tuple[str, list[tuple[Any, ...]] | list[dict[str, Any]]]]
"""``(sql, rows)`` pairs: rows are tuples for ``?`` parameters or dicts for ``:name`` ones."""


def read_frame(sock: socket.socket) -> bytes | None:
    """One frame's body, or None at end of input."""
    head = _recv_exactly(sock, _LENGTH.size)
    if head is None:
        return None
    (size,) = _LENGTH.unpack(head)
    body = _recv_exactly(sock, size)
    if body is None:
        raise EOFError("connection closed inside a frame")
    return body


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            if left == size:
                return None
            raise EOFError("connection closed inside a frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def frame(body: bytes) -> bytes:
    return _LENGTH.pack(len(body)) + body


def _connect(database: str, pragmas: list[str]) -> sqlite3.Connection:
    db = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    try:
        for pragma in pragmas:
            db.execute(pragma)
    except BaseException:
        db.close()
        raise
    return db


def write_batch(db: sqlite3.Connection, statements: Statements) -> None:
    """One transaction: BEGIN, every statement, COMMIT (fsynced with synchronous=FULL)."""
    if db.in_transaction:
        db.rollback()
    db.execute("BEGIN")
    try:
        for sql, rows in statements:
            db.executemany(sql, rows)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise


def serve(sock: socket.socket, database: str) -> None:
    """Answer batches until the venue closes its end."""
    db: sqlite3.Connection | None = None
    while True:
        body = read_frame(sock)
        if body is None:
            break
        statements, pragmas = marshal.loads(body)
        answer: tuple[str, str] | None = None
        try:
            if db is None:
                db = _connect(database, pragmas)
            write_batch(db, statements)
        except sqlite3.Error as exc:
            answer = (type(exc).__name__, str(exc))
            if not isinstance(exc, sqlite3.IntegrityError) and db is not None:
                db.close()
                db = None
        sock.sendall(frame(marshal.dumps(answer, _MARSHAL_VERSION)))
    if db is not None:
        db.close()


class WriterLost(sqlite3.OperationalError):
    """The writer process died or stopped answering: the batch may or may not be committed."""


Answered = Callable[[sqlite3.Error | None], None]
"""Called with a batch's outcome: None when committed, else the error (``WriterLost`` too)."""


def _error_of(answer: tuple[str, str] | None) -> sqlite3.Error | None:
    """The sqlite3 exception the writer reported, rebuilt under its own class."""
    if answer is None:
        return None
    name, message = answer
    cls = getattr(sqlite3, name, sqlite3.OperationalError)
    if not (isinstance(cls, type) and issubclass(cls, sqlite3.Error)):
        cls = sqlite3.OperationalError
    return cls(message)


def settle(outcome: asyncio.Future[None]) -> Callable[[BaseException | None], None]:
    """An outcome callback that completes ``outcome``: None sets its result, an exception
    is raised to its awaiter; nothing happens once the awaiter was cancelled."""

    def done(error: BaseException | None) -> None:
        if outcome.done():
            return
        if error is None:
            outcome.set_result(None)
        else:
            outcome.set_exception(error)

    return done


class _Answers(asyncio.Protocol):
    """The venue's end of the socket: each answer goes to the oldest waiting callback,
    called straight from the event loop's I/O callback (no task to wake)."""

    def __init__(self, owner: WriterProcess, sock: socket.socket) -> None:
        self.owner = owner
        self.sock = sock
        self.transport: asyncio.WriteTransport | None = None
        self.waiting: deque[Answered] = deque()
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= _LENGTH.size:
            end = _LENGTH.size + _LENGTH.unpack_from(buf)[0]
            if len(buf) < end:
                break
            error = _error_of(marshal.loads(buf[_LENGTH.size : end]))
            del buf[:end]
            if error is None:
                self.owner.batches += 1
            self._answer(self.waiting.popleft(), error)

    def poll(self) -> None:
        """Read what has arrived, without waiting, as the transport would have.

        Safe under the transport: asyncio's and uvloop's stream transports both take a read
        that finds nothing (EAGAIN) as a spurious wake-up, and an end of input or an error
        stays on the socket for the transport to see."""
        if not self.waiting or self.transport is None:
            return
        try:
            data = self.sock.recv(_POLL_BYTES, socket.MSG_DONTWAIT)
        except OSError:  # nothing there (EAGAIN), or an error the transport reports
            return
        if data:
            self.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        lost = WriterLost(f"SQLite writer process lost: {exc or 'end of its answers'}")
        while self.waiting:
            self._answer(self.waiting.popleft(), lost)

    @staticmethod
    def _answer(answered: Answered, error: sqlite3.Error | None) -> None:
        try:
            answered(error)
        except Exception:  # the protocol must go on answering the next batches
            logging.getLogger(__name__).exception("SQLite writer: answer callback failed")


class WriterProcess:
    """The venue's end: starts the writer process and sends it batches, answered in order."""

    def __init__(self, database: str, pragmas: list[str]) -> None:
        self.database = database
        self.pragmas = pragmas
        self._proc: subprocess.Popen[bytes] | None = None
        self._answers: _Answers | None = None
        self.batches = 0  # transactions committed

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def ready(self) -> bool:
        """Running and connected: :meth:`send` can be used."""
        return (
            self._answers is not None
            and self._answers.transport is not None
            and self._proc is not None
            and self._proc.poll() is None
        )

    async def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", _SCRIPT, self.database, str(theirs.fileno()),
                 str(os.getpid())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches the venue alone
            )
        finally:
            theirs.close()
        from venue.tuning import pin_helper  # here: the script side imports no venue module

        pin_helper(self._proc.pid)  # off the event loop's CPU, if that one is pinned
        loop = asyncio.get_running_loop()
        _, self._answers = await loop.create_unix_connection(
            lambda: _Answers(self, ours), sock=ours
        )

    def send(self, statements: Statements, answered: Answered) -> None:
        """Send ``statements`` to be committed as one transaction; ``answered`` gets the
        outcome, from the event loop, once the writer answers or is lost.

        Raises:
            WriterLost: the writer is not running (see :attr:`ready`, :meth:`write`).
        """
        answers = self._answers
        if answers is None or answers.transport is None:
            raise WriterLost("SQLite writer process lost: not running")
        answers.waiting.append(answered)
        answers.transport.write(frame(marshal.dumps((statements, self.pragmas), _MARSHAL_VERSION)))

    def poll(self) -> None:
        """Call back the batches whose answers have arrived, now, without waiting for the
        event loop to poll the socket (which it does only after the turn it is in)."""
        if self._answers is not None:
            self._answers.poll()

    async def write(self, statements: Statements) -> None:
        """Commit ``statements`` as one transaction; raise the sqlite3 error on failure.

        A writer that is not running is (re)started first; one that dies before answering
        raises :class:`WriterLost` and is replaced at the next call.
        """
        if not self.ready:
            await self.close()
            await self.start()
        outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.send(statements, settle(outcome))
        await outcome

    async def close(self) -> None:
        """End the process (it finishes the batch in hand first); batches still waiting
        for an answer get :class:`WriterLost`."""
        answers, proc = self._answers, self._proc
        self._answers = None
        self._proc = None
        if answers is not None and answers.transport is not None:
            answers.transport.close()
        if proc is not None:
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)


def _die_with(parent: int) -> None:
    """Linux: the writer is killed when the venue dies. Left alone, a crashed venue's writer
    would commit the batch in hand after the restarted venue had recovered without it (two
    writers of one command number); killed, its uncommitted batch rolls back, and no answer
    to it was ever sent."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the venue died before the request took effect
        os._exit(1)


def main() -> None:
    database, fd, parent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    _die_with(parent)
    sock = socket.socket(fileno=fd)
    # the venue's end closing (also mid-frame) or Ctrl-C: the writer is done
    with sock, contextlib.suppress(EOFError, ConnectionError, KeyboardInterrupt):
        serve(sock, database)


if __name__ == "__main__":
    main()
