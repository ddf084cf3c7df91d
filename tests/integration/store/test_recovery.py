"""Snapshots and recovery with the real matching engine: snapshot + journal replay gives
back exactly the engine that ran, and a divergent journal is refused."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from venue.commands import (
    AddInstrument,
    AdvanceTime,
    CancelOrder,
    Command,
    MassCancel,
    NewOrder,
    ReplaceOrder,
)
from venue.engine import MatchingEngine
from venue.events import OrderAccepted
from venue.instruments import Instrument
from venue.snapshot import EngineSnapshot
from venue.store import RecoveryError, Store, recover_engine
from venue.store.models import SnapshotPartRow, SnapshotRow
from venue.types import OrdType, Price, Qty, Side, TimeInForce

T0 = 1_700_000_000_000_000_000
OWNERS = ["FIX.4.4:VENUE->A", "FIX.4.4:VENUE->B", "FIX.4.4:VENUE->C"]


def command_stream(n: int, seed: int = 7) -> list[Command]:
    """A deterministic mix of orders, replaces, cancels and time."""
    rng = random.Random(seed)
    cmds: list[Command] = [
        AddInstrument(T0, Instrument("AAPL", Decimal("0.01"))),
        AddInstrument(T0, Instrument("MSFT", Decimal("0.01"), lot_size=10, min_qty=10)),
    ]
    sent: list[tuple[str, str]] = []
    for i in range(n):
        ts = T0 + 1000 * (i + 1)
        owner = rng.choice(OWNERS)
        roll = rng.random()
        if roll < 0.65 or not sent:
            cl = f"N{i}"
            symbol = rng.choice(["AAPL", "MSFT"])
            tif = rng.choice([TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC])
            ord_type = OrdType.MARKET if rng.random() < 0.1 else OrdType.LIMIT
            cmds.append(
                NewOrder(
                    ts,
                    owner,
                    cl,
                    symbol,
                    rng.choice([Side.BUY, Side.SELL]),
                    ord_type,
                    Qty(10 * rng.randint(1, 20)),
                    price=None if ord_type is OrdType.MARKET else Price(rng.randint(9990, 10010)),
                    tif=TimeInForce.DAY if ord_type is OrdType.MARKET else tif,
                )
            )
            sent.append((owner, cl))
        elif roll < 0.8:
            owner, cl = rng.choice(sent)
            cmds.append(CancelOrder(ts, owner, f"X{i}", cl))
        elif roll < 0.95:
            owner, cl = rng.choice(sent)
            new_cl = f"R{i}"
            cmds.append(
                ReplaceOrder(
                    ts,
                    owner,
                    new_cl,
                    cl,
                    Qty(10 * rng.randint(1, 20)),
                    price=Price(rng.randint(9990, 10010)),
                )
            )
            sent.append((owner, new_cl))
        elif roll < 0.98:
            cmds.append(MassCancel(ts, owner, f"M{i}", symbol="AAPL"))
        else:
            cmds.append(AdvanceTime(ts))
    return cmds


def run(store: Store | None, engine: MatchingEngine, cmds: list[Command], first: int) -> int:
    cmd_no = first - 1
    for cmd in cmds:
        cmd_no += 1
        events = engine.handle(cmd)
        if store is not None:
            store.journal(cmd_no, cmd, events)
    return cmd_no


async def test_snapshot_write_and_load(store: Store) -> None:
    engine = MatchingEngine()
    run(None, engine, command_stream(200), 1)
    snap = engine.snapshot()
    assert snap.orders  # something rests
    await store.write_snapshot(202, snap)
    state = await store.load_engine_state()
    assert state.snapshot == snap
    assert state.commands == []
    assert await store.last_cmd_no() == 202


async def test_only_the_newest_snapshots_are_kept(store: Store) -> None:
    engine = MatchingEngine()
    cmds = command_stream(20)
    for i, cmd in enumerate(cmds, start=1):
        engine.handle(cmd)
        await store.write_snapshot(i, engine.snapshot(), keep=2)
    async with store.engine.connect() as conn:
        kept = (await conn.execute(select(SnapshotRow.cmd_no))).scalars().all()
        parts = (await conn.execute(select(SnapshotPartRow.snapshot_id))).scalars().all()
    assert sorted(kept) == [len(cmds) - 1, len(cmds)]
    assert len(parts) == 2  # the dropped snapshots' parts are deleted with them


async def test_the_newest_snapshot_is_the_one_after_the_most_commands(store: Store) -> None:
    """A snapshot stored late (a child's, finishing after the stop's) is older by its
    cmd_no, whatever the order of the rows."""
    engine = MatchingEngine()
    texts = {}
    for cmd_no, cmd in enumerate(command_stream(12), start=1):
        engine.handle(cmd)
        texts[cmd_no] = engine.snapshot().to_json()
    for cmd_no in (10, 5, 12, 7):  # the order the rows are inserted in
        await store.write_snapshot_text(cmd_no, cmd_no, texts[cmd_no], keep=2)
    snapshot, cmd_no, _ = await store.load_snapshot()
    assert cmd_no == 12 and snapshot is not None and snapshot.to_json() == texts[12]
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(SnapshotRow.cmd_no, SnapshotRow.event_seq))).all()
    assert sorted(rows) == [(10, 10), (12, 12)]


async def test_a_snapshot_is_stored_in_parts_and_loaded_whole(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = MatchingEngine()
    run(None, engine, command_stream(200), 1)
    text = engine.snapshot().to_json()
    monkeypatch.setattr("venue.store.store.SNAPSHOT_PART_CHARS", 1000)
    await store.write_snapshot_text(202, 9, text)
    async with store.engine.connect() as conn:
        (snapshot_id, parts), *more = (
            await conn.execute(select(SnapshotRow.id, SnapshotRow.parts))
        ).all()
        stored = (
            await conn.execute(
                select(SnapshotPartRow.part, SnapshotPartRow.text)
                .where(SnapshotPartRow.snapshot_id == snapshot_id)
                .order_by(SnapshotPartRow.part)
            )
        ).all()
    assert more == [] and parts == len(stored) == -(-len(text) // 1000) > 2
    assert [part for part, _ in stored] == list(range(parts))
    assert {len(t) for _, t in stored[:-1]} == {1000}
    assert "".join(t for _, t in stored) == text
    assert await store.load_snapshot() == (engine.snapshot(), 202, 0)


async def test_an_incomplete_snapshot_is_ignored_and_removed_by_the_next(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write cut off after some parts (a crash) leaves a row without its number of parts:
    recovery takes the snapshot before it, and the next write deletes it and its parts."""
    engine = MatchingEngine()
    run(None, engine, command_stream(50), 1)
    monkeypatch.setattr("venue.store.store.SNAPSHOT_PART_CHARS", 500)
    await store.write_snapshot(10, engine.snapshot())
    await store.write_snapshot(20, engine.snapshot())
    async with store.engine.begin() as conn:  # as if the write of 20 had stopped before its end
        await conn.execute(update(SnapshotRow).where(SnapshotRow.cmd_no == 20).values(parts=None))
    assert (await store.load_snapshot())[1] == 10
    assert await store.last_cmd_no() == 10

    await store.write_snapshot(30, engine.snapshot(), keep=3)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(SnapshotRow.cmd_no).order_by(SnapshotRow.cmd_no))).all()
        orphans = await conn.scalar(
            select(func.count()).where(SnapshotPartRow.snapshot_id.not_in(select(SnapshotRow.id)))
        )
    assert [r.cmd_no for r in rows] == [10, 30]
    assert orphans == 0
    assert (await store.load_snapshot())[1] == 30


