"""Message store: outbound messages and both sequence numbers of one session.

Shaped like QuickFIX/J ``MessageStore``: the session calls it synchronously (it is sans-I/O), so a
durable implementation must not block.  Instead it records every change as a :class:`StoreWrite`
and the transport commits them as a group: the acceptor hands its ``commit_barrier`` (which
drains :meth:`MessageStore.pending` of every store and commits them in one transaction) what
writes the corresponding outbound bytes, and it is called back only once they are stored
("journal before acknowledge").
"""

from __future__ import annotations

import bisect
from typing import Final, Literal, NamedTuple, Protocol, runtime_checkable

#: The largest sequence number a session keeps (18 digits: it and its successor fit the
#: stores' 64-bit columns). A longer MsgSeqNum is invalid, a larger NewSeqNo out of range.
MAX_SEQ_NUM: Final = 10**18 - 1

WriteKind = Literal["message", "next_sender_seq", "next_target_seq", "reset"]


class StoreWrite(NamedTuple):
    """One change to persist.

    Attributes:
        kind: ``message`` (``seq`` and ``raw`` set), ``next_sender_seq`` / ``next_target_seq``
            (``seq`` is the new value), or ``reset`` (``seq`` is the creation time in ns; the
            durable store deletes the session's messages and sets both numbers to 1).
        seq: see ``kind``.
        raw: the message bytes for ``message``, else ``b""``.
    """

    kind: WriteKind
    seq: int
    raw: bytes = b""


