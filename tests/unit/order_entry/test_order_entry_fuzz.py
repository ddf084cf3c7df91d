"""Every application message a trading session sends gets an answer from order entry (an
ExecutionReport, an OrderCancelReject, a mass cancel report or a business reject), whatever
its field values, and the engine's book stays consistent."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.order_entry import EngineVenue, Outbox, app_message

from fix_gateway.config import SessionID, parse_config
from fix_gateway.order_entry import OrderEntry

CFG = """\
[DEFAULT]
SenderCompID=V
SocketAcceptPort=1
[SESSION]
TargetCompID=A
MaxOrderQty=500
MaxOrderNotional=10000
SelfTradePrevention=DecrementAndCancel
"""
A = SessionID("FIX.4.4", "V", "A")
IDS = st.sampled_from(["c1", "c2", "c3", "c4"])
PRICES = st.sampled_from(["0.99", "1.00", "1.01", "1.005", "0", "-1", "abc", "1e3"])
QTYS = st.sampled_from(["1", "5", "10", "600", "0", "2.5", "-3", "x"])


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, list[tuple[int, object]]]:
    kind = draw(st.sampled_from(["D", "F", "G", "H", "q", "R"]))
    side = draw(st.sampled_from(["1", "2", "5"]))
    fields: list[tuple[int, object]] = [(11, draw(IDS))]
    if kind in ("F", "G", "H"):
        fields.append((41, draw(IDS)))
    if kind != "q":
        fields += [(55, draw(st.sampled_from(["TEST", "NOPE"]))), (54, side)]
    if kind in ("D", "G"):
        fields += [(38, draw(QTYS)), (40, draw(st.sampled_from(["1", "2", "3", "4", "P"])))]
        fields += [(t, draw(PRICES)) for t in draw(st.sets(st.sampled_from([44, 99])))]
        fields += [(59, draw(st.sampled_from(["0", "1", "3", "4", "6", "2"])))]
        if draw(st.booleans()):
            fields.append((111, draw(QTYS)))
        if draw(st.booleans()):
            fields.append((18, draw(st.sampled_from(["6", "G", "6 A"]))))
    if kind == "q":
        fields += [(530, draw(st.sampled_from(["1", "7", "3"])))]
        if draw(st.booleans()):
            fields.append((55, "TEST"))
    return kind, fields


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages(), min_size=1, max_size=25))
def test_every_message_gets_an_answer(flow: list[tuple[str, list[tuple[int, object]]]]) -> None:
    venue = EngineVenue()
    outbox = Outbox()
    entry = OrderEntry(parse_config(CFG), venue, outbox)
    venue.entry = entry
    for n, (kind, fields) in enumerate(flow):
        before = len(outbox.sent)
        entry.on_message(A, app_message(kind, fields, seq=n + 2), n + 1)
        answers = {msg_type for _, msg_type, _ in outbox.sent[before:]}
        assert answers, f"no answer to {kind} {fields}"
        assert answers <= {"8", "9", "r", "j"}
        book = venue.engine
        bid, ask = book.best_bid("TEST"), book.best_ask("TEST")
        assert bid is None or ask is None or bid.price < ask.price
