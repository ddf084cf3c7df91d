"""Crash tests: the venue as a subprocess, killed with SIGKILL under load, restarted on the
same database; real QuickFIX initiators (support.qfclient) reconnect and keep trading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.pg import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def crash_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database: a SQLite file, or ``crash_<random>`` on PostgreSQL (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/v.db"
        return
    async with fresh_database("crash_") as url:
        yield url
