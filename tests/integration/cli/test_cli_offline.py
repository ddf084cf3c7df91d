"""`venue sessions set-seq|reset` on the store of a stopped venue."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
