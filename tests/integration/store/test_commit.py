"""Group commit, and behaviour when the database is down or full."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from support.pg import allow_connections, pg_admin

from venue.commands import AdvanceTime
from venue.store import Store, StoreError, StoreUnavailable
from venue.store.models import CommandRow, FixMessageRunRow

T0 = 1_700_000_000_000_000_000


class Transactions:
    """Counts the transactions the store commits from now on: SQLite's writer process is
    asked which transactions it ran (its frames), PostgreSQL's through SQLAlchemy's event."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pg = 0
        if store.writer is None:
            event.listen(store.engine.sync_engine, "commit", self._on_commit)
        self.sqlite_base = store.writer.batches if store.writer is not None else 0

    def _on_commit(self, _conn: Any) -> None:
        self.pg += 1

    def __getitem__(self, _index: int) -> int:
        writer = self.store.writer
        return self.pg if writer is None else writer.batches - self.sqlite_base


def count_transactions(store: Store) -> Transactions:
    return Transactions(store)


async def stored_commands(store: Store) -> list[int]:
    async with store.engine.connect() as conn:
        return list(
            (await conn.execute(select(CommandRow.cmd_no).order_by(CommandRow.cmd_no))).scalars()
        )


async def test_concurrent_callers_share_transactions(store: Store) -> None:
    commits = count_transactions(store)
    next_no = iter(range(1, 10_000))
    done: list[int] = []

    async def caller(delay_turns: int) -> None:
        for _ in range(delay_turns):
            await asyncio.sleep(0)
        cmd_no = next(next_no)
        store.journal(cmd_no, AdvanceTime(T0 + cmd_no), [])
        await store.commit()
        done.append(cmd_no)
        # journal before acknowledge: when commit returns, the command is stored
        assert cmd_no in await stored_commands(store)

    # 200 callers in one turn, then 200 spread over several loop turns
    await asyncio.gather(*(caller(0) for _ in range(200)))
    assert commits[0] == 1
    await asyncio.gather(*(caller(i % 7) for i in range(200)))
    assert sorted(done) == list(range(1, 401))
    assert await stored_commands(store) == list(range(1, 401))
    assert store.stats.transactions == commits[0]
    assert commits[0] <= 10, commits[0]
    assert not store.pending


def stored_now(store: Store) -> list[int] | None:
    """The commands in the database at this instant, read synchronously (SQLite file:
    from inside a callback); None for PostgreSQL."""
    if store.writer is None:
        return None
    with sqlite3.connect(store.writer.database) as db:
        return [n for (n,) in db.execute("SELECT cmd_no FROM commands ORDER BY cmd_no")]


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_commit_then_calls_back_once_durable_in_the_order_of_the_calls(
    store: Store,
) -> None:
    seen: list[tuple[str, StoreError | None, int, list[int] | None]] = []

    def callback(tag: str) -> Callable[[StoreError | None], None]:
        def done(error: StoreError | None) -> None:
            seen.append((tag, error, store.stats.transactions, stored_now(store)))

        return done

    store.commit_then(callback("nothing buffered"))  # answered before it returns
    assert seen == [("nothing buffered", None, 0, stored_now(store))]

    store.journal(1, AdvanceTime(T0 + 1), [])
    store.commit_then(callback("a"))  # the transaction starts now, no loop turn first
    assert store.pending and len(seen) == 1
    store.journal(2, AdvanceTime(T0 + 2), [])
    store.journal(3, AdvanceTime(T0 + 3), [])
    store.commit_then(callback("b"))  # share the next transaction, which starts as a ends
    store.commit_then(callback("c"))
    await until(lambda: len(seen) == 4)

    sqlite = store.writer is not None
    assert seen[1:] == [
        ("a", None, 1, [1] if sqlite else None),
        ("b", None, 2, [1, 2, 3] if sqlite else None),
        ("c", None, 2, [1, 2, 3] if sqlite else None),
    ]
    assert not store.pending
    assert await stored_commands(store) == [1, 2, 3]
    store.commit_then(callback("after"))  # everything is durable: at once
    assert seen[-1][:3] == ("after", None, 2)


