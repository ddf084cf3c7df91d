"""Engine snapshots built in a forked child process, while the venue trades on.

Why a fork. Building and encoding a snapshot is pure Python work, about 3 s per million
live orders; in the event loop that is 3 s without trading. A child forked between two
commands holds a copy-on-write image of the engine exactly as it was after the last
one: it builds and encodes the snapshot on another CPU while the parent goes on, and
hands the text back through a pipe. The parent only reads the pipe and stores the text.

The child touches the engine and the pipe and nothing else: it closes every other file it
inherited (so a connection the venue closes is closed for its peer at once, and a venue
restarted after a crash can listen on its port again), uses no event loop, no database,
no logging (a lock another thread held at the fork stays held in the child); it ends
with ``os._exit``, so no atexit handler or finaliser of the parent's resources runs in
it. Its own session keeps a terminal's Ctrl-C for the venue. Cost: the pages the child
touches are copied (reference counts: up to the engine's size again, for the seconds
the child lives), and the fork copies the parent's page tables (milliseconds per GB).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import os
import signal
import sys
import warnings
from typing import NoReturn

from venue.engine import MatchingEngine

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class SnapshotChildError(Exception):
    """The child did not deliver a snapshot (it failed, was killed, or could not start)."""


def can_fork() -> bool:
    """True where snapshots can be built in a child (POSIX)."""
    return hasattr(os, "fork")


class SnapshotChild:
    """A child building the engine's snapshot as it is at construction.

    Construct it between two commands (in the event loop, no ``await`` in between), then
    ``await text()``. Cancelling that kills the child.
    """

    def __init__(self, engine: MatchingEngine) -> None:
        try:
            read_fd, write_fd = os.pipe()
        except OSError as exc:  # out of file descriptors
            raise SnapshotChildError(f"cannot make a pipe for a snapshot child: {exc}") from exc
        parent = os.getpid()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns of a fork with threads running (the store's): the
                # child never takes a lock those threads may hold (see the module's doc)
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            raise SnapshotChildError(f"cannot fork a snapshot child: {exc}") from exc
        if pid == 0:
            _child(engine, write_fd, parent)
        os.close(write_fd)
        self.pid = pid
        self._read_fd = read_fd
        self._reaped = False

    async def text(self) -> str:
        """The snapshot's text (``EngineSnapshot.to_json()``).

        Raises:
            SnapshotChildError: the child failed or was killed.
        """
        try:
            data = await self._read_all()
        except OSError as exc:
            self.kill()
            raise SnapshotChildError(f"reading the snapshot child {self.pid}: {exc}") from exc
        except BaseException:
            self.kill()
            raise
        code = self._wait()  # the pipe's end: the child is exiting (microseconds)
        if code != 0:
            raise SnapshotChildError(f"snapshot child {self.pid} exited with code {code}")
        try:
            return data.decode()
        except UnicodeDecodeError as exc:  # pragma: no cover - the child writes UTF-8
            raise SnapshotChildError(f"snapshot child {self.pid}: {exc}") from exc

    def kill(self) -> None:
        """Stop the child now and reap it (idempotent)."""
        if self._reaped:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self._wait()

    async def _read_all(self) -> bytes:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()
        pipe = os.fdopen(self._read_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(lambda: _Collect(done), pipe)
        try:
            return await done
        finally:
            transport.close()

    def _wait(self) -> int:
        if self._reaped:
            return -signal.SIGKILL
        self._reaped = True
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped by someone else: its code is lost
            return -1
        return os.waitstatus_to_exitcode(status)


class _Collect(asyncio.Protocol):
    def __init__(self, done: asyncio.Future[bytes]) -> None:
        self._done = done
        self._chunks: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)

    def eof_received(self) -> bool:
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._done.done():
            return
        if exc is None:
            self._done.set_result(b"".join(self._chunks))
        else:
            self._done.set_exception(SnapshotChildError(f"reading the snapshot child: {exc}"))


def _max_fd() -> int:
    try:
        return max(os.sysconf("SC_OPEN_MAX"), 256)
    except (ValueError, OSError):  # pragma: no cover - POSIX systems define it
        return 65536


def _die_with(parent: int) -> None:
    """Linux: the child is killed when the venue dies (a crashed venue's child would go on
    building for seconds, beside the restarted venue's recovery)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the venue died before the request took effect
        os._exit(1)


def _child(engine: MatchingEngine, write_fd: int, parent: int) -> NoReturn:
    code = 1
    try:
        gc.disable()  # a collection would touch (and copy) every object of the engine
        # only the pipe and stderr: a FIX connection, the listening socket or the writer's
        # socket the venue closes must close for its peer now, not when the child ends
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, _max_fd())
        os.setsid()
        signal.set_wakeup_fd(-1)  # the parent's loop must not see the child's signals
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        if sys.platform == "linux":
            _die_with(parent)
        data = memoryview(engine.snapshot().to_json().encode())
        while data:
            data = data[os.write(write_fd, data) :]
        code = 0
    except BaseException as exc:  # reported on stderr; the parent sees the exit code
        with contextlib.suppress(BaseException):
            os.write(2, f"snapshot child failed: {exc!r}\n".encode())
    finally:
        os._exit(code)
