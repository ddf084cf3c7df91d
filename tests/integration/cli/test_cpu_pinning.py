"""`venue run --cpu N`: the event loop pinned to one CPU, its helpers on the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import (
    free_port,
    sessions_cfg,
    start_venue,
    terminate,
    venue_cmd,
    wait_admin,
    write_venue_files,
)

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="CPU pinning needs Linux sched_setaffinity"
)

ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
INSTRUMENTS = "symbol,tick_size\nTEST,0.01\n"


def _cpus(pid: int, tid: int | None = None) -> set[int]:
    status = Path(f"/proc/{pid}/task/{tid}/status" if tid else f"/proc/{pid}/status")
    line = next(x for x in status.read_text().splitlines() if x.startswith("Cpus_allowed_list"))
    cpus: set[int] = set()
    for part in line.split(":", 1)[1].strip().split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def test_pinning_moves_only_the_calling_thread_and_sends_helpers_elsewhere() -> None:
    # in a child interpreter: pinning the test process would slow every later test
    code = """
import os, threading
from venue.tuning import pin_event_loop, pin_helper
cpu = min(os.sched_getaffinity(0))
left = pin_event_loop(cpu)
seen = {}
def helper():
    seen['inherited'] = sorted(os.sched_getaffinity(0))
    pin_helper()
    seen['helper'] = sorted(os.sched_getaffinity(0))
t = threading.Thread(target=helper); t.start(); t.join()
import json
print(json.dumps([cpu, sorted(left), sorted(os.sched_getaffinity(0)), seen['inherited'],
                  seen['helper']]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    cpu, left, loop, inherited, helper = json.loads(out.stdout)
    others = [c for c in ALLOWED if c != cpu] or [cpu]
    assert loop == [cpu]
    assert inherited == [cpu]  # a thread started later inherits the loop's CPU ...
    assert left == others and helper == others  # ... until it moves itself off it


def test_pinning_to_a_cpu_this_process_may_not_use_is_refused() -> None:
    from venue.tuning import PinError, pin_event_loop

    before = os.sched_getaffinity(0)
    with pytest.raises(PinError, match=r"CPU 4096 is not available to this process \(allowed: "):
        pin_event_loop(4096)
    assert os.sched_getaffinity(0) == before


def test_venue_run_rejects_an_unknown_cpu_with_a_clear_error(tmp_path: Path) -> None:
    cfg = write_venue_files(tmp_path, INSTRUMENTS, sessions_cfg("VENUE", free_port(), ["C1"]))
    result = subprocess.run(
        venue_cmd("run", "--config", str(cfg), "--db", "none", "--mqtt", "none", "--cpu", "4096"),
        check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "--cpu 4096: CPU 4096 is not available to this process" in result.stderr


@pytest.mark.skipif(len(ALLOWED) < 2, reason="needs two CPUs to tell the loop's from the rest")
def test_venue_run_pins_the_loop_and_puts_the_sqlite_writer_and_checkpointer_elsewhere(
    tmp_path: Path,
) -> None:
    cpu = ALLOWED[-1]
    others = set(ALLOWED) - {cpu}
    cfg = write_venue_files(tmp_path, INSTRUMENTS, sessions_cfg("VENUE", free_port(), ["C1"]))
    sock = tmp_path / "admin.sock"
    log = tmp_path / "venue.log"
    proc = start_venue(
        venue_cmd("run", "--config", str(cfg), "--db", f"sqlite+aiosqlite:///{tmp_path}/v.db",
                  "--mqtt", "none", "--admin-socket", str(sock), "--cpu", str(cpu)),
        log, tmp_path,
    )
    try:
        wait_admin(proc, sock, 60, log.read_text)
        threads = [_cpus(proc.pid, int(t.name)) for t in Path(f"/proc/{proc.pid}/task").iterdir()]
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True, check=True).stdout.split()
        writers = [_cpus(int(pid)) for pid in children]
        loop_thread = _cpus(proc.pid, proc.pid)
    finally:
        terminate(proc)
    assert loop_thread == {cpu}
    # the WAL checkpoint thread is the one thread off the loop's CPU (the aiosqlite thread
    # and libuv's workers inherit the loop's)
    assert [c for c in threads if c != {cpu}] == [others]
    assert writers == [others]  # the SQLite writer process