async def test_poll_commits_calls_back_inside_a_long_loop_turn(store: Store) -> None:
    """The turn below never awaits. SQLite: the writer's answer arrives meanwhile and
    poll_commits runs the callback inside the turn, with the rows in the file. PostgreSQL:
    the outcome comes through a task, so the callback waits for the turn to end."""
    store.journal(1, AdvanceTime(T0 + 1), [])
    await store.commit()  # the SQLite writer process is running
    seen: list[StoreError | None] = []
    store.journal(2, AdvanceTime(T0 + 2), [])
    store.commit_then(seen.append)
    sqlite = store.writer is not None
    time.sleep(0.2)
    assert seen == []  # an answer that has arrived runs nothing by itself
    deadline = time.monotonic() + (10 if sqlite else 0.3)
    idle = []
    while not seen and time.monotonic() < deadline:
        idle.append(store.poll_commits())
        time.sleep(0.005)
    if sqlite:
        assert seen == [None]
        assert stored_now(store) == [1, 2]
        assert idle[-1] is True  # the writer is free: a commit_then now starts at once
    else:
        assert seen == []
        assert set(idle) == {False}  # PostgreSQL's writes start from a task, never at once
        await until(lambda: seen == [None])
    assert not store.pending
    store.journal(3, AdvanceTime(T0 + 3), [])
    store.commit_then(seen.append)
    assert store.poll_commits() is False  # a batch in flight, or PostgreSQL


async def test_commit_with_nothing_buffered_does_nothing(store: Store) -> None:
    commits = count_transactions(store)
    await store.commit()
    await asyncio.gather(*(store.commit() for _ in range(5)))
    assert commits[0] == 0


async def test_cancelled_caller_does_not_abort_the_transaction(store: Store) -> None:
    store.journal(1, AdvanceTime(T0), [])
    task = asyncio.create_task(store.commit())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await store.commit()  # waits for the in-flight transaction; nothing left to do
    assert await stored_commands(store) == [1]


async def test_commit_after_close_is_an_error(db_url: str) -> None:
    store = await Store.open(db_url)
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.commit()


# --- database down ------------------------------------------------------------------------


_FULL = "PRAGMA max_page_count=1"  # clamps to the current size: the file cannot grow


async def _sqlite_full(store: Store, full: bool) -> None:
    """Make the writer's connection unable to grow the file (SQLITE_FULL), or able again.

    The writer process is restarted, so its new connection runs the pragmas."""
    writer = store.writer
    assert writer is not None
    if full:
        writer.pragmas.append(_FULL)
    else:
        writer.pragmas.remove(_FULL)
    await writer.close()


async def test_database_down_raises_unavailable_and_keeps_the_buffer(
    store: Store, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="venue.store")
    store.journal(1, AdvanceTime(T0), [])
    await store.commit()

    if store.dialect == "sqlite":
        await _sqlite_full(store, True)
    else:
        await allow_connections(db_url, allow=False)

    big = b"x" * 200_000  # needs new pages on SQLite
    store.journal(2, AdvanceTime(T0 + 1), [])
    store.fix_message("S", 1, big)
    waiters = [asyncio.create_task(store.commit()) for _ in range(3)]
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert "unavailable" in str(results[0])
    assert store.stats.failed_commits == 1  # the waiters shared the failed attempt
    assert store.pending

    # more work arrives while the database is down; a retry fails again, keeping all
    store.journal(3, AdvanceTime(T0 + 2), [])
    with pytest.raises(StoreUnavailable):
        await store.commit()
    assert store.pending

    if store.dialect == "sqlite":
        await _sqlite_full(store, False)
    else:
        await allow_connections(db_url, allow=True)

    await store.commit()
    assert not store.pending
    assert await stored_commands(store) == [1, 2, 3]
    assert await store.load_fix_messages("S", 1, 0) == [(1, big)]
    # the outage is logged once, not at every retry, and so is its end
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "unavailable" in errors[0].getMessage(), errors
    assert "committing again after 2 failed attempts" in caplog.text
    async with store.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(FixMessageRunRow)) == 1


