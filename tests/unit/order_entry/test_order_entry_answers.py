"""Every order-entry message gets an answer that tells the truth: out-of-range values are
refused (never an exception and silence), refusals of a cancel or replace carry the named
order's id and status, a rejection echoes what was sent, and venue-initiated cancels say so."""

from __future__ import annotations

from decimal import Decimal

import pytest
from support.order_entry import EngineVenue, Outbox, app_message, order

from fix_gateway import translate
from fix_gateway.config import SessionID, parse_config
from fix_gateway.order_entry import OrderEntry
from venue.commands import AddInstrument
from venue.instruments import Instrument
from venue.types import CancelReason

CFG = """\
[DEFAULT]
SenderCompID=V
SocketAcceptPort=1
[SESSION]
TargetCompID=A
Account=ACC-A
MaxOrderNotional=1000
"""
A = SessionID("FIX.4.4", "V", "A")
NOW = 1_767_225_600_000_000_000  # 2026-01-01


def setup() -> tuple[OrderEntry, Outbox]:
    entry, outbox, _ = with_engine(CFG)
    return entry, outbox


def with_engine(cfg: str) -> tuple[OrderEntry, Outbox, EngineVenue]:
    """Order entry for the sessions of ``cfg`` on a real engine, and what it sends."""
    venue = EngineVenue()
    outbox = Outbox()
    entry = OrderEntry(parse_config(cfg), venue, outbox)
    venue.entry = entry
    return entry, outbox, venue


def nos(**fields: object) -> list[tuple[int, object]]:
    base: dict[int, object] = {11: "N1", 55: "TEST", 54: "1", 60: "20260101-00:00:00", 38: 10,
                               40: "2", 44: "1.00"}
    base.update({int(tag[1:]): v for tag, v in fields.items()})
    return [(tag, v) for tag, v in base.items() if v is not None]


@pytest.mark.parametrize(
    ("fields", "reason", "text"),
    [
        ({"t44": "9" * 29}, "99", "Price(44): price 99999999999999999999999999999 is out of range"),
        ({"t44": "100000000.00"}, "99", "Price(44) 100000000.00 is above the venue's maximum"),
        ({"t38": "1" * 5000}, "13", "OrderQty(38) 11111111111111111111111111111111... is above"),
        ({"t38": "0" + "1" * 5000}, "13", "OrderQty(38) 01111111111111111111111111111111... is"),
        ({"t38": "1000000001"}, "13", "OrderQty(38) 1000000001 is above 1000000000"),
        ({"t40": "3", "t44": None, "t99": "1e30"}, "99", "StopPx(99): price 1E+30 is out of"),
        ({"t59": "6", "t432": "99991231"}, "11",
         "ExpireDate(432) 99991231 is beyond 2262-04-11 23:47:16 UTC, the latest expiry"),
        ({"t59": "6", "t126": "22620412-00:00:00"}, "11",
         "ExpireTime(126) 22620412-00:00:00 is beyond 2262-04-11 23:47:16 UTC"),
    ],
)
def test_out_of_range_values_are_refused_with_a_reason(
    fields: dict[str, object], reason: str, text: str
) -> None:
    entry, outbox = setup()
    entry.on_message(A, app_message("D", nos(**fields)), NOW)
    [(who, kind, er)] = outbox.sent
    assert (who, kind, er[150], er[39], er[103], er[37]) == ("A", "8", "8", "8", reason, "NONE")
    assert er[58].startswith(text)
    assert len(er[58]) < 120


@pytest.mark.parametrize("order_id", ["\u00b2", "9" * 5000])
def test_an_order_id_that_is_no_venue_id_gets_unknown_order(order_id: str) -> None:
    entry, outbox = setup()
    entry.on_message(
        A, app_message("F", [(41, "X"), (37, order_id), (11, "C1"), (55, "TEST"), (54, "1"),
                             (60, "20260101-00:00:00")]), NOW)  # fmt: skip
    entry.on_message(A, app_message("H", [(37, order_id), (11, "X"), (55, "TEST"), (54, "1")]), NOW)
    [(_, k1, reject), (_, k2, status)] = outbox.sent
    assert (k1, reject[102], reject[434], reject[39]) == ("9", "1", "1", "8")
    assert (k2, status[150], status[39], status[103]) == ("8", "I", "8", "5")


def _live_order(entry: OrderEntry, outbox: Outbox) -> str:
    entry.on_message(A, order("1", "P", 100, "5.00"), NOW)
    [(_, _, ack)] = outbox.sent
    outbox.sent.clear()
    return ack[37]


