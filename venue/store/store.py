"""The venue's durable store: command and event journal, order/trade tables, engine
snapshots, FIX session state and outbound messages, over SQLAlchemy async.

One :class:`Store` per venue process. Writes are *buffered* by cheap synchronous calls
(:meth:`Store.journal`, :meth:`Store.fix_message` ...) and made durable together, one
transaction per batch (group commit): at the end of each loop turn the runtime calls
:meth:`Store.commit_then` with what sends the turn's ExecutionReports and FIX messages, and
the store calls it once they are durable (journal before acknowledge); :meth:`Store.commit`
is the same for a coroutine. Callers arriving while a transaction is in flight share the
next one, which starts as soon as the first ends.

SQLite (``sqlite+aiosqlite:///path``, the default) runs in WAL mode with
``synchronous=FULL``: a returned commit has been fsynced, so it survives power loss as
well as a killed process; the batch writes run in a writer process of the store
(:mod:`venue.store.writer`), reads through SQLAlchemy. PostgreSQL
(``postgresql+asyncpg://...``) uses the same code, with the batch as one statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeVar, cast

import orjson
from asyncpg import IntegrityConstraintViolationError as _PgIntegrityError
from asyncpg import InterfaceError as _PgInterfaceError
from asyncpg import InternalClientError as _PgClientError
from asyncpg import PostgresConnectionError as _PgConnectionError
from asyncpg import PostgresError as _PgError
from sqlalchemy import BigInteger, Integer, LargeBinary, Table, event, func, select
from sqlalchemy import text as sa_text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from venue.commands import Command
from venue.events import Event
from venue.instruments import Instrument
from venue.store import models
from venue.store.checkpoint import Checkpointer
from venue.store.codec import CodecError, decode_command
from venue.store.errors import (
    RecoveryError,
    SchemaError,
    StoreError,
    StoreInUse,
    StoreUnavailable,
    describe,
)
from venue.store.migrate import SchemaState, inspect_schema, upgrade
from venue.store.rows import (
    COMMAND_COLUMNS,
    EVENT_COLUMNS,
    INSTRUMENT_COLUMNS,
    ORDER_COLUMNS,
    TRADE_COLUMNS,
    TupleRows,
    build_tuples,
    event_keys,
    instrument_row,
)
from venue.store.writer import WriterLost, WriterProcess, settle, write_batch
from venue.types import OrdStatus, Price, TradingStatus

if TYPE_CHECKING:
    from venue.snapshot import EngineSnapshot

__all__ = [
    "LIVE_STATUSES",
    "EngineState",
    "FixSessionRecord",
    "OrderRecord",
    "SessionEventRecord",
    "Store",
    "StoreStats",
    "make_engine",
]

log = logging.getLogger(__name__)

SqliteSync = Literal["FULL", "NORMAL", "EXTRA"]

LIVE_STATUSES: tuple[str, ...] = (
    OrdStatus.NEW.value,
    OrdStatus.PARTIALLY_FILLED.value,
    OrdStatus.PENDING_NEW.value,
)
"""Order statuses of orders still working (on the book or waiting as stops)."""

_T = TypeVar("_T")

SNAPSHOT_PART_CHARS = 1 << 20
"""A stored snapshot's text is split into parts of this many characters, one transaction
each: a SQLite group commit waits for one part at most, not for the whole text."""

_PRUNE_PARTS = 8  # parts of dropped snapshots deleted per transaction

# A snapshot's writes, outside the group commit: the same text on SQLite (sqlite3's named
# parameters) and on PostgreSQL (SQLAlchemy ``text()``).
_SNAPSHOT_SQL = {
    "begin": "INSERT INTO snapshots (id, cmd_no, event_seq, created_ns, parts) "
    "VALUES (:id, :cmd_no, :event_seq, :created_ns, NULL)",
    "part": "INSERT INTO snapshot_parts (snapshot_id, part, text) "
    "VALUES (:snapshot_id, :part, :text)",
    "complete": "UPDATE snapshots SET parts = :parts WHERE id = :id",
    "prune": "DELETE FROM snapshots WHERE id NOT IN (SELECT id FROM snapshots "
    "WHERE parts IS NOT NULL ORDER BY cmd_no DESC, id DESC LIMIT :keep)",
    "drop_part": "DELETE FROM snapshot_parts WHERE snapshot_id = :snapshot_id AND part = :part",
}

Committed = Callable[[StoreError | None], None]
"""A :meth:`Store.commit_then` callback: None when durable, else the error."""


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


_instruments = _table(models.InstrumentRow)
_commands = _table(models.CommandRow)
_events = _table(models.EventRow)
_orders = _table(models.OrderRow)
_trades = _table(models.TradeRow)
_snapshots = _table(models.SnapshotRow)
_snapshot_parts = _table(models.SnapshotPartRow)
_fix_sessions = _table(models.FixSessionRow)
_fix_message_runs = _table(models.FixMessageRunRow)
_fix_session_events = _table(models.FixSessionEventRow)


# --- the batch write's SQL (fixed text, tuple parameters) ----------------------------------

_WRITES: dict[str, tuple[Table, tuple[str, ...], tuple[str, ...] | None, tuple[str, ...]]] = {
    # name: (table, columns, conflict keys for an upsert or None, columns kept on conflict)
    "commands": (_commands, COMMAND_COLUMNS, None, ()),
    "events": (_events, EVENT_COLUMNS, None, ()),
    "trades": (_trades, TRADE_COLUMNS, None, ()),
    "orders": (_orders, ORDER_COLUMNS, ("order_id",), ("entered_ns",)),
    "instruments": (_instruments, INSTRUMENT_COLUMNS, ("symbol",), ()),
    "fix_message_runs": (
        _fix_message_runs,
        ("session_id", "first_seq", "last_seq", "sizes", "raw"),
        None,
        (),
    ),
    "fix_sessions": (
        _fix_sessions,
        ("session_id", "next_sender_seq", "next_target_seq", "creation_time_ns"),
        ("session_id",),
        (),
    ),
    "fix_session_events": (
        _fix_session_events,
        ("session_id", "ts_ns", "kind", "detail"),
        None,
        (),
    ),
}


def _check_columns() -> None:
    """The fixed column lists must name real columns (and every column but ``id``)."""
    for name, (table, cols, _keys, _keep) in _WRITES.items():
        have = [c.name for c in table.columns if not (c.name == "id" and c.autoincrement)]
        if sorted(have) != sorted(cols):
            raise SchemaError(f"store: column list of {name} does not match the model")


_check_columns()


def _on_conflict(cols: Sequence[str], keys: Sequence[str] | None, keep: Sequence[str]) -> str:
    if keys is None:
        return ""
    skip = set(keys) | set(keep)
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in skip)
    return f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"


def _sqlite_sql() -> dict[str, str]:
    out = {}
    for name, (table, cols, keys, keep) in _WRITES.items():
        marks = ", ".join("?" * len(cols))
        out[name] = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})" + _on_conflict(
            cols, keys, keep
        )
    out["instrument_status"] = f"UPDATE {_instruments.name} SET status = ? WHERE symbol = ?"
    out["fix_resets"] = f"DELETE FROM {_fix_message_runs.name} WHERE session_id = ?"
    return out


_SQLITE = _sqlite_sql()

_JOURNAL = ("commands", "events", "trades")

_SQLITE_REPLAY = {
    name: sql.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
    for name, sql in _SQLITE.items()
    if name in _JOURNAL
}
"""The journal inserts for a batch that may already be committed: the writer process died
or its answer was lost after it sent COMMIT (PostgreSQL, ``_pg_with(replay=True)``: the
connection was lost with the statement sent). The retried rows are the same rows, so the
ones already there are skipped instead of failing the batch on its primary keys."""


def _pg_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    if isinstance(kind, BigInteger):
        return "bigint"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, LargeBinary):
        return "bytea"
    return "text"


def _pg_column(table: Table, column: str, i: int) -> str:
    """Column ``i`` of a row ``r`` of the batch's JSON array, as the column's type."""
    kind = _pg_type(table, column)
    if kind == "bytea":
        return f"decode(r->>{i}, 'hex')"
    if kind == "text":
        return f"r->>{i}"
    return f"(r->>{i})::{kind}"


def _pg_with(parts: Sequence[str], replay: bool = False) -> str:
    """One statement writing every part: ``WITH w0 AS (INSERT ... SELECT ... FROM
    jsonb_array_elements(...)), w1 AS (...) SELECT 1``.

    Each part is one parameter: its rows as one JSON array of arrays (UTF-8 bytes, bytea
    values as hex). The server parses it, on its own core. Binding one array parameter per
    column instead made asyncpg check and encode every element on the venue's event loop:
    over a quarter of the venue's CPU under load (benchmarks/README.md).

    ``replay``: the journal inserts skip the rows already there (``ON CONFLICT DO NOTHING``),
    for a batch that may already be committed (see ``_SQLITE_REPLAY``); the other parts are
    upserts already."""
    ctes: list[str] = []
    for n, name in enumerate(parts, start=1):
        rows = f"jsonb_array_elements(convert_from(${n}::bytea, 'UTF8')::jsonb) AS t(r)"
        if name == "instrument_status":
            sql = (
                f"UPDATE {_instruments.name} AS i SET status = r->>1 FROM {rows} "
                "WHERE i.symbol = r->>0"
            )
        else:
            table, cols, keys, keep = _WRITES[name]
            values = ", ".join(_pg_column(table, c, i) for i, c in enumerate(cols))
            conflict = _on_conflict(cols, keys, keep)
            if replay and name in _JOURNAL:
                conflict = " ON CONFLICT DO NOTHING"
            sql = f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {values} FROM {rows}"
            sql += conflict
        ctes.append(f"w{len(ctes)} AS ({sql})")
    return "WITH " + ", ".join(ctes) + " SELECT 1"


def _json_rows(rows: Any) -> bytes:
    """Rows as one JSON array (orjson; the standard encoder for integers beyond 64 bits)."""
    try:
        return orjson.dumps(rows)
    except TypeError:
        return json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()


def _message_runs(
    messages: dict[tuple[str, int], bytes],
) -> list[tuple[str, int, int, str, bytes]]:
    """A batch's outbound messages as ``fix_message_runs`` rows: per session, each run of
    consecutive MsgSeqNums as (session, first, last, sizes, the messages concatenated)."""
    runs: list[tuple[str, int, int, str, bytes]] = []
    session: str | None = None
    first = last = 0
    sizes: list[str] = []
    raws: list[bytes] = []
    for (sid, seq), raw in sorted(messages.items()):
        if sid != session or seq != last + 1:
            if session is not None:
                runs.append((session, first, last, ",".join(sizes), b"".join(raws)))
            session, first, sizes, raws = sid, seq, [], []
        last = seq
        sizes.append(str(len(raw)))
        raws.append(raw)
    if session is not None:
        runs.append((session, first, last, ",".join(sizes), b"".join(raws)))
    return runs


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, None for another backend, ``:memory:`` or a
    ``file:`` URI."""
    try:
        sa_url = make_url(url)
    except ArgumentError:
        return None  # make_engine() says what is wrong with it
    database = sa_url.database or ""
    if sa_url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or sa_url.query.get("uri"):
        return None
    return Path(database).expanduser()


