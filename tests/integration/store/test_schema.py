"""Schema versioning: migrations on an empty database, refusal of unknown databases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from venue.commands import AddInstrument, NewOrder
from venue.engine import MatchingEngine
from venue.instruments import Instrument
from venue.store import (
    SchemaError,
    SchemaState,
    Store,
    StoreUnavailable,
    check_schema,
    head_revision,
    inspect_schema,
    make_engine,
    sqlite_file,
    upgrade,
)
from venue.store.migrate import _config
from venue.store.models import metadata
from venue.types import OrdType, Price, Qty, Side


async def _downgrade(url: str, revision: str) -> None:
    def run(conn: Connection) -> None:
        config = _config()
        config.attributes["connection"] = conn
        command.downgrade(config, revision)

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(text(sql))]
    finally:
        await engine.dispose()


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


async def test_a_migration_that_fails_partway_leaves_the_database_as_it_was(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing, DDL included: on SQLite the tables created before the failure used to
    stay, without a revision, and every later start refused the database."""
    import alembic.op

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk gone")  # as a crash would, after the first tables

    monkeypatch.setattr(alembic.op, "drop_table", fail)  # 0003, after its create_table
    with pytest.raises(StoreUnavailable, match="migration failed: disk gone"):
        await upgrade(db_url)
    assert (await inspect_schema(db_url)).state is SchemaState.EMPTY
    monkeypatch.undo()
    assert (await upgrade(db_url)).state is SchemaState.CURRENT


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
    path = sqlite_file(db_url)
    if path is not None:
        path.touch()  # an empty SQLite file: a database without tables
    with pytest.raises(SchemaError, match="not initialised"):
        await Store.open(db_url, create=False)


async def test_open_without_create_of_a_missing_sqlite_file_creates_nothing(tmp_path: Any) -> None:
    missing = tmp_path / "never.db"
    with pytest.raises(SchemaError, match=f"^{missing}: no such database file$"):
        await Store.open(f"sqlite+aiosqlite:///{missing}", create=False)
    assert not missing.exists()


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


async def _index_names(url: str) -> set[str]:
    engine = make_engine(url)

    def names(conn: Connection) -> set[str]:
        inspector = inspect(conn)
        return {ix["name"] for table in ("events", "orders") for ix in inspector.get_indexes(table)}

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(names)
    finally:
        await engine.dispose()


async def test_a_database_at_the_first_revision_is_upgraded_with_its_rows(db_url: str) -> None:
    await upgrade(db_url, "0001_initial")
    assert "ix_orders_symbol_status" in await _index_names(db_url)
    await _execute(
        db_url,
        "INSERT INTO commands (cmd_no, ts_ns, kind, payload) VALUES (1, 5, 'new_order', '{}')",
    )
    status = await inspect_schema(db_url)
    assert (status.state, status.revision) == (SchemaState.OLDER, "0001_initial")
    with pytest.raises(SchemaError, match="older revision 0001_initial"):
        await Store.open(db_url, create=False)

    store = await Store.open(db_url)  # migrates
    try:
        assert await store.last_cmd_no() == 1
    finally:
        await store.close()
    assert await check_schema(db_url) == head_revision() == "0004_snapshot_parts"
    assert await _index_names(db_url) == {"ix_events_owner_cl_ord_id", "ix_events_ts_ns"}


async def test_stored_fix_messages_move_to_runs_and_back(db_url: str) -> None:
    session = "FIX.4.4:VENUE->C1"
    await upgrade(db_url, "0002_fewer_write_indexes")
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO fix_messages (session_id, seq, raw) VALUES (:s, :n, :r)"),
                [{"s": session, "n": n, "r": b"m%d\x01" % n} for n in (1, 2, 5)],
            )
    finally:
        await engine.dispose()

    store = await Store.open(db_url)  # migrates to the runs
    try:
        assert await store.load_fix_messages(session, 1, 0) == [
            (1, b"m1\x01"),
            (2, b"m2\x01"),
            (5, b"m5\x01"),
        ]
        store.fix_message(session, 6, b"m6\x01")
        await store.commit()
    finally:
        await store.close()

    await _downgrade(db_url, "0002_fewer_write_indexes")
    rows = await _rows(db_url, "SELECT seq, raw FROM fix_messages ORDER BY seq")
    assert [(n, bytes(r)) for n, r in rows] == [
        (1, b"m1\x01"),
        (2, b"m2\x01"),
        (5, b"m5\x01"),
        (6, b"m6\x01"),
    ]


def _resting_engine() -> MatchingEngine:
    engine = MatchingEngine()
    engine.handle(AddInstrument(1, Instrument("TEST", Decimal("0.01"))))
    for n in range(3):
        engine.handle(
            NewOrder(
                2 + n,
                "FIX.4.4:VENUE->C1",
                f"N{n}",
                "TEST",
                Side.BUY,
                OrdType.LIMIT,
                Qty(10),
                Price(100 - n),
            )
        )
    return engine


async def test_stored_snapshots_move_to_parts_and_back(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = _resting_engine().snapshot()
    text_ = snapshot.to_json()
    await upgrade(db_url, "0003_fix_message_runs")
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO snapshots (cmd_no, event_seq, created_ns, payload) "
                    "VALUES (4, :seq, 1, :text)"
                ),
                {"seq": snapshot.next_seq - 1, "text": text_},
            )
    finally:
        await engine.dispose()

    monkeypatch.setattr("venue.store.store.SNAPSHOT_PART_CHARS", 100)
    store = await Store.open(db_url)  # migrates: the stored snapshot becomes one part
    try:
        assert await store.load_snapshot() == (snapshot, 4, 0)
        await store.write_snapshot(5, snapshot)  # in parts of 100 characters
        assert await store.load_snapshot() == (snapshot, 5, 0)
    finally:
        await store.close()

    await _downgrade(db_url, "0003_fix_message_runs")
    rows = await _rows(db_url, "SELECT cmd_no, payload FROM snapshots ORDER BY id")
    assert rows == [(4, text_), (5, text_)]
