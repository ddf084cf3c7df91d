"""The ``venue`` command line: run the venue and administer it.

Commands that act on a running venue talk to it over the local admin channel
(:mod:`venue.admin`); each says so clearly when no venue is running. Tables are for
people, ``--json`` output is for scripts. Exit codes: 0 success, 1 error (one line).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fix_gateway.store import MAX_SEQ_NUM
from market_data.cli import app as md_app
from reports.cli import app as report_app
from venue.admin import AdminError, call

app = typer.Typer(
    help="A FIX 4.4 exchange gateway and price-time matching venue.",
    no_args_is_help=True,
    add_completion=False,
)
sessions_app = typer.Typer(help="FIX sessions of a running venue.", no_args_is_help=True)
instruments_app = typer.Typer(help="Instruments of a running venue.", no_args_is_help=True)
orders_app = typer.Typer(help="Live orders of a running venue.", no_args_is_help=True)
db_app = typer.Typer(help="The venue's database.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
app.add_typer(instruments_app, name="instruments")
app.add_typer(orders_app, name="orders")
app.add_typer(db_app, name="db")

# No markup: what is printed holds clients' and operators' text (a ClOrdID "[/x]", a
# description "[red]..."), which must show as it is and never break the output.
console = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)  # errors: one line whatever the width

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="sessions.cfg of the venue.", envvar="VENUE_CONFIG")
]
AdminOpt = Annotated[
    Path | None,
    typer.Option(
        "--admin-socket",
        help="Admin socket of the running venue (default: AdminSocket in sessions.cfg, "
        "else var/venue.sock beside it).",
        envvar="VENUE_ADMIN_SOCKET",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

SNAPSHOT_TIMEOUT = 600.0  # seconds `venue db snapshot` waits (about 3 s per million live orders)


def fail(message: str) -> typer.Exit:
    err.print(Text.assemble(("error:", "red"), f" {message}"), highlight=False)
    return typer.Exit(1)


def _load_config(path: Path) -> Any:
    from fix_gateway.config import load_config
    from fix_gateway.errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _check_store_url(url: str, *, offline: bool) -> str:
    """Refuse a store URL that would keep nothing, or (``offline``: a command on a stopped
    venue's store) name none."""
    from venue.store import is_in_memory_sqlite

    if offline and url.lower() == "none":
        raise fail("the venue keeps no store (StoreURL or --db is none): there is nothing to "
                   "change; give --db to name one")
    if is_in_memory_sqlite(url):
        raise fail(f"{url}: an in-memory SQLite database keeps nothing once the process ends; "
                   "give a file path" + ("" if offline else ", or --db none to run without a "
                                         "store"))
    return url


def _admin_path(config: Path, admin_socket: Path | None) -> Path:
    if admin_socket is not None:
        return admin_socket
    if config.exists():
        cfg = _load_config(config)
        if cfg.default.admin_socket is not None:
            return Path(cfg.default.admin_socket)
    return config.resolve().parent / "var" / "venue.sock"


def _admin(
    config: Path, admin_socket: Path | None, cmd: str, timeout: float = 10.0, **args: Any
) -> Any:
    try:
        return call(_admin_path(config, admin_socket), cmd, timeout, **args)
    except AdminError as exc:
        raise fail(str(exc)) from None
    except TimeoutError:
        raise fail(f"the venue did not answer {cmd} within {timeout:g} s") from None
    except OSError as exc:  # e.g. the venue went away mid-request
        raise fail(f"admin socket: {exc.strerror or exc}") from None


def _print_table(table: Table) -> None:
    # A pipe or a narrow terminal would squeeze columns into ellipses: give tables room (a
    # table is as wide as its content, never padded to the console's width).
    wide = console.is_terminal and console.width >= 120
    out = console if wide else Console(width=10_000, markup=False)
    out.print(table)


def _table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in columns])
    _print_table(table)


# -- run --------------------------------------------------------------------------------------


