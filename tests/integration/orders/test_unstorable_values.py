"""Values the store could not keep (PostgreSQL enforces column widths and refuses NUL in
text) are refused at the FIX edge, so one client's message never stops the store for all."""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.rawclient import RawClient

pytestmark = pytest.mark.quickfix


def order(**fields: str) -> list[tuple[int, Any]]:
    base = {11: "N1", 55: "TEST", 54: "1", 38: "5", 40: "2", 44: "1.00",
            60: time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())}
    base.update({int(tag[1:]): value for tag, value in fields.items()})
    return [(35, "D"), *base.items()]


async def test_unstorable_values_are_refused_and_the_store_goes_on(db_url, make_harness) -> None:
    harness = await make_harness(db_url)
    client = RawClient(harness.port, "SELLER", "EXCH")
    await client.connect()
    client.send([(35, "A"), (98, 0), (108, 30)])
    await client.receive(1)
    for fields, tag, reason in [
        ({"t11": "L" * 201}, "11", "5"),
        ({"t55": "S" * 33}, "55", "5"),
        ({"t11": "nul\x00x"}, "11", "6"),
        ({"t1": "A" * 201}, "1", "5"),
    ]:
        client.send(order(**fields))
        [reject] = await client.receive(1)
        assert (reject.msg_type, reject.get(371), reject.get(373)) == ("3", tag, reason)
    client.send(order(t11="L" * 200))  # the widest that fits
    [ack] = await client.receive(1)
    assert (ack.msg_type, ack.get(150), ack.get(11)) == ("8", "0", "L" * 200)
    client.send([(35, "5"), (58, "bye\x00")])  # its text goes into the session events
    assert (await client.receive(1))[0].msg_type == "5"
    await client.close()

    await harness.venue.commit()  # the store took all of it
    store = harness.venue.store
    assert [o.cl_ord_id for o in await store.orders()] == ["L" * 200]
    events = await store.session_events("FIX.4.4:EXCH->SELLER")
    last = events[-1]
    assert (last.kind, last.detail) == ("logout", "Logout by counterparty: bye\ufffd")
