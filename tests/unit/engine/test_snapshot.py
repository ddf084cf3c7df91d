"""Snapshot and restore: same books, same priority, counters continue, JSON-safe form and
stored text (version 2, and version 1 still read)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import venue.engine as engine_module
import venue.snapshot as snapshot_module
from venue.commands import CancelOrder, NewOrder, StatusQuery
from venue.engine import MatchingEngine
from venue.events import CancelRejected, OrderStatusReport
from venue.instruments import Instrument
from venue.snapshot import ORDER_ROW, EngineSnapshot
from venue.types import (
    CxlRejReason,
    OrderId,
    OrdStatus,
    OrdType,
    Price,
    Qty,
    Side,
    StpMode,
    TimeInForce,
)

H = Any
B, S = Side.BUY, Side.SELL


def _populate(h: H) -> None:
    h.sell("ice", 10, 101, display_qty=3, owner="S")
    h.sell("s2", 4, 101, owner="T")
    h.buy("b1", 5, 99, tif=TimeInForce.GTC, stp_group="G", stp_mode=StpMode.CANCEL_BOTH)
    h.buy("b2", 5, 99, tif=TimeInForce.GTD, expire_ns=10_000)
    h.buy("take", 4, 101, owner="X")  # iceberg refills behind s2; last price 101
    h.buy("stop", 2, ord_type=OrdType.STOP, stop_price=105)
    h.sell("sl", 2, 95, ord_type=OrdType.STOP_LIMIT, stop_price=97)
    h.sell("gone", 1, 110)
    h.cancel("gone")


def test_snapshot_round_trip_and_identical_continuation(h: H) -> None:
    _populate(h)
    snap = h.engine.snapshot()
    assert [v.spec.cl_ord_id for v in snap.orders] == ["b1", "b2", "s2", "ice", "stop", "sl"]
    again = EngineSnapshot.from_json(snap.to_json())
    assert again == snap
    restored = MatchingEngine.restore(again)
    assert restored.snapshot() == snap
    assert (restored.next_seq, restored.next_order_id, restored.next_trade_id) == (
        h.engine.next_seq,
        h.engine.next_order_id,
        h.engine.next_trade_id,
    )
    assert restored.depth("AAA", 5) == h.engine.depth("AAA", 5)
    cmds = [
        NewOrder(100, "Y", "y1", "AAA", B, OrdType.LIMIT, 20, 106),  # type: ignore[arg-type]
        NewOrder(101, "Y", "y2", "AAA", S, OrdType.MARKET, 12),  # type: ignore[arg-type]
        CancelOrder(102, "A", "c", "gone"),
        NewOrder(20_000, "Y", "y3", "AAA", S, OrdType.LIMIT, 1, 99),  # type: ignore[arg-type]
    ]
    for cmd in cmds:
        assert restored.handle(cmd) == h.engine.handle(cmd)
    assert restored.snapshot() == h.engine.snapshot()


def _parts(text: str) -> tuple[dict[str, Any], list[list[Any]]]:
    """The stored text's first line and its order arrays, line by line."""
    head, *lines = [json.loads(line) for line in text.split("\n")]
    return head, lines


def _text(head: dict[str, Any], lines: list[list[Any]]) -> str:
    return "\n".join(json.dumps(part) for part in (head, *lines))


def test_the_stored_text_holds_each_order_as_one_array(h: H) -> None:
    _populate(h)
    snap = h.engine.snapshot()
    text = snap.to_json()
    head, lines = _parts(text)
    assert head["version"] == 2
    assert "std_json" not in head and "orders" not in head
    assert head["rows"] == [6, 2]  # live orders, then finished ones
    [rows] = lines
    assert dict(zip(ORDER_ROW, rows[0], strict=True)) == {
        "order_id": 3, "owner": "A", "cl_ord_id": "b1", "account": "", "symbol": "AAA",
        "side": "1", "ord_type": "2", "tif": "1", "qty": 5, "price": 99, "stop_price": None,
        "expire_ns": None, "display_qty": None, "post_only": False, "min_qty": None,
        "stp_group": "G", "stp_mode": "CancelBoth", "entered_ns": 3,
        "cum_qty": 0, "leaves_qty": 5, "cum_notional": 0, "status": "0", "displayed_qty": 5,
        "triggered": False,
    }  # fmt: skip
    [(cum, leaves, notional, status)] = [row[18:22] for row in rows[6:] if row[2] == "take"]
    assert (cum, leaves, notional, status) == (4, 0, 404, "2")
    assert EngineSnapshot.from_json(text) == snap
    assert EngineSnapshot.from_json(text.encode()) == snap


