"""The write buffer: a failed batch goes back in front of newer writes, newer wins."""

from __future__ import annotations

from venue.commands import AdvanceTime
from venue.store.store import _Batch


def test_absorb_older_keeps_order_and_newer_wins() -> None:
    older = _Batch()
    older.journal.append((1, AdvanceTime(1), []))
    older.fix_states["S"] = (5, 5, 0)
    older.fix_states["T"] = (2, 2, 0)
    older.fix_messages[("S", 4)] = b"old S4"
    older.fix_messages[("T", 1)] = b"old T1"
    older.session_events.append(("S", 1, "logon", ""))
    newer = _Batch()
    newer.journal.append((2, AdvanceTime(2), []))
    newer.fix_resets.add("S")  # S was reset after the failed batch: its old messages go
    newer.fix_states["S"] = (1, 1, 9)
    newer.fix_messages[("S", 1)] = b"new S1"
    newer.fix_messages[("T", 1)] = b"new T1"
    newer.session_events.append(("S", 2, "logout", ""))
    newer.absorb_older(older)
    assert [n for n, _, _ in newer.journal] == [1, 2]
    assert newer.fix_states == {"S": (1, 1, 9), "T": (2, 2, 0)}
    assert newer.fix_messages == {("S", 1): b"new S1", ("T", 1): b"new T1"}
    assert newer.fix_resets == {"S"}
    assert [k for _, _, k, _ in newer.session_events] == ["logon", "logout"]


def test_absorb_older_reset_stays_before_newer_messages() -> None:
    older = _Batch()
    older.fix_resets.add("S")
    older.fix_messages[("S", 1)] = b"after reset"
    newer = _Batch()
    newer.fix_messages[("S", 2)] = b"next"
    newer.absorb_older(older)
    assert newer.fix_resets == {"S"}
    assert newer.fix_messages == {("S", 1): b"after reset", ("S", 2): b"next"}
    assert not newer.empty()
    assert _Batch().empty()
