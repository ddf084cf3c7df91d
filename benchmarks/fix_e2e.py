"""End-to-end FIX order entry throughput and latency (not a test).

Starts `venue run` as a separate process on a temporary copy of the repo's sessions.cfg (free
port, HeartBtInt 30, files in a temp dir), waits for its admin socket, then drives it from this
process with the simulator's FIX clients (`venue.simulate`, CLIENT1 and CLIENT2) and prints
sustained orders/s and NewOrderSingle round-trip latency, for each combination of

* load: closed loop (W order messages in flight per session) and open loop (fixed rate);
* store: SQLite file, a fresh PostgreSQL database (created and dropped), none;
* market data: MQTT publishing on (mqtt://127.0.0.1:1883) and off;

with the venue process's CPU% (utime+stime from /proc/<pid>/stat over the sending window, all
its threads), its main thread's alone (the event loop: below 100 % it waited for something,
e.g. a commit) and the generator's. A fresh venue is started for every run. Optionally, with
N resting orders: the time back to trading after SIGKILL (journal replay), the time a clean
stop takes (SIGTERM; it writes an engine snapshot), and the time back after that stop.

    python benchmarks/fix_e2e.py                                  # everything, 10 s per run
    python benchmarks/fix_e2e.py --loads closed --stores sqlite --mqtt on --duration 5
    python benchmarks/fix_e2e.py --restart 100000 --loads none
    python benchmarks/fix_e2e.py --hold   # print the venue pid before each run (py-spy)
    python benchmarks/fix_e2e.py --venue-cpu none                 # nothing pinned
    python benchmarks/fix_e2e.py --loads closed --rounds 4        # durable / in-memory ratio

With ``--rounds N`` every configuration runs N times, round after round, and each durable
closed-loop run is divided by the run without a store of the same round and MQTT setting
(run just after it): on a VM whose speed drifts from minute to minute, the ratio of
neighbouring runs is steadier than the ratio of two tables.

CPUs: by default the venue runs with ``--cpu 0`` (its event loop pinned to CPU 0, its SQLite
writer and checkpoint thread on the others) and this process (the load generator) pins
itself to the CPUs other than 0, so the two never take each other's core and caches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from statistics import median
from typing import Any

from fix_gateway.config import load_config
from venue.admin import AdminError, call
from venue.simulate import SimConfig, Simulation, config_from_sessions
from venue.tuning import allowed_cpus

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("VENUE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
MQTT_URL = os.environ.get("VENUE_BENCH_MQTT", "mqtt://127.0.0.1:1883")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stat_fields(stat: Path) -> list[str]:
    """The fields of a /proc/<pid>/stat after the command name: [0] state, [1] parent pid,
    [11] utime, [12] stime."""
    text = stat.read_text()
    return text[text.rindex(")") + 2 :].split()


def children(parent: int) -> list[int]:
    """The pids of the processes whose parent is ``parent``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat_fields(stat)[1]) == parent:
                pids.append(int(stat.parent.name))
    return pids


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (all its threads), or of its thread ``tid``, from /proc."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = stat_fields(Path(path))
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_cpu_seconds(pid: int) -> float:
    """utime + stime of the live child processes of ``pid`` (the SQLite writer)."""
    total = 0.0
    for child in children(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):  # it ended meanwhile
            total += cpu_seconds(child)
    return total


def pg_url(database: str) -> str:
    """The venue's URL for ``database`` on the server of PG_ADMIN."""
    server = PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{server}/{database}"


async def create_pg_database() -> str:
    import asyncpg

    name = f"bench_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()
    return name


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


ALL_CPUS = allowed_cpus()


async def postgres_server_pid() -> int:
    """The PostgreSQL postmaster's pid (the parent of a backend), for a local server."""
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:  # while the backend lives
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        return int(stat_fields(Path(f"/proc/{backend}/stat"))[1])
    finally:
        await conn.close()


