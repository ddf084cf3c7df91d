"""A venue restart in the middle of a client's day: sequence numbers, order ids, resends and
FIX duplicate detection continue from the store."""

from __future__ import annotations

import gc

import pytest

from fix_gateway.config import parse_config
from venue.runtime import Venue
from venue.snapshot import EngineSnapshot

pytestmark = pytest.mark.quickfix


async def restart(harness, monkeypatch: pytest.MonkeyPatch) -> None:
    old = harness.venue
    port = harness.port
    collector_on: list[bool] = []
    to_json = EngineSnapshot.to_json

    def recorded(snapshot: EngineSnapshot) -> str:
        collector_on.append(gc.isenabled())
        return to_json(snapshot)

    monkeypatch.setattr(EngineSnapshot, "to_json", recorded)
    await old.stop()
    assert collector_on == [False]  # one snapshot, encoded with the collector off ...
    assert gc.isenabled()  # ... and on again after
    cfg_path = harness.root / "sessions.cfg"
    text = cfg_path.read_text().replace("SocketAcceptPort=0", f"SocketAcceptPort={port}")
    harness.venue = Venue(parse_config(text, cfg_path), old.options)
    await harness.venue.start()


async def test_restart_continues_orders_sequences_and_duplicate_detection(
    harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = await harness.client("SELLER")  # no cancel-on-disconnect
    buyer.order("P1", "TEST", "1", 10, "5.00")
    first = await buyer.next_app()
    assert first[150] == "0"
    buyer.order("R1", "TEST", "1", 10, "4.00")
    replaced = await buyer.next_app()
    buyer.send("G", [(41, "R1"), (11, "R2"), (55, "TEST"), (54, "1"), (60, "20260101-00:00:00"),
                     (38, "12"), (40, "2"), (44, "4.00")])
    assert (await buyer.next_app())[150] == "5"
    seq_before = int(first[34]) + 2

    # The client goes away with the venue and comes back after the restart (a QuickFIX
    # initiator whose session the venue logged out does not reconnect by itself).
    await buyer.stop()
    await restart(harness, monkeypatch)
    await buyer.start()

    # PossResend of an order the venue acknowledged before the restart: not executed twice.
    buyer.order("P1", "TEST", "1", 10, "5.00", extra=[(97, "Y")])
    status = await buyer.next_app()
    assert (status[150], status[39], status[37], status[11]) == ("I", "0", first[37], "P1")
    assert int(status[34]) > seq_before
    # ... nor of a replaced order by its first ClOrdID: the answer is that order's status,
    # named by its current ClOrdID
    buyer.order("R1", "TEST", "1", 10, "4.00", extra=[(97, "Y")])
    status = await buyer.next_app()
    assert (status[150], status[39], status[37], status[11], status[38]) == (
        "I", "0", replaced[37], "R2", "12")
    live = harness.venue.engine.live_orders(owner="FIX.4.4:EXCH->SELLER")
    assert [(v.spec.cl_ord_id, v.spec.qty) for v in live] == [("P1", 10), ("R2", 12)]
    assert int(replaced[37]) == live[1].spec.order_id

    # Order ids and exec ids continue: no reuse across the restart.
    buyer.order("P2", "TEST", "1", 10, "5.00")
    second = await buyer.next_app()
    assert second[150] == "0"
    assert int(second[37]) > int(first[37])
    assert int(second[17]) > int(first[17])