@app.command()
def run(
    config: ConfigOpt = Path("sessions.cfg"),
    db: Annotated[
        str | None,
        typer.Option(
            help="Store URL (sqlite+aiosqlite:///file.db, a relative path being from the "
            "current folder; postgresql+asyncpg://...), or 'none' to run without "
            "persistence. Default: StoreURL in sessions.cfg.",
            envvar="VENUE_DB",
        ),
    ] = None,
    mqtt: Annotated[
        str | None,
        typer.Option(
            help="MQTT broker URL (mqtt://host:1883), or 'none'. Default: MqttURL in sessions.cfg.",
            envvar="VENUE_MQTT",
        ),
    ] = None,
    admin_socket: AdminOpt = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, ERROR.")] = "INFO",
    cpu: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Pin the event loop to this CPU (Linux); the SQLite writer and the WAL "
            "checkpoint thread then run on the other CPUs. Default: not pinned.",
            envvar="VENUE_CPU",
        ),
    ] = None,
) -> None:
    """Run the venue: FIX acceptor, matching engine, store and market data."""
    from market_data.config import MarketDataConfig
    from venue.runtime import (
        DEFAULT_STORE_URL,
        RuntimeOptions,
        StartupError,
        Venue,
        resolve_sqlite_url,
    )

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise fail(f"unknown log level {log_level!r}")
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    cfg = _load_config(config)
    if hasattr(signal, "SIGCHLD") and signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        # ignored by whoever started the venue (inherited): the kernel would reap the
        # venue's children itself, and the exit code of a snapshot child would be lost
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if cpu is not None:
        from venue.tuning import PinError, pin_event_loop

        try:
            pin_event_loop(cpu)
        except PinError as exc:
            raise fail(f"--cpu {cpu}: {exc}") from None
    # A SQLite path is relative to the current folder when given with --db (as in every
    # other command), to the sessions.cfg folder when it comes from the file; the venue's
    # claim makes the file's folder.
    given_url, base = (db, Path.cwd()) if db else (
        cfg.default.store_url or DEFAULT_STORE_URL, config.resolve().parent
    )
    store_url = None if given_url.lower() == "none" else _check_store_url(
        resolve_sqlite_url(given_url, base), offline=False
    )
    mqtt_url = mqtt or cfg.default.mqtt_url
    if mqtt_url is not None and mqtt_url.lower() == "none":
        mqtt_url = None
    options = RuntimeOptions(
        store_url=store_url,
        mqtt_url=mqtt_url,
        mqtt_prefix=MarketDataConfig.configured(mqtt, "prefix", cfg.default.mqtt_topic_prefix),
        mqtt_depth=MarketDataConfig.configured(mqtt, "depth", cfg.default.mqtt_depth),
        admin_socket=_admin_path(config, admin_socket),
    )

    async def main() -> None:
        venue = Venue(cfg, options)
        try:
            await venue.start()
        except StartupError as exc:
            raise fail(str(exc)) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        err.print(f"venue running (admin socket {options.admin_socket}); Ctrl-C stops it")
        await stop.wait()
        err.print("stopping: logging out sessions, flushing the store")
        await venue.stop()

    try:
        from uvloop import run as uv_run
    except ImportError:
        asyncio.run(main())
    else:
        uv_run(main())


# -- simulate ---------------------------------------------------------------------------------


