"""Process tuning shared by the venue and its load generator."""

from __future__ import annotations

import gc

#: Young-generation threshold: almost every object of the hot path dies young and is freed by
#: reference counting, so collecting the young generation every 700 allocations (CPython's
#: default) mostly walks live buffers and books for nothing.
GEN0_THRESHOLD = 20_000


def tune_gc() -> None:
    """Keep the cyclic garbage collector out of the latency tail.

    What is alive after start-up (recovered books, configuration, modules) moves to the
    permanent generation, so collections no longer walk it, and collections run less often.
    Measured with ``benchmarks/fix_e2e.py --loads open --rate 5000 --stores none``: p99 from
    ~120 ms to ~3-4 ms (see benchmarks/README.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, 50, 1000)
