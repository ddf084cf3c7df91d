"""Fixtures of the store suite: every test runs on SQLite and on PostgreSQL (db_url)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from venue.store import Store


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """An open store on a fresh database (closed, without committing, after the test)."""
    s = await Store.open(db_url)
    try:
        yield s
    finally:
        await s.close(commit=False)
