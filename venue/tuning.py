"""Process tuning shared by the venue and its load generator."""

from __future__ import annotations

import contextlib
import gc
import os

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

    No collection first: at a restart it walked every recovered order (0.29 s with 300,000
    resting orders, about 1 s with 1,000,000, before the venue answers) to find 13
    unreachable objects, which the freeze now keeps.
    """
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, 50, 1000)


# --- CPU pinning -------------------------------------------------------------------------------

_background: set[int] = set()  # CPUs for helpers, once the loop thread is pinned (else empty)


class PinError(ValueError):
    """The requested CPU cannot be used (not on this machine, or pinning unsupported)."""


def allowed_cpus() -> frozenset[int]:
    """The CPUs this process may run on (empty where the OS cannot say, e.g. macOS)."""
    getter = getattr(os, "sched_getaffinity", None)
    return frozenset(getter(0)) if getter is not None else frozenset()


def pin_event_loop(cpu: int) -> frozenset[int]:
    """Pin the calling thread (the event loop's) to ``cpu``; returns the CPUs left to helpers.

    Why: on a small machine the scheduler moves the loop thread between CPUs whenever the
    load generator, the SQLite writer or a checkpoint wakes up, and every move costs the
    thread its warm L1/L2 caches (with SQLite, 3-9 % more throughput on 2 cores, see
    benchmarks/README.md). Helpers started afterwards (the WAL checkpoint thread, the SQLite
    writer process) go to the other allowed CPUs (:func:`pin_helper`); threads started by
    libraries inherit the loop's CPU.
    """
    allowed = allowed_cpus()
    if not allowed or not hasattr(os, "sched_setaffinity"):
        raise PinError("CPU pinning needs Linux (os.sched_setaffinity)")
    if cpu not in allowed:
        raise PinError(f"CPU {cpu} is not available to this process (allowed: "
                       f"{', '.join(map(str, sorted(allowed)))})")
    os.sched_setaffinity(0, {cpu})  # 0: the calling thread on Linux
    _background.clear()
    _background.update((allowed - {cpu}) or {cpu})
    return frozenset(_background)


def pin_helper(pid: int = 0) -> None:
    """Move a helper (a process id, or 0 for the calling thread) off the loop's CPU, if the
    loop was pinned; otherwise leave it where the OS puts it."""
    if _background:
        with contextlib.suppress(OSError):  # the helper may already be gone
            os.sched_setaffinity(pid, _background)