@contextlib.contextmanager
def postgres_pinned(cpus: set[int] | None) -> Any:
    """Run the body with the local PostgreSQL server's processes on ``cpus`` (its postmaster
    and the processes it started; new backends inherit the postmaster's mask), as the
    venue's writer process is kept off the event loop's core; masks restored after.
    None: leave them alone."""
    if not cpus:
        yield
        return
    before: dict[int, set[int]] = {}
    try:
        try:
            postmaster = asyncio.run(postgres_server_pid())
            for pid in [postmaster, *children(postmaster)]:
                with contextlib.suppress(ProcessLookupError):
                    mask = os.sched_getaffinity(pid)
                    os.sched_setaffinity(pid, cpus)
                    before[pid] = mask
            print(f"PostgreSQL server ({len(before)} processes) on CPUs {sorted(cpus)}",
                  file=sys.stderr, flush=True)
        except OSError as exc:  # not local, or not ours to pin: measure it where it is
            print(f"PostgreSQL server not pinned: {exc}", file=sys.stderr, flush=True)
        yield
    finally:
        for pid, mask in before.items():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.sched_setaffinity(pid, mask)


def pin_generator(venue_cpu: int | None) -> None:
    """This process (the load generator) off the venue's CPU; call after the venue started
    (it inherits the affinity of its parent)."""
    if venue_cpu is not None and len(ALL_CPUS) > 1:
        os.sched_setaffinity(0, ALL_CPUS - {venue_cpu})


def unpin_generator() -> None:
    os.sched_setaffinity(0, ALL_CPUS)


