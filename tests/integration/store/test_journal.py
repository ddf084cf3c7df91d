"""Journal, orders/trades/instruments tables, and the reads the CLI and FIX layer use."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import select

from venue.commands import (
    AddInstrument,
    AdvanceTime,
    CancelOrder,
    Command,
    NewOrder,
    ReplaceOrder,
    SetTradingStatus,
)
from venue.events import (
    Event,
    Fill,
    InstrumentAdded,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderSpec,
    Trade,
    TradingStatusChanged,
)
from venue.instruments import Instrument
from venue.store import OrderRecord, RecoveryError, Store, decode_event
from venue.store.models import CommandRow, EventRow
from venue.types import (
    CancelReason,
    OrderId,
    OrdType,
    Price,
    Qty,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    TradingStatus,
)

T0 = 1_700_000_000_000_000_000
ALICE = "FIX.4.4:VENUE->ALICE"
BOB = "FIX.4.4:VENUE->BOB"


def new(owner: str, cl: str, side: Side, qty: int, price: int, ts: int = T0) -> NewOrder:
    return NewOrder(
        ts, owner, cl, "AAPL", side, OrdType.LIMIT, Qty(qty), price=Price(price), account=owner[-3:]
    )


def spec(oid: int, cmd: NewOrder) -> OrderSpec:
    assert cmd.price is not None
    return OrderSpec(
        order_id=OrderId(oid),
        owner=cmd.owner,
        cl_ord_id=cmd.cl_ord_id,
        account=cmd.account,
        symbol=cmd.symbol,
        side=cmd.side,
        ord_type=cmd.ord_type,
        tif=cmd.tif,
        qty=cmd.qty,
        price=cmd.price,
        stop_price=None,
        expire_ns=None,
        display_qty=None,
        post_only=False,
        min_qty=None,
        stp_group="",
        stp_mode=StpMode.NONE,
        entered_ns=cmd.ts_ns,
    )


def order_record(
    s: OrderSpec, status: str, cum: int, leaves: int, notional: int, updated: int, seq: int
) -> OrderRecord:
    return OrderRecord(
        order_id=s.order_id,
        owner=s.owner,
        cl_ord_id=s.cl_ord_id,
        account=s.account,
        symbol=s.symbol,
        side=s.side.value,
        ord_type=s.ord_type.value,
        tif=s.tif.value,
        qty=s.qty,
        price=s.price,
        stop_price=s.stop_price,
        expire_ns=s.expire_ns,
        status=status,
        cum_qty=cum,
        leaves_qty=leaves,
        cum_notional=notional,
        entered_ns=s.entered_ns,
        updated_ns=updated,
        last_seq=seq,
    )


class Scenario:
    """A hand-built session: Alice rests 100 @ 150, Bob takes 40, Alice replaces the rest
    to 80 @ 151, then cancels; a rejected order; an order that expires."""

    def __init__(self) -> None:
        self.a1 = new(ALICE, "A1", Side.BUY, 100, 150)
        self.s1 = spec(1, self.a1)
        self.b1 = new(BOB, "B1", Side.SELL, 40, 150, T0 + 1)
        self.s2 = spec(2, self.b1)
        self.trade = Trade(
            3,
            T0 + 1,
            1,
            "AAPL",
            Price(150),
            Qty(40),
            Side.SELL,
            Fill(self.s1, Qty(40), Qty(60), 6000),
            Fill(self.s2, Qty(40), Qty(0), 6000),
        )
        self.r1 = ReplaceOrder(T0 + 2, ALICE, "A2", "A1", Qty(80), price=Price(151))
        self.s1r = replace(self.s1, cl_ord_id="A2", qty=Qty(80), price=Price(151))
        self.c1 = CancelOrder(T0 + 3, ALICE, "A3", "A2")
        self.bad = new(BOB, "B2", Side.SELL, 0, 150, T0 + 4)
        self.d1 = new(BOB, "B3", Side.SELL, 10, 999, T0 + 5)
        self.s3 = spec(3, self.d1)
        self.steps: list[tuple[Command, list[Event]]] = [
            (self.a1, [OrderAccepted(1, T0, self.s1)]),
            (self.b1, [OrderAccepted(2, T0 + 1, self.s2), self.trade]),
            (self.r1, [OrderReplaced(4, T0 + 2, self.s1r, "A1", Qty(40), Qty(40), 6000, False)]),
            (
                self.c1,
                [
                    OrderCancelled(
                        5, T0 + 3, self.s1r, Qty(40), 6000, CancelReason.REQUESTED, "A3", ""
                    )
                ],
            ),
            (self.bad, [OrderRejected(6, T0 + 4, self.bad, RejectReason.INVALID_QTY, "qty 0")]),
            (self.d1, [OrderAccepted(7, T0 + 5, self.s3)]),
            (AdvanceTime(T0 + 6), []),
            (AdvanceTime(T0 + 7), [OrderExpired(8, T0 + 7, self.s3, Qty(0), 0)]),
        ]

    def journal(self, store: Store, steps: slice = slice(None)) -> None:
        for i, (cmd, events) in enumerate(self.steps, start=1):
            if i - 1 in range(len(self.steps))[steps]:
                store.journal(i, cmd, events)


async def test_journal_reloads_commands_in_order(store: Store) -> None:
    sc = Scenario()
    sc.journal(store)
    assert store.pending
    await store.commit()
    assert not store.pending
    snapshot, commands, last_seq = await store.load_engine_state()
    assert snapshot is None
    assert commands == [(i, cmd) for i, (cmd, _) in enumerate(sc.steps, start=1)]
    assert last_seq == 8
    assert await store.last_cmd_no() == len(sc.steps)


async def test_events_are_stored_with_keys_and_exact_payload(store: Store) -> None:
    sc = Scenario()
    sc.journal(store)
    await store.commit()
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(EventRow.__table__).order_by(EventRow.seq))).all()
    expected = [e for _, events in sc.steps for e in events]
    assert [decode_event(r.payload) for r in rows] == expected
    keys = [(r.seq, r.kind, r.order_id, r.owner, r.cl_ord_id, r.symbol) for r in rows]
    assert keys == [
        (1, "accepted", 1, ALICE, "A1", "AAPL"),
        (2, "accepted", 2, BOB, "B1", "AAPL"),
        (3, "trade", None, None, None, "AAPL"),
        (4, "replaced", 1, ALICE, "A2", "AAPL"),
        (5, "cancelled", 1, ALICE, "A3", "AAPL"),
        (6, "rejected", None, BOB, "B2", "AAPL"),
        (7, "accepted", 3, BOB, "B3", "AAPL"),
        (8, "expired", 3, BOB, "B3", "AAPL"),
    ]


@pytest.mark.parametrize("one_batch", [True, False], ids=["one-batch", "batch-per-command"])
async def test_orders_rows_follow_the_events(store: Store, one_batch: bool) -> None:
    sc = Scenario()
    after: list[list[OrderRecord]] = []
    for i, (cmd, events) in enumerate(sc.steps, start=1):
        store.journal(i, cmd, events)
        if not one_batch:
            await store.commit()
            after.append(await store.orders(live_only=False))
    await store.commit()
    final = [
        order_record(sc.s1r, "4", 40, 0, 6000, T0 + 3, 5),
        order_record(sc.s2, "2", 40, 0, 6000, T0 + 1, 3),
        order_record(sc.s3, "C", 0, 0, 0, T0 + 7, 8),
    ]
    assert await store.orders(live_only=False) == final
    assert await store.orders() == []
    if not one_batch:
        assert after[0] == [order_record(sc.s1, "0", 0, 100, 0, T0, 1)]
        assert after[1] == [
            order_record(sc.s1, "1", 40, 60, 6000, T0 + 1, 3),
            order_record(sc.s2, "2", 40, 0, 6000, T0 + 1, 3),
        ]
        assert after[2][0] == order_record(sc.s1r, "1", 40, 40, 6000, T0 + 2, 4)
        assert after[3][0] == order_record(sc.s1r, "4", 40, 0, 6000, T0 + 3, 5)
        assert [r.order_id for r in after[5] if r.status in ("0", "1")] == [3]


async def test_a_replace_to_the_filled_quantity_stores_the_order_filled(store: Store) -> None:
    """FIX 4.4 Appendix D: a replace to a quantity <= CumQty leaves the order Filled, its
    OrderQty the filled one and its ClOrdID the replace's, as its ExecutionReport says."""
    sc = Scenario()
    store.journal(1, sc.a1, [OrderAccepted(1, T0, sc.s1)])
    store.journal(2, sc.b1, [OrderAccepted(2, T0 + 1, sc.s2), sc.trade])
    to_filled = ReplaceOrder(T0 + 2, ALICE, "A2", "A1", Qty(30))
    text = "replaced to quantity 30 <= filled quantity 40"
    done = OrderCancelled(4, T0 + 2, sc.s1, Qty(40), 6000, CancelReason.REPLACED_TO_FILLED,
                          "A2", text)  # fmt: skip
    store.journal(3, to_filled, [done])
    await store.commit()
    [row] = [r for r in await store.orders(live_only=False) if r.order_id == 1]
    assert row == order_record(replace(sc.s1, cl_ord_id="A2", qty=Qty(40)), "2", 40, 0, 6000,
                               T0 + 2, 4)  # fmt: skip


