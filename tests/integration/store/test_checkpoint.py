"""The WAL checkpointer: keeps a busy WAL short, empties an idle one, and never creates the
database it looks after."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from venue.store.checkpoint import Checkpointer

PAGE = 4096
ROW = b"x" * 3000  # about one page per row


def wal_database(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")  # as the store's connections
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)")
    return db


def wal_size(path: Path) -> int:
    try:
        return os.path.getsize(str(path) + "-wal")
    except FileNotFoundError:
        return 0


def write_commits(db: sqlite3.Connection, path: Path, commits: int, pause: float = 0.0) -> int:
    """``commits`` transactions of 4 rows each, ``pause`` seconds apart; returns the
    largest WAL size seen. Back to back, a PASSIVE checkpoint never catches up with the
    writer, so only a RESTART checkpoint lets the WAL start over."""
    largest = 0
    for _ in range(commits):
        db.execute("BEGIN")
        db.executemany("INSERT INTO t (data) VALUES (?)", [(ROW,)] * 4)
        db.execute("COMMIT")
        largest = max(largest, wal_size(path))
        if pause:
            time.sleep(pause)
    return largest


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_busy_wal_stays_short_and_an_idle_one_is_emptied(tmp_path: Path) -> None:
    unchecked = tmp_path / "unchecked.db"
    db = wal_database(unchecked)
    without = write_commits(db, unchecked, 600, pause=0.0005)
    db.close()
    assert without > 2_000 * PAGE  # nothing rewinds the WAL by itself

    path = tmp_path / "venue.db"
    db = wal_database(path)
    checkpointer = Checkpointer(
        path, interval=0.01, restart_pages=100, restart_tail=20, idle=0.3
    ).start()
    try:
        # PASSIVE rounds alone would not keep up (3,698 pages measured): RESTART rewinds
        # the WAL every ~100 frames (165-187 pages measured)
        largest = write_commits(db, path, 600, pause=0.0005)
        assert largest < 800 * PAGE, largest
        assert wait_for(lambda: wal_size(path) == 0, 10.0)  # TRUNCATE once idle
        assert db.execute("SELECT count(*) FROM t").fetchone() == (2400,)
        assert checkpointer.alive
        assert checkpointer.restarts > 0 and checkpointer.truncates > 0
        assert checkpointer.errors == 0
    finally:
        db.close()
        checkpointer.stop()
    assert not checkpointer.alive


def test_a_missing_database_is_waited_for_and_never_created(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    checkpointer = Checkpointer(path, interval=0.01, idle=0.2).start()
    try:
        time.sleep(0.3)
        assert not path.exists()
        assert checkpointer.alive
        db = wal_database(path)
        write_commits(db, path, 20, pause=0.002)
        assert wal_size(path) > 0
        assert wait_for(lambda: wal_size(path) == 0, 10.0)
        db.close()
    finally:
        checkpointer.stop()
    assert not checkpointer.alive
