"""Several messages in one read: whatever answers them, the session layer or order entry,
the answers go out in MsgSeqNum order (a client that pipelines must never see a gap)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support.rawclient import RawClient

pytestmark = pytest.mark.quickfix


def order(cl_ord_id: str) -> list[tuple[int, Any]]:
    return [(35, "D"), (11, cl_ord_id), (55, "TEST"), (54, "2"), (38, "5"), (40, "2"),
            (44, "9.00"), (60, time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()))]


async def test_answers_to_one_read_go_out_in_msg_seq_num_order(harness) -> None:
    client = RawClient(harness.port, "SELLER", "EXCH")
    await client.connect()
    client.send([(35, "A"), (98, 0), (108, 30)])
    [logon] = await client.receive(1)
    assert logon.get(34) == "1"
    client.writer.write(
        client.frame(order("P1"))
        + client.frame([(35, "1"), (112, "T1")])  # answered by the session layer
        + client.frame(order("P2"))
        + client.frame([(35, "D"), (11, "P3"), (55, "TEST")])  # Reject: required tags missing
        + client.frame(order("P4"))
        + client.frame([(35, "1"), (112, "T2")])
    )
    got = await client.receive(6)
    assert [(m.msg_type, m.get(11) or m.get(112) or m.get(45)) for m in got] == [
        ("8", "P1"), ("0", "T1"), ("8", "P2"), ("3", "5"), ("8", "P4"), ("0", "T2")
    ]
    assert [m.get(34) for m in got] == ["2", "3", "4", "5", "6", "7"]
    await client.close()


async def test_a_client_that_does_not_read_is_not_read_from(harness) -> None:
    """Its answers wait in the venue's output buffer, which must stay small: the venue stops
    reading until the client reads (here, 30 MB of Heartbeats would pile up otherwise)."""
    client = RawClient(harness.port, "SELLER", "EXCH")
    await client.connect()
    client.send([(35, "A"), (98, 0), (108, 30)])
    await client.receive(1)
    [conn] = harness.venue.acceptor._conns
    burst = b"".join(client.frame([(35, "1"), (112, f"{i:0256d}")]) for i in range(100_000))
    client.writer.write(burst)  # and never read
    largest = 0
    for _ in range(150):  # 3 s
        await asyncio.sleep(0.02)
        largest = max(largest, conn.writer.transport.get_write_buffer_size())
    assert 0 < largest < 8 << 20, largest  # 30 MB without backpressure
    assert harness.venue.acceptor.session("FIX.4.4:EXCH->SELLER").store.next_target_seq < 100_000
    client.writer.transport.abort()  # a close would wait for the venue to read the rest
