"""FIX session state, outbound messages (resend store) and session events."""

from __future__ import annotations

from sqlalchemy import select

from venue.store import FixSessionRecord, SessionEventRecord, Store
from venue.store.models import FixMessageRunRow

S1 = "FIX.4.4:VENUE->CLIENT1"
S2 = "FIX.4.4:VENUE->CLIENT2"
CT = 1_700_000_000_000_000_000


def msg(seq: int) -> bytes:
    return b"8=FIX.4.4\x019=5\x0135=0\x0134=" + str(seq).encode() + b"\x01\xff\x00\x0110=000\x01"


async def test_state_round_trip_last_wins(store: Store) -> None:
    assert await store.load_fix_session(S1) is None
    store.fix_state(S1, 2, 1, CT)
    store.fix_state(S1, 5, 7, CT)
    store.fix_state(S2, 1, 1, CT + 1)
    await store.commit()
    assert await store.load_fix_session(S1) == FixSessionRecord(S1, 5, 7, CT)
    store.fix_state(S1, 6, 8, CT)
    await store.commit()
    assert await store.load_fix_session(S1) == FixSessionRecord(S1, 6, 8, CT)
    assert await store.load_fix_session(S2) == FixSessionRecord(S2, 1, 1, CT + 1)


async def test_messages_round_trip_and_ranges(store: Store) -> None:
    for seq in range(1, 11):
        store.fix_message(S1, seq, msg(seq))
    store.fix_message(S2, 1, b"other")
    await store.commit()
    assert await store.load_fix_messages(S1, 1, 0) == [(s, msg(s)) for s in range(1, 11)]
    assert await store.load_fix_messages(S1, 3, 5) == [(s, msg(s)) for s in (3, 4, 5)]
    assert await store.load_fix_messages(S1, 9, 0) == [(9, msg(9)), (10, msg(10))]
    assert await store.load_fix_messages(S1, 11, 0) == []
    assert await store.load_fix_messages(S1, 5, 5) == [(5, msg(5))]
    assert await store.load_fix_messages(S2, 1, 0) == [(1, b"other")]
    assert await store.load_fix_messages("nope", 1, 0) == []


async def test_message_rewritten_with_same_seq_keeps_the_last(store: Store) -> None:
    store.fix_message(S1, 1, b"first")
    store.fix_message(S1, 1, b"second")
    await store.commit()
    store.fix_message(S1, 1, b"third")
    await store.commit()
    assert await store.load_fix_messages(S1, 1, 0) == [(1, b"third")]


async def test_reset(store: Store) -> None:
    for seq in range(1, 6):
        store.fix_message(S1, seq, msg(seq))
        store.fix_message(S2, seq, msg(seq))
    store.fix_state(S1, 6, 9, CT)
    store.fix_state(S2, 6, 9, CT)
    await store.commit()
    # in one batch: a message before the reset (dropped), the reset, messages after it
    store.fix_message(S1, 6, msg(6))
    store.fix_reset(S1, CT + 5)
    store.fix_message(S1, 1, b"logon after reset")
    store.fix_state(S1, 2, 2, CT + 5)
    await store.commit()
    assert await store.load_fix_messages(S1, 1, 0) == [(1, b"logon after reset")]
    assert await store.load_fix_session(S1) == FixSessionRecord(S1, 2, 2, CT + 5)
    assert await store.load_fix_messages(S2, 1, 0) == [(s, msg(s)) for s in range(1, 6)]
    assert await store.load_fix_session(S2) == FixSessionRecord(S2, 6, 9, CT)
    store.fix_reset(S2, CT + 7)
    await store.commit()
    assert await store.load_fix_session(S2) == FixSessionRecord(S2, 1, 1, CT + 7)
    assert await store.load_fix_messages(S2, 1, 0) == []


async def test_session_events(store: Store) -> None:
    store.session_event(S1, CT, "logon", "HeartBtInt=30")
    store.session_event(S2, CT + 1, "reject", "35=D 11 missing")
    store.session_event(S1, CT + 2, "disconnect", "peer closed")
    await store.commit()
    assert await store.session_events(S1) == [
        SessionEventRecord(S1, CT, "logon", "HeartBtInt=30"),
        SessionEventRecord(S1, CT + 2, "disconnect", "peer closed"),
    ]
    assert [e.kind for e in await store.session_events()] == ["logon", "reject", "disconnect"]


async def test_text_is_stored_exactly(store: Store) -> None:
    # PostgreSQL receives a batch as JSON: quotes, backslashes, control characters and
    # non-ASCII text must come back unchanged
    detail = 'quote " backslash \\ tab \t SOH \x01 newline \n é ✓ \U0001f600 \\u0041'
    store.session_event(S1, CT, "reject", detail)
    store.fix_message(S1, 1, detail.encode())
    await store.commit()
    assert await store.session_events(S1) == [SessionEventRecord(S1, CT, "reject", detail)]
    assert await store.load_fix_messages(S1, 1, 0) == [(1, detail.encode())]


async def _runs(store: Store) -> list[tuple[str, int, int, str]]:
    """The stored runs' keys, oldest first."""
    r = FixMessageRunRow
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(r.session_id, r.first_seq, r.last_seq, r.sizes).order_by(r.id)
        )
        return [(row.session_id, row.first_seq, row.last_seq, row.sizes) for row in rows]


async def test_a_commit_stores_one_row_per_run_of_consecutive_messages(store: Store) -> None:
    for seq in (1, 2, 3, 7, 8):
        store.fix_message(S1, seq, msg(seq))
    store.fix_message(S2, 4, b"")
    store.fix_message(S2, 5, b"five")
    await store.commit()
    sizes = ",".join(str(len(msg(s))) for s in (1, 2, 3))
    assert await _runs(store) == [
        (S1, 1, 3, sizes),
        (S1, 7, 8, f"{len(msg(7))},{len(msg(8))}"),
        (S2, 4, 5, "0,4"),
    ]
    assert await store.load_fix_messages(S1, 2, 7) == [(2, msg(2)), (3, msg(3)), (7, msg(7))]
    assert await store.load_fix_messages(S2, 1, 0) == [(4, b""), (5, b"five")]
    assert store.stats.fix_messages == 7


async def test_messages_stored_again_under_old_numbers_replace_only_those(store: Store) -> None:
    """The sender's MsgSeqNum set back without a reset: the new messages win seq by seq."""
    for seq in range(1, 11):
        store.fix_message(S1, seq, msg(seq))
    await store.commit()
    for seq in (5, 6, 7):
        store.fix_message(S1, seq, b"again %d" % seq)
    await store.commit()
    expected = [(s, msg(s)) for s in range(1, 5)]
    expected += [(s, b"again %d" % s) for s in (5, 6, 7)]
    expected += [(s, msg(s)) for s in range(8, 11)]
    assert await store.load_fix_messages(S1, 1, 0) == expected
    assert await store.load_fix_messages(S1, 6, 8) == expected[5:8]