def _replace(**fields: object) -> list[tuple[int, object]]:
    base: dict[int, object] = {41: "P", 11: "G1", 55: "TEST", 54: "1", 60: "20260101-00:00:00",
                               40: "2", 38: 100}
    base.update({int(tag[1:]): v for tag, v in fields.items()})
    return [(tag, v) for tag, v in base.items() if v is not None]


def test_a_refused_replace_reports_the_live_order_with_its_id_and_status() -> None:
    entry, outbox = setup()
    order_id = _live_order(entry, outbox)
    entry.on_message(A, app_message("G", _replace(t38=1, t44="5.001")), NOW)
    [(_, kind, reject)] = outbox.sent
    assert kind == "9"
    wanted = {37: order_id, 11: "G1", 41: "P", 39: "0", 1: "ACC-A", 434: "2", 102: "99"}
    assert {tag: reject[tag] for tag in wanted} == wanted
    assert "not a multiple of tick size" in reject[58]


def test_a_replace_cannot_change_the_order_type() -> None:
    entry, outbox = setup()
    order_id = _live_order(entry, outbox)
    entry.on_message(A, app_message("G", _replace(t40="1", t38=50)), NOW)
    [(_, kind, reject)] = outbox.sent
    assert (kind, reject[37], reject[39], reject[102]) == ("9", order_id, "0", "99")
    assert reject[58] == "OrdType(40) cannot be changed by a replace: the order's is 2"
    view = entry._venue.find_order("FIX.4.4:V->A", None, "P")  # type: ignore[attr-defined]
    assert view is not None and view.spec.qty == 100  # unchanged


@pytest.mark.parametrize(
    ("fields", "reason", "text"),
    [
        ({"t54": "2"}, "99", "Side(54) and Symbol(55) cannot be changed by a replace: the order "
         "is buy TEST"),
        ({"t55": "TEST2"}, "99", "Side(54) and Symbol(55) cannot be changed"),
        ({"t55": "NOPE"}, "1", "unknown symbol"),
    ],
)
def test_a_replace_cannot_change_side_or_symbol(
    fields: dict[str, object], reason: str, text: str
) -> None:
    entry, outbox = setup()
    entry._venue.engine.handle(  # type: ignore[attr-defined]
        AddInstrument(NOW, Instrument("TEST2", Decimal("0.01"))))
    order_id = _live_order(entry, outbox)
    entry.on_message(A, app_message("G", _replace(t38=50, **fields)), NOW)
    [(_, kind, reject)] = outbox.sent
    assert (kind, reject[37], reject[39], reject[102], reject[434]) == (
        "9", order_id, "0", reason, "2")
    assert reject[58].startswith(text)


def test_a_cancel_cannot_take_a_live_orders_cl_ord_id() -> None:
    entry, outbox = setup()
    first = _live_order(entry, outbox)  # P
    entry.on_message(A, order("1", "Q", 10, "4.00"), NOW)
    outbox.sent.clear()
    cancel = [(41, "P"), (11, "Q"), (55, "TEST"), (54, "1"), (60, "20260101-00:00:00")]
    entry.on_message(A, app_message("F", cancel), NOW)
    [(_, kind, reject)] = outbox.sent
    assert (kind, reject[37], reject[11], reject[41], reject[39], reject[434], reject[102]) == (
        "9", first, "Q", "P", "0", "1", "6")
    assert reject[58] == "ClOrdID(11) 'Q' is a live order's"
    outbox.sent.clear()
    entry.on_message(A, app_message("F", [(41, "P"), (11, "X1"), *cancel[2:]]), NOW)
    [(_, kind, done)] = outbox.sent
    assert (kind, done[150], done[11], done[41]) == ("8", "4", "X1", "P")
    outbox.sent.clear()
    entry.on_message(A, app_message("F", [(41, "Q"), (11, "P"), *cancel[2:]]), NOW)
    [(_, kind, done)] = outbox.sent  # a finished order's ClOrdID may be used again
    assert (kind, done[150], done[11], done[41]) == ("8", "4", "P", "Q")


def test_a_replace_without_a_price_is_held_to_the_notional_limit_at_the_order_price() -> None:
    entry, outbox = setup()
    _live_order(entry, outbox)  # 100 @ 5.00 = 500 of the session's 1000
    entry.on_message(A, app_message("G", _replace(t38=300)), NOW)  # 1500 at 5.00
    [(_, kind, reject)] = outbox.sent
    assert (kind, reject[39], reject[102]) == ("9", "0", "99")
    assert reject[58] == "order notional 1500.00 exceeds the session limit 1000"
    outbox.sent.clear()
    entry.on_message(A, app_message("G", _replace(t38=150, t11="G2")), NOW)  # 750: fine
    [(_, kind, replaced)] = outbox.sent
    assert (kind, replaced[150], replaced[38], replaced[44]) == ("8", "5", "150", "5.00")