def is_in_memory_sqlite(url: str) -> bool:
    """A SQLite URL without a file (``sqlite+aiosqlite:///``, ``:memory:``, ``mode=memory``):
    a store that keeps nothing once its process ends."""
    try:
        sa_url = make_url(url)
    except ArgumentError:
        return False
    database = sa_url.database or ""
    return sa_url.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or "mode=memory" in database
        or sa_url.query.get("mode") == "memory"
    )


def make_engine(
    url: str,
    *,
    sqlite_synchronous: SqliteSync = "FULL",
    sqlite_autocheckpoint: bool = True,
) -> AsyncEngine:
    """An AsyncEngine for a storage URL, with the venue's connection settings.

    SQLite: the parent directory is created; every connection gets
    ``journal_mode=WAL``, ``synchronous=<sqlite_synchronous>`` and a 10 s busy timeout.
    With ``sqlite_autocheckpoint=False`` also ``wal_autocheckpoint=0``: the caller must
    checkpoint the WAL itself (``Store`` runs a :class:`~venue.store.checkpoint.Checkpointer`).
    PostgreSQL: a pooled connection the server has closed is replaced at checkout (a
    restarted server is survived) and connecting times out after 10 s.
    """
    try:
        sa_url = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"{url!r} is not a database URL: {_URL_FORMS}") from exc
    # from the URL's text: get_driver_name() loads the dialect (an unknown one raises)
    backend, _, driver = sa_url.drivername.partition("+")
    if not driver or _DRIVERS.get(backend) != driver:
        raise StoreError(f"unsupported storage URL {url!r}: {_URL_FORMS}")
    if backend == "sqlite":
        database = sa_url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"{url}: cannot create {folder}: {exc.strerror}") from exc
        # No pool reset on return (a ROLLBACK, i.e. one more hop into the aiosqlite thread
        # per checkout): SQLAlchemy connections end their own transactions, and the store's
        # direct write path (writer.write_batch) ends its own with COMMIT or ROLLBACK.
        engine = create_async_engine(sa_url, pool_reset_on_return=None)

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cursor.execute("PRAGMA busy_timeout=10000")
            if not sqlite_autocheckpoint:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    if backend == "postgresql":
        engine = create_async_engine(sa_url, connect_args={"timeout": 10, "command_timeout": 60})

        def closed_check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            # Instead of pool_pre_ping (three round trips per checkout with asyncpg: BEGIN,
            # ping, ROLLBACK; once per group commit): a connection the server has closed
            # (restart, terminate) is seen as closed by asyncpg and replaced here.
            driver = getattr(dbapi_connection, "driver_connection", None)
            is_closed = getattr(driver, "is_closed", None)
            if is_closed is not None and is_closed():
                raise DisconnectionError("connection closed by the server")

        event.listen(engine.sync_engine, "checkout", closed_check)
        return engine
    raise StoreError(f"unsupported storage URL {url!r}: {_URL_FORMS}")  # pragma: no cover


