"""`venue sessions set-seq|reset` on the store of a stopped venue."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from support.procs import (
    sessions_cfg,
    start_venue,
    terminate,
    venue_cmd,
    wait_admin,
    write_venue_files,
)
from typer.testing import CliRunner

from fix_gateway.config import load_config
from venue.cli import app
from venue.runtime import RuntimeOptions, Venue
from venue.store import Store

CFG = """\
[DEFAULT]
SenderCompID=OFFV
SocketAcceptHost=127.0.0.1
SocketAcceptPort=0
InstrumentsFile=instruments.csv
[SESSION]
TargetCompID=OFF1
"""
SID = "FIX.4.4:OFFV->OFF1"
runner = CliRunner()


def make_stopped_venue(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "instruments.csv").write_text("symbol,tick_size\nTEST,0.01\n")
    cfg = tmp_path / "sessions.cfg"
    cfg.write_text(CFG)
    url = f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"

    async def run_once() -> None:
        venue = Venue(load_config(cfg), RuntimeOptions(store_url=url, admin_socket=None))
        await venue.start()
        await venue.stop()

    asyncio.run(run_once())
    return cfg, url


def read_session(url: str) -> tuple[int, int]:
    async def read() -> tuple[int, int]:
        store = await Store.open(url, create=False)
        try:
            record = await store.load_fix_session(SID)
        finally:
            await store.close()
        assert record is not None
        return record.next_sender_seq, record.next_target_seq

    return asyncio.run(read())


def test_set_seq_and_reset_work_on_the_store_when_the_venue_is_stopped(tmp_path: Path) -> None:
    cfg, url = make_stopped_venue(tmp_path)
    runner = CliRunner()
    common = ["--config", str(cfg), "--admin-socket", str(tmp_path / "none.sock"), "--db", url]
    result = runner.invoke(app, ["sessions", "set-seq", "OFF1", "--sender", "50",
                                 "--target", "20", *common])
    assert result.exit_code == 0, result.output
    assert "the venue is stopped" in result.output
    assert read_session(url) == (50, 20)

    result = runner.invoke(app, ["sessions", "set-seq", "OFF1", "--target", "7", *common])
    assert result.exit_code == 0, result.output
    assert read_session(url) == (50, 7)

    result = runner.invoke(app, ["sessions", "reset", "OFF1", *common])
    assert result.exit_code == 0, result.output
    assert read_session(url) == (1, 1)

    result = runner.invoke(app, ["sessions", "reset", "NOBODY", *common])
    assert result.exit_code == 1
    assert "unknown session 'NOBODY'" in result.output


def test_an_admin_socket_that_never_answers_stops_the_offline_change(tmp_path: Path) -> None:
    """Something accepts on the admin socket but does not answer (a venue stalled): the
    store is not changed behind it, and the error is one line, not a traceback."""
    cfg, url = make_stopped_venue(tmp_path)
    moved = CliRunner().invoke(app, ["sessions", "set-seq", "OFF1", "--sender", "50",
                                     "--config", str(cfg), "--db", url,
                                     "--admin-socket", str(tmp_path / "none.sock")])
    assert moved.exit_code == 0, moved.output
    before = read_session(url)
    assert before[0] == 50
    sock_path = tmp_path / "stalled.sock"
    with socket.socket(socket.AF_UNIX) as stalled:
        stalled.bind(str(sock_path))
        stalled.listen()
        result = CliRunner().invoke(app, ["sessions", "reset", "OFF1", "--config", str(cfg),
                                          "--admin-socket", str(sock_path), "--db", url])
    assert result.exit_code == 1, result.output
    assert result.output == f"error: the venue at {sock_path} did not answer status within 2 s\n"
    assert read_session(url) == before


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("bogus", "'bogus' is not a database URL: use sqlite+aiosqlite:///<file> or"),
        ("postgresql://u@127.0.0.1/test", "unsupported storage URL 'postgresql://u@127.0.0.1/"),
        ("sqlite:///v.db", "unsupported storage URL 'sqlite:///v.db': use sqlite+aiosqlite"),
    ],
)
def test_a_store_url_the_venue_cannot_use_is_a_one_line_error(
    tmp_path: Path, url: str, error: str
) -> None:
    cfg = tmp_path / "sessions.cfg"
    cfg.write_text(CFG)
    result = runner.invoke(app, ["sessions", "reset", "OFF1", "--db", url, "-c", str(cfg)])
    assert result.exit_code == 1
    assert error in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [cfg]


@pytest.mark.parametrize("command", [["sessions", "reset", "OFF1"], ["db", "upgrade"], ["run"]])
@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///", "sqlite+aiosqlite:///:memory:"])
def test_an_in_memory_sqlite_store_is_refused(tmp_path: Path, command: list[str], url: str) -> None:
    """`db upgrade` said "schema is current" and `run` ran on a store that keeps nothing."""
    cfg = tmp_path / "sessions.cfg"
    cfg.write_text(CFG)
    result = runner.invoke(app, [*command, "--db", url, "-c", str(cfg)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {url}: an in-memory SQLite database keeps nothing "
                                     "once the process ends; give a file path"), result.stderr
    assert list(tmp_path.iterdir()) == [cfg]


@pytest.mark.parametrize("command", [["sessions", "reset", "OFF1"], ["db", "upgrade"]])
def test_no_store_is_a_clear_error_for_commands_on_a_stopped_venues_store(
    tmp_path: Path, command: list[str]
) -> None:
    cfg = tmp_path / "sessions.cfg"
    cfg.write_text(CFG.replace("[DEFAULT]\n", "[DEFAULT]\nStoreURL=none\n", 1))
    result = runner.invoke(app, [*command, "-c", str(cfg)])
    assert result.exit_code == 1
    assert result.stderr == ("error: the venue keeps no store (StoreURL or --db is none): there "
                             "is nothing to change; give --db to name one\n")


@pytest.mark.parametrize("command", [["sessions", "reset", "OFF1"], ["db", "upgrade"]])
def test_a_file_that_is_not_a_database_is_a_one_line_error(
    tmp_path: Path, command: list[str]
) -> None:
    cfg = tmp_path / "sessions.cfg"
    cfg.write_text(CFG)
    url = f"sqlite+aiosqlite:///{cfg}"  # the configuration given as the store
    result = runner.invoke(app, [*command, "--db", url, "-c", str(cfg)])
    assert result.exit_code == 1
    assert result.stderr == (f"error: {url}: cannot reach the database: (sqlite3.DatabaseError) "
                             "file is not a database\n")
    assert cfg.read_text() == CFG


@pytest.mark.parametrize(
    ("command", "url", "error"),
    [
        (["run", "--mqtt", "none"], "bogus://x", "unsupported storage URL 'bogus://x': use"),
        (["db", "upgrade"], "bogus://x", "unsupported storage URL 'bogus://x': use"),
        (["run", "--mqtt", "none"], "sqlite+aiosqlite:////proc/x/v.db",
         "cannot lock the store /proc/x/v.db: No such file or directory"),
        (["db", "upgrade"], "sqlite+aiosqlite:////proc/x/v.db", "cannot create /proc/x"),
    ],
)
def test_a_store_the_venue_cannot_load_or_make_is_a_one_line_error(
    tmp_path: Path, command: list[str], url: str, error: str
) -> None:
    cfg = tmp_path / "sessions.cfg"
    cfg.write_text(CFG)
    (tmp_path / "instruments.csv").write_text("symbol,tick_size\nTEST,0.01\n")
    result = runner.invoke(app, [*command, "--db", url, "-c", str(cfg)])
    assert result.exit_code == 1, result.output
    assert error in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_run_without_instruments_file_names_the_config_it_read(tmp_path: Path) -> None:
    cfg = tmp_path / "t.cfg"
    cfg.write_text(CFG.replace("InstrumentsFile=instruments.csv\n", ""))
    result = runner.invoke(app, ["run", "--db", "none", "--mqtt", "none", "-c", str(cfg)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {cfg}: InstrumentsFile is not set in [DEFAULT]")  # it said sessions.cfg


def test_db_upgrade_with_a_missing_config_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.cfg"
    result = runner.invoke(app, ["db", "upgrade", "-c", str(missing)])
    assert result.exit_code == 1
    assert f"{missing}: no such configuration file" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_offline_change_to_a_missing_sqlite_store_is_an_error_and_creates_nothing(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "sessions.cfg"
    cfg.write_text(CFG)
    missing = tmp_path / "never.db"
    result = runner.invoke(app, ["sessions", "reset", "OFF1", "-c", str(cfg), "--admin-socket",
                                 str(tmp_path / "none.sock"), "--db",
                                 f"sqlite+aiosqlite:///{missing}"])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {missing}: no such database file"
    assert list(tmp_path.iterdir()) == [cfg]


def test_a_store_error_names_the_store_once_and_hides_its_password(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--db",
                                 "postgresql+asyncpg://u:secret@127.0.0.1:1/x"])
    assert result.exit_code == 1
    assert "secret" not in result.stderr
    assert result.stderr.count("postgresql+asyncpg://u:***@127.0.0.1:1/x") == 1


def test_a_relative_sqlite_path_given_with_db_is_from_the_current_folder(tmp_path: Path) -> None:
    """As in `db upgrade --db` and the other commands; StoreURL in sessions.cfg stays relative
    to the file's folder."""
    conf_dir, work = tmp_path / "conf", tmp_path / "work"
    conf_dir.mkdir()
    work.mkdir()
    text = sessions_cfg("RELV", 0, ["REL1"]).replace(
        "[SESSION]", "StoreURL=sqlite+aiosqlite:///c.db\n[SESSION]")
    cfg = write_venue_files(conf_dir, "symbol,tick_size\nTEST,0.01\n", text)
    sock = tmp_path / "v.sock"
    for db, made in (["--db", "sqlite+aiosqlite:///w.db"], work / "w.db"), ([], conf_dir / "c.db"):
        cmd = venue_cmd("run", "--config", str(cfg), *db, "--mqtt", "none",
                        "--admin-socket", str(sock))
        log = tmp_path / "venue.log"
        proc = start_venue(cmd, log, cwd=work)
        try:
            wait_admin(proc, sock, 30, log.read_text)
        finally:
            terminate(proc)
        assert made.is_file(), sorted(p.name for p in tmp_path.rglob("*.db"))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.db")) == [
        "conf/c.db", "work/w.db"]
