"""Schema versioning: run the packaged Alembic migrations and check a database's revision.

No ``alembic.ini`` is needed: the script location is the ``venue.migrations`` package.
A database is in one of five states (:class:`SchemaState`): empty, at head, at an older
known revision, at an unknown revision (written by newer code, or not ours), or holding
tables but no Alembic version (not a venue database).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from venue.store.errors import SchemaError, StoreUnavailable, describe

__all__ = [
    "SchemaState",
    "SchemaStatus",
    "check_schema",
    "head_revision",
    "inspect_schema",
    "upgrade",
]


class SchemaState(enum.Enum):
    EMPTY = "empty"
    CURRENT = "current"
    OLDER = "older"
    UNKNOWN = "unknown"
    FOREIGN = "foreign"


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    state: SchemaState
    revision: str | None  # the database's revision (None when empty or foreign)
    head: str  # the revision this code expects

    def explain(self, where: str) -> str:
        """A one-line, operator-facing explanation of the state."""
        match self.state:
            case SchemaState.EMPTY:
                return f"{where}: database is not initialised (no venue tables)"
            case SchemaState.CURRENT:
                return f"{where}: schema at revision {self.revision} (current)"
            case SchemaState.OLDER:
                return (
                    f"{where}: schema at older revision {self.revision}, this venue needs "
                    f"{self.head}; run the migrations (venue.store.upgrade) first"
                )
            case SchemaState.UNKNOWN:
                return (
                    f"{where}: schema at unknown revision {self.revision} (this venue knows "
                    f"up to {self.head}); it was written by a newer venue or another "
                    "application: refusing to touch it"
                )
            case SchemaState.FOREIGN:
                return (
                    f"{where}: database holds tables but no alembic_version: it is not a "
                    "venue database; refusing to touch it"
                )


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("venue.migrations")))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    """The newest revision the packaged migrations know."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _status(connection: Connection) -> SchemaStatus:
    head = head_revision()
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        return SchemaStatus(SchemaState.FOREIGN if tables else SchemaState.EMPTY, None, head)
    if current == head:
        return SchemaStatus(SchemaState.CURRENT, current, head)
    script = ScriptDirectory.from_config(_config())
    try:
        known = script.get_revision(current) is not None
    except Exception:
        known = False
    return SchemaStatus(SchemaState.OLDER if known else SchemaState.UNKNOWN, current, head)


def _upgrade(connection: Connection, revision: str) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _where(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=True)


@asynccontextmanager
async def _engine(url_or_engine: str | AsyncEngine) -> AsyncIterator[AsyncEngine]:
    if isinstance(url_or_engine, AsyncEngine):
        yield url_or_engine
        return
    from venue.store.store import make_engine

    engine = make_engine(url_or_engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def inspect_schema(url_or_engine: str | AsyncEngine) -> SchemaStatus:
    """Report the database's schema state without changing anything."""
    async with _engine(url_or_engine) as engine:
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(_status)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailable(
                f"{_where(engine)}: cannot reach the database: {describe(exc)}"
            ) from exc


async def check_schema(url_or_engine: str | AsyncEngine) -> str:
    """Check that the database is at the revision this code expects.

    Returns:
        The revision.

    Raises:
        SchemaError: the database is empty, older, at an unknown revision, or not ours.
        StoreUnavailable: the database cannot be reached.
    """
    async with _engine(url_or_engine) as engine:
        status = await inspect_schema(engine)
        if status.state is not SchemaState.CURRENT:
            raise SchemaError(status.explain(_where(engine)))
        assert status.revision is not None
        return status.revision


async def upgrade(url_or_engine: str | AsyncEngine, revision: str = "head") -> SchemaStatus:
    """Run the migrations up to ``revision`` (an empty database gets the whole schema).

    Refuses (SchemaError) a database at an unknown revision or one that is not a venue
    database. The migration runs in one transaction, DDL included (on SQLite, with an
    explicit BEGIN), so a crash or an error leaves the database as it was.

    Returns:
        The schema status after the upgrade.
    """
    async with _engine(url_or_engine) as engine:
        where = _where(engine)
        status = await inspect_schema(engine)
        if status.state in (SchemaState.UNKNOWN, SchemaState.FOREIGN):
            raise SchemaError(status.explain(where))
        try:
            async with engine.begin() as conn:
                if conn.dialect.name == "sqlite":
                    # Python's sqlite3 opens a transaction before DML only: DDL would commit
                    # statement by statement, and a crash in between left tables that no
                    # revision describes (refused at every later start).
                    await conn.exec_driver_sql("BEGIN")
                await conn.run_sync(_upgrade, revision)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailable(f"{where}: migration failed: {describe(exc)}") from exc
        return await inspect_schema(engine)
