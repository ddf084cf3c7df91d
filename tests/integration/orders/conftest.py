"""A real venue (in-process, real TCP, SQLite store) and real QuickFIX initiators.

The QuickFIX clients validate every message the venue sends against the FIX 4.4 data
dictionary that ships with QuickFIX (spec/FIX44.xml of the quickfix source package, fetched
from PyPI once and cached), so a message a stock engine would reject fails the test.
"""

from __future__ import annotations

import asyncio
import gc
import os
import queue
import subprocess
import sys
import tarfile
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import quickfix as fix

from fix_gateway.config import parse_config
from venue.runtime import RuntimeOptions, Venue

WAIT = 10.0
VENUE_ID = "EXCH"  # distinct from other suites: QuickFIX keeps a process-wide session registry
_ALIVE: list[object] = []  # the binding crashes if an application dies before its initiator
_CACHE = Path(os.environ.get("VENUE_TEST_CACHE", Path.home() / ".cache" / "fix-venue"))

INSTRUMENTS = """\
symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description
TEST,0.01,1,1,100000,,,open,test
BAND,0.01,1,1,100000,10,100.00,open,banded
LOTS,0.5,10,10,1000,,,open,lots of ten
HALT,0.01,1,1,100000,,,halted,halted at start
"""

SESSIONS = f"""\
[DEFAULT]
SenderCompID={VENUE_ID}
SocketAcceptHost=127.0.0.1
SocketAcceptPort=0
HeartBtInt=1
InstrumentsFile=instruments.csv
[SESSION]
TargetCompID=BUYER
Account=ACC-B
CancelOnDisconnect=Y
MaxOrderQty=5000
MaxOrderNotional=100000
[SESSION]
TargetCompID=SELLER
Account=ACC-S
MaxMessagesPerSecond=1000
[SESSION]
TargetCompID=COPY
SessionRole=DropCopy
[SESSION]
TargetCompID=SLOW
MaxMessagesPerSecond=2
"""


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

    def onCreate(self, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        self.session_id = sessionID

    def onLogon(self, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
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
LogonTimeout=2
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
        fields = [(11, cl_ord_id), (55, symbol), (54, side), (60, _now()), (38, str(qty)),
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


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


class VenueHarness:
    def __init__(self, venue: Venue, root: Path, dictionary: Path) -> None:
        self.venue = venue
        self.root = root
        self.dictionary = dictionary
        self.clients: list[Client] = []

    @property
    def port(self) -> int:
        assert self.venue.acceptor is not None
        return self.venue.acceptor.port

    async def client(self, comp_id: str) -> Client:
        client = Client(comp_id, self.port, self.root, self.dictionary)
        self.clients.append(client)
        await client.start()
        return client


def write_venue_files(root: Path) -> Path:
    (root / "instruments.csv").write_text(INSTRUMENTS)
    cfg = root / "sessions.cfg"
    cfg.write_text(SESSIONS)
    return cfg


@pytest.fixture
async def make_harness(
    tmp_path: Path, fix44_xml: Path
) -> AsyncIterator[Callable[[str], Any]]:
    """A factory: ``await make_harness(store_url)`` starts a venue on that store."""
    started: list[VenueHarness] = []

    async def make(store_url: str) -> VenueHarness:
        cfg_path = write_venue_files(tmp_path)
        config = parse_config(cfg_path.read_text(), cfg_path)
        options = RuntimeOptions(
            store_url=store_url, mqtt_url=None, admin_socket=tmp_path / "venue.sock"
        )
        venue = Venue(config, options)
        await venue.start()
        h = VenueHarness(venue, tmp_path, fix44_xml)
        started.append(h)
        return h

    try:
        yield make
    finally:
        for h in started:
            for client in h.clients:
                await client.close()
            await h.venue.stop()


@pytest.fixture
async def harness(tmp_path: Path, make_harness: Callable[[str], Any]) -> VenueHarness:
    """A venue on a SQLite file, with QuickFIX clients to come."""
    return await make_harness(f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}")