def test_a_rejection_echoes_the_request_as_sent() -> None:
    entry, outbox = setup()
    entry.on_message(A, app_message("D", nos(t54="5", t38="1.5", t59="2", t44="1.005")), NOW)
    [(_, _, er)] = outbox.sent
    assert (er[150], er[54], er[38], er[40], er[44], er[59]) == ("8", "5", "1.5", "2", "1.005", "2")


def test_a_risk_limit_rejection_echoes_the_request_too() -> None:
    entry, outbox = setup()
    entry.on_message(A, app_message("D", nos(t38=2000)), NOW)  # 2000.00 over the 1000 limit
    [(_, _, er)] = outbox.sent
    assert (er[150], er[103], er[38], er[44], er[54]) == ("8", "3", "2000", "1.00", "1")


def test_cancel_on_disconnect_reports_without_orig_cl_ord_id_and_says_why() -> None:
    entry, outbox = setup()
    order_id = _live_order(entry, outbox)
    assert entry.cancel_all(A, CancelReason.DISCONNECT, NOW) == 1
    [(_, _, er)] = outbox.sent
    assert (er[150], er[39], er[37], er[11], er[58]) == (
        "4", "4", order_id, "P", "cancelled on disconnect")
    assert 41 not in er


def test_operator_cancel_says_so() -> None:
    entry, outbox = setup()
    _live_order(entry, outbox)
    entry.cancel_all(A, CancelReason.ADMIN, NOW)
    [(_, _, er)] = outbox.sent
    assert (er[150], er[58], 41 in er) == ("4", "cancelled by the venue operator", False)


