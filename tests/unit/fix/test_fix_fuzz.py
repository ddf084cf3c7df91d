"""Bad input gets an answer, never an exception: random bytes and mutated messages against the
pure session, and random field values against the order-entry translation."""

from __future__ import annotations

from decimal import Decimal

from fixclient import NOS_FIELDS, Pair, client_msg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fix_gateway import translate
from fix_gateway.codec import parse
from fix_gateway.session import Deliver, Disconnect, Send
from fix_gateway.translate import Refusal, SessionRules
from venue.commands import NewOrder
from venue.instruments import Instrument

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIX_TEXT = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=0, max_size=12
)


def logged_on() -> Pair:
    p = Pair()
    p.logon()
    return p


def check_sends(actions: list[object]) -> None:
    for action in actions:
        if isinstance(action, Send):
            msg = parse(action.raw)  # well-formed: the framer would accept it
            assert msg.error is None
            assert msg.msg_type in {"0", "1", "2", "3", "4", "5", "j"}


@FAST
@given(st.lists(st.binary(min_size=0, max_size=200), max_size=8))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    p = logged_on()
    for chunk in chunks:
        check_sends(p.feed(chunk))
    check_sends(p.timer(1))


@FAST
@given(
    st.integers(min_value=0, max_value=len(NOS_FIELDS) - 1),
    st.one_of(st.integers(min_value=-5, max_value=10_000).map(str), FIX_TEXT),
    st.booleans(),
)
def test_a_mutated_new_order_gets_an_answer(index: int, value: str, drop: bool) -> None:
    p = logged_on()
    fields = list(NOS_FIELDS)
    if drop:
        del fields[index]
    else:
        fields[index] = (fields[index][0], value)
    raw = client_msg("D", fields, seq=p.seq, time_ns=p.now)
    p.seq += 1
    actions = p.feed(raw)
    check_sends(actions)
    # exactly one outcome: delivered to order entry, rejected, or (never silently) dropped
    delivered = [a for a in actions if isinstance(a, Deliver)]
    answered = [a for a in actions if isinstance(a, Send)]
    closed = [a for a in actions if isinstance(a, Disconnect)]
    assert delivered or answered or closed


class Instruments:
    def instrument(self, symbol: str) -> Instrument | None:
        return Instrument("TEST", Decimal("0.01")) if symbol == "TEST" else None


class Fields:
    msg_type = "D"

    def __init__(self, fields: dict[int, str]) -> None:
        self._fields = fields

    def get(self, tag: int, default: str | None = None) -> str | None:
        return self._fields.get(tag, default)


VALUES = st.one_of(
    FIX_TEXT,
    st.decimals(allow_nan=True, allow_infinity=True, places=4).map(str),
    st.sampled_from(["1", "2", "3", "4", "6", "TEST", "20261121-10:00:00", "20261121", "-1"]),
)


@FAST
@given(st.dictionaries(st.sampled_from([11, 55, 54, 38, 40, 44, 99, 59, 126, 432, 110, 111, 18]),
                       VALUES))
def test_order_translation_never_raises(fields: dict[int, str]) -> None:
    fields.setdefault(55, "TEST")
    result = translate.new_order(Fields(fields), SessionRules(owner="o"), Instruments(), 1)
    if isinstance(result, tuple):
        order, refusal = result
        assert isinstance(order, NewOrder)
        assert isinstance(refusal, Refusal) and refusal.text
    else:
        assert isinstance(result, NewOrder)
        assert result.qty > 0
