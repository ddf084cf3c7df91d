"""A real venue started as a subprocess (`venue run`) and real QuickFIX initiators.

The QuickFIX clients validate every message against the FIX 4.4 data dictionary of the
quickfix source package (fetched from PyPI once and cached).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import queue
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import quickfix as fix

from venue.admin import AdminError, call

WAIT = 10.0
VENUE_ID = "ADMX"  # distinct from other suites: QuickFIX keeps a process-wide session registry
CLIENTS = ("CLIA", "CLIB", "CLIC")
_ALIVE: list[object] = []  # the binding crashes if an application dies before its initiator
_CACHE = Path(os.environ.get("VENUE_TEST_CACHE", Path.home() / ".cache" / "fix-venue"))

INSTRUMENTS = """\
symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description
TEST,0.01,1,1,100000,,,open,test
OTHER,0.5,1,1,100000,,,open,other
"""


def sessions_cfg(port: int) -> str:
    sessions = "".join(f"[SESSION]\nTargetCompID={c}\n" for c in CLIENTS)
    return f"""\
[DEFAULT]
SenderCompID={VENUE_ID}
SocketAcceptHost=127.0.0.1
SocketAcceptPort={port}
HeartBtInt=1
InstrumentsFile=instruments.csv
{sessions}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        self.logons = 0
        self.app: queue.Queue[dict[int, str]] = queue.Queue()
        self.admin: queue.Queue[dict[int, str]] = queue.Queue()
        self.session_id: fix.SessionID | None = None

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
        self.admin.put(fields_of(message))

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        return None

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        self.app.put(fields_of(message))


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


class Client:
    """One QuickFIX initiator session, driven from the test's event loop."""

    def __init__(self, comp_id: str, port: int, root: Path, dictionary: Path) -> None:
        self.comp_id = comp_id
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
TargetCompID={VENUE_ID}
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

    @property
    def session(self) -> Any:
        return fix.Session.lookupSession(self.application.session_id)

    def begin(self) -> None:
        self.application.logged_on.clear()
        self.initiator.start()

    async def start(self) -> None:
        self.begin()
        await self.wait_logon()

    async def wait_logon(self, timeout: float = WAIT) -> None:
        ok = await asyncio.to_thread(self.application.logged_on.wait, timeout)
        assert ok, f"{self.comp_id} did not log on"

    async def wait_logout(self, timeout: float = WAIT) -> None:
        ok = await asyncio.to_thread(self.application.logged_out.wait, timeout)
        assert ok, f"{self.comp_id} did not see a logout"

    async def close(self) -> None:
        if self.initiator is not None:
            await asyncio.to_thread(self.initiator.stop, True)
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

    def order(self, cl_ord_id: str, symbol: str, side: str, qty: int, price: str) -> None:
        self.send("D", [(11, cl_ord_id), (55, symbol), (54, side), (60, _now()),
                        (38, str(qty)), (40, "2"), (44, price)])

    async def next_app(self, timeout: float = WAIT) -> dict[int, str]:
        try:
            return await asyncio.to_thread(self.application.app.get, True, timeout)
        except queue.Empty:
            raise AssertionError(f"{self.comp_id}: no application message in {timeout}s") from None

    async def next_admin(self, msg_type: str, timeout: float = WAIT) -> dict[int, str]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.comp_id}: no admin message 35={msg_type}")
            try:
                msg = await asyncio.to_thread(self.application.admin.get, True, left)
            except queue.Empty:
                continue
            if msg.get(35) == msg_type:
                return msg


def venue_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "venue.cli", *args]


class VenueProcess:
    """`venue run` as a subprocess with its files in one folder."""

    def __init__(self, root: Path, dictionary: Path) -> None:
        self.root = root
        self.dictionary = dictionary
        self.port = free_port()
        self.config = root / "sessions.cfg"
        self.sock = root / "v.sock"
        self.db = root / "v.db"
        self.log = root / "venue.stderr"
        (root / "instruments.csv").write_text(INSTRUMENTS)
        self.config.write_text(sessions_cfg(self.port))
        self.proc: subprocess.Popen[bytes] | None = None
        self.clients: list[Client] = []

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                venue_cmd("run", "--config", str(self.config),
                          "--db", f"sqlite+aiosqlite:///{self.db}", "--mqtt", "none",
                          "--admin-socket", str(self.sock)),
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
            )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"venue exited {self.proc.returncode}: {self.output()}")
            with contextlib.suppress(AdminError, OSError):
                call(self.sock, "status", timeout=1.0)
                return
            time.sleep(0.05)
        raise AssertionError(f"venue admin socket did not answer: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def client(self, comp_id: str) -> Client:
        client = Client(comp_id, self.port, self.root, self.dictionary)
        self.clients.append(client)
        return client


@pytest.fixture
def venue_proc(tmp_path: Path, fix44_xml: Path) -> Iterator[VenueProcess]:
    vp = VenueProcess(tmp_path, fix44_xml)
    try:
        vp.start()
        yield vp
    finally:
        for client in vp.clients:
            if client.initiator is not None:
                with contextlib.suppress(Exception):
                    client.initiator.stop(True)
                client.initiator = None
        gc.collect()
        vp.kill()
