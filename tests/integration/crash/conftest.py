"""Crash tests: the venue as a subprocess, killed with SIGKILL under load, restarted on the
same database; real QuickFIX initiators reconnect and keep trading.

Helpers copied from tests/integration/orders/conftest.py (test directories are not
packages, and --import-mode=importlib forbids importing across them).
"""

from __future__ import annotations

import asyncio
import gc
import os
import queue
import secrets
import subprocess
import sys
import tarfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import quickfix as fix
from sqlalchemy.engine import make_url

WAIT = 10.0
_ALIVE: list[object] = []  # the binding crashes if an application dies before its initiator
_CACHE = Path(os.environ.get("VENUE_TEST_CACHE", Path.home() / ".cache" / "fix-venue"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get(
    "VENUE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def service_unavailable(reason: str) -> None:
    """Skip, or under CI (every service must be there) fail (as tests/conftest.py)."""
    if IN_CI:
        pytest.fail(f"service needed in CI is unavailable: {reason}")
    pytest.skip(reason)


def _fetch_fix44() -> Path:
    """spec/FIX44.xml from the quickfix source distribution on PyPI (cached)."""
    target = _CACHE / "FIX44.xml"
    if target.exists():
        return target
    _CACHE.mkdir(parents=True, exist_ok=True)
    download = _CACHE / "sdist"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         "quickfix==1.15.1", "-d", str(download)],
        check=True,
        timeout=300,
    )
    archive = next(download.glob("quickfix-*.tar.gz"))
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("spec/FIX44.xml"))
        extracted = tar.extractfile(member)
        assert extracted is not None
        target.write_bytes(extracted.read())
    return target


@pytest.fixture(scope="session")
def fix44_xml() -> Path:
    return _fetch_fix44()


def fields_of(message: fix.Message) -> dict[int, str]:
    """Tag -> value of a received message (first occurrence of each tag)."""
    out: dict[int, str] = {}
    for part in message.toString().split("\x01"):
        if "=" in part:
            tag, value = part.split("=", 1)
            out.setdefault(int(tag), value)
    return out


class ClientApp(fix.Application):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self.app: queue.Queue[dict[int, str]] = queue.Queue()
        self.admin: queue.Queue[dict[int, str]] = queue.Queue()
        self.session_id: fix.SessionID | None = None
        self.lock = threading.Lock()
        self.received: list[dict[int, str]] = []
        self.admin_log: list[dict[int, str]] = []
        self.logons = 0


    def onCreate(self, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        self.session_id = sessionID

    def onLogon(self, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        self.logons += 1
        self.logged_out.clear()
        self.logged_on.set()

    def onLogout(self, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        self.logged_on.clear()
        self.logged_out.set()

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        return None

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        fields = fields_of(message)
        self.admin.put(fields)
        with self.lock:
            self.admin_log.append(fields)

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        return None

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        fields = fields_of(message)
        with self.lock:
            self.received.append(fields)


class Client:
    """One QuickFIX initiator session, driven from the test's event loop."""

    def __init__(
        self, comp_id: str, port: int, root: Path, dictionary: Path, venue_id: str
    ) -> None:
        self.comp_id = comp_id
        self.venue_id = venue_id
        cfg = root / f"{comp_id}.cfg"
        cfg.write_text(
            f"""\
[DEFAULT]
ConnectionType=initiator
ReconnectInterval=1
FileStorePath={root / "qf-store"}
FileLogPath={root / "qf-log"}
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=Y
DataDictionary={dictionary}
ValidateUserDefinedFields=Y
HeartBtInt=1
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
[SESSION]
BeginString=FIX.4.4
SenderCompID={comp_id}
TargetCompID={self.venue_id}
"""
        )
        self.settings = fix.SessionSettings(str(cfg))
        self.application = ClientApp()
        self.store = fix.FileStoreFactory(self.settings)
        self.logs = fix.FileLogFactory(self.settings)
        self.initiator: Any = fix.SocketInitiator(
            self.application, self.store, self.settings, self.logs
        )
        _ALIVE.extend([self.application, self.store, self.logs, self.settings])
        self._next_id = 0

    async def start(self) -> None:
        self.application.logged_on.clear()
        self.initiator.start()
        ok = await asyncio.to_thread(self.application.logged_on.wait, WAIT)
        assert ok, f"{self.comp_id} did not log on"

    async def stop(self) -> None:
        if self.initiator is not None:
            await asyncio.to_thread(self.initiator.stop)

    async def close(self) -> None:
        await self.stop()
        self.initiator = None
        gc.collect()

    def new_id(self, prefix: str = "C") -> str:
        self._next_id += 1
        return f"{prefix}{self._next_id}"

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        message = fix.Message()
        message.getHeader().setField(fix.MsgType(msg_type))
        for tag, value in fields:
            message.setField(fix.StringField(tag, value))
        assert fix.Session.sendToTarget(message, self.application.session_id)

    def order(self, cl_ord_id: str, symbol: str, side: str, qty: int | str, price: str | None,
              *, ord_type: str = "2", extra: list[tuple[int, str]] | None = None) -> None:
        fields = [(11, cl_ord_id), (55, symbol), (54, side), (60, now_utc()), (38, str(qty)),
                  (40, ord_type)]
        if price is not None:
            fields.append((44, price))
        self.send("D", fields + (extra or []))

    async def next_app(self, timeout: float = WAIT) -> dict[int, str]:
        try:
            return await asyncio.to_thread(self.application.app.get, True, timeout)
        except queue.Empty:
            raise AssertionError(f"{self.comp_id}: no application message in {timeout}s") from None

    async def expect_none(self, wait: float = 0.5) -> None:
        await asyncio.sleep(wait)
        assert self.application.app.empty(), self.application.app.get_nowait()

    async def next_admin(self, msg_type: str, timeout: float = WAIT) -> dict[int, str]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"{self.comp_id}: no admin message 35={msg_type}")
            try:
                msg = await asyncio.to_thread(self.application.admin.get, True, left)
            except queue.Empty:
                continue
            if msg.get(35) == msg_type:
                return msg


def now_utc() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


async def _pg_admin() -> asyncpg.Connection:
    dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        return await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        service_unavailable(f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc!r}")
        raise  # not reached


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def crash_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database: a SQLite file, or ``crash_<random>`` on PostgreSQL (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/v.db"
        return
    name = f"crash_{secrets.token_hex(6)}"
    admin = await _pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
def client_cls() -> type[Client]:
    """The QuickFIX client helper (tests cannot import conftest under importlib mode)."""
    return Client
