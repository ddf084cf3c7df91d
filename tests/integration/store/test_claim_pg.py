"""One venue per PostgreSQL database: the advisory lock an exclusive store holds.

A SQLite file is claimed by a lock file beside it (tests/unit/runtime/test_claim.py); a
PostgreSQL database has no file, so the venue's store holds a session-level advisory lock on
the connection it writes its batches through.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from support.pg import admin_dsn, fresh_database
from support.procs import (
    kill,
    sessions_cfg,
    start_venue,
    venue_cmd,
    venue_run_cmd,
    wait_admin,
    write_venue_files,
)

from venue.commands import AddInstrument
from venue.instruments import Instrument
from venue.store import Store, StoreInUse, StoreUnavailable

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_database("venue_claim_") as url:
        yield url


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def test_a_second_exclusive_store_on_the_database_is_refused(pg_url: str) -> None:
    first = await Store.open(pg_url, exclusive=True)
    try:
        with pytest.raises(StoreInUse) as refused:
            await Store.open(pg_url, exclusive=True)
        expected = f"another venue is already running on the store {_shown(pg_url)}"
        assert str(refused.value) == expected
        reader = await Store.open(pg_url)  # reports and tools read beside the venue
        await reader.close()
    finally:
        await first.close()
    second = await Store.open(pg_url, exclusive=True)  # the lock went with the first
    await second.close()


async def test_a_store_that_lost_its_lock_writes_nothing_until_it_has_it_again(
    pg_url: str,
) -> None:
    first = await Store.open(pg_url, exclusive=True)
    try:
        pid = first._pg_driver.get_server_pid()
        admin = await asyncpg.connect(admin_dsn())
        try:  # the connection holding the lock ends (server restart, network, an operator)
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        for _ in range(50):  # the server releases the lock once the backend has exited
            try:
                second = await Store.open(pg_url, exclusive=True)
                break
            except StoreInUse:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the terminated connection's lock was never released")
        try:
            first.journal(1, AddInstrument(0, Instrument("TEST", Decimal("0.01"))), [])
            with pytest.raises(StoreUnavailable, match="lock on the store is held by another"):
                await first.commit()
            assert (await second.load_engine_state()).commands == []  # nothing was written
        finally:
            await second.close()
        await first.commit()  # the lock is free again: the held batch goes in
        assert [no for no, _ in (await first.load_engine_state()).commands] == [1]
    finally:
        await first.close()


async def test_a_second_venue_on_the_same_database_is_refused(
    pg_url: str, tmp_path: Path
) -> None:
    config = write_venue_files(
        tmp_path, "symbol,tick_size\nTEST,0.01\n", sessions_cfg("VENUE", 0, ["C1"])
    )
    log = tmp_path / "first.log"
    first = start_venue(venue_run_cmd(config, pg_url, tmp_path / "a.sock"), log, tmp_path)
    try:
        wait_admin(first, tmp_path / "a.sock", 30, log.read_text)
        result = await asyncio.to_thread(
            subprocess.run,
            venue_run_cmd(config, pg_url, tmp_path / "b.sock"),
            check=False, capture_output=True, text=True, timeout=30, cwd=tmp_path,
        )
        assert result.returncode == 1, result
        assert f"another venue is already running on the store {_shown(pg_url)}" in result.stderr
        # the stopped-venue path of the sessions commands is refused too
        offline = await asyncio.to_thread(
            subprocess.run,
            venue_cmd("sessions", "reset", "C1", "--config", str(config), "--db", pg_url,
                      "--admin-socket", str(tmp_path / "b.sock")),
            check=False, capture_output=True, text=True, timeout=30, cwd=tmp_path,
        )
        assert offline.returncode == 1, offline
        assert "another venue is already running on the store" in offline.stderr
        assert "change it through that venue" in offline.stderr
        assert first.poll() is None  # the first venue runs on
    finally:
        kill(first)