def test_the_orders_are_spread_over_lines(h: H, monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(h)
    monkeypatch.setattr(snapshot_module, "ROWS_PER_LINE", 3)
    snap = h.engine.snapshot()
    text = snap.to_json()
    head, lines = _parts(text)
    assert head["rows"] == [6, 2]
    assert [len(line) for line in lines] == [3, 3, 2]  # 6 live, 2 finished, in 3 lines
    assert [row[2] for row in lines[2]] == ["take", "gone"]
    assert EngineSnapshot.from_json(text) == snap

def test_a_version_1_snapshot_is_still_read(h: H) -> None:
    # written by the venue before format version 2, from the same _populate
    text = (Path(__file__).parent / "snapshot_v1.json").read_text()
    _populate(h)
    snap = EngineSnapshot.from_json(text)
    current = h.engine.snapshot()
    assert snap.finished_by == () and current.finished_by == ((8, "x"),)  # newer than v1
    assert dataclasses.replace(snap, finished_by=current.finished_by) == current
    assert snap.done_aliases == (("A", "x", 8),)
    assert MatchingEngine.restore(snap).snapshot() == current  # taken from done_aliases


def test_a_quantity_beyond_64_bits_survives_the_stored_text(h: H) -> None:
    h.buy("big", 2**70, 99)
    snap = h.engine.snapshot()
    text = snap.to_json()
    assert _parts(text)[0]["std_json"] is True
    again = EngineSnapshot.from_json(text)
    assert again == snap
    assert again.orders[0].spec.qty == 2**70
    assert type(again.orders[0].leaves_qty) is int


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda head, rows: head.update(version=3), ValueError),
        (lambda head, rows: head.update(version=True), ValueError),  # not version 1
        (lambda head, rows: head.pop("next_seq"), KeyError),
        (lambda head, rows: head.update(rows=[5, 2]), ValueError),  # 7 orders, 8 arrays
        (lambda head, rows: head.pop("rows"), ValueError),
        (lambda head, rows: rows[0].pop(), ValueError),  # a member short
        (lambda head, rows: rows[0].__setitem__(5, "9"), KeyError),  # no such side
        (lambda head, rows: rows.__setitem__(0, 7), TypeError),  # not an array
        (lambda head, rows: rows[0].__setitem__(8, None), ValueError),  # qty null
        (lambda head, rows: rows[0].__setitem__(8, "5"), ValueError),
        (lambda head, rows: rows[0].__setitem__(8, 5.5), ValueError),
        (lambda head, rows: rows[0].__setitem__(8, 2**70), ValueError),  # float: no std_json
        (lambda head, rows: rows[0].__setitem__(13, 0), ValueError),  # post_only not a bool
        (lambda head, rows: rows[0].__setitem__(20, None), ValueError),  # cum_notional null
        (lambda head, rows: rows[0].__setitem__(23, "false"), ValueError),  # triggered
    ],
)
def test_a_damaged_snapshot_is_refused(h: H, mutate: Any, error: type[Exception]) -> None:
    _populate(h)
    head, lines = _parts(h.engine.snapshot().to_json())
    mutate(head, lines[0])
    with pytest.raises(error):
        EngineSnapshot.from_json(_text(head, lines))


def test_text_orjson_cannot_write_is_read_back(h: H) -> None:
    h.buy("b1", 5, 99, owner="odd\udc80owner")  # a lone surrogate, e.g. from JSON input
    snap = h.engine.snapshot()
    text = snap.to_json()
    assert _parts(text)[0]["std_json"] is True
    assert EngineSnapshot.from_json(text) == snap


def test_text_that_is_not_a_snapshot_is_refused() -> None:
    for text in ("[1, 2]", "{", "", "{}\n[]"):
        with pytest.raises(ValueError):
            EngineSnapshot.from_json(text)


def test_restore_of_empty_engine_keeps_instruments_and_status() -> None:
    inst = Instrument("AAA", Decimal("0.01"), price_band_pct=Decimal("5.5"), reference_price=100)  # type: ignore[arg-type]
    engine = MatchingEngine([inst], next_seq=10)
    snap = engine.snapshot()
    assert snap.orders == ()
    assert snap.last_prices == {}
    restored = MatchingEngine.restore(EngineSnapshot.from_json(snap.to_json()))
    assert restored.instruments() == [inst]
    assert restored.next_seq == 10


def test_a_cancelled_order_answers_to_the_cancels_clordid_also_after_restore(h: H) -> None:
    h.buy("b1", 5, 100)
    h.cancel("b1", cl="b2")  # FIX: the order's ClOrdID is now b2
    assert h.cancel("b2", cl="b3")[0][4] is CxlRejReason.TOO_LATE
    snap = EngineSnapshot.from_json(h.engine.snapshot().to_json())
    assert snap.done_aliases == (("A", "b2", 1),)
    restored = MatchingEngine.restore(snap)
    [rej] = restored.handle(
        CancelOrder(ts_ns=99, owner="A", cl_ord_id="b4", orig_cl_ord_id="b2")
    )
    assert isinstance(rej, CancelRejected)
    assert (rej.reason, rej.ord_status) == (CxlRejReason.TOO_LATE, OrdStatus.CANCELED)