_DRIVERS: Final = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
_PG_CLAIM_KEY: Final = 0x76656E7565  # "venue": the advisory lock of the venue on a database
_PG_WRITE_TIMEOUT: Final = 5.0
"""Seconds a batch may take on PostgreSQL (a few ms normally) before the link counts as lost:
a server that stops answering (network blackhole) would otherwise hold every acknowledgement
for asyncpg's command_timeout (60 s, kept for long reads)."""
_URL_FORMS: Final = "use sqlite+aiosqlite:///<file> or postgresql+asyncpg://<user>@<host>/<db>"


# --- records returned by reads -----------------------------------------------------------


class EngineState(NamedTuple):
    """What recovery needs: the latest snapshot, the commands after it, the last seq."""

    snapshot: EngineSnapshot | None
    commands: list[tuple[int, Command]]
    last_event_seq: int


@dataclass(frozen=True, slots=True)
class FixSessionRecord:
    session_id: str
    next_sender_seq: int
    next_target_seq: int
    creation_time_ns: int


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One row of the ``orders`` table (enums as their FIX values, prices in ticks)."""

    order_id: int
    owner: str
    cl_ord_id: str
    account: str
    symbol: str
    side: str
    ord_type: str
    tif: str
    qty: int
    price: int | None
    stop_price: int | None
    expire_ns: int | None
    status: str
    cum_qty: int
    leaves_qty: int
    cum_notional: int
    entered_ns: int
    updated_ns: int
    last_seq: int


#: Journal event kinds whose ClOrdID a NewOrderSingle or a replace used up.
_CL_ORD_ID_KINDS: Final = ("accepted", "replaced", "rejected")


@dataclass(frozen=True, slots=True)
class SessionEventRecord:
    session_id: str
    ts_ns: int
    kind: str
    detail: str


@dataclass(slots=True)
class StoreStats:
    """Counters since :meth:`Store.open` (for tests, benchmarks and health output)."""

    transactions: int = 0  # committed write transactions of commit()
    failed_commits: int = 0
    commands: int = 0
    events: int = 0
    fix_messages: int = 0
    commit_seconds: float = 0.0  # total time inside write transactions


# --- the write buffer ---------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    """Writes buffered since the last commit took the buffer."""

    journal: list[tuple[int, Command, list[Event]]] = field(default_factory=list)
    fix_states: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    fix_messages: dict[tuple[str, int], bytes] = field(default_factory=dict)
    fix_resets: set[str] = field(default_factory=set)  # applied before fix_messages
    session_events: list[tuple[str, int, str, str]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.journal
            or self.fix_states
            or self.fix_messages
            or self.fix_resets
            or self.session_events
        )

    def absorb_older(self, older: _Batch) -> None:
        """Put a failed, older batch back in front of this one (newer writes win)."""
        self.journal[:0] = older.journal
        self.fix_states = {**older.fix_states, **self.fix_states}
        kept = {k: v for k, v in older.fix_messages.items() if k[0] not in self.fix_resets}
        self.fix_messages = {**kept, **self.fix_messages}
        self.fix_resets |= older.fix_resets
        self.session_events[:0] = older.session_events


_DB_ERRORS = (
    SQLAlchemyError,
    sqlite3.Error,
    _PgError,
    _PgInterfaceError,
    _PgClientError,  # e.g. a connection the server terminated under an operation
    OSError,
    TimeoutError,
)
"""Exceptions of a write: SQLAlchemy's, and the drivers' own on the direct write path."""


def _classify(exc: BaseException, what: str, where: str) -> StoreError:
    """Map a driver exception to StoreUnavailable (retryable) or StoreError."""
    if isinstance(exc, IntegrityError | sqlite3.IntegrityError | _PgIntegrityError):
        orig = getattr(exc, "orig", None) or exc
        return StoreError(f"{where}: {what}: integrity violation (duplicate cmd_no/seq?): {orig}")
    detail = getattr(exc, "orig", None) or exc
    return StoreUnavailable(f"{where}: {what}: database unavailable: {describe(detail)}")


class Store:
    """The venue's persistence, one per process. Create with :meth:`Store.open`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._where = engine.url.render_as_string(hide_password=True)
        dialect = engine.dialect.name
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._buffer = _Batch()
        self._gen = 0  # number of the batch being filled
        self._durable = 0  # every batch numbered below this is committed
        self._inflight_batch: _Batch | None = None  # the batch being written
        self._flush_task: asyncio.Task[None] | None = None  # writing it, if not the writer's
        self._waiting: deque[tuple[int, Committed]] = deque()  # (batch number, callback)
        self._start_scheduled = False
        self._closed = False
        self.stats = StoreStats()
        self._upserts = self._build_upserts()
        self._pg = dialect == "postgresql"
        self._pg_sql: dict[tuple[tuple[str, ...], bool], str] = {}
        self._pg_conn: AsyncConnection | None = None  # PostgreSQL: kept for the batches
        self._pg_driver: Any = None  # its asyncpg connection
        self._exclusive = False  # PostgreSQL: the kept connection holds the venue's lock
        self._failures = 0  # commits failed in a row (the outage is logged once)
        self._checkpointer: Checkpointer | None = None  # SQLite file: WAL checkpoints
        self._writer: WriterProcess | None = None  # SQLite file: the batch writes
        self._outcome_unknown = False  # the last batch may be committed (its answer lost)
        self._snapshot_lock = asyncio.Lock()  # one snapshot write at a time

    # --- lifecycle -------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        create: bool = True,
        exclusive: bool = False,
        sqlite_synchronous: SqliteSync = "FULL",
        sqlite_checkpoint: Literal["background", "auto"] = "background",
    ) -> Store:
        """Connect, check the schema, and return a store.

        Args:
            url: SQLAlchemy URL (``sqlite+aiosqlite:///venue.db``,
                ``postgresql+asyncpg://user@host/db``).
            create: migrate an empty database (or one at an older known revision) to the
                current schema. With False such a database raises SchemaError.
            sqlite_synchronous: SQLite's ``synchronous`` pragma; FULL (default) makes every
                commit survive power loss, NORMAL only a process crash.
            sqlite_checkpoint: ``background`` (default): WAL checkpoints run in a thread of
                their own, never inside a commit (see ``venue.store.checkpoint``);
                ``auto``: SQLite's automatic checkpoint inside the commit that takes the
                WAL past 1000 pages (for comparison).

        Raises:
            StoreUnavailable: the database cannot be reached.
            SchemaError: the database is at an unknown revision, not a venue database, or
                (create=False) not at the current revision.
            StoreInUse: (exclusive, PostgreSQL) another venue holds the database.
        """
        sqlite_path = sqlite_file(url)
        db_file = sqlite_path if sqlite_checkpoint == "background" else None
        engine = make_engine(
            url, sqlite_synchronous=sqlite_synchronous, sqlite_autocheckpoint=db_file is None
        )
        store = cls(engine)
        try:
            if not create and sqlite_path is not None and not sqlite_path.exists():
                # connecting would leave an empty file behind
                raise SchemaError(f"{sqlite_path}: no such database file")
            if exclusive and store._pg:
                store._exclusive = True
                await store._connect_pg()  # before the schema: two venues never both migrate
            status = await inspect_schema(engine)
            if status.state is not SchemaState.CURRENT:
                if not create or status.state in (SchemaState.UNKNOWN, SchemaState.FOREIGN):
                    raise SchemaError(status.explain(engine.url.render_as_string()))
                log.info("store: migrating %s from %s", status.state.value, status.revision)
                await upgrade(engine)
        except BaseException:
            await store._drop_pg_conn()
            await engine.dispose()
            raise
        if db_file is not None:
            store._checkpointer = Checkpointer(db_file).start()
        if sqlite_path is not None:
            pragmas = [
                "PRAGMA journal_mode=WAL",
                f"PRAGMA synchronous={sqlite_synchronous}",
                "PRAGMA busy_timeout=10000",
            ]
            if db_file is not None:
                pragmas.append("PRAGMA wal_autocheckpoint=0")
            store._writer = WriterProcess(str(sqlite_path), pragmas)
        return store

    async def close(self, *, commit: bool = True) -> None:
        """Commit what is buffered (unless ``commit`` is False: it is dropped, as a crash
        would), then release the connections and the writer process.

        Raises:
            StoreUnavailable: the final commit failed (the connections are released anyway).
        """
        if self._closed:
            return
        try:
            if commit and self.pending:
                await self.commit()
            elif not commit and self._flush_task is not None:
                self._flush_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flush_task
        finally:
            self._closed = True
            checkpointer, self._checkpointer = self._checkpointer, None
            if checkpointer is not None:
                await asyncio.to_thread(checkpointer.stop)
            writer, self._writer = self._writer, None
            if writer is not None:
                await writer.close()
            if self._pg_conn is not None:
                await self._drop_pg_conn()
            await self._engine.dispose()

    @property
    def checkpointer(self) -> Checkpointer | None:
        """The background WAL checkpointer (SQLite file), None otherwise or once closed."""
        return self._checkpointer

    @property
    def writer(self) -> WriterProcess | None:
        """The SQLite writer process's handle (SQLite file), None otherwise or once closed."""
        return self._writer

    @property
    def engine(self) -> AsyncEngine:
        """The underlying engine (for reports and tests)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    # --- buffered writes (no I/O) ------------------------------------------------------------

    def journal(self, cmd_no: int, cmd: Command, events: list[Event]) -> None:
        """Buffer a handled command and the events it produced (rows are built at commit)."""
        self._buffer.journal.append((cmd_no, cmd, events))

    def fix_state(
        self, session_id: str, next_sender: int, next_target: int, creation_time_ns: int
    ) -> None:
        """Buffer a FIX session's sequence numbers (the last call of a batch wins)."""
        self._buffer.fix_states[session_id] = (next_sender, next_target, creation_time_ns)

    def fix_message(self, session_id: str, seq: int, raw: bytes) -> None:
        """Buffer an outbound FIX message, kept for resend."""
        self._buffer.fix_messages[(session_id, seq)] = raw

    def fix_reset(self, session_id: str, creation_time_ns: int) -> None:
        """Buffer a session reset: its stored messages go, both numbers return to 1."""
        buf = self._buffer
        buf.fix_messages = {k: v for k, v in buf.fix_messages.items() if k[0] != session_id}
        buf.fix_resets.add(session_id)
        buf.fix_states[session_id] = (1, 1, creation_time_ns)

    def session_event(self, session_id: str, ts_ns: int, kind: str, detail: str) -> None:
        """Buffer a FIX session lifecycle event (logon, logout, disconnect, reject ...)."""
        self._buffer.session_events.append((session_id, ts_ns, kind, detail))

    @property
    def pending(self) -> bool:
        """True when something is buffered or being committed."""
        return not self._buffer.empty() or self._inflight_batch is not None

    # --- group commit --------------------------------------------------------------------------

    def poll_commits(self) -> bool:
        """Complete, now, the commits whose outcome has already arrived (SQLite writer
        process): their ``commit_then`` callbacks run inside the caller's loop turn. A no-op
        for the other databases, whose outcome comes through a task.

        Returns True when a ``commit_then`` now would start its transaction at once (the
        SQLite writer process is idle): the caller may commit what it has so far instead of
        letting the writer wait for the end of its turn."""
        writer = self._writer
        if writer is None:
            return False
        writer.poll()
        return self._inflight_batch is None and writer.ready

    def commit_then(self, done: Committed) -> None:
        """Call ``done`` once everything buffered before this call is durable: with None,
        or with the error of the transaction that failed to store it.

        A transaction starts now if none is in flight, else the next one starts as soon as
        it ends: call this at the end of a loop turn, when the turn's writes are buffered.
        ``done`` may run before this returns (nothing to wait for); otherwise it runs from
        the event loop's callback that learns the outcome, so with the SQLite writer no
        task stands between the commit and what ``done`` does (e.g. writing the
        ExecutionReports).

        Raises:
            StoreError: the store is closed.
        """
        if not self._wait_for_buffered(done):
            done(None)
        elif self._inflight_batch is None:
            self._start_flush()

    async def commit(self) -> None:
        """Make everything buffered before this call durable, in as few transactions as
        possible.

        Callers arriving while a transaction is in flight wait for it and then share the
        next one; callers of one loop turn share one. Cancelling a caller does not cancel
        the transaction it waits on.

        Raises:
            StoreUnavailable: the database is down, full or read-only. The batch is put
                back into the buffer, so a later commit retries it.
            StoreError: any other write failure (e.g. a duplicate cmd_no); the batch is
                kept as well.
        """
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[None] = loop.create_future()
        if not self._wait_for_buffered(settle(outcome)):
            return
        if self._inflight_batch is None and not self._start_scheduled:
            # at the end of this loop turn: the other callers of the turn share the batch
            self._start_scheduled = True
            loop.call_soon(self._start_if_idle)
        await outcome

    def _wait_for_buffered(self, done: Committed) -> bool:
        """Queue ``done`` for the batch holding the last buffered write; False (nothing
        queued) when every buffered write is durable already."""
        if self._closed:
            raise StoreError(f"{self._where}: store is closed")
        target = self._gen if not self._buffer.empty() else self._gen - 1
        if self._durable > target:
            return False
        self._waiting.append((target, done))
        return True

    def _start_if_idle(self) -> None:
        self._start_scheduled = False
        if self._inflight_batch is None and self._waiting and not self._closed:
            self._start_flush()

    def _start_flush(self) -> None:
        """Take the buffer and start writing it in one transaction; its outcome goes to
        :meth:`_written`. The SQLite writer process is sent the batch right here; other
        databases (or a writer to restart) write it from a task, which, while a batch of
        its own is being answered, takes the buffer itself once that is done."""
        writer = self._writer
        if writer is None or not writer.ready:
            if self._flush_task is None:
                gen, batch = self._take_buffer()
                task = asyncio.get_running_loop().create_task(self._flush(gen, batch))
                self._flush_task = task
            return
        gen, batch = self._take_buffer()
        started = time.perf_counter()
        try:
            rows = build_tuples(batch.journal)
            plan = self._sqlite_plan(batch, rows)
            writer.send(plan, lambda error: self._written(gen, batch, rows, started, error))
        except Exception as exc:
            self._written(gen, batch, None, started, exc)

    def _take_buffer(self) -> tuple[int, _Batch]:
        """The buffer becomes the batch in flight; returns its number and the batch."""
        batch, self._buffer = self._buffer, _Batch()
        gen = self._gen
        self._gen += 1
        self._inflight_batch = batch
        return gen, batch

    async def _flush(self, gen: int, batch: _Batch) -> None:
        """Write batches from a task (PostgreSQL, SQLite without the writer process): this
        one, then, while callers wait, each next one in the same task step that learns the
        previous outcome. A new task would start at the loop's next turn, after everything
        that turn holds (long reads of orders), and every batch waited for that twice.
        After a failure the next attempt goes through a new task, so a retry always waits
        for a loop turn."""
        while True:
            rows: TupleRows | None = None
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                rows = build_tuples(batch.journal)
                # SQLAlchemy's connections (pool, invalidation, commit event), but the
                # driver connection is used directly, see _write_sqlite and _write_pg
                if self._pg:
                    await self._write_pg(batch, rows)
                else:
                    await self._write_sqlite(batch, rows)
            except BaseException as exc:  # cancelled too: the batch goes back to the buffer
                error = exc
            if error is not None:
                self._flush_task = None
                self._written(gen, batch, rows, started, error)
                if not isinstance(error, Exception):
                    raise error
                return
            self._written(gen, batch, rows, started, None, start_next=False)
            if not self._waiting or self._inflight_batch is not None or self._closed:
                self._flush_task = None
                return
            writer = self._writer
            if writer is not None and writer.ready:  # a restarted writer takes it from here
                self._flush_task = None
                self._start_flush()
                return
            gen, batch = self._take_buffer()

    def _written(
        self,
        gen: int,
        batch: _Batch,
        rows: TupleRows | None,
        started: float,
        exc: BaseException | None,
        *,
        start_next: bool = True,
    ) -> None:
        """A batch's outcome: count it or put it back, answer its waiters, start the next
        (unless ``start_next`` is False: the caller does)."""
        self._inflight_batch = None
        failure: StoreError | None = None
        if isinstance(exc, WriterLost):
            self._outcome_unknown = True
        if exc is None and rows is not None:
            if self._failures:
                log.info("store: committing again after %d failed attempts", self._failures)
                self._failures = 0
            self._outcome_unknown = False
            self._durable = gen + 1
            stats = self.stats
            stats.commit_seconds += time.perf_counter() - started
            stats.transactions += 1
            stats.commands += len(rows.commands)
            stats.events += len(rows.events)
            stats.fix_messages += len(batch.fix_messages)
        else:
            if isinstance(exc, StoreError):
                failure = exc
            elif isinstance(exc, _DB_ERRORS):
                failure = _classify(exc, "commit", self._where)
                failure.__cause__ = exc
            else:
                failure = StoreError(f"{self._where}: commit: {type(exc).__name__}: {exc}")
                failure.__cause__ = exc
            self._fail(batch, failure)
        waiting = self._waiting
        while waiting and waiting[0][0] <= gen:
            _, done = waiting.popleft()
            try:
                done(failure)
            except Exception:  # one waiter's failure is not the store's
                log.exception("store: commit callback failed")
        if start_next and waiting and self._inflight_batch is None and not self._closed:
            self._start_flush()  # the waiters of the next batch: at once, no loop turn

    def _fail(self, batch: _Batch, error: StoreError) -> None:
        self._failures += 1
        if self._failures == 1:  # an outage is logged once, not at every retry
            log.error("%s", error)
        else:
            log.debug("%s (failure %d in a row)", error, self._failures)
        self.stats.failed_commits += 1
        self._buffer.absorb_older(batch)

    def _build_upserts(self) -> dict[str, Any]:
        ins = self._insert

        def upsert(table: Table, keys: Sequence[str], keep: Sequence[str] = ()) -> Any:
            stmt = ins(table)
            skip = set(keys) | set(keep)
            return stmt.on_conflict_do_update(
                index_elements=list(keys),
                set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in skip},
            )

        return {
            "orders": upsert(_orders, ["order_id"], ["entered_ns"]),
            "instruments": upsert(_instruments, ["symbol"]),
            "fix_sessions": upsert(_fix_sessions, ["session_id"]),
        }

    # --- the write of one batch ------------------------------------------------------------
    #
    # The hot path bypasses SQLAlchemy statement compilation and per-row parameter
    # processing: rows are tuples (rows.build_tuples) bound to fixed SQL.
    # SQLite file: the whole batch goes to the writer process (venue/store/writer.py), which
    # runs BEGIN, every executemany and COMMIT on its own core and GIL. SQLite without a
    # file (":memory:", URIs): ONE call into the aiosqlite worker thread doing the same.
    # PostgreSQL: the whole batch is ONE statement (data-modifying CTEs, one JSON array
    # parameter per table), i.e. one round trip, atomic on its own (no BEGIN/COMMIT); a session
    # reset adds a DELETE before it in an explicit transaction. The batches go through one
    # connection the store keeps checked out (no pool checkout, transaction object or reset
    # per batch: 5 % more throughput end to end); one that fails is invalidated and the next
    # batch checks out another.

    def _sqlite_plan(self, batch: _Batch, rows: TupleRows) -> list[tuple[str, list[Any]]]:
        q = {**_SQLITE, **_SQLITE_REPLAY} if self._outcome_unknown else _SQLITE
        plan: list[tuple[str, list[Any]]] = []
        if rows.commands:
            plan.append((q["commands"], rows.commands))
        if rows.events:
            plan.append((q["events"], rows.events))
        if rows.trades:
            plan.append((q["trades"], rows.trades))
        if rows.orders:
            plan.append((q["orders"], list(rows.orders.values())))
        if rows.instruments:
            plan.append(
                (
                    q["instruments"],
                    [tuple(r[c] for c in INSTRUMENT_COLUMNS) for r in rows.instruments.values()],
                )
            )
        if rows.instrument_status:
            plan.append(
                (q["instrument_status"], [(v, s) for s, v in rows.instrument_status.items()])
            )
        if batch.fix_resets:
            plan.append((q["fix_resets"], [(s,) for s in batch.fix_resets]))
        if batch.fix_messages:
            plan.append((q["fix_message_runs"], _message_runs(batch.fix_messages)))
        if batch.fix_states:
            plan.append((q["fix_sessions"], [(s, *v) for s, v in batch.fix_states.items()]))
        if batch.session_events:
            plan.append((q["fix_session_events"], batch.session_events))
        return plan

    async def _write_sqlite(self, batch: _Batch, rows: TupleRows) -> None:
        plan = self._sqlite_plan(batch, rows)
        if self._writer is not None:
            await self._writer.write(plan)  # (re)starts it; _written notes a lost answer
            return
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            run = getattr(driver, "_execute", None)  # aiosqlite: call fn in its worker thread
            db = getattr(driver, "_conn", None)
            if run is None or not isinstance(db, sqlite3.Connection):
                async with conn.begin():  # another driver: one executemany per statement
                    for sql, params in plan:
                        await conn.exec_driver_sql(sql, params)
                return
            try:
                await run(write_batch, db, plan)
            except BaseException as exc:
                if not isinstance(exc, sqlite3.IntegrityError):
                    await conn.invalidate()  # SQLAlchemy did not see the error: drop it here
                raise
            sync = conn.sync_connection
            if sync is not None and sync.dispatch.commit:
                sync.dispatch.commit(sync)  # the engine's "commit" event, as for its own COMMIT

    def _pg_statement(self, batch: _Batch, rows: TupleRows) -> tuple[str | None, list[bytes]]:
        parts: list[str] = []
        args: list[bytes] = []

        def add(part: str, values: Any) -> None:
            parts.append(part)
            args.append(_json_rows(values))

        if rows.commands:
            add("commands", rows.commands)
        if rows.events:
            add("events", rows.events)
        if rows.trades:
            add("trades", rows.trades)
        if rows.orders:
            add("orders", list(rows.orders.values()))
        if rows.instruments:
            add(
                "instruments",
                [tuple(r[c] for c in INSTRUMENT_COLUMNS) for r in rows.instruments.values()],
            )
        if rows.instrument_status:
            add("instrument_status", list(rows.instrument_status.items()))
        if batch.fix_messages:
            runs = _message_runs(batch.fix_messages)
            add("fix_message_runs", [(s, f, n, sizes, raw.hex()) for s, f, n, sizes, raw in runs])
        if batch.fix_states:
            add("fix_sessions", [(s, *v) for s, v in batch.fix_states.items()])
        if batch.session_events:
            add("fix_session_events", batch.session_events)
        if not parts:
            return None, []
        key = (tuple(parts), self._outcome_unknown)
        sql = self._pg_sql.get(key)
        if sql is None:
            sql = self._pg_sql[key] = _pg_with(*key)
        return sql, args

    async def _connect_pg(self) -> None:
        """Take the kept connection (PostgreSQL) and, for an exclusive store, on it the
        venue's advisory lock: a session lock, so the server drops it when the connection
        ends, with the process.

        Raises:
            StoreInUse: another session holds the lock.
            StoreUnavailable: the database cannot be reached.
        """
        try:
            conn = await self._engine.connect()
        except _DB_ERRORS as exc:
            raise _classify(exc, "connect", self._where) from exc
        self._pg_conn = conn
        try:
            raw = await conn.get_raw_connection()
            self._pg_driver = raw.driver_connection
            if self._exclusive:
                query = "SELECT pg_try_advisory_lock($1)"
                locked = await self._pg_driver.fetchval(query, _PG_CLAIM_KEY)
                if not locked:
                    raise StoreInUse(f"another venue is already running on the store {self._where}")
        except BaseException as exc:
            await self._drop_pg_conn()
            if isinstance(exc, _DB_ERRORS):
                raise _classify(exc, "connect", self._where) from exc
            raise

    async def _write_pg(self, batch: _Batch, rows: TupleRows) -> None:
        if self._pg_conn is not None and self._pg_driver.is_closed():
            # closed by the server (restart, terminate): take another, as a pool checkout would
            await self._drop_pg_conn()
        if self._pg_conn is None:
            try:
                await self._connect_pg()
            except StoreInUse as exc:
                # the lock went with the lost connection: nothing is written without it
                raise StoreUnavailable(
                    f"{self._where}: the venue's lock on the store is held by another session "
                    "(another venue started while the connection was lost, or the server has "
                    "not yet ended the lost one)"
                ) from exc
        conn = self._pg_conn
        assert conn is not None
        sql, args = self._pg_statement(batch, rows)
        apg = self._pg_driver
        timeout = _PG_WRITE_TIMEOUT
        try:
            if batch.fix_resets:
                async with apg.transaction():
                    await apg.execute(
                        f"DELETE FROM {_fix_message_runs.name} WHERE session_id = any($1::text[])",
                        list(batch.fix_resets),
                        timeout=timeout,
                    )
                    if sql is not None:
                        await apg.execute(sql, *args, timeout=timeout)
            elif sql is not None:
                await apg.execute(sql, *args, timeout=timeout)  # one statement: one transaction
        except BaseException as exc:
            if isinstance(exc, _PgConnectionError) or not isinstance(exc, _PgError):
                # not the server's answer to the statement but a lost link (or a timeout)
                # with it sent: it may have committed, so the retry must take rows already there
                self._outcome_unknown = True
            if not isinstance(exc, _PgIntegrityError):  # the statement failed, not the link
                await self._drop_pg_conn()
            raise
        sync = conn.sync_connection
        if sync is not None and sync.dispatch.commit:
            sync.dispatch.commit(sync)  # the engine's "commit" event, as for its own COMMIT

    async def _drop_pg_conn(self) -> None:
        """Invalidate the kept connection (SQLAlchemy did not see its error) and let it go."""
        conn, self._pg_conn, self._pg_driver = self._pg_conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
                await conn.close()

    # --- reads -------------------------------------------------------------------------------

    async def _read(self, what: str, fn: Callable[[AsyncConnection], Awaitable[_T]]) -> _T:
        if self._closed:
            raise StoreError(f"{self._where}: store is closed")
        try:
            async with self._engine.connect() as conn:
                return await fn(conn)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise _classify(exc, what, self._where) from exc

    async def last_cmd_no(self) -> int:
        """The highest command number journaled or covered by a snapshot (0 when none)."""

        async def read(conn: AsyncConnection) -> int:
            cmd = await conn.scalar(select(func.max(_commands.c.cmd_no)))
            snap = await conn.scalar(
                select(func.max(_snapshots.c.cmd_no)).where(_snapshots.c.parts.is_not(None))
            )
            return max(cmd or 0, snap or 0)

        return await self._read("last_cmd_no", read)

    async def load_engine_state(self) -> EngineState:
        """Load what recovery needs (see specs/persistence.md, "Recovery"), all at once.

        Returns:
            ``(snapshot, commands, last_event_seq)``: the latest engine snapshot or None,
            every journaled ``(cmd_no, command)`` after it in order, and the highest stored
            event seq (0 when none).

        Raises:
            RecoveryError: the journal has a gap after the snapshot or cannot be decoded.
        """
        snapshot, after, last_seq = await self.load_snapshot()
        commands: list[tuple[int, Command]] = []
        async for chunk in self.journal_after(after):
            commands.extend(chunk)
        return EngineState(snapshot, commands, last_seq)

    async def load_snapshot(self) -> tuple[EngineSnapshot | None, int, int]:
        """``(snapshot, its cmd_no, last_event_seq)``: the latest engine snapshot (None and
        0 when there is none) and the highest stored event seq (0 when none).

        Raises:
            RecoveryError: the snapshot cannot be decoded.
        """
        from venue.snapshot import EngineSnapshot

        async def read(conn: AsyncConnection) -> tuple[Any, list[str], int]:
            snap = (
                await conn.execute(
                    select(_snapshots.c.id, _snapshots.c.cmd_no, _snapshots.c.parts)
                    .where(_snapshots.c.parts.is_not(None))
                    .order_by(_snapshots.c.cmd_no.desc(), _snapshots.c.id.desc())
                    .limit(1)
                )
            ).first()
            parts: list[str] = []
            if snap is not None:
                parts = list(
                    await conn.scalars(
                        select(_snapshot_parts.c.text)
                        .where(_snapshot_parts.c.snapshot_id == snap.id)
                        .order_by(_snapshot_parts.c.part)
                    )
                )
            last_seq = await conn.scalar(select(func.max(_events.c.seq)))
            return snap, parts, int(last_seq or 0)

        snap, parts, last_seq = await self._read("load_snapshot", read)
        if snap is None:
            return None, 0, last_seq
        if len(parts) != snap.parts:
            raise RecoveryError(
                f"{self._where}: snapshot after command {snap.cmd_no} has {len(parts)} of "
                f"its {snap.parts} parts"
            )
        try:
            snapshot = EngineSnapshot.from_json("".join(parts))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RecoveryError(
                f"{self._where}: snapshot after command {snap.cmd_no} is unreadable: {exc}"
            ) from exc
        return snapshot, int(snap.cmd_no), last_seq

    async def journal_after(
        self, cmd_no: int, chunk: int = 20_000
    ) -> AsyncIterator[list[tuple[int, Command]]]:
        """The journaled commands after ``cmd_no``, in order, decoded, ``chunk`` at a time
        (recovery replays each chunk before the next is read: a journal of millions of
        commands is never held in memory at once).

        Raises:
            RecoveryError: the journal has a gap or a command cannot be decoded.
            StoreUnavailable: the database cannot be read.
        """
        if self._closed:
            raise StoreError(f"{self._where}: store is closed")
        expected = cmd_no + 1
        query = (
            select(_commands.c.cmd_no, _commands.c.payload)
            .where(_commands.c.cmd_no > cmd_no)
            .order_by(_commands.c.cmd_no)
        )
        try:
            async with self._engine.connect() as conn:
                result = await conn.stream(query)
                async for rows in result.partitions(chunk):
                    decoded: list[tuple[int, Command]] = []
                    for no, payload in rows:
                        if no != expected:
                            raise RecoveryError(
                                f"{self._where}: command journal gap: expected cmd_no "
                                f"{expected}, found {no}"
                            )
                        try:
                            decoded.append((no, decode_command(payload)))
                        except CodecError as exc:
                            raise RecoveryError(
                                f"{self._where}: command {no} is unreadable: {exc}"
                            ) from exc
                        expected += 1
                    yield decoded
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise _classify(exc, "journal_after", self._where) from exc

    async def write_snapshot(
        self, cmd_no: int, snapshot: EngineSnapshot, *, keep: int = 3, text: str | None = None
    ) -> None:
        """Commit the buffer, then store an engine snapshot taken after command ``cmd_no``.

        ``text`` is ``snapshot.to_json()`` when the caller has made it already. Only the
        newest ``keep`` snapshots are kept.
        """
        payload = snapshot.to_json() if text is None else text
        await self.write_snapshot_text(cmd_no, snapshot.next_seq - 1, payload, keep=keep)

    async def write_snapshot_text(
        self, cmd_no: int, event_seq: int, text: str, *, keep: int = 3
    ) -> None:
        """:meth:`write_snapshot` of a snapshot's text (``EngineSnapshot.to_json()``), made
        after command ``cmd_no`` when the last event was ``event_seq``.

        The buffer is committed first: the snapshot is never newer than the journal, so a
        recovery never starts from a state that holds a command it has no record of.

        The text is stored in parts of :data:`SNAPSHOT_PART_CHARS`, a transaction each, and
        the snapshot counts only once the transaction after the last part has set its
        number of parts: a write cut off (a crash, a cancelled task) leaves an incomplete
        snapshot that recovery ignores and the next write removes. Dropped snapshots' parts
        are deleted a few per transaction too. With a SQLite file every one of these
        transactions goes through the writer process, in turn with the group commits: a
        commit waits for one part at most, never for the database's write lock.
        """
        async with self._snapshot_lock:
            await self.commit()
            size = SNAPSHOT_PART_CHARS
            starts = range(0, max(len(text), 1), size)
            try:
                async with self._engine.connect() as conn:
                    snapshot_id = 1 + (await conn.scalar(select(func.max(_snapshots.c.id))) or 0)
                row = {
                    "id": snapshot_id,
                    "cmd_no": cmd_no,
                    "event_seq": event_seq,
                    "created_ns": time.time_ns(),
                }
                await self._transaction([(_SNAPSHOT_SQL["begin"], row)])
                for part, start in enumerate(starts):
                    chunk = text[start : start + size]
                    part_row = {"snapshot_id": snapshot_id, "part": part, "text": chunk}
                    await self._transaction([(_SNAPSHOT_SQL["part"], part_row)])
                await self._transaction(
                    [
                        (_SNAPSHOT_SQL["complete"], {"id": snapshot_id, "parts": len(starts)}),
                        (_SNAPSHOT_SQL["prune"], {"keep": keep}),
                    ]
                )
                await self._delete_orphan_parts()
            except (SQLAlchemyError, sqlite3.Error, OSError, TimeoutError) as exc:
                raise _classify(exc, "write_snapshot", self._where) from exc

    async def _transaction(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        """Commit ``(sql, parameters)`` statements as one transaction, outside the group
        commit: through the writer process where there is one (in turn with the batches,
        so neither waits for the other's lock), else on a connection of the engine."""
        if self._writer is not None:
            await self._writer.write([(sql, [params]) for sql, params in statements])
            return
        async with self._engine.begin() as conn:
            for sql, params in statements:
                await conn.execute(sa_text(sql), params)

    async def _delete_orphan_parts(self) -> None:
        """Delete the parts of snapshots that no longer have a row, a few per transaction."""
        async with self._engine.connect() as conn:
            orphans = (
                await conn.execute(
                    select(_snapshot_parts.c.snapshot_id, _snapshot_parts.c.part)
                    .where(_snapshot_parts.c.snapshot_id.not_in(select(_snapshots.c.id)))
                    .order_by(_snapshot_parts.c.snapshot_id, _snapshot_parts.c.part)
                )
            ).all()
        for i in range(0, len(orphans), _PRUNE_PARTS):
            await self._transaction(
                [
                    (_SNAPSHOT_SQL["drop_part"], {"snapshot_id": snapshot_id, "part": part})
                    for snapshot_id, part in orphans[i : i + _PRUNE_PARTS]
                ]
            )

    async def load_fix_session(self, session_id: str) -> FixSessionRecord | None:
        """A FIX session's stored sequence numbers and creation time, or None."""

        async def read(conn: AsyncConnection) -> FixSessionRecord | None:
            row = (
                await conn.execute(
                    select(_fix_sessions).where(_fix_sessions.c.session_id == session_id)
                )
            ).first()
            if row is None:
                return None
            return FixSessionRecord(
                row.session_id, row.next_sender_seq, row.next_target_seq, row.creation_time_ns
            )

        return await self._read("load_fix_session", read)

    async def load_fix_messages(
        self, session_id: str, begin: int, end: int
    ) -> list[tuple[int, bytes]]:
        """Stored outbound messages with ``begin <= seq <= end`` (``end`` 0: no upper bound),
        in seq order."""

        async def read(conn: AsyncConnection) -> list[tuple[int, bytes]]:
            c = _fix_message_runs.c
            query = select(c.first_seq, c.sizes, c.raw).where(
                c.session_id == session_id, c.last_seq >= begin
            )
            if end:
                query = query.where(c.first_seq <= end)
            messages: dict[int, bytes] = {}
            for first, sizes, raw in await conn.execute(query.order_by(c.id)):  # newest last
                data = bytes(raw)
                pos = 0
                for seq, size in enumerate(map(int, sizes.split(",")), start=first):
                    if seq >= begin and (not end or seq <= end):
                        messages[seq] = data[pos : pos + size]
                    pos += size
            return sorted(messages.items())

        return await self._read("load_fix_messages", read)

    async def session_events(self, session_id: str | None = None) -> list[SessionEventRecord]:
        """Stored FIX session lifecycle events, oldest first."""

        async def read(conn: AsyncConnection) -> list[SessionEventRecord]:
            c = _fix_session_events.c
            query = select(c.session_id, c.ts_ns, c.kind, c.detail)
            if session_id is not None:
                query = query.where(c.session_id == session_id)
            result = await conn.execute(query.order_by(c.ts_ns, c.id))
            return [SessionEventRecord(*row) for row in result]

        return await self._read("session_events", read)

    def _seen_in_memory(self, owner: str, cl_ord_id: str) -> bool:
        for batch in (self._buffer, self._inflight_batch):
            if batch is None:
                continue
            for _cmd_no, _cmd, events in batch.journal:
                for e in events:
                    _order_id, e_owner, e_cl_ord_id, _symbol = event_keys(e)
                    if e_owner == owner and e_cl_ord_id == cl_ord_id:
                        return True
        return False

    async def has_orders(self, symbol: str) -> bool:
        """Has any order of ``symbol`` been stored (committed), on any day? Its prices are
        ticks of the instrument's tick size, which may then no longer change."""

        async def read(conn: AsyncConnection) -> bool:
            o = _orders.c
            hit = await conn.scalar(select(o.order_id).where(o.symbol == symbol).limit(1))
            return hit is not None

        return await self._read("has_orders", read)

    async def seen_cl_ord_id(self, owner: str, cl_ord_id: str) -> bool:
        """Has ``owner`` used ``cl_ord_id`` (accepted, replaced to, cancelled with, rejected,
        cancel-rejected, mass-cancelled)? Includes writes not yet committed. For FIX
        PossResend duplicate detection."""
        if self._seen_in_memory(owner, cl_ord_id):
            return True

        async def read(conn: AsyncConnection) -> bool:
            # every ClOrdID an order ever had is on one of its events (accepted, replaced)
            e = _events.c
            hit = await conn.scalar(
                select(e.seq).where(e.owner == owner, e.cl_ord_id == cl_ord_id).limit(1)
            )
            return hit is not None

        return await self._read("seen_cl_ord_id", read)

    async def orders(
        self,
        owner: str | None = None,
        symbol: str | None = None,
        live_only: bool = True,
    ) -> list[OrderRecord]:
        """Orders by order id, optionally filtered; ``live_only`` keeps working orders."""

        async def read(conn: AsyncConnection) -> list[OrderRecord]:
            c = _orders.c
            query = select(_orders)
            if owner is not None:
                query = query.where(c.owner == owner)
            if symbol is not None:
                query = query.where(c.symbol == symbol)
            if live_only:
                query = query.where(c.status.in_(LIVE_STATUSES))
            result = await conn.execute(query.order_by(c.order_id))
            return [OrderRecord(**row._asdict()) for row in result]

        return await self._read("orders", read)

    async def cl_ord_ids_since(
        self, since_ns: int, limit: int | None = None
    ) -> list[tuple[str, str, int | None]]:
        """(owner, ClOrdID, order id) of every order accepted, replaced or rejected since
        ``since_ns`` (order id None: rejected), oldest first (a replaced order's earlier
        ClOrdIDs included): what FIX duplicate detection (PossResend) and status requests by
        an earlier ClOrdID must remember across a restart. With ``limit``, only the newest
        ``limit``."""

        async def read(conn: AsyncConnection) -> list[tuple[str, str, int | None]]:
            e = models.events.c
            # Events are stored in time order: the first one since ``since_ns`` (by the
            # ts_ns index) starts a range of the primary key, read newest first without a
            # sort, up to ``limit``.
            first = await conn.scalar(
                select(e.seq).where(e.ts_ns >= since_ns).order_by(e.ts_ns).limit(1)
            )
            if first is None:
                return []
            used = select(e.owner, e.cl_ord_id, e.order_id).where(
                e.seq >= first,
                e.kind.in_(_CL_ORD_ID_KINDS),
                e.owner.is_not(None),
                e.cl_ord_id.is_not(None),
            )
            if limit is None:
                return [(r[0], r[1], r[2]) for r in await conn.execute(used.order_by(e.seq))]
            newest = await conn.execute(used.order_by(e.seq.desc()).limit(limit))
            return [(r[0], r[1], r[2]) for r in newest][::-1]

        return await self._read("cl_ord_ids", read)

    async def trades(
        self, symbol: str | None = None, since_ns: int | None = None
    ) -> list[dict[str, Any]]:
        """Trade rows (as dicts) by trade id, optionally for one symbol or since a time."""

        async def read(conn: AsyncConnection) -> list[dict[str, Any]]:
            query = select(_trades)
            if symbol is not None:
                query = query.where(_trades.c.symbol == symbol)
            if since_ns is not None:
                query = query.where(_trades.c.ts_ns >= since_ns)
            result = await conn.execute(query.order_by(_trades.c.trade_id))
            return [dict(row._mapping) for row in result]

        return await self._read("trades", read)

    async def instruments(self) -> list[Instrument]:
        """The listed instruments, by symbol."""

        async def read(conn: AsyncConnection) -> list[Instrument]:
            result = await conn.execute(select(_instruments).order_by(_instruments.c.symbol))
            return [
                Instrument(
                    symbol=row.symbol,
                    tick_size=Decimal(row.tick_size),
                    lot_size=row.lot_size,
                    min_qty=row.min_qty,
                    max_qty=row.max_qty,
                    price_band_pct=(
                        None if row.price_band_pct is None else Decimal(row.price_band_pct)
                    ),
                    reference_price=(
                        None if row.reference_price is None else Price(row.reference_price)
                    ),
                    status=TradingStatus(row.status),
                    description=row.description,
                )
                for row in result
            ]

        return await self._read("instruments", read)

    async def save_instrument(self, instrument: Instrument) -> None:
        """Insert or replace one instrument definition (immediately, own transaction)."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(self._upserts["instruments"], [instrument_row(instrument)])
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise _classify(exc, "save_instrument", self._where) from exc