async def test_has_orders_of_a_symbol(store: Store) -> None:
    sc = Scenario()
    assert not await store.has_orders("AAPL")
    sc.journal(store, slice(0, 1))
    assert not await store.has_orders("AAPL")  # buffered, not committed
    await store.commit()
    assert await store.has_orders("AAPL")
    assert not await store.has_orders("MSFT")


async def test_orders_filters(store: Store) -> None:
    sc = Scenario()
    sc.journal(store, slice(0, 2))
    store.journal(3, sc.d1, [OrderAccepted(4, T0 + 5, sc.s3)])
    await store.commit()
    assert [o.order_id for o in await store.orders()] == [1, 3]
    assert [o.order_id for o in await store.orders(owner=BOB)] == [3]
    assert [o.order_id for o in await store.orders(owner=BOB, live_only=False)] == [2, 3]
    assert await store.orders(symbol="MSFT") == []
    assert [o.order_id for o in await store.orders(symbol="AAPL")] == [1, 3]


async def test_trade_rows_exact(store: Store) -> None:
    sc = Scenario()
    sc.journal(store)
    await store.commit()
    assert await store.trades() == [
        {
            "trade_id": 1,
            "seq": 3,
            "ts_ns": T0 + 1,
            "symbol": "AAPL",
            "price": 150,
            "qty": 40,
            "aggressor": "2",
            "buy_order_id": 1,
            "buy_owner": ALICE,
            "buy_account": "ICE",
            "buy_cl_ord_id": "A1",
            "sell_order_id": 2,
            "sell_owner": BOB,
            "sell_account": "BOB",
            "sell_cl_ord_id": "B1",
        }
    ]
    assert await store.trades("MSFT") == []


