"""The store goes away under a connected client: nothing is acknowledged that is not stored,
the venue drops the connections instead, and once the store is back the client gets, by
resend, the answer to the order it sent during the outage."""

from __future__ import annotations

import asyncio

import pytest
from support.pg import allow_connections

pytestmark = [pytest.mark.quickfix, pytest.mark.postgres]


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