@app.command()
def simulate(
    config: ConfigOpt = Path("sessions.cfg"),
    sessions: Annotated[
        str | None,
        typer.Option(help="Client sessions, e.g. CLIENT1,CLIENT2 (default: every trading "
                     "session that needs no password)."),
    ] = None,
    symbols: Annotated[str, typer.Option(help="Symbols to trade, e.g. TEST,AAPL.")] = "TEST",
    host: Annotated[str | None, typer.Option(help="Venue host (default: from the cfg).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Venue FIX port (default: from the cfg).")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(min=1, help="Open loop: order messages per second in total."),
    ] = None,
    in_flight: Annotated[
        int, typer.Option(min=1, help="Closed loop (no --rate): order messages awaiting an "
                          "answer, per session.")
    ] = 50,
    duration: Annotated[
        float, typer.Option(min=0.1, max=86_400, help="Seconds of sending.")
    ] = 10.0,
    orders: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many order messages.")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Password(554) for sessions with a Username.",
                                 envvar="VENUE_SIM_PASSWORD")
    ] = None,
    flow: Annotated[
        str, typer.Option(help="'mixed' (rest, cross, cancel, replace) or 'resting' "
                          "(non-crossing new orders only).")
    ] = "mixed",
    heartbeat: Annotated[int, typer.Option(min=1, help="HeartBtInt(108) of the Logons.")] = 30,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Trade against a running venue with simulated FIX clients, then print a summary.

    Stops by itself after --duration seconds (or --orders order messages), logs out and
    prints orders sent, ExecutionReports by ExecType, trades, rejects, the achieved rate and
    the round-trip latency of NewOrderSingles. Exits 1 when an order message went
    unanswered, the venue sent a session or business reject, or it ended a session early.
    """
    from venue.simulate import SimulationError, config_from_sessions, run_simulation

    if flow not in ("mixed", "resting"):
        raise fail(f"unknown flow {flow!r}: use 'mixed' or 'resting'")
    cfg = _load_config(config)
    try:
        sim_config = config_from_sessions(
            cfg,
            sessions=[s.strip() for s in sessions.split(",") if s.strip()] if sessions else None,
            symbols=[s.strip() for s in symbols.split(",") if s.strip()],
            host=host,
            port=port,
            password=password,
            rate=rate,
            in_flight=in_flight,
            duration=duration,
            orders=orders,
            flow=flow,
            heart_bt_int=heartbeat,
            seed=seed,
        )
        summary = run_simulation(
            sim_config, log=None if as_json else lambda text: err.print(text, highlight=False)
        )
    except SimulationError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(summary))
    else:
        _print_simulation(summary)
    if summary["problems"]:
        raise fail("the run had problems: " + "; ".join(summary["problems"]))


def _print_simulation(s: dict[str, Any]) -> None:
    lat = s["latency_ms"]["new_order"]

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f} ms"

    mode = (f"open loop, {s['rate_target']:,.0f} orders/s" if s["mode"] == "open"
            else f"closed loop, {s['in_flight']} in flight per session")
    console.print(f"{', '.join(s['sessions'])} on {', '.join(s['symbols'])}: {mode}, "
                  f"{s['seconds']:.1f} s", highlight=False)
    sent = s["sent"]
    console.print(f"orders sent      {s['orders_sent']:,} (new {sent['D']:,}, cancel "
                  f"{sent['F']:,}, replace {sent['G']:,})", highlight=False)
    console.print(f"achieved rate    {s['orders_per_s']:,.0f} orders/s "
                  f"({s['new_orders_per_s']:,.0f} NewOrderSingle/s)", highlight=False)
    names = {"0": "new", "4": "cancelled", "5": "replaced", "8": "rejected", "F": "fill",
             "C": "expired", "D": "restated", "I": "status"}
    reports = ", ".join(f"{names.get(k, k)} {v:,}" for k, v in s["exec_reports"].items())
    console.print(f"exec reports     {reports or 'none'}", highlight=False)
    console.print(f"trades           {s['trades']:,}", highlight=False)
    console.print(f"rejects          order {s['order_rejects']:,}, cancel/replace "
                  f"{s['cancel_rejects']:,}, session {s['session_rejects']:,}, business "
                  f"{s['business_rejects']:,}; unanswered {s['unanswered']:,}", highlight=False)
    console.print(f"NOS round trip   p50 {ms(lat['p50'])}, p99 {ms(lat['p99'])}, "
                  f"p99.9 {ms(lat['p999'])}, max {ms(lat['max'])}", highlight=False)
    console.print(f"generator CPU    {s['generator_cpu_pct']:.0f}% of one core while sending",
                  highlight=False)


# -- sessions ---------------------------------------------------------------------------------


def _ns_time(ns: int, *, short: bool = False) -> str:
    if not ns:
        return ""
    import datetime as dt

    when = dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)
    return when.strftime("%H:%M:%S" if short else "%Y-%m-%d %H:%M:%S")


@sessions_app.command("list")
def sessions_list(
    config: ConfigOpt = Path("sessions.cfg"),
    admin_socket: AdminOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every configured session: state, address, sequence numbers, message counts."""
    rows = _admin(config, admin_socket, "sessions.list")
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title="FIX sessions (times UTC)")
    for name in ("client", "state", "remote", "since", "seq out", "seq in", "msgs in/out",
                 "last in", "last out"):
        table.add_column(name, no_wrap=True)
    for row in rows:
        state = row["state"] if row["enabled"] else f"{row['state']} (disabled)"
        table.add_row(
            row["session_id"].split("->")[-1],
            state,
            row.get("remote_address") or "",
            _ns_time(row.get("logged_on_since_ns") or row.get("connected_since_ns"), short=True),
            str(row["next_sender_seq"]),
            str(row["next_target_seq"]),
            f"{row['messages_in']}/{row['messages_out']}",
            _ns_time(row.get("last_received_ns", 0), short=True),
            _ns_time(row.get("last_sent_ns", 0), short=True),
        )
    _print_table(table)


