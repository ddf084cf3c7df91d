"""OrderEntry against the real engine, without sockets: drop-copy account filters and the
exact reports each session gets."""

from __future__ import annotations

from support.order_entry import EngineVenue, Outbox, order

from fix_gateway.config import SessionID, parse_config
from fix_gateway.order_entry import OrderEntry, RecentIds

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
    entry.on_message(a, order("1", "A1", 10, "1.00"), 1)
    entry.on_message(b, order("2", "B1", 4, "1.00"), 2)
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


def test_recent_ids_remember_at_least_the_last_keep_in_bounded_memory() -> None:
    recent = RecentIds(keep=3)
    for i in range(1, 6):
        recent.add(f"c{i}")
    assert [f"c{i}" in recent for i in range(1, 6)] == [True] * 5  # c1..c3 old, c4..c5 new
    recent.add("c6")  # the new generation is full: c1..c3 are dropped
    assert [f"c{i}" in recent for i in range(1, 7)] == [False] * 3 + [True] * 3
    for i in range(7, 100):
        recent.add(f"c{i}")
        assert all(f"c{j}" in recent for j in range(i - 2, i + 1))
        assert len(recent) <= 6
    recent.add("x", 42)
    assert recent.order_id("x") == 42
    assert recent.order_id("c99") is None and recent.order_id("nope") is None
