"""One venue per store: the claim a starting venue takes before it touches anything.

A second ``venue run`` on the same configuration (or on the same SQLite file) must fail
before it opens the store (it would journal into the running venue's command numbers) or
connects to the broker (it would overwrite the retained status and book topics). The
claim is an exclusive ``flock`` on ``<database>.lock`` beside a SQLite file (its real path,
symbolic links resolved), held until the
venue stops (the kernel drops it when the process dies, so a crash leaves nothing to clean
up), and a check that nothing answers on the admin socket.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO

from venue.admin import answers
from venue.store import sqlite_file

__all__ = ["ClaimError", "VenueClaim"]


class ClaimError(RuntimeError):
    """Another venue runs on this store or admin socket (or its lock cannot be made)."""


class VenueClaim:
    """Held from :meth:`take` to :meth:`release`."""

    def __init__(self, store_url: str | None, admin_socket: Path | None) -> None:
        self.store_url = store_url
        self.admin_socket = admin_socket
        self._lock: IO[str] | None = None

    def take(self) -> None:
        """Raises:
        ClaimError: a venue answers on the admin socket, or holds the SQLite file."""
        if self.admin_socket is not None and answers(self.admin_socket):
            raise ClaimError(f"another venue is already running (admin socket {self.admin_socket})")
        path = sqlite_file(self.store_url) if self.store_url is not None else None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path = path.resolve()  # one lock for the file, whatever link names it
            lock = open(f"{path}.lock", "a")  # noqa: SIM115 - held until release()
        except OSError as exc:
            raise ClaimError(f"cannot lock the store {path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            lock.close()
            raise ClaimError(f"another venue is already running on the store {path}") from exc
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing drops the flock
            self._lock = None