@sessions_app.command("show")
def sessions_show(
    session: Annotated[str, typer.Argument(help="Session id or the client's CompID.")],
    config: ConfigOpt = Path("sessions.cfg"),
    admin_socket: AdminOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One session in detail."""
    rows = _admin(config, admin_socket, "sessions.list")
    match = [r for r in rows if session in (r["session_id"], r["session_id"].split("->")[-1])]
    if not match:
        raise fail(f"unknown session {session!r}")
    row = match[0]
    if as_json:
        console.print_json(json.dumps(row))
        return
    for key, value in row.items():
        console.print(f"{key:20} {value}")


def _session_action(action: str, doc: str) -> None:
    def command(
        session: Annotated[str, typer.Argument(help="Session id or the client's CompID.")],
        config: ConfigOpt = Path("sessions.cfg"),
        admin_socket: AdminOpt = None,
    ) -> None:
        console.print(_admin(config, admin_socket, f"sessions.{action}", session=session))

    command.__doc__ = doc
    sessions_app.command(action)(command)


_session_action("logout", "Send a Logout to a logged-on session.")
_session_action("disconnect", "Drop a session's connection without a Logout.")
_session_action("enable", "Allow a session to log on again.")
_session_action("disable", "Refuse new logons of a session (a live one stays until logout).")


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store to change when no venue is running (default: StoreURL of sessions.cfg).",
        envvar="VENUE_DB",
    ),
]


def _offline_session_change(
    config: Path, db: str | None, session: str, sender: int | None, target: int | None
) -> str:
    """Change a session's sequence numbers in the store of a stopped venue.

    ``sender``/``target`` None with both None means a reset (both to 1, messages deleted).
    """
    import time

    from venue.claim import ClaimError, VenueClaim
    from venue.runtime import DEFAULT_STORE_URL, resolve_sqlite_url
    from venue.store import Store, StoreError, StoreInUse

    cfg = _load_config(config)
    matches = [
        sc.session_id for sc in cfg.sessions if session in (str(sc.session_id), sc.target_comp_id)
    ]
    if not matches:
        raise fail(f"unknown session {session!r} in {config}")
    sid = str(matches[0])
    url = _check_store_url(db or resolve_sqlite_url(
        cfg.default.store_url or DEFAULT_STORE_URL, config.resolve().parent
    ), offline=True)

    async def change() -> str:
        # A venue started with another admin socket than the one asked is still running on
        # this store: its claim (the SQLite file's lock, PostgreSQL's advisory lock) says
        # so, and the change would be overwritten by it, or delete the messages it resends
        # from.
        try:
            store = await Store.open(url, create=False, exclusive=True)
        except StoreInUse as exc:
            raise fail(f"{exc}: change it through that venue (its --admin-socket)") from None
        claim = VenueClaim(url, None)
        try:
            claim.take()
        except ClaimError as exc:
            await store.close()
            raise fail(f"{exc}: change it through that venue (its --admin-socket)") from None
        try:
            record = await store.load_fix_session(sid)
            now = time.time_ns()
            if sender is None and target is None:
                store.fix_reset(sid, now)
                await store.commit()
                return f"{sid}: sequence numbers reset to 1 (in the store; the venue is stopped)"
            current_sender = record.next_sender_seq if record else 1
            current_target = record.next_target_seq if record else 1
            created = record.creation_time_ns if record else now
            store.fix_state(sid, sender or current_sender, target or current_target, created)
            await store.commit()
            return (
                f"{sid}: next sender {sender or current_sender}, next target "
                f"{target or current_target} (in the store; the venue is stopped)"
            )
        finally:
            claim.release()
            await store.close()

    try:
        return asyncio.run(change())
    except StoreError as exc:
        raise _store_failure(url, exc) from None


def _shown_url(url: str) -> str:
    """A store URL as shown to the user: its password masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _store_failure(url: str, exc: Exception) -> typer.Exit:
    """One line that names the store once (the store's own errors mostly do already)."""
    from venue.store import SchemaError

    # SQLAlchemy adds "(Background on this error at: https://sqlalche.me/...)" on a line
    # of its own: the error stays one line
    lines = str(exc).splitlines()
    text, shown = (lines[0] if lines else repr(exc)), _shown_url(url)
    return fail(text if isinstance(exc, SchemaError) or shown in text else f"{shown}: {text}")


def _running(config: Path, admin_socket: Path | None) -> bool:
    from venue.admin import VenueNotRunningError

    path = _admin_path(config, admin_socket)
    try:
        call(path, "status", timeout=2.0)
    except VenueNotRunningError:
        return False
    except AdminError:
        return True
    except TimeoutError:  # something listens there: changing its store behind it is unsafe
        raise fail(f"the venue at {path} did not answer status within 2 s") from None
    except OSError as exc:
        raise fail(f"admin socket {path}: {exc.strerror or exc}") from None
    return True


@sessions_app.command("reset")
def sessions_reset(
    session: Annotated[str, typer.Argument(help="Session id or the client's CompID.")],
    config: ConfigOpt = Path("sessions.cfg"),
    admin_socket: AdminOpt = None,
    db: DbOpt = None,
) -> None:
    """Reset both sequence numbers of a session to 1 (on the store when the venue is stopped)."""
    if _running(config, admin_socket):
        console.print(_admin(config, admin_socket, "sessions.reset", session=session))
    else:
        console.print(_offline_session_change(config, db, session, None, None))


@sessions_app.command("set-seq")
def sessions_set_seq(
    session: Annotated[str, typer.Argument(help="Session id or the client's CompID.")],
    sender: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_SEQ_NUM, help="Next MsgSeqNum the venue sends."),
    ] = None,
    target: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_SEQ_NUM, help="Next MsgSeqNum the venue expects."),
    ] = None,
    config: ConfigOpt = Path("sessions.cfg"),
    admin_socket: AdminOpt = None,
    db: DbOpt = None,
) -> None:
    """Set the next sender and/or target sequence numbers of a session (on the store when the
    venue is stopped)."""
    if sender is None and target is None:
        raise fail("give --sender and/or --target")
    if not _running(config, admin_socket):
        console.print(_offline_session_change(config, db, session, sender, target))
        return
    console.print(
        _admin(
            config, admin_socket, "sessions.set-seq", session=session, sender=sender, target=target
        )
    )