async def test_a_snapshot_missing_a_part_stops_recovery(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = MatchingEngine()
    run(None, engine, command_stream(50), 1)
    monkeypatch.setattr("venue.store.store.SNAPSHOT_PART_CHARS", 500)
    await store.write_snapshot(52, engine.snapshot())
    async with store.engine.begin() as conn:
        parts = await conn.scalar(select(SnapshotRow.parts))
        await conn.execute(delete(SnapshotPartRow).where(SnapshotPartRow.part == 1))
    assert parts is not None and parts > 2
    with pytest.raises(
        RecoveryError, match=rf"snapshot after command 52 has {parts - 1} of its {parts} parts"
    ):
        await store.load_snapshot()


@pytest.mark.parametrize("with_snapshot", [False, True], ids=["journal-only", "snapshot"])
async def test_recovery_rebuilds_the_same_engine(db_url: str, with_snapshot: bool) -> None:
    cmds = command_stream(600)
    store = await Store.open(db_url)
    engine = MatchingEngine()
    cmd_no = 0
    for start in range(0, 400, 37):  # commit in uneven batches
        cmd_no = run(store, engine, cmds[start : min(start + 37, 400)], cmd_no + 1)
        await store.commit()
    if with_snapshot:
        await store.write_snapshot(cmd_no, engine.snapshot())
    cmd_no = run(store, engine, cmds[400:], cmd_no + 1)
    await store.commit()
    await store.close(commit=False)  # "crash": no clean-shutdown snapshot

    store = await Store.open(db_url, create=False)
    try:
        recovered, result = await recover_engine(store, MatchingEngine, MatchingEngine.restore)
        assert result.snapshot_used is with_snapshot
        assert result.replayed == (len(cmds) - 400 if with_snapshot else len(cmds))
        assert result.last_cmd_no == cmd_no == len(cmds)
        assert result.last_event_seq == engine.next_seq - 1
        assert recovered.snapshot() == engine.snapshot()
        probe = NewOrder(
            T0 + 10**9,
            OWNERS[0],
            "probe",
            "AAPL",
            Side.BUY,
            OrdType.LIMIT,
            Qty(500),
            price=Price(10010),
        )
        assert recovered.handle(probe) == engine.handle(probe)
    finally:
        await store.close()


async def test_recovery_refuses_a_divergent_journal(store: Store) -> None:
    engine = MatchingEngine()
    cmds = command_stream(30)
    cmd_no = run(store, engine, cmds, 1)
    # an event the engine would not produce on replay
    last = engine.next_seq
    bogus = NewOrder(
        T0, OWNERS[0], "ghost", "AAPL", Side.BUY, OrdType.LIMIT, Qty(1), price=Price(1)
    )
    accepted = engine.handle(bogus)
    assert isinstance(accepted[0], OrderAccepted)
    store.journal(cmd_no + 1, AdvanceTime(T0), [OrderAccepted(last, T0, accepted[0].spec)])
    await store.commit()
    with pytest.raises(RecoveryError, match="store's last event seq"):
        await recover_engine(store, MatchingEngine, MatchingEngine.restore)


async def test_a_snapshot_of_format_version_1_is_loaded(store: Store) -> None:
    text = (Path(__file__).parents[2] / "unit" / "engine" / "snapshot_v1.json").read_text()
    await _insert_snapshot_row(store, 7, text)
    snapshot, cmd_no, _ = await store.load_snapshot()
    assert cmd_no == 7
    assert snapshot is not None and snapshot.next_seq == json.loads(text)["next_seq"]
    assert snapshot.done_aliases == (("A", "x", 8),)
    assert [v.spec.cl_ord_id for v in snapshot.orders] == ["b1", "b2", "s2", "ice", "stop", "sl"]


async def test_a_damaged_snapshot_stops_recovery_with_its_reason(store: Store) -> None:
    text = MatchingEngine().snapshot().to_json().replace('"version":2', '"version":9')
    await _insert_snapshot_row(store, 3, text)
    with pytest.raises(RecoveryError, match=r"snapshot after command 3 is unreadable: .*version 9"):
        await recover_engine(store, MatchingEngine, MatchingEngine.restore)


async def test_a_snapshot_whose_orders_cannot_be_restored_stops_recovery(store: Store) -> None:
    engine = MatchingEngine([Instrument("AAA", Decimal("0.01"))])  # type: ignore[list-item]
    engine.handle(NewOrder(1, "A", "o1", "AAA", Side.BUY, OrdType.LIMIT, Qty(5), Price(100)))
    head, rows = engine.snapshot().to_json().split("\n")
    order = json.loads(rows)
    order[0][4] = "ZZZ"  # a symbol the snapshot's instruments do not hold
    await _insert_snapshot_row(store, 1, f"{head}\n{json.dumps(order)}")
    with pytest.raises(RecoveryError, match=r"snapshot after command 1 cannot be restored.*ZZZ"):
        await recover_engine(store, MatchingEngine, MatchingEngine.restore)


async def _insert_snapshot_row(store: Store, cmd_no: int, payload: str) -> None:
    await store.write_snapshot_text(cmd_no, 0, payload)


async def test_snapshot_type_is_the_engines(store: Store) -> None:
    await store.write_snapshot(0, MatchingEngine().snapshot())
    state = await store.load_engine_state()
    assert isinstance(state.snapshot, EngineSnapshot)
    assert state.snapshot.next_seq == 1