async def test_seen_cl_ord_id(store: Store) -> None:
    sc = Scenario()
    sc.journal(store)
    # not committed yet: the buffer answers
    assert await store.seen_cl_ord_id(ALICE, "A1")
    assert not await store.seen_cl_ord_id(ALICE, "ZZ")
    await store.commit()
    for owner, cl in [
        (ALICE, "A1"),
        (ALICE, "A2"),
        (ALICE, "A3"),
        (BOB, "B1"),
        (BOB, "B2"),
        (BOB, "B3"),
    ]:
        assert await store.seen_cl_ord_id(owner, cl), (owner, cl)
    assert not await store.seen_cl_ord_id(BOB, "A1")  # per owner
    assert not await store.seen_cl_ord_id(ALICE, "B1")


async def test_load_detects_a_journal_gap(store: Store) -> None:
    store.journal(1, AdvanceTime(T0), [])
    store.journal(3, AdvanceTime(T0 + 1), [])
    await store.commit()
    with pytest.raises(RecoveryError, match="expected cmd_no 2, found 3"):
        await store.load_engine_state()


async def test_instruments_from_events_and_save(store: Store) -> None:
    aapl = Instrument(
        "AAPL",
        Decimal("0.01"),
        lot_size=10,
        min_qty=10,
        max_qty=10_000,
        price_band_pct=Decimal("5.0"),
        reference_price=Price(15000),
        description="Apple",
    )
    msft = Instrument("MSFT", Decimal("0.005"))
    store.journal(1, AddInstrument(T0, aapl), [InstrumentAdded(1, T0, aapl)])
    store.journal(2, AddInstrument(T0, msft), [InstrumentAdded(2, T0, msft)])
    store.journal(
        3,
        SetTradingStatus(T0, "MSFT", halted=True),
        [TradingStatusChanged(3, T0, "MSFT", TradingStatus.HALTED)],
    )
    await store.commit()
    halted_msft = msft.with_status(TradingStatus.HALTED)
    assert await store.instruments() == [aapl, halted_msft]
    store.journal(
        4,
        SetTradingStatus(T0, "AAPL", halted=True),
        [TradingStatusChanged(4, T0, "AAPL", TradingStatus.HALTED)],
    )
    await store.commit()
    assert await store.instruments() == [aapl.with_status(TradingStatus.HALTED), halted_msft]
    ibm = Instrument("IBM", Decimal("1"))
    await store.save_instrument(ibm)
    await store.save_instrument(replace(aapl, description="Apple Inc."))
    assert await store.instruments() == [replace(aapl, description="Apple Inc."), ibm, halted_msft]


