"""kill -9 the venue under load, restart it on the same database, three times.

Two QuickFIX initiators send a stream of crossing limit orders and record every
ExecutionReport. The journal-before-acknowledge rule (the acceptor's commit barrier) means
every report a client ever received describes an event in the store, whatever moment the
venue died at; sessions resume with continued sequence numbers.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.procs import free_port, kill, sessions_cfg, start_venue, venue_run_cmd
from support.qfclient import Client

from venue.engine import MatchingEngine
from venue.store import Store, recover_engine

pytestmark = [pytest.mark.slow, pytest.mark.quickfix]

VENUE_ID = "CRSH"
CLIENTS = ("CR1", "CR2")
KILLS = 3
SEED = int(os.environ.get("VENUE_CRASH_SEED", "20240917"))

INSTRUMENTS = """\
symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description
CRX,0.01,1,1,100000,,,open,crash test
"""


SNAPSHOT_INTERVAL = 50  # automatic snapshots during the load: kills land around them too


def _sessions(port: int) -> str:
    return sessions_cfg(VENUE_ID, port, f"""\
SnapshotCommandInterval={SNAPSHOT_INTERVAL}
[SESSION]
TargetCompID=CR1
Account=ACC-1
[SESSION]
TargetCompID=CR2
Account=ACC-2
""")


class VenueProcess:
    def __init__(self, root: Path, db_url: str, port: int) -> None:
        self.root = root
        self.db_url = db_url
        self.port = port
        self.cfg = root / "sessions.cfg"
        self.sock = root / "venue.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def log_text(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.root.glob("venue-*.log"))
        )

    async def start(self) -> None:
        self.starts += 1
        log = self.root / f"venue-{self.starts}.log"
        self.proc = start_venue(venue_run_cmd(self.cfg, self.db_url, self.sock), log, self.root)
        deadline = time.monotonic() + 30
        while "venue running" not in log.read_text(errors="replace"):
            if self.proc.poll() is not None:
                raise AssertionError(f"venue exited {self.proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"venue did not start:\n{log.read_text()}")
            await asyncio.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        assert self.proc.returncode == -signal.SIGKILL

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        rc = await asyncio.to_thread(self.proc.wait, 20)
        assert rc == 0, self.log_text()


async def _fix_seqs(db_url: str) -> dict[str, tuple[int, int]]:
    store = await Store.open(db_url)
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT session_id, next_sender_seq, next_target_seq FROM fix_sessions")
            )
            return {r[0]: (int(r[1]), int(r[2])) for r in rows}
    finally:
        await store.close()


async def _check_recovery(db_url: str) -> int:
    """Recover an engine from the store; its live orders must be the orders table's."""
    store = await Store.open(db_url)
    try:
        engine, _ = await recover_engine(store, MatchingEngine, MatchingEngine.restore)
        in_engine = {
            int(v.spec.order_id): (v.leaves_qty, v.cum_qty) for v in engine.live_orders()
        }
        rows = await store.orders(live_only=True)
        in_table = {r.order_id: (r.leaves_qty, r.cum_qty) for r in rows}
        assert in_engine == in_table
        return len(in_table)
    finally:
        await store.close()


async def _load(clients: list[Any], rng: random.Random, duration: float,
                sent: list[tuple[str, str]]) -> None:
    """Crossing limit orders from both clients, for ``duration`` seconds."""
    end = time.monotonic() + duration
    while time.monotonic() < end:
        for client, side in ((clients[0], "1"), (clients[1], "2")):
            if not client.application.logged_on.is_set():
                continue
            cl = client.new_id("K")
            price = f"{rng.randint(995, 1005) / 100:.2f}"
            client.order(cl, "CRX", side, rng.randint(1, 20), price)
            sent.append((client.comp_id, cl))
        await asyncio.sleep(0.004)


async def _wait_logged_on(clients: list[Any]) -> None:
    for c in clients:
        ok = await asyncio.to_thread(c.application.logged_on.wait, 15)
        assert ok, f"{c.comp_id} did not log on again"


