"""Schema versioning: migrations on an empty database, refusal of unknown databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from venue.store import (
    SchemaError,
    SchemaState,
    Store,
    check_schema,
    head_revision,
    inspect_schema,
    make_engine,
    upgrade,
)
from venue.store.models import metadata


async def _execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_empty_database_is_not_initialised(db_url: str) -> None:
    assert (await inspect_schema(db_url)).state is SchemaState.EMPTY
    with pytest.raises(SchemaError, match="not initialised"):
        await check_schema(db_url)


async def test_upgrade_of_an_empty_database(db_url: str) -> None:
    status = await upgrade(db_url)
    assert status.state is SchemaState.CURRENT
    assert await check_schema(db_url) == head_revision()
    assert (await upgrade(db_url)).state is SchemaState.CURRENT  # idempotent


async def test_migrations_match_the_models(db_url: str) -> None:
    await upgrade(db_url)
    engine = make_engine(db_url)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_open_creates_an_empty_database(db_url: str) -> None:
    store = await Store.open(db_url)
    await store.close()
    assert await check_schema(db_url) == head_revision()


async def test_open_without_create_refuses_an_empty_database(db_url: str) -> None:
    with pytest.raises(SchemaError, match="not initialised"):
        await Store.open(db_url, create=False)


async def test_unknown_revision_is_refused(db_url: str) -> None:
    await upgrade(db_url)
    await _execute(db_url, "UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    assert (await inspect_schema(db_url)).state is SchemaState.UNKNOWN
    with pytest.raises(SchemaError, match="unknown revision ffff_from_the_future"):
        await check_schema(db_url)
    with pytest.raises(SchemaError, match="unknown revision"):
        await Store.open(db_url)
    with pytest.raises(SchemaError, match="unknown revision"):
        await upgrade(db_url)


async def test_foreign_database_is_refused(db_url: str) -> None:
    await _execute(db_url, "CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaError, match="not a venue database"):
        await Store.open(db_url)
    with pytest.raises(SchemaError, match="not a venue database"):
        await upgrade(db_url)
