"""FIX order messages -> engine commands, field by field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fix_gateway import translate
from fix_gateway.codec import parse_utc_timestamp
from fix_gateway.translate import Refusal, SessionRules
from venue.commands import CancelOrder, NewOrder, ReplaceOrder
from venue.instruments import Instrument
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
)

T = 1_700_000_000_000_000_000
EXPIRE = "20261121-10:00:00"
RULES = SessionRules(owner="FIX.4.4:VENUE->C1", stp_mode=StpMode.CANCEL_RESTING)


class Instruments:
    def instrument(self, symbol: str) -> Instrument | None:
        return Instrument("TEST", Decimal("0.01")) if symbol == "TEST" else None


class Fields:
    def __init__(self, fields: dict[int, str]) -> None:
        self._fields = fields

    def get(self, tag: int, default: str | None = None) -> str | None:
        return self._fields.get(tag, default)


def test_translated_commands_equal_the_dataclass_built_ones() -> None:
    """Every field set, each to a value of its own: the commands are built positionally
    (translate's fast constructors), so a field out of place would show here."""
    nos = {
        11: "C1", 55: "TEST", 54: "2", 38: "300", 40: "4", 44: "10.05", 99: "10.10", 59: "6",
        126: EXPIRE, 1: "ACC9", 18: "6", 111: "100", 110: "50",
    }  # fmt: skip
    assert translate.new_order(Fields(nos), RULES, Instruments(), T) == NewOrder(
        ts_ns=T,
        owner=RULES.owner,
        cl_ord_id="C1",
        symbol="TEST",
        side=Side.SELL,
        ord_type=OrdType.STOP_LIMIT,
        qty=Qty(300),
        price=Price(1005),
        stop_price=Price(1010),
        tif=TimeInForce.GTD,
        expire_ns=parse_utc_timestamp(EXPIRE),
        account="ACC9",
        display_qty=Qty(100),
        post_only=True,
        min_qty=Qty(50),
        stp_group="ACC9",
        stp_mode=StpMode.CANCEL_RESTING,
    )

    cancel = {11: "C2", 41: "C1", 37: "42", 55: "TEST", 54: "2"}
    assert translate.cancel_order(Fields(cancel), RULES.owner, T) == CancelOrder(
        ts_ns=T,
        owner=RULES.owner,
        cl_ord_id="C2",
        orig_cl_ord_id="C1",
        order_id=OrderId(42),
        symbol="TEST",
        side=Side.SELL,
        reason=CancelReason.REQUESTED,
    )

    replace = {
        11: "C3", 41: "C2", 37: "42", 55: "TEST", 54: "1", 38: "200", 44: "10.01", 99: "10.02",
        111: "20", 59: "6", 126: EXPIRE,
    }  # fmt: skip
    result = translate.replace_order(Fields(replace), RULES.owner, Instruments(), T)
    assert result == ReplaceOrder(
        ts_ns=T,
        owner=RULES.owner,
        cl_ord_id="C3",
        orig_cl_ord_id="C2",
        qty=Qty(200),
        price=Price(1001),
        stop_price=Price(1002),
        order_id=OrderId(42),
        symbol="TEST",
        side=Side.BUY,
        display_qty=Qty(20),
        tif=TimeInForce.GTD,
        expire_ns=parse_utc_timestamp(EXPIRE),
    )


@pytest.mark.parametrize(("tif", "expire_tag", "kept"), [
    ("6", 126, True), (None, 126, True), ("0", 126, False), ("1", 432, False),
    ("0", None, False),
])  # fmt: skip
def test_a_replace_ignores_an_expiry_with_a_time_in_force_other_than_gtd(
    tif: str | None, expire_tag: int | None, kept: bool
) -> None:
    """As a new order does; without 59 the order's own TimeInForce decides (in the engine)."""
    fields = {11: "C3", 41: "C2", 55: "TEST", 54: "1", 38: "200", 44: "10.01"}
    if tif is not None:
        fields[59] = tif
    if expire_tag is not None:
        fields[expire_tag] = EXPIRE if expire_tag == 126 else EXPIRE[:8]
    result = translate.replace_order(Fields(fields), RULES.owner, Instruments(), T)
    assert isinstance(result, ReplaceOrder)
    assert (result.expire_ns is not None) == kept


def test_a_refused_new_order_carries_what_was_understood() -> None:
    """The rejection's ExecutionReport echoes the request: the command built for it has the
    identifying fields, and no price, expiry, display or minimum quantity."""
    nos = {11: "C1", 55: "TEST", 54: "1", 38: "300", 40: "2", 44: "10.055", 1: "ACC9", 110: "5"}
    command, refusal = translate.new_order(Fields(nos), RULES, Instruments(), T)
    assert refusal == Refusal(RejectReason.INVALID_PRICE, refusal.text)
    assert "10.055" in refusal.text
    assert command == NewOrder(
        ts_ns=T,
        owner=RULES.owner,
        cl_ord_id="C1",
        symbol="TEST",
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        qty=Qty(300),
        tif=TimeInForce.DAY,
        account="ACC9",
        stp_group="ACC9",
        stp_mode=StpMode.CANCEL_RESTING,
    )
    bad_tif = {**nos, 44: "10.05", 59: "9"}
    command, refusal = translate.new_order(Fields(bad_tif), RULES, Instruments(), T)
    assert refusal == Refusal(RejectReason.INVALID_ORDER, "TimeInForce(59) 9 is not supported")
    assert command.tif is TimeInForce.DAY and command.price is None


@pytest.mark.parametrize(
    ("text", "qty", "refused"),
    [
        ("100", 100, None),
        ("007", 7, None),
        ("1e2", 100, None),
        ("1.0", 1, None),
        ("0", 0, "OrderQty(38) 0 must be positive"),
        ("-3", 0, "OrderQty(38) -3 must be positive"),
        ("1.5", 0, "OrderQty(38) 1.5 must be a whole number"),
        ("²", 0, "OrderQty(38) '²' is not a number"),
        ("", 0, "OrderQty(38) '' is not a number"),
    ],
)
def test_order_quantities(text: str, qty: int, refused: str | None) -> None:
    nos = {11: "C1", 55: "TEST", 54: "1", 38: text, 40: "2", 44: "10.05"}
    result = translate.new_order(Fields(nos), RULES, Instruments(), T)
    if refused is None:
        assert isinstance(result, NewOrder) and result.qty == qty
    else:
        assert isinstance(result, tuple)
        assert result[1] == Refusal(RejectReason.INVALID_QTY, refused)
        assert result[0].qty == 0


def _avg_px_reference(instrument: Instrument, cum_notional: int, cum_qty: int) -> str:
    """The average price by Decimal arithmetic alone: the exact value quantized to the
    instrument's precision plus 4 digits, trailing zeros dropped down to that precision."""
    digits = instrument.price_decimals
    value = (Decimal(cum_notional) * instrument.tick_size / cum_qty).quantize(
        Decimal(1).scaleb(-(digits + 4))
    )
    whole, _, frac = f"{value:f}".partition(".")
    frac = frac.rstrip("0").ljust(digits, "0")
    return f"{whole}.{frac}" if frac else whole


@given(
    st.sampled_from(["0.01", "1", "0.05", "0.25", "0.0001", "5"]),
    st.integers(-10**9, 10**9),
    st.integers(1, 10**6),
    st.booleans(),
)
def test_average_price_is_exact(tick: str, notional: int, qty: int, whole: bool) -> None:
    instrument = Instrument("TEST", Decimal(tick))
    if whole:  # the cached path: a whole number of ticks
        notional = notional // qty * qty
    assert translate.avg_px(instrument, notional, qty) == _avg_px_reference(
        instrument, notional, qty
    )


def test_execution_report_bodies_field_by_field() -> None:
    """The bodies are encoded in place: every field, in order, for a fill with every
    optional order field set, and for an acceptance."""
    from venue.engine import MatchingEngine
    from venue.events import OrderAccepted, Trade

    instrument = Instrument("TEST", Decimal("0.01"))
    engine = MatchingEngine([instrument])
    sell = NewOrder(
        ts_ns=T, owner="S", cl_ord_id="s1", symbol="TEST", side=Side.SELL,
        ord_type=OrdType.LIMIT, qty=Qty(40), price=Price(1005), tif=TimeInForce.GTD,
        expire_ns=T + 10**12, account="ACC7", display_qty=Qty(10), post_only=True,
    )  # fmt: skip
    (accepted,) = engine.handle(sell)
    assert isinstance(accepted, OrderAccepted)
    buy = NewOrder(
        ts_ns=T + 5_000_000, owner="B", cl_ord_id="b1", symbol="TEST", side=Side.BUY,
        ord_type=OrdType.LIMIT, qty=Qty(7), price=Price(1010),
    )  # fmt: skip
    trade = next(e for e in engine.handle(buy) if isinstance(e, Trade))
    order = (
        "1=ACC7\x0155=TEST\x0154=2\x0138=40\x0140=2\x0144=10.05\x0159=6"
        "\x01126=20231114-22:30:00.000\x0118=6\x01111=10\x01"
    )
    assert translate.accepted(accepted, instrument) == (
        f"37={accepted.spec.order_id}\x0111=s1\x0117={accepted.seq}\x01150=0\x0139=0\x01{order}"
        "151=40\x0114=0\x016=0\x0160=20231114-22:13:20.000\x01"
    )
    assert translate.fill(trade, trade.sell, instrument) == (
        f"37={accepted.spec.order_id}\x0111=s1\x0117={trade.seq}S\x01150=F\x0139=1\x01{order}"
        "32=7\x0131=10.05\x01151=33\x0114=7\x016=10.05\x0160=20231114-22:13:20.005\x01851=1\x01"
    )


def test_a_restated_order_says_why_in_exec_restatement_reason() -> None:
    """FIX 4.4 requires ExecRestatementReason(378) with ExecType D: 8, the venue's option."""
    from venue.engine import MatchingEngine
    from venue.events import OrderRestated

    instrument = Instrument("TEST", Decimal("0.01"))
    engine = MatchingEngine([instrument])
    common: dict[str, object] = {
        "ts_ns": T, "owner": "S", "symbol": "TEST", "ord_type": OrdType.LIMIT,
        "price": Price(1005), "stp_group": "G", "stp_mode": StpMode.DECREMENT_AND_CANCEL,
    }  # fmt: skip
    engine.handle(NewOrder(cl_ord_id="s1", side=Side.SELL, qty=Qty(50), **common))  # type: ignore[arg-type]
    events = engine.handle(NewOrder(cl_ord_id="b1", side=Side.BUY, qty=Qty(30), **common))  # type: ignore[arg-type]
    restated = next(e for e in events if isinstance(e, OrderRestated))
    body = translate.restated(restated, instrument)
    assert "\x01150=D\x01378=8\x0139=0\x01" in f"\x01{body}"
    assert "\x0138=20\x01" in body and "\x01151=20\x01" in body