async def test_kill9_under_load(
    crash_db_url: str, tmp_path: Path, fix44_xml: Path
) -> None:
    rng = random.Random(SEED)
    port = free_port()
    (tmp_path / "instruments.csv").write_text(INSTRUMENTS)
    (tmp_path / "sessions.cfg").write_text(_sessions(port))
    venue = VenueProcess(tmp_path, crash_db_url, port)
    await venue.start()
    clients = [Client(c, port, tmp_path, fix44_xml, VENUE_ID) for c in CLIENTS]
    sent: list[tuple[str, str]] = []
    seq_history: list[dict[str, tuple[int, int]]] = []
    live_after_kill: list[int] = []
    try:
        for c in clients:
            await c.start()
        for _ in range(KILLS):
            await _load(clients, rng, rng.uniform(0.3, 1.0), sent)
            venue.kill9()
            for c in clients:  # the initiators notice the dead socket
                await asyncio.to_thread(c.application.logged_out.wait, 5)
            seq_history.append(await _fix_seqs(crash_db_url))
            live_after_kill.append(await _check_recovery(crash_db_url))
            await venue.start()
            await _wait_logged_on(clients)
        await _load(clients, rng, 0.5, sent)
        await asyncio.sleep(1.5)  # drain the last reports (and any resends)
        await venue.stop()
        seq_history.append(await _fix_seqs(crash_db_url))
    finally:
        for c in clients:
            await c.close()
        kill(venue.proc, 10)

    reports = {c.comp_id: list(c.application.received) for c in clients}
    admin = [m for c in clients for m in c.application.admin_log]
    await _verify(crash_db_url, reports, admin, sent, seq_history)
    live_final = await _check_recovery(crash_db_url)

    n_reports = sum(len(v) for v in reports.values())
    print(
        f"\ncrash[{crash_db_url.split(':', maxsplit=1)[0]}]: {len(sent)} orders sent, {n_reports} "
        f"ExecutionReports, {venue.starts} venue starts ({KILLS} kill -9), live orders after "
        f"kills {live_after_kill}, final {live_final}, logons "
        f"{[c.application.logons for c in clients]}, fix seqs {seq_history}"
    )
    assert len(sent) > 100
    assert all(c.application.logons == KILLS + 1 for c in clients)
    # recoveries started from the automatic snapshots, not from the first start's
    snapshots = venue.log_text().count("engine snapshot after command")
    replayed = [int(n) for n in re.findall(r"\((\d+) commands replayed", venue.log_text())]
    print(f"crash: {snapshots} automatic snapshots, commands replayed at each start {replayed}")
    assert snapshots >= KILLS
    # (34-138 seen, against about 1,100 commands since the first start's snapshot)
    assert len(replayed) == KILLS + 1 and max(replayed) < 8 * SNAPSHOT_INTERVAL, replayed


async def _verify(
    db_url: str,
    reports: dict[str, list[dict[int, str]]],
    admin: list[dict[int, str]],
    sent: list[tuple[str, str]],
    seq_history: list[dict[str, tuple[int, int]]],
) -> None:
    # no sequence reset, no "MsgSeqNum too low" logout
    for m in admin:
        assert m.get(35) != "5" or "too low" not in m.get(58, ""), m
        assert m.get(35) != "4" or m.get(123) == "Y", f"sequence reset: {m}"
    for before, after in itertools.pairwise(seq_history):
        for sid, (sender, target) in before.items():
            assert after[sid][0] > sender, (sid, before, after)
            assert after[sid][1] > target, (sid, before, after)

    store = await Store.open(db_url)
    try:
        async with store.engine.connect() as conn:
            events = {
                int(r[0]): (r[1], r[2], r[3], r[4])
                for r in await conn.execute(
                    text("SELECT seq, kind, order_id, owner, cl_ord_id FROM events")
                )
            }
        trades = {t["seq"]: t for t in await store.trades()}
        orders = await store.orders(live_only=False)
    finally:
        await store.close()

    # every order id once; every order the clients sent is there at most once
    ids = [o.order_id for o in orders]
    assert len(ids) == len(set(ids))
    keys = Counter((o.owner, o.cl_ord_id) for o in orders)
    assert max(keys.values(), default=0) == 1
    assert len(orders) <= len(sent)

    seen: Counter[tuple[str, str]] = Counter()
    fills: Counter[int] = Counter()
    for comp_id, msgs in reports.items():
        for m in msgs:
            if m.get(35) != "8":
                continue
            exec_id, exec_type = m[17], m[150]
            if m.get(43) != "Y":
                seen[(comp_id, exec_id)] += 1
            seq = int(exec_id.rstrip("BS"))
            assert seq in events, f"{comp_id} got ExecID {exec_id} not in the store: {m}"
            kind, order_id, _owner, _cl = events[seq]
            if exec_type == "F":
                trade = trades[seq]
                side_id = trade["buy_order_id"] if exec_id.endswith("B") else trade[
                    "sell_order_id"]
                assert str(side_id) == m[37], (m, trade)
                fills[seq] += 1
            else:
                assert m[37] == "NONE" or str(order_id) == m[37], (m, events[seq], kind)
    # no order lost: every order sent (even just before a kill) was acknowledged once
    answered: dict[tuple[str, str], list[str]] = {}
    for comp_id, msgs in reports.items():
        for m in msgs:
            if m.get(35) == "8":
                answered.setdefault((comp_id, m[11]), []).append(m[150] + m.get(58, ""))
    missing = [k for k in sent if k not in answered]
    # (Seen once before the acceptor stopped aborting a whole flush when one peer's transport
    # was already closed; 22 runs clean since, on both stores.)
    assert not missing, f"{len(missing)} orders never answered: {missing[:5]}"
    odd = {k: v for k, v in answered.items() if "0" not in [x[:1] for x in v]}
    assert not odd, f"orders answered without a New report: {odd}"
    assert len(orders) <= len(sent)
    dupes = {k: n for k, n in seen.items() if n > 1}
    assert not dupes, f"ExecutionReports received twice: {dupes}"
    # each trade is reported at most once per side; all fills of the clients are trades
    assert all(n <= 2 for n in fills.values())
    assert len(trades) >= len(fills)
    assert sum(1 for e in events.values() if e[0] == _trade_kind(events)) == len(trades)


def _trade_kind(events: dict[int, tuple[Any, ...]]) -> str:
    kinds = {e[0] for e in events.values()}
    return next(k for k in kinds if "trade" in k.lower())

