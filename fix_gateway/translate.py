"""FIX 4.4 application messages <-> engine commands and events.

The only place where FIX strings become integer ticks and back: prices go through
``Decimal`` and the instrument's tick size (off-tick prices are refused, never rounded),
and every price printed uses the instrument's precision, so no float noise reaches a
client. Pure functions: no I/O, no clock (times come in as arguments).
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final, Protocol

from fix_gateway.codec import EncodedBody, OutBody, format_utc_timestamp, parse_utc_timestamp
from venue.commands import CancelOrder, MassCancel, NewOrder, ReplaceOrder, StatusQuery
from venue.drafts import fast_constructor
from venue.events import (
    CancelRejected,
    Fill,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderSpec,
    OrderStatusReport,
    Trade,
    replaced_to_filled,
)
from venue.instruments import MAX_PRICE_TICKS, MAX_QTY, Instrument, PriceError
from venue.snapshot import OrderView
from venue.types import (
    CancelReason,
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
)

Body = list[tuple[int, object]]

# Every order message becomes one of these: built without the frozen dataclass __init__ (an
# object.__setattr__ per field, 1.8 µs for a NewOrder against 0.4 µs). Positional, in field
# order: test_translated_commands_equal_the_dataclass_built_ones checks it.
_new_order = fast_constructor(NewOrder)
_cancel_order = fast_constructor(CancelOrder)
_replace_order = fast_constructor(ReplaceOrder)


ECHOED_TAGS: Final = (54, 38, 40, 44, 99, 59)
"""Tags a rejection ExecutionReport echoes as the request sent them (section 4.1)."""

_SIDES = {"1": Side.BUY, "2": Side.SELL}
_ORD_TYPES = {"1": OrdType.MARKET, "2": OrdType.LIMIT, "3": OrdType.STOP, "4": OrdType.STOP_LIMIT}
_TIFS = {
    "0": TimeInForce.DAY,
    "1": TimeInForce.GTC,
    "3": TimeInForce.IOC,
    "4": TimeInForce.FOK,
    "6": TimeInForce.GTD,
}

#: RejectReason -> OrdRejReason(103), restricted to the FIX 4.4 enumeration.
ORD_REJ_REASON: dict[RejectReason, str] = {
    RejectReason.UNKNOWN_SYMBOL: "1",
    RejectReason.HALTED: "2",  # exchange closed (for this instrument)
    RejectReason.INVALID_PRICE: "99",
    RejectReason.INVALID_QTY: "13",  # incorrect quantity
    RejectReason.PRICE_BAND: "99",
    RejectReason.DUPLICATE_CL_ORD_ID: "6",  # duplicate order
    RejectReason.POST_ONLY_WOULD_TAKE: "99",
    RejectReason.INVALID_ORDER: "11",  # unsupported order characteristic
    RejectReason.RISK_LIMIT: "3",  # order exceeds limit
    RejectReason.UNKNOWN_ACCOUNT: "15",  # unknown account(s)
    RejectReason.THROTTLED: "99",
    RejectReason.UNAVAILABLE: "99",
}


class InstrumentLookup(Protocol):
    def instrument(self, symbol: str) -> Instrument | None: ...


class FieldSource(Protocol):
    msg_type: str

    def get(self, tag: int, default: str | None = None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """A message the venue cannot turn into a command, with the answer it deserves."""

    reason: RejectReason
    text: str


@dataclass(frozen=True, slots=True)
class SessionRules:
    """What the order-entry layer knows about the submitting session."""

    owner: str
    default_account: str = ""
    stp_mode: StpMode = StpMode.NONE
    permitted_accounts: frozenset[str] | None = None  # None: any Account(1)


# -- parsing helpers ----------------------------------------------------------------------------


def _shown(text: str) -> str:
    """A field value quoted in a Text(58): long ones cut."""
    return text if len(text) <= 32 else f"{text[:32]}..."


def _qty(text: str | None, tag: int, name: str) -> int | Refusal:
    if text is None:
        return Refusal(RejectReason.INVALID_QTY, f"{name}({tag}) is required")
    if text.isascii() and text.isdigit() and text[0] != "0" and len(text) <= 10:
        value = int(text)  # the usual "100": no Decimal
        if value <= MAX_QTY:
            return value
        return Refusal(RejectReason.INVALID_QTY, f"{name}({tag}) {text} is above {MAX_QTY}")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return Refusal(RejectReason.INVALID_QTY, f"{name}({tag}) {_shown(text)!r} is not a number")
    if not number.is_finite():
        return Refusal(RejectReason.INVALID_QTY, f"{name}({tag}) {_shown(text)!r} is not a number")
    if number > MAX_QTY:
        return Refusal(RejectReason.INVALID_QTY, f"{name}({tag}) {_shown(text)} is above {MAX_QTY}")
    if number != number.to_integral_value():
        return Refusal(
            RejectReason.INVALID_QTY, f"{name}({tag}) {_shown(text)} must be a whole number"
        )
    if number <= 0:
        return Refusal(RejectReason.INVALID_QTY, f"{name}({tag}) {_shown(text)} must be positive")
    return int(number)


def _price(text: str | None, tag: int, name: str, instrument: Instrument) -> Price | Refusal:
    assert text is not None
    try:
        ticks = instrument.to_ticks(text)
    except PriceError as exc:
        return Refusal(RejectReason.INVALID_PRICE, f"{name}({tag}): {exc}")
    if ticks <= 0:
        return Refusal(RejectReason.INVALID_PRICE, f"{name}({tag}) {_shown(text)} must be positive")
    if ticks > MAX_PRICE_TICKS:
        return Refusal(
            RejectReason.INVALID_PRICE,
            f"{name}({tag}) {_shown(text)} is above the venue's maximum, {MAX_PRICE_TICKS} ticks",
        )
    return ticks


#: The latest expiry the venue keeps: nanoseconds since the epoch fit the store's signed
#: 64-bit columns until 2262-04-11 (a GTD order beyond it would fail every commit).
MAX_EXPIRE_NS: Final = 2**63 - 1
_TOO_LATE: Final = "beyond 2262-04-11 23:47:16 UTC, the latest expiry the venue keeps"


def _expiry(msg: FieldSource) -> int | Refusal | None:
    text = msg.get(126)
    if text is not None:
        ns = parse_utc_timestamp(text)
        if ns is None:
            return Refusal(RejectReason.INVALID_ORDER, f"ExpireTime(126) {text!r} is malformed")
        if ns > MAX_EXPIRE_NS:
            return Refusal(RejectReason.INVALID_ORDER, f"ExpireTime(126) {text} is {_TOO_LATE}")
        return ns
    date = msg.get(432)
    if date is not None:
        try:
            day = time.strptime(date, "%Y%m%d")
        except ValueError:
            return Refusal(RejectReason.INVALID_ORDER, f"ExpireDate(432) {date!r} is malformed")
        # A GTD order with an ExpireDate lives to the end of that (UTC) day.
        ns = (calendar.timegm(day) + 86_400) * 1_000_000_000 - 1
        if ns > MAX_EXPIRE_NS:
            return Refusal(RejectReason.INVALID_ORDER, f"ExpireDate(432) {date} is {_TOO_LATE}")
        return ns
    return None



# -- FIX -> commands ----------------------------------------------------------------------------


def new_order(
    msg: FieldSource, rules: SessionRules, instruments: InstrumentLookup, now_ns: int
) -> NewOrder | tuple[NewOrder, Refusal]:
    """Translate a NewOrderSingle (D).

    Returns the command, or the best-effort command plus the refusal (the refusal is
    reported as an ExecutionReport with ExecType=8 that echoes the request).
    """
    cl_ord_id = msg.get(11) or ""
    symbol = msg.get(55) or ""
    side_text = msg.get(54)
    side = _SIDES.get(side_text or "", Side.BUY)
    type_text = msg.get(40)
    ord_type = _ORD_TYPES.get(type_text or "", OrdType.LIMIT)
    tif_text = msg.get(59) or "0"
    tif = _TIFS.get(tif_text)
    account = msg.get(1) or rules.default_account
    exec_inst = msg.get(18)
    flags = exec_inst.split() if exec_inst else []
    post_only = "6" in flags
    owner = rules.owner
    stp_mode = rules.stp_mode
    stp_group = account if stp_mode is not StpMode.NONE else ""
    qty_or = _qty(msg.get(38), 38, "OrderQty")
    qty = Qty(qty_or) if isinstance(qty_or, int) else Qty(0)

    def refused(why: Refusal | RejectReason, text: str = "") -> tuple[NewOrder, Refusal]:
        """The best-effort command for the rejection's ExecutionReport, and the refusal."""
        refusal = why if isinstance(why, Refusal) else Refusal(why, text)
        return _new_order(
            now_ns, owner, cl_ord_id, symbol, side, ord_type, qty, None, None,
            tif or TimeInForce.DAY, None, account, None, post_only, None, stp_group, stp_mode,
        ), refusal  # fmt: skip

    permitted = rules.permitted_accounts
    if permitted is not None and account not in permitted:
        allowed = ", ".join(sorted(permitted))
        if account:
            text = f"Account(1) {_shown(account)!r} is not permitted for this session ({allowed})"
        else:
            text = f"Account(1) is required: this session trades for {allowed}"
        return refused(RejectReason.UNKNOWN_ACCOUNT, text)
    if isinstance(qty_or, Refusal):
        return refused(qty_or)
    if side_text not in _SIDES:
        return refused(RejectReason.INVALID_ORDER, f"Side(54) {side_text} is not supported")
    if type_text not in _ORD_TYPES:
        return refused(RejectReason.INVALID_ORDER, f"OrdType(40) {type_text} is not supported")
    if tif is None:
        return refused(RejectReason.INVALID_ORDER, f"TimeInForce(59) {tif_text} is not supported")
    unsupported = [flag for flag in flags if flag != "6"]
    if unsupported:
        flags_text = " ".join(unsupported)
        return refused(
            RejectReason.INVALID_ORDER,
            f"ExecInst(18) {flags_text} is not supported (only 6, post-only)",
        )
    instrument = instruments.instrument(symbol)
    if instrument is None:
        return refused(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")

    price: Price | None = None
    stop_price: Price | None = None
    price_text, stop_text = msg.get(44), msg.get(99)
    if ord_type is OrdType.LIMIT or ord_type is OrdType.STOP_LIMIT:
        if price_text is None:
            return refused(RejectReason.INVALID_PRICE, "Price(44) is required for a limit order")
        p = _price(price_text, 44, "Price", instrument)
        if isinstance(p, Refusal):
            return refused(p)
        price = p
    elif price_text is not None:
        return refused(
            RejectReason.INVALID_PRICE, "Price(44) is not allowed on a market or stop order"
        )
    if ord_type is OrdType.STOP or ord_type is OrdType.STOP_LIMIT:
        if stop_text is None:
            return refused(RejectReason.INVALID_PRICE, "StopPx(99) is required for a stop order")
        sp = _price(stop_text, 99, "StopPx", instrument)
        if isinstance(sp, Refusal):
            return refused(sp)
        stop_price = sp
    elif stop_text is not None:
        return refused(RejectReason.INVALID_PRICE, "StopPx(99) is only allowed on stop orders")

    expire_ns = _expiry(msg)
    if isinstance(expire_ns, Refusal):
        return refused(expire_ns)
    if tif is TimeInForce.GTD and expire_ns is None:
        return refused(RejectReason.INVALID_ORDER, "GTD needs ExpireTime(126) or ExpireDate(432)")
    if tif is not TimeInForce.GTD:
        expire_ns = None

    display_qty: Qty | None = None
    if msg.get(111) is not None:
        d = _qty(msg.get(111), 111, "MaxFloor")
        if isinstance(d, Refusal):
            return refused(d)
        display_qty = Qty(d)
    min_qty: Qty | None = None
    if msg.get(110) is not None:
        m = _qty(msg.get(110), 110, "MinQty")
        if isinstance(m, Refusal):
            return refused(m)
        min_qty = Qty(m)

    return _new_order(
        now_ns, owner, cl_ord_id, symbol, side, ord_type, qty, price, stop_price, tif,
        expire_ns, account, display_qty, post_only, min_qty, stp_group, stp_mode,
    )  # fmt: skip


def order_id(msg: FieldSource) -> OrderId | None:
    """The request's OrderID(37) when it can be one of the venue's order ids, else None."""
    text = msg.get(37)
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return OrderId(int(text))


def cancel_order(msg: FieldSource, owner: str, now_ns: int) -> CancelOrder:
    """Translate an OrderCancelRequest (F)."""
    return _cancel_order(
        now_ns, owner, msg.get(11) or "", msg.get(41) or "", order_id(msg),
        msg.get(55) or "", _SIDES.get(msg.get(54) or ""), CancelReason.REQUESTED,
    )  # fmt: skip


def replace_order(
    msg: FieldSource, owner: str, instruments: InstrumentLookup, now_ns: int
) -> ReplaceOrder | Refusal:
    """Translate an OrderCancelReplaceRequest (G); a Refusal becomes an OrderCancelReject."""
    symbol = msg.get(55) or ""
    instrument = instruments.instrument(symbol)
    if instrument is None:
        return Refusal(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
    qty = _qty(msg.get(38), 38, "OrderQty")
    if isinstance(qty, Refusal):
        return qty
    price: Price | None = None
    if msg.get(44) is not None:
        p = _price(msg.get(44), 44, "Price", instrument)
        if isinstance(p, Refusal):
            return p
        price = p
    stop: Price | None = None
    if msg.get(99) is not None:
        s = _price(msg.get(99), 99, "StopPx", instrument)
        if isinstance(s, Refusal):
            return s
        stop = s
    display: Qty | None = None
    if msg.get(111) is not None:
        d = _qty(msg.get(111), 111, "MaxFloor")
        if isinstance(d, Refusal):
            return d
        display = Qty(d)
    tif_text = msg.get(59)
    tif = _TIFS.get(tif_text) if tif_text is not None else None
    if tif_text is not None and tif is None:
        return Refusal(RejectReason.INVALID_ORDER, f"TimeInForce(59) {tif_text} is not supported")
    expire = _expiry(msg)
    if isinstance(expire, Refusal):
        return expire
    if tif is not None and tif is not TimeInForce.GTD:
        expire = None  # ignored, as on a new order (only a GTD order has an expiry)
    return _replace_order(
        now_ns, owner, msg.get(11) or "", msg.get(41) or "", Qty(qty), price, stop,
        order_id(msg), symbol, _SIDES.get(msg.get(54) or ""), display, tif, expire,
    )  # fmt: skip


def status_query(msg: FieldSource, owner: str, now_ns: int) -> StatusQuery:
    """Translate an OrderStatusRequest (H)."""
    return StatusQuery(
        ts_ns=now_ns,
        owner=owner,
        cl_ord_id=msg.get(11) or "",
        order_id=order_id(msg),
        symbol=msg.get(55) or "",
        side=_SIDES.get(msg.get(54) or ""),
    )


def mass_cancel(msg: FieldSource, owner: str, now_ns: int) -> MassCancel | Refusal:
    """Translate an OrderMassCancelRequest (q): type 1 (by security) or 7 (all orders)."""
    request_type = msg.get(530)
    symbol = msg.get(55)
    if request_type == "1":
        if not symbol:
            return Refusal(RejectReason.UNKNOWN_SYMBOL, "MassCancelRequestType 1 needs Symbol(55)")
    elif request_type == "7":
        symbol = None
    else:
        return Refusal(
            RejectReason.INVALID_ORDER,
            f"MassCancelRequestType(530) {request_type} is not supported (1 or 7)",
        )
    return MassCancel(
        ts_ns=now_ns,
        owner=owner,
        cl_ord_id=msg.get(11) or "",
        symbol=symbol,
        side=_SIDES.get(msg.get(54) or ""),
    )


# -- events -> FIX ------------------------------------------------------------------------------


def avg_px(instrument: Instrument | None, cum_notional: int, cum_qty: int) -> str:
    """The exact average price, printed with the instrument's precision plus up to 4 digits."""
    if cum_qty == 0 or instrument is None:
        return "0"
    if cum_notional % cum_qty == 0:  # a whole number of ticks (one fill, or one price): cached
        return instrument.format_price(cum_notional // cum_qty)
    digits = instrument.price_decimals
    value = (Decimal(cum_notional) * instrument.tick_size / cum_qty).quantize(
        Decimal(1).scaleb(-(digits + 4))
    )
    text = f"{value:f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(digits, "0")
        text = f"{whole}.{frac}" if frac else whole
    return text


def _status(cum: int, leaves: int) -> OrdStatus:
    if leaves == 0 and cum > 0:
        return OrdStatus.FILLED
    return OrdStatus.PARTIALLY_FILLED if cum > 0 else OrdStatus.NEW


def _order_fields(spec: OrderSpec, instrument: Instrument | None) -> str:
    """The order's own fields of an ExecutionReport, encoded (``tag=value<SOH>``...)."""
    fmt = instrument.format_price if instrument is not None else str
    # ._value_: Enum.value is a property, a Python call each (every ExecutionReport)
    text = f"1={spec.account}\x01" if spec.account else ""
    text += (
        f"55={spec.symbol}\x0154={spec.side._value_}\x0138={spec.qty}"
        f"\x0140={spec.ord_type._value_}\x01"
    )
    if spec.price is not None:
        text += f"44={fmt(spec.price)}\x01"
    if spec.stop_price is not None:
        text += f"99={fmt(spec.stop_price)}\x01"
    text += f"59={spec.tif._value_}\x01"
    if spec.expire_ns is not None:
        text += f"126={format_utc_timestamp(spec.expire_ns)}\x01"
    if spec.post_only:
        text += "18=6\x01"
    if spec.min_qty is not None:
        text += f"110={spec.min_qty}\x01"
    if spec.display_qty is not None:
        text += f"111={spec.display_qty}\x01"
    return text


def _report(
    spec: OrderSpec,
    instrument: Instrument | None,
    exec_id: str,
    exec_type: str,
    status: OrdStatus,
    cum: int,
    leaves: int,
    notional: int,
    ts_ns: int,
    *,
    cl_ord_id: str | None = None,
    orig_cl_ord_id: str | None = None,
    last: tuple[int, int] | None = None,
    text: str | None = None,
    liquidity: str | None = None,
    restatement: str | None = None,
) -> EncodedBody:
    """An ExecutionReport's body, encoded here at once (the commonest message the venue
    sends: a string built in place, not a list of fields encoded after)."""
    body = f"37={spec.order_id}\x0111={cl_ord_id or spec.cl_ord_id}\x01"
    if orig_cl_ord_id:
        body += f"41={orig_cl_ord_id}\x01"
    body += f"17={exec_id}\x01150={exec_type}\x01"
    if restatement is not None:
        body += f"378={restatement}\x01"
    body += f"39={status._value_}\x01"
    body += _order_fields(spec, instrument)
    if last is not None:
        last_qty, last_px = last
        price = instrument.format_price(last_px) if instrument else last_px
        body += f"32={last_qty}\x0131={price}\x01"
    body += (
        f"151={leaves}\x0114={cum}\x016={avg_px(instrument, notional, cum)}"
        f"\x0160={format_utc_timestamp(ts_ns)}\x01"
    )
    if text:
        body += f"58={text}\x01"
    if liquidity is not None:
        body += f"851={liquidity}\x01"
    return EncodedBody(body)


def accepted(ev: OrderAccepted, instrument: Instrument | None) -> EncodedBody:
    spec = ev.spec
    return _report(spec, instrument, str(ev.seq), "0", OrdStatus.NEW, 0, spec.qty, 0, ev.ts_ns)


def rejected(
    ev: OrderRejected, instrument: Instrument | None, echo: FieldSource | None = None
) -> Body:
    """The ExecutionReport of a refused NewOrderSingle; ``echo``, the request itself when at
    hand, gives the :data:`ECHOED_TAGS` exactly as sent (the refused command holds only
    what could be parsed: no side for ``54=5``, no price off the tick grid)."""
    req = ev.request
    fmt = instrument.format_price if instrument is not None else str
    body: Body = [
        (37, "NONE"),
        (11, req.cl_ord_id),
        (17, str(ev.seq)),
        (150, "8"),
        (39, OrdStatus.REJECTED.value),
        (103, ORD_REJ_REASON[ev.reason]),
    ]
    if req.account:
        body.append((1, req.account))
    if echo is not None:
        sent = {tag: echo.get(tag) for tag in ECHOED_TAGS}
        body += [(55, req.symbol), (54, sent[54] or req.side.value), (38, sent[38] or req.qty),
                 (40, sent[40] or req.ord_type.value)]  # fmt: skip
        body += [(tag, sent[tag]) for tag in (44, 99) if sent[tag]]
        tif = sent[59] or req.tif.value
    else:
        body += [(55, req.symbol), (54, req.side.value), (38, req.qty), (40, req.ord_type.value)]
        if req.price is not None:
            body.append((44, fmt(req.price)))
        if req.stop_price is not None:
            body.append((99, fmt(req.stop_price)))
        tif = req.tif.value
    body += [
        (59, tif),
        (151, 0),
        (14, 0),
        (6, "0"),
        (60, format_utc_timestamp(ev.ts_ns)),
        (58, ev.text),
    ]
    return body


def fill(ev: Trade, side: Fill, instrument: Instrument | None) -> EncodedBody:
    """The ExecutionReport of one side of a trade (ExecType F)."""
    spec = side.spec
    suffix = "B" if spec.side is Side.BUY else "S"
    return _report(
        spec,
        instrument,
        f"{ev.seq}{suffix}",
        "F",
        _status(side.cum_qty, side.leaves_qty),
        side.cum_qty,
        side.leaves_qty,
        side.cum_notional,
        ev.ts_ns,
        last=(ev.qty, ev.price),
        # LastLiquidityInd(851): 1 added liquidity (resting), 2 removed it (aggressor)
        liquidity="2" if spec.side is ev.aggressor else "1",
    )


def cancelled(ev: OrderCancelled, instrument: Instrument | None) -> EncodedBody:
    spec = ev.spec
    if ev.reason is CancelReason.REPLACED_TO_FILLED:
        # FIX 4.4 Appendix D: the replace took the balance away; "filled" takes precedence
        return _report(
            replaced_to_filled(ev),
            instrument,
            str(ev.seq),
            "5",
            OrdStatus.FILLED,
            ev.cum_qty,
            0,
            ev.cum_notional,
            ev.ts_ns,
            orig_cl_ord_id=spec.cl_ord_id,
            text=ev.text,
        )
    requested = ev.cl_ord_id not in ("", spec.cl_ord_id)  # "": venue-initiated
    return _report(
        spec,
        instrument,
        str(ev.seq),
        "4",
        OrdStatus.CANCELED,
        ev.cum_qty,
        0,
        ev.cum_notional,
        ev.ts_ns,
        cl_ord_id=ev.cl_ord_id,
        orig_cl_ord_id=spec.cl_ord_id if requested else None,
        text=ev.text,
    )


def replaced(ev: OrderReplaced, instrument: Instrument | None) -> EncodedBody:
    status = _status(ev.cum_qty, ev.leaves_qty)
    return _report(
        ev.spec,
        instrument,
        str(ev.seq),
        "5",
        status,
        ev.cum_qty,
        ev.leaves_qty,
        ev.cum_notional,
        ev.ts_ns,
        orig_cl_ord_id=ev.orig_cl_ord_id,
    )


#: ExecRestatementReason(378) 8, Market (Exchange) Option: the venue restated the order by
#: a rule of its own.
EXCHANGE_OPTION: Final = "8"


def restated(ev: OrderRestated, instrument: Instrument | None) -> EncodedBody:
    """ExecType D: the venue reduced the order (self-trade prevention, decrement)."""
    return _report(
        ev.spec,
        instrument,
        str(ev.seq),
        "D",
        _status(ev.cum_qty, ev.leaves_qty),
        ev.cum_qty,
        ev.leaves_qty,
        ev.cum_notional,
        ev.ts_ns,
        text=ev.text,
        restatement=EXCHANGE_OPTION,  # ExecRestatementReason(378), required with 150=D
    )


def expired(ev: OrderExpired, instrument: Instrument | None) -> EncodedBody:
    return _report(
        ev.spec,
        instrument,
        str(ev.seq),
        "C",
        OrdStatus.EXPIRED,
        ev.cum_qty,
        0,
        ev.cum_notional,
        ev.ts_ns,
    )


def status_report(
    ev: OrderStatusReport, instrument: Instrument | None, status_req_id: str | None = None
) -> OutBody:
    """ExecutionReport 150=I; OrdStatusReqID(790) echoes the request's, if it had one."""
    echo = f"790={status_req_id}\x01" if status_req_id else ""
    if ev.spec is None:
        body: Body = [
            (37, "NONE"),
            (11, ev.cl_ord_id),
            (17, str(ev.seq)),
            (150, "I"),
            (39, OrdStatus.REJECTED.value),
            (103, "5"),  # unknown order
            (55, ev.symbol),
            (54, (ev.side or Side.BUY).value),
            (151, 0),
            (14, 0),
            (6, "0"),
            (60, format_utc_timestamp(ev.ts_ns)),
            (58, "unknown order"),
        ]
        if status_req_id:
            body.append((790, status_req_id))
        return body
    report = _report(
        ev.spec,
        instrument,
        str(ev.seq),
        "I",
        ev.status,
        ev.cum_qty,
        ev.leaves_qty,
        ev.cum_notional,
        ev.ts_ns,
        cl_ord_id=ev.cl_ord_id,
    )
    return EncodedBody(report + echo) if echo else report


def cancel_reject(ev: CancelRejected) -> Body:
    body: Body = [
        (37, ev.spec.order_id if ev.spec is not None else "NONE"),
        (11, ev.cl_ord_id),
        (41, ev.orig_cl_ord_id),
        (39, (ev.ord_status or OrdStatus.REJECTED).value),
    ]
    if ev.spec is not None and ev.spec.account:
        body.append((1, ev.spec.account))
    body += [
        (60, format_utc_timestamp(ev.ts_ns)),
        (434, ev.response_to.value),
        (102, ev.reason.value),
        (58, ev.text),
    ]
    return body


#: CxlRejReason(102) of the gateway's refusals; any other is 99 (other).
_CXL_REJ_REASONS: Final = {
    RejectReason.UNKNOWN_SYMBOL: "1",
    RejectReason.DUPLICATE_CL_ORD_ID: "6",
}


def cancel_reject_refusal(
    msg: FieldSource,
    refusal: Refusal,
    response_to: CxlRejResponseTo,
    now_ns: int,
    order: OrderView | None = None,
) -> Body:
    """An OrderCancelReject for a request refused before reaching the engine; ``order`` is
    the order it names, when the session has it: its OrderID and current status are sent."""
    body: Body = [
        (37, order.spec.order_id if order is not None else msg.get(37) or "NONE"),
        (11, msg.get(11) or ""),
        (41, msg.get(41) or ""),
        (39, (order.status if order is not None else OrdStatus.REJECTED).value),
    ]
    if order is not None and order.spec.account:
        body.append((1, order.spec.account))
    return [
        *body,
        (60, format_utc_timestamp(now_ns)),
        (434, response_to.value),
        (102, _CXL_REJ_REASONS.get(refusal.reason, "99")),
        (58, refusal.text),
    ]


def mass_cancel_report(ev: MassCancelDone) -> Body:
    body: Body = [
        (11, ev.cl_ord_id),
        (37, f"MC{ev.seq}"),
        (530, "1" if ev.symbol else "7"),
        (531, "1" if ev.symbol else "7"),
        (533, ev.cancelled),
    ]
    if ev.symbol:
        body.append((55, ev.symbol))
    if ev.side is not None:
        body.append((54, ev.side.value))
    body.append((60, format_utc_timestamp(ev.ts_ns)))
    return body


def mass_cancel_refusal(msg: FieldSource, refusal: Refusal, now_ns: int) -> Body:
    body: Body = [
        (11, msg.get(11) or ""),
        (37, "NONE"),
        (530, msg.get(530) or "7"),
        (531, "0"),
        # 1 Invalid or unknown Security, else 0 Mass Cancel Not Supported (a request type
        # other than 1 or 7): FIX 4.4's 532 is a char, so 99 (Other) fails its dictionary.
        (532, "1" if refusal.reason is RejectReason.UNKNOWN_SYMBOL else "0"),
        (533, 0),
    ]
    if msg.get(55):
        body.append((55, msg.get(55)))
    body += [(60, format_utc_timestamp(now_ns)), (58, refusal.text)]
    return body
