"""Recovery: rebuild the engine from the latest snapshot plus the command journal.

The engine is deterministic, so replaying the journaled commands after the snapshot
through ``engine.handle`` reproduces exactly the events already stored. The produced
events are discarded; the only check is that the replay ends at the stored last event
seq. A mismatch means the journal and the engine disagree (a changed engine, a damaged
database) and recovery stops loudly rather than run a venue whose state differs from
what was acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from venue.commands import Command
from venue.events import Event
from venue.store.errors import RecoveryError

if TYPE_CHECKING:
    from venue.snapshot import EngineSnapshot
    from venue.store.store import Store

__all__ = ["EngineLike", "RecoveryResult", "recover_engine"]


class EngineLike(Protocol):
    """What recovery needs of the matching engine (``venue.engine.MatchingEngine``)."""

    @property
    def next_seq(self) -> int: ...
    def handle(self, cmd: Command) -> list[Event]: ...


E = TypeVar("E", bound=EngineLike)


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    snapshot_used: bool
    replayed: int  # commands replayed after the snapshot
    last_cmd_no: int  # the next command gets last_cmd_no + 1
    last_event_seq: int


async def recover_engine(
    store: Store,
    new_engine: Callable[[], E],
    restore: Callable[[EngineSnapshot], E],
) -> tuple[E, RecoveryResult]:
    """Rebuild the engine the store recorded: snapshot, then replay of the journal.

    Args:
        store: the open store.
        new_engine: builds the engine of a first start (used only when there is no
            snapshot; it must build the same engine the first run started with, which is
            why the runtime should write a snapshot at cmd_no 0 on the very first start).
        restore: builds an engine from a snapshot (``MatchingEngine.restore``).

    Returns:
        The engine, ready for command ``result.last_cmd_no + 1``, and what was done.

    Raises:
        RecoveryError: the snapshot cannot be read or restored, the journal has a gap, or
            the replay does not end at the stored last event seq.
    """
    snapshot, after, stored_last_seq = await store.load_snapshot()
    last_cmd_no = await store.last_cmd_no()
    if snapshot is None:
        engine = new_engine()
    else:
        try:
            engine = restore(snapshot)
        except Exception as exc:  # e.g. an order of a symbol the snapshot does not define
            raise RecoveryError(
                f"the snapshot after command {after} cannot be restored: {exc!r}"
            ) from exc
    last_seq = engine.next_seq - 1
    replayed = 0
    async for commands in store.journal_after(after):
        for cmd_no, cmd in commands:
            try:
                events = engine.handle(cmd)
            except Exception as exc:
                raise RecoveryError(f"replay of command {cmd_no} failed: {exc!r}") from exc
            if events:
                if events[0].seq != last_seq + 1:
                    raise RecoveryError(
                        f"replay diverged at command {cmd_no}: produced event seq "
                        f"{events[0].seq}, expected {last_seq + 1}"
                    )
                last_seq = events[-1].seq
        replayed += len(commands)
    if last_seq != stored_last_seq:
        raise RecoveryError(
            f"replay ended at event seq {last_seq} but the store's last event seq is "
            f"{stored_last_seq}: the journal and the engine disagree; refusing to start"
        )
    return engine, RecoveryResult(snapshot is not None, replayed, last_cmd_no, last_seq)