class VenueProcess:
    """`venue run` in a subprocess, with its files in ``root``."""

    def __init__(
        self, root: Path, db_url: str, mqtt: str, cpu: int | None = None,
        snapshot_interval: int | None = None,
    ) -> None:
        self.root = root
        self.cpu = cpu
        self.port = free_port()
        self.config = root / "sessions.cfg"
        self.sock = root / "venue.sock"
        self.db_url = db_url
        self.mqtt = mqtt
        text = (REPO / "sessions.cfg").read_text()
        text = re.sub(r"(?m)^SocketAcceptPort=.*$", f"SocketAcceptPort={self.port}", text)
        text = re.sub(r"(?m)^HeartBtInt=.*$", "HeartBtInt=30", text)
        text = re.sub(r"(?m)^InstrumentsFile=.*$", f"InstrumentsFile={REPO / 'instruments.csv'}",
                      text)
        if snapshot_interval is not None:
            text = re.sub(r"(?m)^SnapshotCommandInterval=.*\n", "", text)
            text = text.replace("[DEFAULT]\n",
                                f"[DEFAULT]\nSnapshotCommandInterval={snapshot_interval}\n", 1)
        self.config.write_text(text)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait for the admin socket; returns the seconds it took."""
        t0 = time.perf_counter()
        unpin_generator()  # the venue inherits this process's affinity: all CPUs
        with (self.root / "venue.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "venue.cli", "run", "--config", str(self.config),
                 "--db", self.db_url, "--mqtt", self.mqtt, "--admin-socket", str(self.sock),
                 "--log-level", "WARNING",
                 *(["--cpu", str(self.cpu)] if self.cpu is not None else [])],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
            )
        pin_generator(self.cpu)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"venue exited {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(AdminError, OSError):
                call(self.sock, "status", timeout=1.0)
                return time.perf_counter() - t0
            time.sleep(0.02)
        raise RuntimeError(f"venue admin socket did not answer: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.root / "venue.log").read_text(errors="replace")[-2000:]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def sim_config(vp: VenueProcess, **options: Any) -> SimConfig:
    cfg = load_config(vp.config)
    return config_from_sessions(
        cfg, sessions=options.pop("sessions", None), symbols=["TEST"], host="127.0.0.1",
        port=vp.port, password=None, **options,
    )


async def measure(vp: VenueProcess, config: SimConfig) -> dict[str, Any]:
    marks: dict[str, tuple[float, float, float, float]] = {}
    stores: dict[str, dict[str, Any] | None] = {}

    def on_window(what: str) -> None:
        marks[what] = (
            time.perf_counter(),
            cpu_seconds(vp.pid),
            cpu_seconds(vp.pid, vp.pid),  # the main thread: the event loop
            children_cpu_seconds(vp.pid),
        )
        stores[what] = call(vp.sock, "status", timeout=5.0)["store_stats"]

    summary = await Simulation(config, on_window=on_window).run()
    (t0, c0, l0, w0), (t1, c1, l1, w1) = marks["start"], marks["stop"]
    summary["venue_cpu_pct"] = round(100.0 * (c1 - c0) / (t1 - t0), 1)
    summary["loop_cpu_pct"] = round(100.0 * (l1 - l0) / (t1 - t0), 1)
    summary["writer_cpu_pct"] = round(100.0 * (w1 - w0) / (t1 - t0), 1)
    summary["commits"] = commit_figures(stores["start"], stores["stop"])
    return summary


def commit_figures(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, float] | None:
    """Group commits in the window: transactions/s, commands per transaction, mean ms."""
    if before is None or after is None:
        return None
    transactions = after["transactions"] - before["transactions"]
    if transactions <= 0:
        return None
    return {
        "transactions": transactions,
        "commands_per_transaction": (after["commands"] - before["commands"]) / transactions,
        "commit_ms": 1e3 * (after["commit_seconds"] - before["commit_seconds"]) / transactions,
    }


def run_loop(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def one_run(
    root: Path, store: str, mqtt: bool, load: str, args: argparse.Namespace
) -> dict[str, Any]:
    pg_name = None
    if store == "sqlite":
        db_url = f"sqlite+aiosqlite:///{root / 'venue.db'}"
    elif store == "postgres":
        pg_name = run_loop(create_pg_database())
        db_url = pg_url(pg_name)
    else:
        db_url = "none"
    vp = VenueProcess(root, db_url, MQTT_URL if mqtt else "none", args.venue_cpu)
    try:
        vp.start()
        if args.hold:
            print(f"venue pid {vp.pid}; starting in {args.hold} s", file=sys.stderr, flush=True)
            time.sleep(args.hold)
        if load == "closed":
            config = sim_config(vp, in_flight=args.in_flight, duration=args.duration)
        else:
            config = sim_config(vp, rate=args.rate, duration=args.duration)
        summary: dict[str, Any] = run_loop(measure(vp, replace(config, seed=1)))
    finally:
        vp.stop()
        if pg_name is not None:
            run_loop(drop_pg_database(pg_name))
    summary.update(store=store, mqtt=mqtt, load=load)
    return summary


def restart_run(
    root: Path, store: str, n: int, cpu: int | None, after: int = 0
) -> dict[str, Any]:
    """Seed ``n`` resting orders, then time three things: the restart after SIGKILL (the
    journal is replayed), a clean stop (SIGTERM: it writes an engine snapshot), and the
    restart after it (the snapshot is loaded). The venue's automatic snapshots are off, so
    the restart after SIGKILL replays all ``n`` commands whatever the moment of the kill.

    With ``after``: an engine snapshot is taken (``venue db snapshot``) once the ``n`` rest,
    then ``after`` more orders are seeded before the kill, so the restart after SIGKILL loads
    that snapshot and replays ``after`` commands: the worst case of a crash just before an
    automatic snapshot, with ``after`` the SnapshotCommandInterval."""
    pg_name = None
    if store == "postgres":
        pg_name = run_loop(create_pg_database())
        db_url = pg_url(pg_name)
    else:
        db_url = f"sqlite+aiosqlite:///{root / 'venue.db'}"
    vp = VenueProcess(root, db_url, "none", cpu, snapshot_interval=0)
    try:
        vp.start()
        # CLIENT2: no CancelOnDisconnect, so its orders stay after the logout.
        seed = sim_config(vp, sessions=["CLIENT2"], flow="resting", in_flight=200,
                          duration=600.0, orders=n)
        seeded = run_loop(Simulation(seed).run())
        snapshot_s = None
        if after:
            snapshot_s = call(vp.sock, "db.snapshot", timeout=600.0)["seconds"]
            more = sim_config(vp, sessions=["CLIENT2"], flow="resting", in_flight=200,
                              duration=600.0, orders=after)
            seeded["sent"]["D"] += run_loop(Simulation(more).run())["sent"]["D"]
        status = call(vp.sock, "status", timeout=10.0)
        vp.kill()
        after_kill = _timed_restart(vp)
        t0 = time.perf_counter()
        vp.stop(timeout=600.0)
        stop_s = time.perf_counter() - t0
        after_stop = _timed_restart(vp)
    finally:
        vp.stop()
        if pg_name is not None:
            run_loop(drop_pg_database(pg_name))
    return {
        "store": store, "seeded": seeded["sent"]["D"], "live_before": status["live_orders"],
        "replayed_after_kill": after or n, "snapshot_s": snapshot_s,
        "after_kill": after_kill, "stop_s": round(stop_s, 2), "after_stop": after_stop,
    }


def rss_mib(pid: int) -> float:
    """A process's resident set now (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _timed_restart(vp: VenueProcess) -> dict[str, Any]:
    """Start the venue again; seconds to its admin answer and to a first acknowledged order."""
    t0 = time.perf_counter()
    vp.start(timeout=600.0)
    admin_s = time.perf_counter() - t0
    probe = sim_config(vp, sessions=["CLIENT1"], flow="resting", in_flight=1, duration=30.0,
                       orders=1, grace=30.0)
    first = run_loop(Simulation(probe).run())
    total_s = time.perf_counter() - t0
    after = call(vp.sock, "status", timeout=10.0)
    return {
        "admin_s": round(admin_s, 2), "first_ack_s": round(total_s, 2),
        "first_ack_ok": first["new_orders_answered"] == 1, "live": after["live_orders"],
        "rss_mib": round(rss_mib(vp.pid)),
    }


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def commits_text(s: dict[str, Any]) -> str:
    c = s.get("commits")
    if not c:
        return ""
    return (f" commits {c['transactions']:,} ({c['commands_per_transaction']:.1f} commands, "
            f"{c['commit_ms']:.2f} ms each)")


