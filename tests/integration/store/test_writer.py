"""The SQLite writer process: it dies, it loses an answer, it is not left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from venue.commands import AddInstrument, NewOrder
from venue.engine import MatchingEngine
from venue.instruments import Instrument
from venue.store import Store, StoreError, StoreUnavailable
from venue.store.models import CommandRow, EventRow, OrderRow
from venue.types import OrdType, Price, Qty, Side

T0 = 1_700_000_000_000_000_000


def journal_orders(store: Store, engine: MatchingEngine, first_cmd_no: int, n: int) -> None:
    """Journal ``n`` resting buy orders (AddInstrument first when the book is new)."""
    cmd_no = first_cmd_no
    if engine.instrument("AAPL") is None:
        add = AddInstrument(T0, Instrument("AAPL", Decimal("0.01")))
        store.journal(cmd_no, add, engine.handle(add))
        cmd_no += 1
    for i in range(n):
        cmd = NewOrder(
            T0 + cmd_no, "FIRM", f"C{cmd_no}", "AAPL", Side.BUY, OrdType.LIMIT, Qty(100),
            Price(1000 - i % 50),
        )  # fmt: skip
        store.journal(cmd_no, cmd, engine.handle(cmd))
        cmd_no += 1
    store.fix_message("S", first_cmd_no, b"8=FIX.4.4\x01...")


async def counts(store: Store) -> tuple[int, int, int]:
    async with store.engine.connect() as conn:
        return (
            await conn.scalar(select(func.count()).select_from(CommandRow)) or 0,
            await conn.scalar(select(func.count()).select_from(EventRow)) or 0,
            await conn.scalar(select(func.count()).select_from(OrderRow)) or 0,
        )


async def stop_the_writer_before_a_second_batch(store: Store, engine: MatchingEngine) -> int:
    """Commit 10 orders, stop the writer process (SIGSTOP: a batch sent to it waits in its
    socket) and journal 10 more; returns the writer's pid."""
    journal_orders(store, engine, 1, 10)
    await store.commit()
    writer = store.writer
    assert writer is not None and writer.pid is not None
    os.kill(writer.pid, signal.SIGSTOP)
    journal_orders(store, engine, 12, 10)
    return writer.pid


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> Store:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}")
    yield store
    await store.close()


async def test_a_writer_killed_between_batches_is_replaced(sqlite_store: Store) -> None:
    store, engine = sqlite_store, MatchingEngine()
    journal_orders(store, engine, 1, 10)
    await store.commit()
    writer = store.writer
    assert writer is not None and writer.pid is not None
    first_pid = writer.pid

    os.kill(first_pid, signal.SIGKILL)
    await asyncio.sleep(0.2)
    journal_orders(store, engine, 12, 10)
    await store.commit()  # nothing was in flight: a new writer process takes the batch
    assert writer.pid not in (None, first_pid)
    assert not store.pending
    assert await counts(store) == (21, 21, 20)


async def test_a_writer_killed_inside_a_batch_fails_the_commit_then_the_retry_stores_it(
    sqlite_store: Store,
) -> None:
    store, engine = sqlite_store, MatchingEngine()
    pid = await stop_the_writer_before_a_second_batch(store, engine)
    commit = asyncio.create_task(store.commit())
    await asyncio.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(StoreUnavailable, match="writer process lost"):
        await commit
    assert store.pending
    await store.commit()
    assert not store.pending
    assert await counts(store) == (21, 21, 20)


async def test_the_callback_of_a_lost_batch_gets_the_error_and_the_next_batch_stores_it(
    sqlite_store: Store,
) -> None:
    store, engine = sqlite_store, MatchingEngine()
    pid = await stop_the_writer_before_a_second_batch(store, engine)
    outcomes: list[tuple[str, StoreError | None]] = []
    store.commit_then(lambda error: outcomes.append(("lost", error)))
    journal_orders(store, engine, 22, 5)
    store.commit_then(lambda error: outcomes.append(("next", error)))
    await asyncio.sleep(0.1)
    assert outcomes == []
    os.kill(pid, signal.SIGKILL)
    for _ in range(1000):
        if len(outcomes) == 2:
            break
        await asyncio.sleep(0.01)

    (first, lost), (second, carried) = outcomes
    assert first == "lost" and isinstance(lost, StoreUnavailable)
    assert "writer process lost" in str(lost)
    assert (second, carried) == ("next", None)  # a new writer took both batches at once
    assert not store.pending
    assert await counts(store) == (26, 26, 25)


async def test_a_batch_committed_whose_answer_was_lost_is_stored_once(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """The writer commits and dies before answering: the venue cannot know, retries the
    same rows, and they are there exactly once."""
    store, engine = sqlite_store, MatchingEngine()
    journal_orders(store, engine, 1, 5)
    await store.commit()
    writer = store.writer
    assert writer is not None and writer.pid is not None

    # What the writer would have committed before dying: the same rows, through a second
    # store on the same file (its own writer), while this store's writer is stopped.
    twin_engine = MatchingEngine.restore(engine.snapshot())
    twin = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}")
    try:
        os.kill(writer.pid, signal.SIGSTOP)
        journal_orders(store, engine, 7, 5)
        commit = asyncio.create_task(store.commit())
        journal_orders(twin, twin_engine, 7, 5)
        await twin.commit()
    finally:
        await twin.close()
    os.kill(writer.pid, signal.SIGKILL)
    with pytest.raises(StoreUnavailable):
        await commit
    await store.commit()  # the same batch again: already there, skipped, not a conflict
    assert not store.pending
    assert await counts(store) == (11, 11, 10)


async def test_the_writer_ends_with_the_store(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}")
    journal_orders(store, MatchingEngine(), 1, 3)
    await store.commit()
    writer = store.writer
    assert writer is not None and writer.pid is not None
    pid = writer.pid
    await store.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_writer_dies_with_a_killed_venue(tmp_path: Path) -> None:
    """Left alone, a crashed venue's writer would commit the batch in hand after the
    restarted venue had recovered without it. Here the writer waits for SQLite's write lock
    inside a batch, as behind a slow disk, when its venue is killed: once the lock is free,
    nothing more may be committed."""
    database = tmp_path / "venue.db"
    script = f"""
import asyncio, os, sys
sys.path[:0] = {sys.path!r}
from venue.store import Store
from venue.engine import MatchingEngine
from test_writer import journal_orders

async def main():
    store = await Store.open("sqlite+aiosqlite:///{database}")
    engine = MatchingEngine()
    journal_orders(store, engine, 1, 3)
    await store.commit()
    print(store.writer.pid, flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the test holds the write lock now
    journal_orders(store, engine, 5, 3)
    await store.commit()

asyncio.run(main())
"""
    venue = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, cwd=Path(__file__).parent)
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        assert venue.stdout is not None and venue.stdin is not None
        writer_pid = int(venue.stdout.readline())
        holder.execute("BEGIN IMMEDIATE")
        venue.stdin.write(b"go\n")
        venue.stdin.flush()
        time.sleep(1.0)  # the batch is in the writer's hands, waiting for the lock
    finally:
        venue.kill()
        venue.wait(10)
        holder.execute("ROLLBACK")
    for _ in range(200):
        try:
            os.kill(writer_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(writer_pid, signal.SIGKILL)
        raise AssertionError("the writer outlived its venue")
    assert holder.execute("select count(*) from commands").fetchone() == (4,)  # batch 1 only
    holder.close()