def test_a_status_report_names_the_same_cl_ord_id_after_restore(h: H) -> None:
    """A ClOrdID that finished several orders (a mass cancel), or that went to another order
    since, still names each order it finished: the snapshot keeps every order's."""
    from venue.commands import MassCancel

    h.buy("o1", 10, 100)
    h.buy("o2", 10, 99)
    h.raw(MassCancel(ts_ns=h.tick(), owner="A", cl_ord_id="m1"))
    h.buy("b", 5, 98)
    h.cancel("b", cl="a")  # order 3 answers to "a" ...
    h.buy("a", 5, 97)
    h.cancel("a", cl="x")  # ... which now names order 4
    restored = MatchingEngine.restore(EngineSnapshot.from_json(h.engine.snapshot().to_json()))
    for query in (StatusQuery(99, "A", "o1"), StatusQuery(99, "A", "o2"),
                  StatusQuery(99, "A", "", order_id=OrderId(3)), StatusQuery(99, "A", "a")):
        [before] = h.engine.handle(query)
        [after] = restored.handle(query)
        assert isinstance(before, OrderStatusReport) and before == after
    [o1] = restored.handle(StatusQuery(99, "A", "o1"))
    [b] = restored.handle(StatusQuery(99, "A", "", order_id=OrderId(3)))
    assert (o1.cl_ord_id, b.cl_ord_id) == ("m1", "a")


def test_a_partly_filled_cancelled_order_keeps_its_fills_after_restore(h: H) -> None:
    h.sell("s1", 10, 100, owner="S")
    h.buy("b1", 4, 100)
    h.cancel("s1", owner="S", cl="c1")
    before = h.engine.order(OrderId(1))
    assert before is not None
    assert (before.status, before.cum_qty, before.leaves_qty) == (OrdStatus.CANCELED, 4, 0)
    restored = MatchingEngine.restore(
        EngineSnapshot.from_json(h.engine.snapshot().to_json())
    )
    assert restored.order(OrderId(1)) == before
    [report] = restored.handle(StatusQuery(ts_ns=99, owner="S", cl_ord_id="s1"))
    assert isinstance(report, OrderStatusReport)
    assert (report.status, report.cum_qty, report.cum_notional) == (OrdStatus.CANCELED, 4, 400)


def test_the_oldest_finished_orders_are_forgotten_in_chunks(
    h: H, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "DONE_ORDERS_KEPT", 4)
    monkeypatch.setattr(engine_module, "_DONE_HIGH", 5)
    for i in range(1, 6):
        h.buy(f"o{i}", 1, 100)
        h.cancel(f"o{i}", cl=f"c{i}")
    # five finished orders: at the limit, nothing forgotten yet
    assert h.cancel("o1", cl="x1")[0][4] is CxlRejReason.TOO_LATE
    h.buy("o6", 1, 100)
    h.cancel("o6", cl="c6")  # six: the two oldest go, with their aliases
    for gone in ("o1", "c1", "o2", "c2"):
        assert h.cancel(gone, cl="y")[0][4] is CxlRejReason.UNKNOWN_ORDER, gone
    assert h.engine.order(OrderId(2)) is None
    for kept in ("o3", "c3", "o6", "c6"):
        assert h.cancel(kept, cl="y")[0][4] is CxlRejReason.TOO_LATE, kept
    snap = h.engine.snapshot()
    assert [v.spec.cl_ord_id for v in snap.done_orders] == ["o3", "o4", "o5", "o6"]
    assert snap.done_aliases == tuple(("A", f"c{i}", i) for i in range(3, 7))
    # a restored engine forgets the same orders at the same command as the original
    restored = MatchingEngine.restore(EngineSnapshot.from_json(snap.to_json()))
    for engine in (h.engine, restored):
        engine.handle(
            NewOrder(ts_ns=500, owner="A", cl_ord_id="o7", symbol="AAA", side=Side.BUY,
                     ord_type=OrdType.LIMIT, qty=Qty(1), price=Price(100))
        )  # fmt: skip
        engine.handle(CancelOrder(ts_ns=501, owner="A", cl_ord_id="c7", orig_cl_ord_id="o7"))
        engine.handle(
            NewOrder(ts_ns=502, owner="A", cl_ord_id="o8", symbol="AAA", side=Side.BUY,
                     ord_type=OrdType.LIMIT, qty=Qty(1), price=Price(100))
        )  # fmt: skip
        engine.handle(CancelOrder(ts_ns=503, owner="A", cl_ord_id="c8", orig_cl_ord_id="o8"))
    assert restored.snapshot() == h.engine.snapshot()
    assert [v.spec.cl_ord_id for v in restored.snapshot().done_orders] == ["o5", "o6", "o7", "o8"]
