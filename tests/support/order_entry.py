"""Order entry without sockets: the real engine behind a minimal venue, and an outbox that
records what would be sent."""

from __future__ import annotations

from decimal import Decimal

from fix_gateway.codec import EncodedBody, Message, OutBody, encode_raw, parse
from fix_gateway.config import SessionID
from fix_gateway.order_entry import OrderEntry
from venue.commands import Command
from venue.engine import MatchingEngine
from venue.events import Event
from venue.instruments import Instrument
from venue.snapshot import OrderView
from venue.types import OrderId


class EngineVenue:
    def __init__(self) -> None:
        self.engine = MatchingEngine([Instrument("TEST", Decimal("0.01"))])
        self.entry: OrderEntry | None = None

    def submit(self, cmd: Command) -> list[Event]:
        events = self.engine.handle(cmd)
        assert self.entry is not None
        self.entry.on_events(events)
        return events

    def instrument(self, symbol: str) -> Instrument | None:
        return self.engine.instrument(symbol)

    def last_price(self, symbol: str) -> int | None:
        return self.engine.last_price(symbol)

    def knows_cl_ord_id(self, owner: str, cl_ord_id: str) -> bool:
        return self.engine.knows_cl_ord_id(owner, cl_ord_id)

    def live_order_ids(self, owner: str) -> list[OrderId]:
        return [v.spec.order_id for v in self.engine.live_orders(owner=owner)]

    def find_order(self, owner: str, order_id: OrderId | None, cl_ord_id: str) -> OrderView | None:
        return self.engine.find_order(owner, order_id, cl_ord_id)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[int, str]]] = []

    def send(self, session_id: SessionID, msg_type: str, body: OutBody) -> int:
        if isinstance(body, EncodedBody):  # fields encoded once for several sessions
            fields = dict(f.split("=", 1) for f in body.split("\x01")[:-1])
            self.sent.append((session_id.target_comp_id, msg_type,
                              {int(t): v for t, v in fields.items()}))
        else:
            self.sent.append((session_id.target_comp_id, msg_type, {t: str(v) for t, v in body}))
        return len(self.sent)


def order(side: str, cl_ord_id: str, qty: int, price: str) -> Message:
    raw = encode_raw("FIX.4.4", [(35, "D"), (34, 2), (49, "X"), (56, "V"),
                                 (52, "20260101-00:00:00"), (11, cl_ord_id), (55, "TEST"),
                                 (54, side), (60, "20260101-00:00:00"), (38, qty), (40, "2"),
                                 (44, price)])
    return parse(raw)



def app_message(msg_type: str, fields: list[tuple[int, object]], seq: int = 2) -> Message:
    """A parsed client application message (header filled in)."""
    return parse(
        encode_raw(
            "FIX.4.4",
            [(35, msg_type), (34, seq), (49, "X"), (56, "V"), (52, "20260101-00:00:00"), *fields],
        )
    )