async def test_duplicate_cmd_no_is_a_store_error_and_keeps_the_buffer(store: Store) -> None:
    from venue.store import StoreError, StoreUnavailable

    store.journal(1, AdvanceTime(T0), [])
    await store.commit()
    store.journal(1, AdvanceTime(T0), [])
    with pytest.raises(StoreError, match="integrity") as info:
        await store.commit()
    assert not isinstance(info.value, StoreUnavailable)
    assert store.pending
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(CommandRow.cmd_no))).scalars().all() == [1]


async def test_close_commits_what_is_buffered(db_url: str) -> None:
    store = await Store.open(db_url)
    store.journal(1, AdvanceTime(T0), [])
    await store.close()
    store = await Store.open(db_url, create=False)
    try:
        assert (await store.load_engine_state()).commands == [(1, AdvanceTime(T0))]
    finally:
        await store.close()


async def test_tif_and_expiry_columns(store: Store) -> None:
    cmd = replace(new(ALICE, "G1", Side.BUY, 5, 100), tif=TimeInForce.GTD, expire_ns=T0 + 99)
    s = replace(spec(1, cmd), tif=TimeInForce.GTD, expire_ns=T0 + 99)
    store.journal(1, cmd, [OrderAccepted(1, T0, s)])
    await store.commit()
    (row,) = await store.orders()
    assert (row.tif, row.expire_ns) == ("6", T0 + 99)


async def test_cl_ord_ids_since_oldest_first_and_limited(store: Store) -> None:
    Scenario().journal(store)
    await store.commit()
    everything = await store.cl_ord_ids_since(T0)
    # A1 replaced to A2 (both used up, both order 1), B2 rejected (no order); not the
    # cancel's A3 (no order's)
    assert everything == [
        (ALICE, "A1", 1), (BOB, "B1", 2), (ALICE, "A2", 1), (BOB, "B2", None), (BOB, "B3", 3)]
    assert await store.cl_ord_ids_since(T0 + 2) == [
        (ALICE, "A2", 1), (BOB, "B2", None), (BOB, "B3", 3)]
    assert await store.cl_ord_ids_since(T0, limit=2) == [(BOB, "B2", None), (BOB, "B3", 3)]
    assert await store.cl_ord_ids_since(T0 + 6) == []


async def test_awkward_text_and_huge_numbers_are_stored_exactly(store: Store) -> None:
    """Quotes, backslashes, control characters, non-ASCII text and an integer beyond 64
    bits (PostgreSQL's rows then go through the standard JSON encoder) come back from the
    journal exactly as written."""
    from venue.store import encode_command, encode_event

    cl = 'q"uo\\te \x01\t\n é ✓ \U0001f600 \\u0041'
    cmd = NewOrder(T0, ALICE, cl, "AAPL", Side.BUY, OrdType.LIMIT, Qty(2**70), price=Price(5))
    event = OrderRejected(1, T0, cmd, RejectReason.INVALID_QTY, f"quantity {2**70} {cl}")
    store.journal(1, cmd, [event])
    await store.commit()
    async with store.engine.connect() as conn:
        (command_payload,) = (await conn.execute(select(CommandRow.payload))).scalars()
        (event_row,) = (await conn.execute(select(EventRow.__table__))).all()
    assert command_payload == encode_command(cmd)
    assert event_row.payload == encode_event(event)
    assert (event_row.owner, event_row.cl_ord_id) == (ALICE, cl)
    _, commands, _ = await store.load_engine_state()
    assert commands == [(1, cmd)]
    assert decode_event(event_row.payload) == event
