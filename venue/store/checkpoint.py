"""SQLite WAL checkpoints off the commit path.

By default SQLite checkpoints automatically: the connection whose COMMIT takes the WAL past
1000 pages copies the WAL back into the database file (and fsyncs it) *inside that commit*.
With group commit that is every ~15 batches and costs 10-20 ms each time: a latency spike
for every order of the batch, and lost throughput.

The store's SQLite connections therefore run with ``PRAGMA wal_autocheckpoint=0`` and a
:class:`Checkpointer` (a daemon thread with its own ``sqlite3`` connection) checkpoints
instead:

* every ``interval`` seconds, if the WAL file changed since the last look, a ``PASSIVE``
  checkpoint: it never takes the write lock and never waits for readers or the writer, it
  copies what it can;
* a PASSIVE checkpoint alone never lets the WAL restart while commits keep coming (the
  writer rewinds the WAL only when, at its BEGIN, every frame has been copied; the writer
  appends during every checkpoint). So once the WAL holds ``restart_pages`` frames, more
  PASSIVE rounds catch up until at most ``restart_tail`` frames are left, then a
  ``RESTART`` checkpoint (busy timeout ``restart_wait_ms``) takes the write lock for that
  short tail and makes the next commit write the WAL from its beginning again: the file
  stays a few MB and is overwritten in place;
* after ``idle`` seconds without a change, a ``TRUNCATE`` checkpoint (busy timeout 0:
  skipped when anybody writes) empties the WAL file.

Durability is unchanged: a commit has fsynced its WAL frames (``synchronous=FULL``) before
it returns; a checkpoint only moves committed frames into the database file.

The thread survives the database going away (removed, unmounted, unwritable): errors are
logged at debug level, the connection is dropped and reopened later. It never creates the
file (``mode=rw``). :meth:`Checkpointer.stop` ends it (bounded by one checkpoint).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote

from venue.tuning import pin_helper

__all__ = ["Checkpointer"]

log = logging.getLogger(__name__)


class Checkpointer:
    """Background WAL checkpoints for one SQLite database file."""

    def __init__(
        self,
        path: str | Path,
        *,
        interval: float = 0.05,
        restart_pages: int = 1000,
        restart_wait_ms: int = 20,
        restart_tail: int = 200,
        idle: float = 2.0,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.wal = Path(str(self.path) + "-wal")
        self.interval = interval
        self.restart_pages = restart_pages
        self.restart_wait_ms = restart_wait_ms
        self.restart_tail = restart_tail
        self.idle = idle
        self.checkpoints = 0  # PASSIVE checkpoints run (for tests and benchmarks)
        self.restarts = 0
        self.truncates = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"wal-checkpoint:{self.path.name}", daemon=True
        )

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _connect(self) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path))}?mode=rw"  # never creates the database
        conn = sqlite3.connect(
            uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA busy_timeout=0")  # never wait for the writer
        except BaseException:
            conn.close()
            raise
        return conn

    def _wal_state(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.wal)
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns

    def _run(self) -> None:
        pin_helper()  # off the event loop's CPU, if that one is pinned
        conn: sqlite3.Connection | None = None
        seen: tuple[int, int] | None = None  # WAL (size, mtime) after our last checkpoint
        changed_at = time.monotonic()
        try:
            while not self._stop.wait(self.interval):
                state = self._wal_state()
                now = time.monotonic()
                if state is None or state[0] == 0:  # no WAL, or an empty one: nothing to do
                    seen = state
                    changed_at = now
                    continue
                if state != seen:
                    changed_at = now
                    mode = "PASSIVE"
                elif now - changed_at >= self.idle:
                    mode = "TRUNCATE"
                else:
                    continue
                try:
                    if conn is None:
                        conn = self._connect()
                    row = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                    if mode == "PASSIVE" and row is not None and row[1] >= self.restart_pages:
                        # the WAL is long: rewind it. First catch up with PASSIVE rounds
                        # (each copies what was committed during the previous one), so that
                        # RESTART holds the write lock only for a short tail.
                        for _ in range(4):
                            if row is None or row[1] - row[2] <= self.restart_tail:
                                break
                            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                        conn.execute(f"PRAGMA busy_timeout={self.restart_wait_ms}")
                        try:
                            done = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                        finally:
                            conn.execute("PRAGMA busy_timeout=0")
                        if done is not None and done[0] == 0:
                            self.restarts += 1
                except sqlite3.Error as exc:
                    self.errors += 1
                    log.debug("wal checkpoint of %s failed: %s", self.path, exc)
                    if conn is not None:
                        conn.close()
                        conn = None
                    changed_at = now
                    continue
                if mode == "PASSIVE":
                    self.checkpoints += 1
                elif row is not None and row[0] == 0:
                    self.truncates += 1
                else:
                    changed_at = now  # busy: try again after another idle period
                seen = self._wal_state()
        finally:
            if conn is not None:
                conn.close()
