"""OrderEntry against the real engine, without sockets: drop-copy account filters and the
exact reports each session gets."""

from __future__ import annotations

from decimal import Decimal

from fix_gateway.codec import encode_raw, parse
from fix_gateway.config import SessionID, parse_config
from fix_gateway.order_entry import OrderEntry
from venue.commands import Command
from venue.engine import MatchingEngine
from venue.events import Event
from venue.instruments import Instrument
from venue.types import OrderId

CFG = """\
[DEFAULT]
SenderCompID=V
SocketAcceptPort=1
[SESSION]
TargetCompID=A
Account=ACC-A
[SESSION]
TargetCompID=B
Account=ACC-B
[SESSION]
TargetCompID=COPYA
SessionRole=DropCopy
DropCopyAccounts=ACC-A
"""


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

    def live_order_ids(self, owner: str) -> list[OrderId]:
        return [v.spec.order_id for v in self.engine.live_orders(owner=owner)]


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[int, str]]] = []

    def send(self, session_id: SessionID, msg_type: str, body: list[tuple[int, object]]) -> int:
        self.sent.append((session_id.target_comp_id, msg_type, {t: str(v) for t, v in body}))
        return len(self.sent)


def order(side: str, cl_ord_id: str, qty: int, price: str) -> object:
    raw = encode_raw("FIX.4.4", [(35, "D"), (34, 2), (49, "X"), (56, "V"),
                                 (52, "20260101-00:00:00"), (11, cl_ord_id), (55, "TEST"),
                                 (54, side), (60, "20260101-00:00:00"), (38, qty), (40, "2"),
                                 (44, price)])
    return parse(raw)


def setup() -> tuple[OrderEntry, Outbox]:
    config = parse_config(CFG)
    venue = EngineVenue()
    outbox = Outbox()
    entry = OrderEntry(config, venue, outbox)
    venue.entry = entry
    return entry, outbox


def test_drop_copy_sees_only_its_accounts() -> None:
    entry, outbox = setup()
    a, b = SessionID("FIX.4.4", "V", "A"), SessionID("FIX.4.4", "V", "B")
    entry.on_message(a, order("1", "A1", 10, "1.00"), 1)  # type: ignore[arg-type]
    entry.on_message(b, order("2", "B1", 4, "1.00"), 2)  # type: ignore[arg-type]
    to = [(who, m[150], m[11]) for who, kind, m in outbox.sent if kind == "8"]
    assert to == [
        ("A", "0", "A1"), ("COPYA", "0", "A1"),  # A's ack, copied
        ("B", "0", "B1"),  # B's ack, not copied (ACC-B)
        ("A", "F", "A1"), ("COPYA", "F", "A1"),  # passive fill of ACC-A, copied
        ("B", "F", "B1"),
    ]
    fill = next(m for who, _, m in outbox.sent if who == "A" and m[150] == "F")
    assert (fill[14], fill[151], fill[31], fill[32], fill[6], fill[39]) == (
        "4", "6", "1.00", "4", "1.00", "1"
    )
