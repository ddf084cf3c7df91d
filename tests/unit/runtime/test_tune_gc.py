"""tune_gc: what is alive at start-up is frozen, without a collection first."""

from __future__ import annotations

import gc
import weakref

from venue.tuning import GEN0_THRESHOLD, tune_gc


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_start_up_objects_are_frozen_without_a_collection() -> None:
    before = gc.get_threshold()
    enabled = gc.isenabled()
    gc.disable()  # as recovery does: no collection may run before tune_gc
    try:
        kept = Node()
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle, unreachable once the names are gone
        garbage = weakref.ref(a)
        del a, b
        tune_gc()
        assert gc.get_threshold() == (GEN0_THRESHOLD, 50, 1000)
        assert gc.get_freeze_count() > 0
        assert gc.is_tracked(kept)
        assert garbage() is not None  # frozen, not collected: tune_gc walked nothing
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        if enabled:
            gc.enable()
        gc.collect()
