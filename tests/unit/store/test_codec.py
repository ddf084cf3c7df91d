"""Round-trip tests of venue.store.codec: every command and event type, with every
optional field both absent and present, decodes to an equal object."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venue.commands import (
    AddInstrument,
    AdvanceTime,
    CancelOrder,
    Command,
    EndOfDay,
    MassCancel,
    NewOrder,
    RejectOrder,
    ReplaceOrder,
    SetTradingStatus,
    StatusQuery,
)
from venue.events import (
    CancelRejected,
    Event,
    Fill,
    InstrumentAdded,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderSpec,
    OrderStatusReport,
    OrderTriggered,
    Trade,
    TradingStatusChanged,
)
from venue.instruments import Instrument
from venue.store.codec import (
    COMMAND_KINDS,
    EVENT_KINDS,
    CodecError,
    decode_command,
    decode_event,
    encode_command,
    encode_event,
)
from venue.types import (
    CancelReason,
    CxlRejReason,
    CxlRejResponseTo,
    OrderId,
    OrdStatus,
    OrdType,
    Price,
    Qty,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    TradingStatus,
)

TS = 1_700_000_000_123_456_789

INST_MIN = Instrument("AAPL", Decimal("0.01"))
INST_FULL = Instrument(
    "BTC-USD/X",
    Decimal("0.00000100"),
    lot_size=5,
    min_qty=10,
    max_qty=10**9,
    price_band_pct=Decimal("7.50"),
    reference_price=Price(8_999_999_999),
    status=TradingStatus.HALTED,
    description="Bitcoin — “quoted” in USD",
)

NEW_MIN = NewOrder(TS, "FIX.4.4:VENUE->C1", "c1", "AAPL", Side.BUY, OrdType.MARKET, Qty(100))
NEW_FULL = NewOrder(
    TS,
    "FIX.4.4:VENUE->C1",
    "c2",
    "AAPL",
    Side.SELL,
    OrdType.STOP_LIMIT,
    Qty(1000),
    price=Price(15000),
    stop_price=Price(15100),
    tif=TimeInForce.GTD,
    expire_ns=TS + 10**9,
    account="ACC-1",
    display_qty=Qty(100),
    post_only=True,
    min_qty=Qty(200),
    stp_group="FIRM-A",
    stp_mode=StpMode.DECREMENT_AND_CANCEL,
)
REPLACE_MIN = ReplaceOrder(TS, "o", "c3", "c2", Qty(5))
REPLACE_FULL = ReplaceOrder(
    TS,
    "o",
    "c3",
    "c2",
    Qty(5),
    price=Price(-3),  # negative prices exist (spreads)
    stop_price=Price(7),
    order_id=OrderId(2**53 + 1),
    symbol="AAPL",
    side=Side.BUY,
    display_qty=Qty(1),
    tif=TimeInForce.GTC,
    expire_ns=TS,
)

COMMANDS: list[Command] = [
    NEW_MIN,
    NEW_FULL,
    CancelOrder(TS, "o", "k1", "c1"),
    RejectOrder(NEW_FULL, RejectReason.RISK_LIMIT, "order quantity 9 exceeds the limit 5"),
    CancelOrder(
        TS, "o", "k1", "c1", order_id=OrderId(7), symbol="AAPL", side=Side.SELL,
        reason=CancelReason.ADMIN,
    ),
    REPLACE_MIN,
    REPLACE_FULL,
    MassCancel(TS, "o", "m1"),
    MassCancel(TS, "o", "m1", symbol="AAPL", side=Side.BUY),
    StatusQuery(TS, "o", "c1"),
    StatusQuery(TS, "o", "c1", order_id=OrderId(1), symbol="AAPL", side=Side.SELL),
    AdvanceTime(TS),
    EndOfDay(TS),
    SetTradingStatus(TS, "AAPL", halted=True),
    SetTradingStatus(TS, "AAPL", halted=False),
    AddInstrument(TS, INST_MIN),
    AddInstrument(TS, INST_FULL),
]

SPEC_MIN = OrderSpec(
    order_id=OrderId(1),
    owner="o",
    cl_ord_id="c1",
    account="",
    symbol="AAPL",
    side=Side.BUY,
    ord_type=OrdType.MARKET,
    tif=TimeInForce.IOC,
    qty=Qty(100),
    price=None,
    stop_price=None,
    expire_ns=None,
    display_qty=None,
    post_only=False,
    min_qty=None,
    stp_group="",
    stp_mode=StpMode.NONE,
    entered_ns=TS,
)
SPEC_FULL = replace(
    SPEC_MIN,
    order_id=OrderId(2),
    account="A",
    side=Side.SELL,
    ord_type=OrdType.STOP_LIMIT,
    tif=TimeInForce.GTD,
    price=Price(10),
    stop_price=Price(11),
    expire_ns=TS + 1,
    display_qty=Qty(10),
    post_only=True,
    min_qty=Qty(20),
    stp_group="G",
    stp_mode=StpMode.CANCEL_BOTH,
)
FILL_B = Fill(SPEC_MIN, Qty(40), Qty(60), 400)
FILL_S = Fill(SPEC_FULL, Qty(100), Qty(0), 1000)

EVENTS: list[Event] = [
    OrderAccepted(1, TS, SPEC_MIN),
    OrderAccepted(2, TS, SPEC_FULL),
    OrderRejected(3, TS, NEW_FULL, RejectReason.PRICE_BAND, "outside band ±5%"),
    OrderTriggered(4, TS, SPEC_FULL, Price(11)),
    Trade(5, TS, 1, "AAPL", Price(10), Qty(40), Side.BUY, FILL_B, FILL_S),
    Trade(6, TS, 2**62, "AAPL", Price(10), Qty(40), Side.SELL, FILL_B, FILL_S),
    OrderCancelled(7, TS, SPEC_FULL, Qty(40), 400, CancelReason.SELF_TRADE, "k9", "stp"),
    OrderReplaced(8, TS, SPEC_FULL, "c0", Qty(1), Qty(2), 10, priority_kept=True),
    OrderExpired(9, TS, SPEC_MIN, Qty(0), 0),
    OrderRestated(9, TS, SPEC_MIN, Qty(0), Qty(5), 0, CancelReason.SELF_TRADE, "stp"),
    CancelRejected(
        10,
        TS,
        "o",
        "k1",
        "c1",
        CxlRejResponseTo.CANCEL,
        CxlRejReason.UNKNOWN_ORDER,
        "unknown order",
        None,
        None,
    ),
    CancelRejected(
        11,
        TS,
        "o",
        "k1",
        "c1",
        CxlRejResponseTo.REPLACE,
        CxlRejReason.BROKER_OPTION,
        "halted",
        SPEC_FULL,
        OrdStatus.PARTIALLY_FILLED,
        REPLACE_FULL,
    ),
    OrderStatusReport(12, TS, "o", "c1", None, OrdStatus.REJECTED, Qty(0), Qty(0), 0, "AAPL", None),
    OrderStatusReport(
        13, TS, "o", "c1", SPEC_MIN, OrdStatus.NEW, Qty(0), Qty(100), 0, "AAPL", Side.BUY
    ),
    MassCancelDone(14, TS, "o", "m1", None, None, 0),
    MassCancelDone(15, TS, "o", "m1", "AAPL", Side.SELL, 3),
    TradingStatusChanged(16, TS, "AAPL", TradingStatus.HALTED),
    InstrumentAdded(17, TS, INST_FULL),
]


def _ids(values: list[Any]) -> list[str]:
    return [f"{i}-{type(v).__name__}" for i, v in enumerate(values)]


def _assert_same(decoded: Any, original: Any) -> None:
    """Equal, same types all the way down (an enum is not merely an equal str)."""
    assert decoded == original
    assert type(decoded) is type(original)
    for f in fields(original):
        a, b = getattr(decoded, f.name), getattr(original, f.name)
        assert type(a) is type(b), f.name
        if hasattr(b, "__dataclass_fields__"):
            _assert_same(a, b)


def test_every_command_type_is_covered() -> None:
    assert {type(c) for c in COMMANDS} == set(COMMAND_KINDS)


def test_every_event_type_is_covered() -> None:
    assert {type(e) for e in EVENTS} == set(EVENT_KINDS)


@pytest.mark.parametrize("cmd", COMMANDS, ids=_ids(COMMANDS))
def test_command_round_trip(cmd: Command) -> None:
    payload = encode_command(cmd)
    json.loads(payload)  # plain JSON
    _assert_same(decode_command(payload), cmd)
    _assert_same(decode_command(payload.encode()), cmd)


@pytest.mark.parametrize("event", EVENTS, ids=_ids(EVENTS))
def test_event_round_trip(event: Event) -> None:
    payload = encode_event(event)
    _assert_same(decode_event(payload), event)


def test_decimal_is_a_string_and_exact() -> None:
    data = json.loads(encode_command(AddInstrument(TS, INST_FULL)))
    assert data["instrument"]["tick_size"] == "0.00000100"
    assert data["instrument"]["price_band_pct"] == "7.50"
    assert data["instrument"]["status"] == "halted"
    decoded = decode_command(json.dumps(data))
    assert isinstance(decoded, AddInstrument)
    assert str(decoded.instrument.tick_size) == "0.00000100"


def test_enums_are_stored_by_value() -> None:
    data = json.loads(encode_command(NEW_FULL))
    assert data["t"] == "new"
    assert (data["side"], data["ord_type"], data["tif"]) == ("2", "4", "6")
    assert data["stp_mode"] == "DecrementAndCancel"


def test_missing_member_takes_the_default() -> None:
    data = json.loads(encode_command(NEW_MIN))
    del data["stp_mode"], data["post_only"]
    assert decode_command(json.dumps(data)) == NEW_MIN


def test_integers_beyond_64_bits_stay_exact() -> None:
    """A NewOrder may carry any quantity the FIX layer parsed; the journal keeps it exact."""
    huge = replace(NEW_MIN, qty=Qty(10**30 + 1), ts_ns=2**63 + 5)
    payload = encode_command(huge)
    assert '"qty":1000000000000000000000000000001' in payload
    assert decode_command(payload) == huge
    assert type(decode_command(payload).qty) is int


def test_a_member_of_the_wrong_shape_is_refused_not_misread() -> None:
    data = json.loads(encode_command(NEW_MIN))
    data["side"] = "Buy"  # not a FIX value
    with pytest.raises(CodecError):
        decode_command(json.dumps(data))
    data = json.loads(encode_command(NEW_MIN))
    data.pop("stp_mode")
    data["stp_mod"] = "None"  # misspelt: as many members, but one unknown
    with pytest.raises(CodecError, match="unknown member"):
        decode_command(json.dumps(data))


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1, 2]",
        '{"t": "nope"}',
        '{"t": "advance_time"}',  # ts_ns missing
        '{"t": "advance_time", "ts_ns": 1, "extra": 2}',
        '{"t": "new", "ts_ns": 1, "owner": "o", "cl_ord_id": "c", "symbol": "S",'
        ' "side": "9", "ord_type": "1", "qty": 1}',
    ],
)
def test_bad_payloads_raise_codec_error(payload: str) -> None:
    with pytest.raises(CodecError):
        decode_command(payload)


def test_bad_event_kind_raises_codec_error() -> None:
    with pytest.raises(CodecError):
        decode_event('{"t": "new", "ts_ns": 1}')


_ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_text = st.text(max_size=20)


@given(
    spec=st.builds(
        OrderSpec,
        order_id=_ints,
        owner=_text,
        cl_ord_id=_text,
        account=_text,
        symbol=_text,
        side=st.sampled_from(Side),
        ord_type=st.sampled_from(OrdType),
        tif=st.sampled_from(TimeInForce),
        qty=_ints,
        price=st.none() | _ints,
        stop_price=st.none() | _ints,
        expire_ns=st.none() | _ints,
        display_qty=st.none() | _ints,
        post_only=st.booleans(),
        min_qty=st.none() | _ints,
        stp_group=_text,
        stp_mode=st.sampled_from(StpMode),
        entered_ns=_ints,
    ),
    cum=_ints,
    leaves=_ints,
    notional=st.integers(min_value=-(2**100), max_value=2**100),
)
def test_trade_round_trip_property(spec: OrderSpec, cum: int, leaves: int, notional: int) -> None:
    fill = Fill(spec, Qty(cum), Qty(leaves), notional)
    trade = Trade(1, TS, 1, spec.symbol, Price(1), Qty(1), spec.side, fill, fill)
    _assert_same(decode_event(encode_event(trade)), trade)
