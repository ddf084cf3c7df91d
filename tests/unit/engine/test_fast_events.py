"""The engine builds its hottest events without the dataclass ``__init__`` (venue.engine's
``_draft_class``); they must still be ordinary, frozen, hashable instances, equal to the
same event built the normal way."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from venue.commands import CancelOrder
from venue.events import Event, Fill, OrderAccepted, OrderCancelled, OrderSpec, Trade
from venue.types import Side

H = Any  # the Harness fixture from conftest.py
B, S = Side.BUY, Side.SELL


def _rebuilt(obj: Any) -> Any:
    """The same dataclass built through its own constructor, nested Fills and specs too."""
    values = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if isinstance(value, (Fill, OrderSpec)):
            value = _rebuilt(value)
        values[field.name] = value
    return type(obj)(**values)


def _check(obj: Any, cls: type[Any]) -> None:
    assert type(obj) is cls
    again = _rebuilt(obj)
    assert obj == again
    assert hash(obj) == hash(again)
    assert repr(obj) == repr(again)
    name = dataclasses.fields(obj)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, name, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(obj, name)


def test_inline_built_events_are_genuine_frozen_dataclasses(h: H) -> None:
    events: list[Event] = []
    events += h.raw(h.new_cmd("s1", S, 10, 100, owner="S"))  # rests
    events += h.raw(h.new_cmd("b1", B, 4, 100))  # crosses: a Trade with two Fills
    events += h.raw(h.new_cmd("m1", B, 10))  # market: a Trade, the remainder cancelled
    events += h.raw(h.new_cmd("b2", B, 5, 90))  # rests
    events += h.raw(CancelOrder(h.tick(), "A", "c1", "b2"))  # cancelled on request
    accepted = [e for e in events if isinstance(e, OrderAccepted)]
    trades = [e for e in events if isinstance(e, Trade)]
    cancels = [e for e in events if isinstance(e, OrderCancelled)]
    assert (len(accepted), len(trades), len(cancels)) == (4, 2, 2)
    for ack in accepted:
        _check(ack, OrderAccepted)
        _check(ack.spec, OrderSpec)
    for trade in trades:
        _check(trade, Trade)
        _check(trade.buy, Fill)
        _check(trade.sell, Fill)
    for cancel in cancels:
        _check(cancel, OrderCancelled)