def print_ratios(rows: list[dict[str, Any]]) -> None:
    """Each durable closed-loop run against the run without a store of its round and MQTT."""
    base = {(s["round"], s["mqtt"]): s["orders_per_s"] for s in rows
            if s["load"] == "closed" and s["store"] == "none"}
    ratios: dict[tuple[str, bool], list[float]] = {}
    for s in rows:
        key = (s["round"], s["mqtt"])
        if s["load"] == "closed" and s["store"] != "none" and key in base:
            ratios.setdefault((s["store"], s["mqtt"]), []).append(s["orders_per_s"] / base[key])
    if ratios:
        print("\ndurable / in-memory, closed loop, per round (same round and MQTT setting):")
    for (store, mqtt), values in ratios.items():
        each = " ".join(f"{v:.0%}" for v in values)
        print(f"  {store:8} mqtt={'on ' if mqtt else 'off'} {each}  median {median(values):.0%}")


def run_configurations(
    runs: list[tuple[int, str, str, bool]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """One fresh venue per (round, load, store, MQTT); the summaries of those that ran."""
    rows: list[dict[str, Any]] = []
    for rnd, load, store, mqtt in runs:
        root = Path(tempfile.mkdtemp(prefix="venue-bench-"))
        try:
            s = one_run(root, store, mqtt, load, args)
        except Exception as exc:  # one failed configuration must not stop the rest
            print(f"{load} {store} mqtt={mqtt}: FAILED: {exc}", file=sys.stderr)
            continue
        finally:
            shutil.rmtree(root, ignore_errors=True)
        s["round"] = rnd
        rows.append(s)
        lat = s["latency_ms"]["new_order"]
        print(f"{load:6} {store:8} mqtt={'on ' if mqtt else 'off'} "
              f"{s['orders_per_s']:>9,.0f} orders/s {s['new_orders_per_s']:>8,.0f} NOS/s "
              f"p50 {fmt(lat['p50'])} p99 {fmt(lat['p99'])} p99.9 {fmt(lat['p999'])} ms "
              f"venue {s['venue_cpu_pct']:.0f}% (loop {s['loop_cpu_pct']:.0f}%) "
              f"writer {s['writer_cpu_pct']:.0f}% "
              f"gen {s['generator_cpu_pct']:.0f}% "
              f"trades {s['trades']:,} unanswered {s['unanswered']}{commits_text(s)}", flush=True)
        if args.json:
            print(json.dumps(s), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loads", default="closed,open", help="closed,open or none")
    ap.add_argument("--stores", default="sqlite,postgres,none")
    ap.add_argument("--mqtt", default="on,off")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--in-flight", type=int, default=50, help="per session (closed loop)")
    ap.add_argument("--rate", type=float, default=5000.0, help="orders/s in total (open loop)")
    ap.add_argument("--restart", type=int, default=0, help="N resting orders for the restart")
    ap.add_argument("--restart-stores", default="sqlite")
    ap.add_argument("--restart-after", type=int, default=0,
                    help="snapshot after the N, then M more orders before the kill")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every configuration N times, interleaved (durable/in-memory ratio)")
    ap.add_argument("--postgres-cpus", default="",
                    help="pin the local PostgreSQL server to these CPUs during the runs "
                         "(e.g. 1; needs the right to: root or its user), restored after")
    ap.add_argument("--hold", type=float, default=0.0, help="pause before each run (profiling)")
    ap.add_argument("--json", action="store_true", help="print every summary as JSON too")
    ap.add_argument("--venue-cpu", default="0",
                    help="CPU for the venue's event loop (venue run --cpu), or 'none'")
    args = ap.parse_args()
    args.venue_cpu = None if args.venue_cpu == "none" else int(args.venue_cpu)
    others = sorted(ALL_CPUS - {args.venue_cpu}) if args.venue_cpu is not None else "any"
    print(f"venue event loop on CPU {args.venue_cpu if args.venue_cpu is not None else 'any'}, "
          f"generator on CPUs {others}", file=sys.stderr, flush=True)
    loads = [x for x in args.loads.split(",") if x in ("closed", "open")]
    runs = [
        (rnd, load, store, mqtt)
        for rnd in range(args.rounds)
        for load in loads
        for mqtt in [m == "on" for m in args.mqtt.split(",")]
        for store in args.stores.split(",")
    ]
    pg_cpus = {int(c) for c in args.postgres_cpus.split(",") if c.strip()}
    with postgres_pinned(pg_cpus if "postgres" in args.stores.split(",") else None):
        rows = run_configurations(runs, args)
    if rows:
        print()
        print("| load | store | MQTT | orders/s | NOS/s | NOS p50 ms | p99 ms | p99.9 ms "
              "| venue CPU | loop CPU | writer CPU | generator CPU |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in rows:
            lat = s["latency_ms"]["new_order"]
            load = (f"closed W={s['in_flight']}x{len(s['sessions'])}" if s["load"] == "closed"
                    else f"open {s['rate_target']:,.0f}/s")
            print(f"| {load} | {s['store']} | {'on' if s['mqtt'] else 'off'} "
                  f"| {s['orders_per_s']:,.0f} | {s['new_orders_per_s']:,.0f} | {fmt(lat['p50'])} "
                  f"| {fmt(lat['p99'])} | {fmt(lat['p999'])} | {s['venue_cpu_pct']:.0f}% "
                  f"| {s['loop_cpu_pct']:.0f}% | {s['writer_cpu_pct']:.0f}% "
                  f"| {s['generator_cpu_pct']:.0f}% |")
    print_ratios(rows)
    if args.restart:
        for store in args.restart_stores.split(","):
            root = Path(tempfile.mkdtemp(prefix="venue-bench-"))
            try:
                r = restart_run(root, store, args.restart, args.venue_cpu,
                                args.restart_after)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            print(f"restart {store}: {r['live_before']:,} resting orders, "
                  f"{r['replayed_after_kill']:,} commands to replay after SIGKILL"
                  + (f" (snapshot before them: {r['snapshot_s']} s)" if args.restart_after
                     else ""))
            for label, a in (("after SIGKILL", r["after_kill"]), ("after a clean stop",
                                                                 r["after_stop"])):
                print(f"  {label:18s}: admin status after {a['admin_s']} s, first order "
                      f"acknowledged after {a['first_ack_s']} s (live {a['live']:,}, "
                      f"ack ok {a['first_ack_ok']}, venue RSS {a['rss_mib']:,} MiB)")
            print(f"  clean stop (SIGTERM, engine snapshot written): {r['stop_s']} s")
            if args.json:
                print(json.dumps(r))


if __name__ == "__main__":
    main()
