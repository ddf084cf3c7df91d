"""Exceptions of the persistence layer."""

from __future__ import annotations

__all__ = [
    "RecoveryError",
    "SchemaError",
    "StoreError",
    "StoreInUse",
    "StoreUnavailable",
    "describe",
]


def describe(exc: BaseException) -> str:
    """A driver's exception as a log line shows it: its text, or what it is when it has
    none (a database that stops answering raises a TimeoutError without a message)."""
    text = str(exc)
    if text:
        return text
    if isinstance(exc, TimeoutError):
        return "no answer in time (TimeoutError)"
    return type(exc).__name__


class StoreError(Exception):
    """Base class of the store's errors."""


class StoreUnavailable(StoreError):  # noqa: N818 - the name is the published contract
    """The database cannot be reached or refuses writes (down, disk full, read-only).

    A failed :meth:`Store.commit` keeps its buffer, so the caller may retry; nothing in
    the failed batch may be acknowledged.
    """


class StoreInUse(StoreError):  # noqa: N818 - reads as the condition it reports
    """Another venue holds the store (PostgreSQL: its advisory lock; see Store.open)."""


class SchemaError(StoreError):
    """The database schema is not the one this venue expects (see the message)."""


class RecoveryError(StoreError):
    """The journal cannot be replayed consistently (gap, divergence)."""