@runtime_checkable
class MessageStore(Protocol):
    """Storage of one session (QuickFIX/J ``MessageStore``).

    Every call is synchronous and must not block.  Implementations record the changes since the
    last :meth:`pending` call; sequence number changes may be coalesced (only the latest value of
    each number matters), ``message`` and ``reset`` writes must keep their order.  A store loaded
    from durable state after a restart continues the sequence numbers and can serve resends.
    """

    @property
    def next_sender_seq(self) -> int: ...
    @next_sender_seq.setter
    def next_sender_seq(self, value: int) -> None: ...
    @property
    def next_target_seq(self) -> int: ...
    @next_target_seq.setter
    def next_target_seq(self, value: int) -> None: ...
    @property
    def creation_time(self) -> int:
        """When the store was created or last reset, in ns since the epoch."""
        ...

    def incr_next_sender_seq(self) -> None: ...
    def incr_next_target_seq(self) -> None: ...
    def save(self, seq: int, raw: bytes) -> None:
        """Store an outbound message under its MsgSeqNum."""
        ...

    def get(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored messages with ``begin <= seq <= end`` in order; missing ones are skipped."""
        ...

    def reset(self, now_ns: int) -> None:
        """Delete messages, set both sequence numbers to 1 and creation time to ``now_ns``."""
        ...

    def refresh(self) -> None:
        """Reload from durable storage (RefreshOnLogon); a no-op for memory."""
        ...

    @property
    def first_kept_seq(self) -> int:
        """The lowest MsgSeqNum :meth:`get` can answer; older messages must be preloaded
        (the session asks with a ``LoadMessages`` action). 1 when everything is kept."""
        ...

    def preload(self, messages: list[tuple[int, bytes]]) -> None:
        """Older messages loaded from durable storage, for the next :meth:`get` only."""
        ...

    def pending(self) -> list[StoreWrite]:
        """Return and forget the writes made since the previous call (for a group commit)."""
        ...


class MemoryStore:
    """In-memory :class:`MessageStore`; also the write-buffering reference implementation.

    Args:
        creation_time: creation time in ns.
        next_sender_seq: initial next outbound MsgSeqNum (to continue after a restart).
        next_target_seq: initial next expected inbound MsgSeqNum.
        messages: previously stored messages, ``(seq, raw)``.
        keep: keep only about the newest ``keep`` messages in memory (between ``keep`` and
            a quarter more; older ones are dropped in chunks); None keeps all. A durable
            store behind it answers for the older ones (:meth:`preload`).
        first_kept_seq: the lowest MsgSeqNum ``messages`` may hold (they were loaded
            from that number on); 1 when they are all there is.
        write_back: record every change for :meth:`pending` (a durable store behind it
            drains them at each group commit). Off, nothing is recorded and ``pending``
            is always empty: an in-memory venue must not keep every message it ever sent
            in a list nobody drains.
    """

    def __init__(
        self,
        creation_time: int = 0,
        next_sender_seq: int = 1,
        next_target_seq: int = 1,
        messages: list[tuple[int, bytes]] | None = None,
        *,
        keep: int | None = None,
        first_kept_seq: int = 1,
        write_back: bool = False,
    ) -> None:
        self._creation_time = creation_time
        self._sender = next_sender_seq
        self._target = next_target_seq
        self._messages: dict[int, bytes] = dict(messages or ())
        self._seqs = sorted(self._messages)
        self._write_back = write_back
        self._writes: list[StoreWrite] = []
        self._sender_dirty = False
        self._target_dirty = False
        self._keep = keep
        self._high = None if keep is None else keep + keep // 4
        self._first_kept = first_kept_seq
        self._preloaded: dict[int, bytes] = {}
        self._trim()

    @classmethod
    def restore(cls, other: MemoryStore) -> MemoryStore:
        """A new store loaded with ``other``'s state, as after a restart."""
        return cls(
            other.creation_time,
            other.next_sender_seq,
            other.next_target_seq,
            other.get(1, other.next_sender_seq),
            keep=other._keep,
            first_kept_seq=other.first_kept_seq,
            write_back=other._write_back,
        )

    @property
    def first_kept_seq(self) -> int:
        return self._first_kept

    def preload(self, messages: list[tuple[int, bytes]]) -> None:
        self._preloaded = dict(messages)

    def _trim(self) -> None:
        """Drop the oldest messages down to ``keep`` once there are a quarter more."""
        if self._high is None or self._keep is None or len(self._seqs) <= self._high:
            return
        cut = len(self._seqs) - self._keep
        messages = self._messages
        for seq in self._seqs[:cut]:
            del messages[seq]
        del self._seqs[:cut]
        self._first_kept = self._seqs[0]

    @property
    def next_sender_seq(self) -> int:
        return self._sender

    @next_sender_seq.setter
    def next_sender_seq(self, value: int) -> None:
        self._sender = value
        self._sender_dirty = True

    @property
    def next_target_seq(self) -> int:
        return self._target

    @next_target_seq.setter
    def next_target_seq(self, value: int) -> None:
        self._target = value
        self._target_dirty = True

    @property
    def creation_time(self) -> int:
        return self._creation_time

    def incr_next_sender_seq(self) -> None:
        self._sender += 1
        self._sender_dirty = True

    def incr_next_target_seq(self) -> None:
        self._target += 1
        self._target_dirty = True

    def save(self, seq: int, raw: bytes) -> None:
        if seq not in self._messages:
            if self._seqs and seq < self._seqs[-1]:
                bisect.insort(self._seqs, seq)
            else:
                self._seqs.append(seq)
        self._messages[seq] = raw
        if self._write_back:
            self._writes.append(StoreWrite("message", seq, raw))
        if self._high is not None and len(self._seqs) > self._high:
            self._trim()

    def get(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        lo = bisect.bisect_left(self._seqs, begin)
        hi = bisect.bisect_right(self._seqs, end)
        kept = [(s, self._messages[s]) for s in self._seqs[lo:hi]]
        if not self._preloaded:
            return kept
        preloaded, self._preloaded = self._preloaded, {}
        older = sorted(
            (s, raw)
            for s, raw in preloaded.items()
            if begin <= s <= end and s < self._first_kept and s not in self._messages
        )
        return older + kept

    def reset(self, now_ns: int) -> None:
        self._messages.clear()
        self._seqs.clear()
        self._preloaded = {}
        self._first_kept = 1
        self._sender = self._target = 1
        self._creation_time = now_ns
        self._sender_dirty = self._target_dirty = False
        if self._write_back:
            self._writes.append(StoreWrite("reset", now_ns))

    def refresh(self) -> None:
        return None

    def pending(self) -> list[StoreWrite]:
        if not self._write_back:
            self._sender_dirty = self._target_dirty = False
            return []
        writes = self._writes
        if self._sender_dirty:
            writes.append(StoreWrite("next_sender_seq", self._sender))
        if self._target_dirty:
            writes.append(StoreWrite("next_target_seq", self._target))
        self._writes = []
        self._sender_dirty = self._target_dirty = False
        return writes