def test_an_unexpected_failure_still_gets_a_business_reject(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry, outbox = setup()

    def broken(*args: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(translate, "new_order", broken)  # a bug that cannot be provoked for real
    entry.on_message(A, app_message("D", nos()), NOW)
    [(_, kind, reject)] = outbox.sent
    assert (kind, reject[372], reject[380], reject[379]) == ("j", "D", "0", "N1")
    assert reject[58] == "the venue could not process this message"


def test_a_mass_cancel_for_an_unknown_symbol_is_rejected_as_such() -> None:
    entry, outbox = setup()
    _live_order(entry, outbox)
    entry.on_message(A, app_message("q", [(11, "M1"), (530, "1"), (55, "NOPE"),
                                          (60, "20260101-00:00:00")]), NOW)  # fmt: skip
    [(_, kind, report)] = outbox.sent
    assert (kind, report[531], report[532], report[533], report[58]) == (
        "r", "0", "1", "0", "unknown symbol 'NOPE'")
    assert entry._venue.engine.live_order_count() == 1  # type: ignore[attr-defined]


def test_an_unsupported_mass_cancel_type_is_rejected_not_supported() -> None:
    """532=0, a value FIX 4.4's char field can hold (a QuickFIX client rejects 99)."""
    entry, outbox = setup()
    _live_order(entry, outbox)
    entry.on_message(A, app_message("q", [(11, "M1"), (530, "3"), (60, "20260101-00:00:00")]),
                     NOW)
    [(_, kind, report)] = outbox.sent
    assert (kind, report[11], report[530], report[531], report[532], report[533]) == (
        "r", "M1", "3", "0", "0", "0")
    assert report[58] == "MassCancelRequestType(530) 3 is not supported (1 or 7)"
    assert entry._venue.engine.live_order_count() == 1  # type: ignore[attr-defined]


def test_a_status_report_echoes_ord_status_req_id_and_names_the_current_cl_ord_id() -> None:
    entry, outbox = setup()
    order_id = _live_order(entry, outbox)

    def status(cl_ord_id: str, *extra: tuple[int, object]) -> dict[int, str]:
        entry.on_message(A, app_message("H", [(11, cl_ord_id), (55, "TEST"), (54, "1"),
                                              *extra]), NOW)
        [(_, kind, er)] = outbox.sent
        outbox.sent.clear()
        assert (kind, er[150], er[37]) == ("8", "I", order_id)
        return er

    er = status("P", (790, "Q1"))
    assert (er[11], er[39], er[790]) == ("P", "0", "Q1")
    assert 790 not in status("P")  # none asked, none echoed
    entry.on_message(A, app_message("F", [(41, "P"), (11, "C1"), (55, "TEST"), (54, "1"),
                                          (60, "20260101-00:00:00")]), NOW)
    outbox.sent.clear()
    er = status("C1", (790, "Q2"))
    assert (er[11], er[39], er[151], er[790]) == ("C1", "4", "0", "Q2")
    assert status("P")[11] == "C1"  # asked by its first ClOrdID: named by its current one
    entry.on_message(A, app_message("H", [(11, "NOPE"), (55, "TEST"), (54, "1"), (790, "Q3")]),
                     NOW)
    [(_, _, unknown)] = outbox.sent
    assert (unknown[39], unknown[103], unknown[11], unknown[790]) == ("8", "5", "NOPE", "Q3")


PERMITTED_CFG = """\
[DEFAULT]
SenderCompID=V
SocketAcceptPort=1
[SESSION]
TargetCompID=A
Account=ACC-A
PermittedAccounts=ACC-A,ACC-A2
[SESSION]
TargetCompID=B
PermittedAccounts=ACC-B
"""


@pytest.mark.parametrize(
    ("session", "account", "accepted", "text"),
    [
        ("A", None, "ACC-A", None),  # the session's default Account
        ("A", "ACC-A2", "ACC-A2", None),
        ("A", "ACC-B", None, "Account(1) 'ACC-B' is not permitted for this session (ACC-A, "
                             "ACC-A2)"),
        ("B", None, None, "Account(1) is required: this session trades for ACC-B"),
        ("B", "ACC-B", "ACC-B", None),
    ],
)
def test_an_order_for_an_account_the_session_may_not_trade_for_is_rejected(
    session: str, account: str | None, accepted: str | None, text: str | None
) -> None:
    entry, outbox, venue = with_engine(PERMITTED_CFG)
    entry.on_message(SessionID("FIX.4.4", "V", session), app_message("D", nos(t1=account)), NOW)
    [(who, kind, er)] = outbox.sent
    assert (who, kind) == (session, "8")
    if accepted is not None:
        assert (er[150], er[39], er[1]) == ("0", "0", accepted)
        assert venue.engine.live_order_count() == 1
    else:
        assert (er[150], er[39], er[103], er[37], er[58]) == ("8", "8", "15", "NONE", text)
        assert er.get(1) == account  # the rejection echoes what was sent
        assert venue.engine.live_order_count() == 0


def test_a_replace_to_an_expiry_the_store_cannot_keep_is_refused() -> None:
    entry, outbox = setup()
    entry.on_message(A, app_message("D", nos(t59="6", t432="20991231")), NOW)
    [(_, _, ack)] = outbox.sent
    assert (ack[150], ack[39]) == ("0", "0")
    entry.on_message(A, app_message("G", [
        (41, "N1"), (11, "N2"), (55, "TEST"), (54, "1"), (60, "20260101-00:00:00"), (38, 10),
        (40, "2"), (44, "1.00"), (59, "6"), (432, "99991231")]), NOW)  # fmt: skip
    [(_, kind, rej)] = outbox.sent[1:]
    assert (kind, rej[434], rej[102], rej[37], rej[39]) == ("9", "2", "99", ack[37], "0")
    assert rej[58] == (
        "ExpireDate(432) 99991231 is beyond 2262-04-11 23:47:16 UTC, the latest expiry the "
        "venue keeps"
    )


def test_a_replaced_order_is_found_by_its_earlier_cl_ord_id() -> None:
    """A NewOrderSingle resent (PossResend) after its order was replaced, or a status
    request naming the first ClOrdID, gets the live order's status, not "unknown order"
    (a client told its working order was rejected might send it again)."""
    entry, outbox = setup()
    order_id = _live_order(entry, outbox)
    entry.on_message(A, app_message("G", _replace(t11="G1", t38=60)), NOW)
    [(_, _, replaced)] = outbox.sent
    outbox.sent.clear()
    assert (replaced[150], replaced[11], replaced[41]) == ("5", "G1", "P")
    entry.on_message(A, app_message("D", [(97, "Y"), *nos(t11="P", t38=100, t44="5.00")]),
                     NOW)
    entry.on_message(A, app_message("H", [(11, "P"), (55, "TEST"), (54, "1")]), NOW)
    for kind, er in ((kind, er) for _, kind, er in outbox.sent):
        assert (kind, er[150], er[37], er[11], er[39], er[38], er[151]) == (
            "8", "I", order_id, "G1", "0", "60", "60")
    assert len(outbox.sent) == 2
    assert entry._venue.engine.live_order_count() == 1  # type: ignore[attr-defined]