# -- instruments ------------------------------------------------------------------------------


@instruments_app.command("list")
def instruments_list(
    config: ConfigOpt = Path("sessions.cfg"),
    admin_socket: AdminOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Listed instruments with their rules, status and last price (the price band's
    reference until the first trade is reference_price)."""
    rows = _admin(config, admin_socket, "instruments.list")
    if as_json:
        console.print_json(json.dumps(rows))
        return
    _table(
        rows,
        ["symbol", "tick_size", "lot_size", "min_qty", "max_qty", "price_band_pct",
         "reference_price", "status", "last_price", "description"],
        "Instruments",
    )


@instruments_app.command("add")
def instruments_add(
    symbol: str,
    tick_size: Annotated[
        str | None, typer.Option(help="Tick size, e.g. 0.01 (required for a new listing).")
    ] = None,
    lot_size: Annotated[int | None, typer.Option(min=1, help="Default 1.")] = None,
    min_qty: Annotated[int | None, typer.Option(min=1, help="Default 1.")] = None,
    max_qty: Annotated[int | None, typer.Option(min=1, help="Default: none.")] = None,
    price_band_pct: Annotated[
        str | None, typer.Option(help="Price band in %. Default: none.")
    ] = None,
    description: str | None = None,
    config: ConfigOpt = Path("sessions.cfg"),
    admin_socket: AdminOpt = None,
) -> None:
    """List a new instrument, or change the rules of a listed one (the options given; the
    others, the trading status and the reference price stay) on the running venue. The tick
    size of an instrument that has traded or has had orders cannot change; a new one must
    divide the reference price."""
    console.print(
        _admin(
            config,
            admin_socket,
            "instruments.add",
            symbol=symbol,
            tick_size=tick_size,
            lot_size=lot_size,
            min_qty=min_qty,
            max_qty=max_qty,
            price_band_pct=price_band_pct,
            description=description,
        )
    )


@instruments_app.command("halt")
def instruments_halt(
    symbol: str, config: ConfigOpt = Path("sessions.cfg"), admin_socket: AdminOpt = None
) -> None:
    """Halt trading in a symbol: new orders and replaces are rejected, cancels accepted."""
    console.print(_admin(config, admin_socket, "instruments.halt", symbol=symbol))


@instruments_app.command("resume")
def instruments_resume(
    symbol: str, config: ConfigOpt = Path("sessions.cfg"), admin_socket: AdminOpt = None
) -> None:
    """Resume trading in a halted symbol."""
    console.print(_admin(config, admin_socket, "instruments.resume", symbol=symbol))


# -- orders -----------------------------------------------------------------------------------


@orders_app.command("list")
def orders_list(
    session: Annotated[str | None, typer.Option(help="Only this session's orders.")] = None,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    config: ConfigOpt = Path("sessions.cfg"),
    admin_socket: AdminOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Live orders (resting and untriggered stops)."""
    rows = _admin(config, admin_socket, "orders.list", session=session, symbol=symbol)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    _table(
        rows,
        ["order_id", "session", "cl_ord_id", "symbol", "side", "type", "tif", "price",
         "stop_price", "qty", "cum_qty", "leaves_qty", "status"],
        "Live orders",
    )


@orders_app.command("cancel")
def orders_cancel(
    order_id: int, config: ConfigOpt = Path("sessions.cfg"), admin_socket: AdminOpt = None
) -> None:
    """Cancel a live order (the owner gets an ExecutionReport, ExecType=4)."""
    console.print(_admin(config, admin_socket, "orders.cancel", order_id=order_id))


# -- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(
    db: Annotated[
        str | None, typer.Option(help="Store URL; default StoreURL of sessions.cfg.")
    ] = None,
    config: ConfigOpt = Path("sessions.cfg"),
) -> None:
    """Create or migrate the database schema to the current version."""
    from venue.runtime import DEFAULT_STORE_URL, resolve_sqlite_url
    from venue.store import StoreError, make_engine, upgrade

    url = db
    if url is None:
        if not config.exists() and config != Path("sessions.cfg"):
            raise fail(f"{config}: no such configuration file (give --db to name the store)")
        cfg = _load_config(config) if config.exists() else None
        url = (cfg.default.store_url if cfg else None) or DEFAULT_STORE_URL
        url = resolve_sqlite_url(url, config.resolve().parent)
    url = _check_store_url(url, offline=True)

    async def main() -> None:
        engine = make_engine(url)  # creates a SQLite file's folder
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(main())
    except (StoreError, OSError) as exc:
        raise _store_failure(url, exc) from None
    console.print(f"{_shown_url(url)}: schema is current")


@db_app.command("snapshot")
def db_snapshot(config: ConfigOpt = Path("sessions.cfg"), admin_socket: AdminOpt = None) -> None:
    """Store an engine snapshot of the running venue now.

    A restart after a crash then replays only the commands that follow it. The venue
    also takes one every SnapshotCommandInterval commands, and at a clean stop. A forked
    child builds it while trading goes on (about 8 s with 1,000,000 live orders, the event
    loop stalling ~0.2 s); it is stored in 1 MiB parts, so an acknowledgement waits for one
    part at most (~60 ms with SQLite). Figures: specs/persistence.md.
    """
    result = _admin(config, admin_socket, "db.snapshot", timeout=SNAPSHOT_TIMEOUT)
    console.print(
        f"engine snapshot after command {result['cmd_no']:,}: {result['live_orders']:,} live "
        f"orders, {result['seconds']:.2f} s"
    )


app.add_typer(md_app, name="md")
app.add_typer(report_app, name="report")

if __name__ == "__main__":  # pragma: no cover
    app()
