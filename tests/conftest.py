"""Shared fixtures. Service fixtures (PostgreSQL, Mosquitto) skip with a reason on a
developer machine without the service, and fail when CI=true."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI, where every service must be present."""
    if IN_CI:
        pytest.fail(f"service needed in CI is unavailable: {reason}")
    pytest.skip(reason)



# --- database URLs (persistence tests) ---------------------------------------------------

PG_ADMIN_URL = os.environ.get(
    "VENUE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
_pg_unreachable: list[str] = []  # the reason, once PostgreSQL was found unreachable


async def _pg_admin() -> asyncpg.Connection:
    """A connection to the admin database of VENUE_TEST_PG_URL (skip/fail if down)."""
    if _pg_unreachable:
        service_unavailable(_pg_unreachable[0])
    dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        return await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        _pg_unreachable.append(f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc!r}")
        service_unavailable(_pg_unreachable[0])
        raise  # not reached: service_unavailable raises


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh, empty database: a SQLite file under tmp_path, or a new database
    ``venue_test_<random>`` on the PostgreSQL server of VENUE_TEST_PG_URL, dropped after
    the test. PostgreSQL unreachable: skip, or fail when CI=true."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/venue.db"
        return
    name = f"venue_test_{secrets.token_hex(6)}"
    admin = await _pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
