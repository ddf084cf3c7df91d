"""Fresh PostgreSQL databases on the server of VENUE_TEST_PG_URL."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

from support.services import service_unavailable

PG_ADMIN_URL = os.environ.get(
    "VENUE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
_pg_unreachable: list[str] = []  # the reason, once PostgreSQL was found unreachable


def admin_dsn() -> str:
    """VENUE_TEST_PG_URL as a plain libpq DSN (for asyncpg)."""
    return PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://", 1)


async def pg_admin() -> asyncpg.Connection:
    """A connection to the admin database of VENUE_TEST_PG_URL (skip/fail if down)."""
    if _pg_unreachable:
        service_unavailable(_pg_unreachable[0])
    try:
        return await asyncpg.connect(admin_dsn(), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        _pg_unreachable.append(f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc!r}")
        service_unavailable(_pg_unreachable[0])
        raise  # not reached: service_unavailable raises


@asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[str]:
    """The URL of a new, empty database ``<prefix><random>``, dropped on exit."""
    name = f"{prefix}{secrets.token_hex(6)}"
    admin = await pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def allow_connections(url: str, allow: bool) -> None:
    """Refuse (or allow again) connections to the database of ``url``; refusing also drops
    the existing ones."""
    name = make_url(url).database
    admin = await asyncpg.connect(admin_dsn())
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
    finally:
        await admin.close()
