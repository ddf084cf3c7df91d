"""The store goes away under a connected client: nothing is acknowledged that is not stored,
the venue drops the connections instead, and once the store is back the client gets, by
resend, the answer to the order it sent during the outage."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from sqlalchemy.engine import make_url

pytestmark = [pytest.mark.quickfix, pytest.mark.postgres]


async def allow_connections(url: str, allow: bool) -> None:
    name = make_url(url).database
    admin_url = os.environ.get(
        "VENUE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ).replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
    finally:
        await admin.close()


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
