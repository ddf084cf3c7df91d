"""A ResendRequest older than the outbound messages kept in memory is served from the
store: while the venue runs and after a restart (raw FIX client: exact MsgSeqNums)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from support.rawclient import RawClient

import venue.runtime
from fix_gateway.codec import Message, format_utc_timestamp
from fix_gateway.config import parse_config
from venue.runtime import Venue


def order(cl_ord_id: str) -> list[tuple[int, Any]]:
    now = format_utc_timestamp(time.time_ns())
    return [(35, "D"), (11, cl_ord_id), (55, "TEST"), (54, "1"), (60, now), (38, 1),
            (40, "2"), (44, "1.00")]  # fmt: skip


def resent_orders(messages: list[Message]) -> list[tuple[str | None, ...]]:
    return [(m.get(34), m.get(11), m.get(150), m.get(43)) for m in messages if m.msg_type == "8"]


async def test_resend_beyond_the_memory_window_comes_from_the_store(
    monkeypatch: pytest.MonkeyPatch, make_harness: Callable[[str], Any], tmp_path: Any
) -> None:
    monkeypatch.setattr(venue.runtime, "FIX_MESSAGES_KEPT", 4)
    harness = await make_harness(f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}")
    client = RawClient(harness.port, "SELLER", "EXCH")
    await client.connect()
    client.send([(35, "A"), (98, 0), (108, 30)])
    [logon] = await client.receive(1)
    assert (logon.msg_type, logon.get(34)) == ("A", "1")
    for i in range(1, 9):
        client.send(order(f"C{i}"))
    acks = await client.receive(8)
    expected = [(str(seq), f"C{seq - 1}", "0", "Y") for seq in range(2, 10)]
    assert [(m.get(34), m.get(11), m.get(150)) for m in acks] == [e[:3] for e in expected]
    [store] = [s for sid, s in harness.venue._fix_stores.items() if sid.target_comp_id == "SELLER"]
    assert store.first_kept_seq > 2  # 2.. are no longer in memory

    # while running: 2..9 again, the older ones read from the database
    client.send([(35, "2"), (7, 2), (16, 0)])
    again = await client.receive(8)
    assert resent_orders(again) == expected
    assert [m.get(17) for m in again] == [m.get(17) for m in acks]  # the same ExecIDs

    # after a restart: only the newest messages are loaded, the rest comes from the store
    await client.close()
    old, port = harness.venue, harness.port
    await old.stop()
    cfg_path = harness.root / "sessions.cfg"
    text = cfg_path.read_text().replace("SocketAcceptPort=0", f"SocketAcceptPort={port}")
    harness.venue = Venue(parse_config(text, cfg_path), old.options)
    await harness.venue.start()
    client = RawClient(harness.port, "SELLER", "EXCH", seq=client.seq)
    await client.connect()
    client.send([(35, "A"), (98, 0), (108, 30)])
    [logon] = await client.receive(1)
    venue_next = int(logon.get(34) or 0)
    assert venue_next >= 10
    client.send([(35, "2"), (7, 2), (16, 0)])
    replies = await client.receive(9)  # 2..9, then one gap fill over the admin messages
    assert resent_orders(replies) == expected
    gap_fill = replies[-1]
    assert (gap_fill.msg_type, gap_fill.get(34), gap_fill.get(123), gap_fill.get(36)) == (
        "4",
        "10",
        "Y",
        str(venue_next + 1),
    )
    await client.close()
