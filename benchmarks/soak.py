"""Memory over a long run (not a test): the venue's RSS under a steady FIX load.

Starts `venue run` (as benchmarks/fix_e2e.py does: temporary sessions.cfg, SQLite file or
PostgreSQL or no store, MQTT on or off), drives it in open loop at ``--rate`` order messages
per second with the simulator's mixed flow (CLIENT1 and CLIENT2; a session holding more than
200 live orders cancels, so the book stays small), and samples every ``--every`` seconds the
RSS of the venue process and of its SQLite writer process (VmRSS from /proc). Prints one line
per sample and, at the end, the growth from the first minute to the end, per minute and per
order message, and the range of the second half (once the venue's windows of recent
state are full).

    python benchmarks/soak.py                         # 10 minutes, 3,000/s, SQLite, MQTT on
    python benchmarks/soak.py --duration 120 --rate 5000 --store none --mqtt off
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fix_e2e import (
    MQTT_URL,
    VenueProcess,
    create_pg_database,
    drop_pg_database,
    rss_mib,
    run_loop,
    sim_config,
)

from venue.simulate import Simulation


def child_pids(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            out.append(int(stat.parent.name))
    return out


async def soak(vp: VenueProcess, args: argparse.Namespace) -> list[dict[str, Any]]:
    config = sim_config(vp, rate=args.rate, duration=args.duration, seed=7)
    simulation = Simulation(config)
    samples: list[dict[str, Any]] = []
    start = time.perf_counter()

    async def sample() -> None:
        while True:
            children = child_pids(vp.pid)
            row = {
                "t": round(time.perf_counter() - start),
                "venue_mib": rss_mib(vp.pid),
                "writer_mib": sum(rss_mib(c) for c in children),
            }
            samples.append(row)
            print(
                f"{row['t']:>5}s  venue {row['venue_mib']:8.1f} MiB  writer "
                f"{row['writer_mib']:6.1f} MiB",
                flush=True,
            )
            await asyncio.sleep(args.every)

    sampler = asyncio.create_task(sample())
    try:
        summary = await simulation.run()
    finally:
        sampler.cancel()
    samples.append(
        {
            "t": round(time.perf_counter() - start),
            "venue_mib": rss_mib(vp.pid),
            "writer_mib": sum(rss_mib(c) for c in child_pids(vp.pid)),
            "summary": summary,
        }
    )
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--rate", type=float, default=3000.0)
    ap.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--store", choices=["sqlite", "postgres", "none"], default="sqlite")
    ap.add_argument("--mqtt", choices=["on", "off"], default="on")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="venue-soak-"))
    pg_name = None
    try:
        if args.store == "postgres":
            pg_name = run_loop(create_pg_database())
            db_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
        elif args.store == "sqlite":
            db_url = f"sqlite+aiosqlite:///{root / 'venue.db'}"
        else:
            db_url = "none"
        vp = VenueProcess(root, db_url, MQTT_URL if args.mqtt == "on" else "none")
        vp.start()
        try:
            samples = run_loop(soak(vp, args))
        finally:
            vp.stop()
    finally:
        if pg_name is not None:
            run_loop(drop_pg_database(pg_name))
        shutil.rmtree(root, ignore_errors=True)
    summary = samples[-1]["summary"]
    sent = summary["sent"]
    messages = sum(sent.values())
    minute = next((s for s in samples if s["t"] >= 60), samples[0])
    last = samples[-1]
    growth = last["venue_mib"] - minute["venue_mib"]
    minutes = max((last["t"] - minute["t"]) / 60, 1e-9)
    print()
    print(
        f"sent {messages:,} order messages ({sent}), {summary['orders_per_s']:,.0f}/s, "
        f"unanswered {summary['unanswered']}"
    )
    # open loop at a constant rate: the messages sent after the first minute, pro rata
    in_window = messages * (last["t"] - minute["t"]) / max(last["t"], 1)
    per_message = growth * 1024 * 1024 / max(in_window, 1)
    print(
        f"venue RSS: {minute['venue_mib']:.1f} MiB at {minute['t']} s -> "
        f"{last['venue_mib']:.1f} MiB at {last['t']} s: {growth:+.1f} MiB "
        f"({growth / minutes:+.1f} MiB/min, {per_message:.0f} bytes per order message); "
        f"writer {last['writer_mib']:.1f} MiB"
    )
    # the venue keeps windows of recent state (finished orders, outbound FIX messages,
    # ClOrdIDs) that fill during the first minutes at a given rate: the second half of the
    # run shows whether memory is flat once they are full
    half = [s for s in samples if s["t"] >= last["t"] / 2]
    low, high = min(s["venue_mib"] for s in half), max(s["venue_mib"] for s in half)
    print(
        f"second half ({half[0]['t']} s to {last['t']} s): venue RSS {low:.1f} to {high:.1f} "
        f"MiB, {half[0]['venue_mib']:.1f} -> {last['venue_mib']:.1f} MiB"
    )


if __name__ == "__main__":
    main()
