"""Exceptions of the persistence layer."""

from __future__ import annotations

__all__ = ["RecoveryError", "SchemaError", "StoreError", "StoreUnavailable"]


class StoreError(Exception):
    """Base class of the store's errors."""


class StoreUnavailable(StoreError):  # noqa: N818 - the name is the published contract
    """The database cannot be reached or refuses writes (down, disk full, read-only).

    A failed :meth:`Store.commit` keeps its buffer, so the caller may retry; nothing in
    the failed batch may be acknowledged.
    """


class SchemaError(StoreError):
    """The database schema is not the one this venue expects (see the message)."""


class RecoveryError(StoreError):
    """The journal cannot be replayed consistently (gap, divergence)."""
