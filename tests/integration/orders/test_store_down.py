"""The store goes away under a connected client: nothing is acknowledged that is not stored,
the venue drops the connections instead, and once the store is back the client gets, by
resend, the answer to the order it sent during the outage."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from support.pg import allow_connections

from venue import runtime
from venue.commands import AdvanceTime

pytestmark = pytest.mark.quickfix


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_store_outage_drops_connections_and_answers_after(db_url, make_harness) -> None:
    # db_url first: the venue (make_harness) is torn down before its database is dropped
    harness = await make_harness(db_url)
    seller = await harness.client("SELLER")
    seller.order("U1", "TEST", "2", 10, "5.00")
    assert (await seller.next_app())[150] == "0"

    await allow_connections(db_url, False)
    try:
        seller.order("U2", "TEST", "2", 10, "5.01")
        # No acknowledgement while the order cannot be stored; the connection is dropped.
        assert await asyncio.to_thread(seller.application.logged_out.wait, 10)
        assert seller.application.app.empty()
    finally:
        await allow_connections(db_url, True)

    # The client logs on again and gets the held ExecutionReport by resend.
    await seller.stop()
    await seller.start()
    ack = await seller.next_app(timeout=15)
    assert (ack[150], ack[11], ack[43]) == ("0", "U2", "Y")
    await harness.venue.commit()
    rows = {r.cl_ord_id: r for r in await harness.venue.store.orders(live_only=False)}
    assert set(rows) == {"U1", "U2"}


async def test_messages_behind_a_failed_commit_are_written_in_order(harness) -> None:
    """A loop turn's commit fails (the SQLite writer is killed under it) while the next
    turn's waits: the next transaction stores both, and still nothing of the second turn
    is written before the first turn's."""
    venue = harness.venue
    store = venue.store
    venue.submit(AdvanceTime(time.time_ns()))
    await venue.commit()
    writer = store.writer
    assert writer is not None and writer.pid is not None
    released: list[str] = []
    os.kill(writer.pid, signal.SIGSTOP)
    try:
        venue.submit(AdvanceTime(time.time_ns()))
        venue.commit_then(lambda: released.append("first turn"))
        venue.submit(AdvanceTime(time.time_ns()))
        venue.commit_then(lambda: released.append("second turn"))
        await asyncio.sleep(0.1)
        assert released == []  # journal before acknowledge
    finally:
        os.kill(writer.pid, signal.SIGKILL)
    for _ in range(1000):  # the failed batch is being retried
        if venue._held is not None:
            break
        await asyncio.sleep(0.01)
    # A turn staged while the retry runs: it was written once the retry's batch, which
    # did not hold it, was in (a Logon reply and an ExecutionReport sent, never stored).
    venue.submit(AdvanceTime(time.time_ns()))
    venue.commit_then(lambda: released.append(f"third turn, unstored: {store.pending}"))
    for _ in range(1000):
        if len(released) == 3:
            break
        await asyncio.sleep(0.01)
    assert released == ["first turn", "second turn", "third turn, unstored: False"]
    assert store.stats.failed_commits == 1
    assert not store.pending


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_venue_stops_while_its_store_is_down(db_url, make_harness, monkeypatch) -> None:
    """Stopping does not wait for the store for ever: it gives up on what was never
    acknowledged after STOP_COMMIT_TIMEOUT, and the held work stays unacknowledged."""
    monkeypatch.setattr(runtime, "STOP_COMMIT_TIMEOUT", 1.0)
    harness = await make_harness(db_url)
    venue = harness.venue
    await allow_connections(db_url, False)
    try:
        venue.submit(AdvanceTime(time.time_ns()))
        released: list[str] = []
        venue.commit_then(lambda: released.append("turn"))
        started = time.monotonic()
        await asyncio.wait_for(venue.stop(), 10)
        assert time.monotonic() - started < 5
        assert released == []
    finally:
        await allow_connections(db_url, True)