async def test_reads_raise_unavailable_when_down(store: Store, db_url: str) -> None:
    store.journal(1, AdvanceTime(T0), [])
    await store.commit()
    if store.dialect == "sqlite":
        # the file's directory disappears (unmounted volume): connections cannot open
        folder = Path(make_url(db_url).database or "").parent
        away = folder.with_name(folder.name + ".away")
        await store.engine.dispose()
        if store.writer is not None:
            await store.writer.close()
        folder.rename(away)
    else:
        await allow_connections(db_url, allow=False)
    try:
        with pytest.raises(StoreUnavailable):
            await store.seen_cl_ord_id("o", "c")
        with pytest.raises(StoreUnavailable):
            await store.load_engine_state()
        store.journal(2, AdvanceTime(T0), [])
        with pytest.raises(StoreUnavailable):
            await store.commit()
    finally:
        if store.dialect == "sqlite":
            away.rename(folder)
        else:
            await allow_connections(db_url, allow=True)
    await store.commit()
    assert await stored_commands(store) == [1, 2]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_batch_the_server_does_not_answer_fails_after_the_write_timeout(
    store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a server that stops answering (here: a table lock the batch waits on)
    fails the commit after the write timeout, not asyncpg's 60 s command timeout; the batch
    stays buffered and goes in once the server answers again."""
    monkeypatch.setattr("venue.store.store._PG_WRITE_TIMEOUT", 0.5)
    store.journal(1, AdvanceTime(T0), [])
    await store.commit()
    blocker = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE commands IN ACCESS EXCLUSIVE MODE")
        store.journal(2, AdvanceTime(T0 + 1), [])
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="no answer in time"):
            await store.commit()
        assert time.monotonic() - started < 5
        assert store.pending
        await transaction.rollback()
    finally:
        await blocker.close()
    await store.commit()
    assert not store.pending
    assert await stored_commands(store) == [1, 2]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_the_batches_share_a_connection_and_a_closed_one_is_replaced(
    store: Store, db_url: str
) -> None:
    """PostgreSQL: every batch goes through the one connection the store keeps; when the
    server closes it between batches (restart, terminate), the next batch takes a new one
    instead of failing on it. (Closed under a batch: that commit fails and the batch stays
    buffered, test_database_down_raises_unavailable_and_keeps_the_buffer.)"""

    database = make_url(db_url).database
    admin = await pg_admin()
    try:

        async def writers() -> list[int]:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = $1"
            rows = await admin.fetch(query, database)
            return [r["pid"] for r in rows]

        for n in range(1, 4):
            store.journal(n, AdvanceTime(T0 + n), [])
            await store.commit()
        (first,) = await writers()  # three transactions, one server process
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.5)  # the venue's side sees the connection closed
        store.journal(4, AdvanceTime(T0 + 4), [])
        await store.commit()  # not a failure: a new connection took the batch
        assert store.stats.failed_commits == 0
        (second,) = await writers()
        assert second != first
    finally:
        await admin.close()
    assert await stored_commands(store) == [1, 2, 3, 4]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_batch_whose_answer_was_lost_is_stored_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the link fails after the server has committed a batch, so its answer is
    lost. The store cannot know: the commit fails as unavailable and keeps the batch, and the
    retry skips the rows already there instead of failing on their keys for ever.
    (The lost answer is injected at the driver: a real one cannot be timed.)"""
    store.journal(1, AdvanceTime(T0 + 1), [])
    await store.commit()
    driver = store._pg_driver  # the connection the batches go through
    execute = type(driver).execute

    async def committed_then_lost(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await execute(self, *args, **kwargs)
        if self is driver:
            raise asyncpg.ConnectionDoesNotExistError("connection lost after the commit")
        return result

    monkeypatch.setattr(type(driver), "execute", committed_then_lost)
    store.journal(2, AdvanceTime(T0 + 2), [])
    store.fix_message("S", 1, b"8=FIX.4.4\x01")
    store.journal(3, AdvanceTime(T0 + 3), [])
    with pytest.raises(StoreUnavailable):
        await store.commit()
    assert store.pending
    monkeypatch.undo()

    assert await stored_commands(store) == [1, 2, 3]  # committed although it failed
    store.journal(4, AdvanceTime(T0 + 4), [])
    await store.commit()  # the retry with the next command: no integrity error
    assert store.stats.failed_commits == 1
    assert not store.pending
    assert await stored_commands(store) == [1, 2, 3, 4]
    assert await store.load_fix_messages("S", 1, 0) == [(1, b"8=FIX.4.4\x01")]


@pytest.mark.postgres
async def test_open_on_a_closed_port_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        await Store.open("postgresql+asyncpg://postgres@127.0.0.1:1/venue")


async def test_open_where_no_file_can_be_created_is_unavailable(tmp_path: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailable):
        await Store.open(f"sqlite+aiosqlite:///{blocker}/sub/venue.db")


async def test_batches_that_follow_each_other_need_no_new_task(store: Store) -> None:
    """A batch buffered while another is written goes out from the step that learns the
    first outcome: PostgreSQL's flush task writes it itself, SQLite's writer process is
    sent it from the answer's callback; neither starts a task per batch."""
    store.journal(1, AdvanceTime(T0 + 1), [])
    await store.commit()  # connection / writer process in place
    loop = asyncio.get_running_loop()
    created: list[object] = []

    def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        created.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    seen: list[tuple[int, StoreError | None]] = []
    loop.set_task_factory(counting_factory)
    try:
        for no in range(2, 6):  # each buffered while the one before is in flight
            store.journal(no, AdvanceTime(T0 + no), [])
            store.commit_then(lambda error, no=no: seen.append((no, error)))
            await asyncio.sleep(0)
        await until(lambda: len(seen) == 4)
    finally:
        loop.set_task_factory(None)
    assert seen == [(2, None), (3, None), (4, None), (5, None)]
    assert await stored_commands(store) == [1, 2, 3, 4, 5]
    flush_tasks = [c for c in created if getattr(c, "__qualname__", "") == "Store._flush"]
    assert len(flush_tasks) == (0 if store.writer is not None else 1)
